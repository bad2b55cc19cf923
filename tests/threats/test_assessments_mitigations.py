"""Applied mitigations and their evidence: catalogue or custom, owners, verification, files
stored by content within the size limit, links."""

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings

from apps.audit.models import AuditEntry
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope, PayloadTooLarge
from apps.threats import services_mitigations as services
from apps.threats.choices import MitigationStatus
from apps.threats.models import AppliedMitigation, Evidence
from tests.registry.factories import MLModelFactory
from tests.threats.factories import assess

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(data_scientist, team):
    return assess(data_scientist, MLModelFactory(team=team), "AML.T0024.002",
                  likelihood=4, impact=4)


@pytest.fixture
def applied(data_scientist, assessment):
    return services.applied_mitigation_create(
        actor=data_scientist, assessment=assessment, mitigation="AML.M0004",
        status=MitigationStatus.IMPLEMENTED,
    )


def upload(content: bytes, name: str = "pen-test-report.pdf") -> ContentFile:
    return ContentFile(content, name=name)


# --- Mitigations --------------------------------------------------------------------------------


def test_an_atlas_mitigation_is_applied(applied, data_scientist):
    assert applied.mitigation.atlas_id == "AML.M0004"
    assert applied.display_name == "AML.M0004 Restrict Number of AI Model Queries"
    assert applied.team == applied.assessment.team
    assert applied.created_by == data_scientist
    assert AuditEntry.objects.filter(object_type="threats.appliedmitigation",
                                     action="create").count() == 1


def test_a_custom_measure_needs_a_title(data_scientist, assessment):
    with pytest.raises(ApplicationError) as caught:
        services.applied_mitigation_create(actor=data_scientist, assessment=assessment)
    assert caught.value.field == "mitigation"
    custom = services.applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                                title="Quarterly red-team exercise")
    assert custom.display_name == "Quarterly red-team exercise"


@pytest.mark.parametrize("atlas_id", ["AML.M9999", "AML.T0040", "M1047"])
def test_unknown_mitigations_are_refused(data_scientist, assessment, atlas_id):
    with pytest.raises(ApplicationError) as caught:
        services.applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                           mitigation=atlas_id)
    assert caught.value.field == "mitigation"
    assert not AppliedMitigation.objects.exists()


def test_the_same_mitigation_once_per_threat(data_scientist, applied):
    with pytest.raises(ApplicationError, match="already applied"):
        services.applied_mitigation_create(actor=data_scientist, assessment=applied.assessment,
                                           mitigation="AML.M0004")


def test_owner_must_see_the_threat(data_scientist, outsider, compliance_officer, assessment):
    with pytest.raises(ApplicationError) as caught:
        services.applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                           title="Rate limit", owner=outsider.username)
    assert caught.value.field == "owner"
    with pytest.raises(ApplicationError):
        services.applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                           title="Rate limit", owner="nobody-by-that-name")
    applied = services.applied_mitigation_create(
        actor=data_scientist, assessment=assessment, title="Rate limit",
        owner=compliance_officer.username, due_date="2030-01-31",
    )
    assert applied.owner == compliance_officer
    assert applied.due_date.isoformat() == "2030-01-31"


def test_a_bad_due_date_is_refused(data_scientist, assessment):
    with pytest.raises(ApplicationError) as caught:
        services.applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                           title="x", due_date="31/01/2030")
    assert caught.value.field == "due_date"


def test_verified_needs_evidence(data_scientist, applied):
    with pytest.raises(ApplicationError, match="evidence"):
        services.applied_mitigation_update(actor=data_scientist, applied=applied,
                                           data={"status": "verified"})
    services.evidence_add(actor=data_scientist, applied=applied,
                          url="https://wiki.example.org/rate-limits")
    services.applied_mitigation_update(actor=data_scientist, applied=applied,
                                       data={"status": "verified"})
    applied.refresh_from_db()
    assert applied.status == MitigationStatus.VERIFIED
    with pytest.raises(ApplicationError):
        services.applied_mitigation_create(actor=data_scientist, assessment=applied.assessment,
                                           title="Another", status="verified")


def test_mitigation_permissions(auditor, outsider, compliance_officer, assessment, applied):
    with pytest.raises(Forbidden):
        services.applied_mitigation_create(actor=auditor, assessment=assessment, title="x")
    with pytest.raises(NotInScope):
        services.applied_mitigation_create(actor=outsider, assessment=assessment, title="x")
    with pytest.raises(Forbidden):
        services.applied_mitigation_update(actor=auditor, applied=applied,
                                           data={"notes": "x"})
    services.applied_mitigation_update(actor=compliance_officer, applied=applied,
                                       data={"notes": "Checked."})
    assert applied.updated_by == compliance_officer


# --- Evidence -----------------------------------------------------------------------------------


def test_an_evidence_file_is_stored_by_content(data_scientist, applied):
    content = b"%PDF-1.4 pen test report"
    evidence = services.evidence_add(actor=data_scientist, applied=applied,
                                     file=upload(content), description="Q3 pen test")
    digest = hashlib.sha256(content).hexdigest()
    assert evidence.sha256 == digest
    assert evidence.size == len(content)
    assert evidence.file == f"evidence/{digest[:2]}/{digest}"
    assert evidence.file_name == "pen-test-report.pdf"
    with default_storage.open(evidence.file) as stored:
        assert stored.read() == content
    assert AuditEntry.objects.filter(object_type="threats.evidence", action="create").exists()


def test_a_link_is_evidence_too(data_scientist, applied):
    evidence = services.evidence_add(actor=data_scientist, applied=applied,
                                     url="https://ci.example.org/runs/42")
    assert evidence.url == "https://ci.example.org/runs/42"
    assert not evidence.is_file


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({}, "file"), ({"url": "javascript:alert(1)"}, "url"), ({"url": "not a url"}, "url"),
     ({"url": "https://x.example.org", "file": upload(b"x")}, "file"),
     ({"file": upload(b"")}, "file")],
)
def test_bad_evidence_is_refused(data_scientist, applied, arguments, field):
    with pytest.raises(ApplicationError) as caught:
        services.evidence_add(actor=data_scientist, applied=applied, **arguments)
    assert caught.value.status == 400
    assert caught.value.field == field
    assert not Evidence.objects.exists()


@override_settings(MLGOV_MAX_EVIDENCE_BYTES=10)
def test_evidence_over_the_limit_is_413_and_nothing_is_kept(data_scientist, applied):
    content = b"x" * 11
    with pytest.raises(PayloadTooLarge) as caught:
        services.evidence_add(actor=data_scientist, applied=applied, file=upload(content))
    assert caught.value.status == 413
    digest = hashlib.sha256(content).hexdigest()
    assert not default_storage.exists(f"evidence/{digest[:2]}/{digest}")
    assert not Evidence.objects.exists()


def test_evidence_permissions(auditor, outsider, applied):
    with pytest.raises(Forbidden):
        services.evidence_add(actor=auditor, applied=applied, url="https://x.example.org")
    with pytest.raises(NotInScope):
        services.evidence_add(actor=outsider, applied=applied, url="https://x.example.org")
    assert not Evidence.objects.exists()
