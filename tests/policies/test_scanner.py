"""The policy review as a scanner plug-in: its gaps become findings of the scan engine."""

import pytest

from apps.scans import services as scans
from apps.scans.choices import FindingStatus, ScanStatus, Severity, TargetType
from apps.scans.models import Finding
from apps.scans.scanners import registered, scanners_for
from apps.scans.scanners.policy_review import PolicyReviewScanner
from tests.policies.factories import AccessPolicyFactory

pytestmark = pytest.mark.django_db


def review_scan(actor, **target):
    run = scans.scan_request(actor=actor, scanners=["policy-review"], **target)
    return scans.scan_execute(scan_id=run.pk, worker="w@host")


def test_the_scanner_is_registered_for_its_targets():
    assert registered()["policy-review"] is PolicyReviewScanner
    for target in (TargetType.MODEL_VERSION, TargetType.DEPLOYMENT, TargetType.DATASET_VERSION):
        assert "policy-review" in scanners_for(target)
    assert "AML.T0024.002" in PolicyReviewScanner.describe()["atlas_techniques"]


def test_deployment_gaps_become_findings_and_fixed_ones_are_marked_fixed(data_scientist,
                                                                         deployment):
    run = review_scan(data_scientist, deployment=deployment)
    assert run.status == ScanStatus.SUCCEEDED
    findings = {f.evidence["rule"]: f for f in Finding.objects.filter(deployment=deployment)}
    assert set(findings) == {"no-policy-high-risk", "unauthenticated-endpoint",
                             "unthrottled-full-scores", "no-query-logging"}
    extraction = findings["unthrottled-full-scores"]
    assert extraction.severity == Severity.HIGH
    assert extraction.atlas_technique == "AML.T0024.002"
    assert extraction.scanner == "policy-review"

    AccessPolicyFactory(model=None, deployment=deployment, query_logging_enabled=True)
    review_scan(data_scientist, deployment=deployment)
    for rule in ("no-policy-high-risk", "no-query-logging"):
        findings[rule].refresh_from_db()
        assert findings[rule].status == FindingStatus.FIXED


def test_model_version_scan_reviews_the_model_and_its_active_deployments(data_scientist,
                                                                         version, deployment):
    review_scan(data_scientist, model_version=version)
    evidence = Finding.objects.filter(model_version=version).values_list("evidence", flat=True)
    rules = {item["rule"] for item in evidence}
    assert "no-policy-high-risk" in rules  # the high-risk model itself
    assert "unauthenticated-endpoint" in rules  # its public deployment
    locations = set(Finding.objects.filter(model_version=version).values_list("location",
                                                                              flat=True))
    assert {"model credit-scorer", f"deployment #{deployment.pk}"} <= locations


def test_dataset_version_scan_of_unremarkable_data_is_clean(data_scientist, dataset_version,
                                                            dataset):
    dataset.has_personal_data = False
    dataset.save()
    run = review_scan(data_scientist, dataset_version=dataset_version)
    assert run.status == ScanStatus.SUCCEEDED and run.findings_count == 0
    dataset.has_personal_data = True
    dataset.save()
    run = review_scan(data_scientist, dataset_version=dataset_version)
    assert run.findings_count == 1
