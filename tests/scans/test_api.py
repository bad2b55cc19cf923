"""The scans API against CONTRACT.md: shapes, statuses, the permission matrix, query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.scans import scanners as scanner_registry
from apps.scans import services
from apps.scans.choices import FindingStatus, ScanStatus, Severity
from apps.scans.models import ScanRun
from apps.scans.scanners import scanners_for
from apps.scans.scanners.integrity import IntegrityScanner
from tests.registry.factories import (
    DatasetVersionFactory,
    DeploymentFactory,
    ModelVersionFactory,
)
from tests.scans.conftest import finding
from tests.scans.factories import FindingFactory, ScanRunFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
SCAN_KEYS = {"id", "status", "progress", "findings_count", "error"}
FINDING_KEYS = {"id", "scan", "scanner", "severity", "atlas_technique", "title", "detail"}


@pytest.fixture
def version(model):
    return ModelVersionFactory(model=model)


# --- POST /api/v1/scans/ ------------------------------------------------------------------------


class TestStartScan:
    def test_contract_shape(self, client_for, data_scientist, version):
        response = client_for(data_scientist).post(
            f"{API}/scans/", {"model_version": version.pk}, format="json"
        )
        assert response.status_code == 202, response.json()
        body = response.json()
        assert SCAN_KEYS <= set(body)
        assert body["status"] == "queued"
        assert body["progress"] == 0
        assert body["scanners"] == scanners_for("model_version")
        assert ScanRun.objects.get(pk=body["id"]).model_version == version

    def test_scanners_and_params(self, client_for, compliance_officer, version):
        response = client_for(compliance_officer).post(
            f"{API}/scans/",
            {
                "model_version": version.pk,
                "scanners": ["integrity"],
                "params": {"expected_sha256": "f" * 64},
            },
            format="json",
        )
        assert response.status_code == 202
        assert response.json()["scanners"] == ["integrity"]
        assert response.json()["params"] == {"expected_sha256": "f" * 64}

    def test_dataset_version_and_deployment_targets(
        self, client_for, data_scientist, team, version
    ):
        client = client_for(data_scientist)
        dataset_version = DatasetVersionFactory(dataset__team=team)
        response = client.post(
            f"{API}/scans/", {"dataset_version": dataset_version.pk}, format="json"
        )
        assert response.status_code == 202
        assert response.json()["target_type"] == "dataset_version"
        deployment = DeploymentFactory(model_version=version)
        response = client.post(f"{API}/scans/", {"deployment": deployment.pk}, format="json")
        assert response.status_code == 202
        assert response.json()["scanners"] == scanners_for("deployment")

    def test_target_no_scanner_applies_to_is_400(
        self, client_for, data_scientist, version, monkeypatch
    ):
        monkeypatch.setattr(scanner_registry, "SCANNERS", (IntegrityScanner,))
        deployment = DeploymentFactory(model_version=version)
        response = client_for(data_scientist).post(
            f"{API}/scans/", {"deployment": deployment.pk}, format="json"
        )
        assert response.status_code == 400
        assert "No scanner applies" in response.json()["scanners"][0]

    def test_anonymous_is_401(self, version):
        response = APIClient().post(f"{API}/scans/", {"model_version": version.pk}, format="json")
        assert response.status_code == 401

    def test_outsider_gets_404_for_another_teams_version(self, client_for, outsider, version):
        response = client_for(outsider).post(
            f"{API}/scans/", {"model_version": version.pk}, format="json"
        )
        assert response.status_code == 404
        assert "model_version" in response.json()
        assert not ScanRun.objects.exists()

    def test_auditor_is_403(self, client_for, auditor, version):
        response = client_for(auditor).post(
            f"{API}/scans/", {"model_version": version.pk}, format="json"
        )
        assert response.status_code == 403
        assert not ScanRun.objects.exists()

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({}, "model_version"),
            ({"model_version": "abc"}, "model_version"),
            ({"model_version": 2**70}, "model_version"),
            ({"scanners": ["integrity"], "params": {}}, "model_version"),
            ({"scanners": ["teleport"]}, "scanners"),
            ({"scanners": "integrity"}, "scanners"),
            ({"params": {"expected_sha256": "nope"}}, "params"),
            ({"params": ["x"]}, "params"),
            ({"status": "succeeded"}, "status"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(
        self, client_for, data_scientist, version, payload, field
    ):
        if "model_version" not in payload and field != "model_version":
            payload = {"model_version": version.pk, **payload}
        response = client_for(data_scientist).post(f"{API}/scans/", payload, format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()
        assert not ScanRun.objects.exists()

    def test_two_targets_are_refused(self, client_for, data_scientist, team, version):
        dataset_version = DatasetVersionFactory(dataset__team=team)
        response = client_for(data_scientist).post(
            f"{API}/scans/",
            {"model_version": version.pk, "dataset_version": dataset_version.pk},
            format="json",
        )
        assert response.status_code == 400
        assert "exactly one" in response.json()["detail"]


# --- GET /api/v1/scans/ -------------------------------------------------------------------------


class TestReadScans:
    def test_detail_shape(self, client_for, data_scientist, version):
        run = ScanRunFactory(
            model_version=version,
            status=ScanStatus.FAILED,
            progress=40,
            error="The scan took longer than the time limit.",
        )
        body = client_for(data_scientist).get(f"{API}/scans/{run.pk}/").json()
        assert SCAN_KEYS <= set(body)
        assert (body["status"], body["progress"], body["error"]) == (
            "failed",
            40,
            "The scan took longer than the time limit.",
        )
        assert body["target_label"] == str(version)

    def test_anonymous_is_401_and_outsider_404(self, client_for, outsider, version):
        run = ScanRunFactory(model_version=version)
        assert APIClient().get(f"{API}/scans/{run.pk}/").status_code == 401
        assert APIClient().get(f"{API}/scans/").status_code == 401
        assert client_for(outsider).get(f"{API}/scans/{run.pk}/").status_code == 404
        assert client_for(outsider).get(f"{API}/scans/").json()["results"] == []

    def test_auditor_reads_every_team(self, client_for, auditor, version):
        run = ScanRunFactory(model_version=version)
        assert client_for(auditor).get(f"{API}/scans/{run.pk}/").status_code == 200

    def test_filters(self, client_for, data_scientist, version):
        ScanRunFactory(model_version=version, status=ScanStatus.RUNNING)
        ScanRunFactory(model_version=version, status=ScanStatus.SUCCEEDED)
        client = client_for(data_scientist)
        assert (
            client.get(f"{API}/scans/", {"status": "running"}).json()["results"][0]["status"]
            == "running"
        )
        assert (
            len(client.get(f"{API}/scans/", {"model_version": version.pk}).json()["results"]) == 2
        )
        assert client.get(f"{API}/scans/", {"status": "nope"}).status_code == 400

    def test_list_query_count_does_not_grow(self, client_for, data_scientist, team, model):
        client = client_for(data_scientist)
        counts = []
        for total in (2, 20):
            while ScanRun.objects.count() < total:
                ScanRunFactory(
                    model_version=ModelVersionFactory(model=model), created_by=data_scientist
                )
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"{API}/scans/", {"page_size": 100})
            assert len(response.json()["results"]) == total
            counts.append(len(queries))
        assert counts[0] == counts[1], counts


# --- Cancel -------------------------------------------------------------------------------------


class TestCancelScan:
    def test_data_scientist_cancels(self, client_for, data_scientist, version):
        run = ScanRunFactory(model_version=version, status=ScanStatus.QUEUED)
        response = client_for(data_scientist).post(f"{API}/scans/{run.pk}/cancel/")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"

    def test_finished_is_400(self, client_for, data_scientist, version):
        run = ScanRunFactory(model_version=version, status=ScanStatus.SUCCEEDED)
        response = client_for(data_scientist).post(f"{API}/scans/{run.pk}/cancel/")
        assert response.status_code == 400
        assert "already succeeded" in response.json()["detail"]

    def test_permission_matrix(self, client_for, auditor, outsider, version):
        run = ScanRunFactory(model_version=version, status=ScanStatus.QUEUED)
        assert APIClient().post(f"{API}/scans/{run.pk}/cancel/").status_code == 401
        assert client_for(auditor).post(f"{API}/scans/{run.pk}/cancel/").status_code == 403
        assert client_for(outsider).post(f"{API}/scans/{run.pk}/cancel/").status_code == 404
        assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.QUEUED


# --- GET /api/v1/scanners/ ----------------------------------------------------------------------


def test_scanners_list(client_for, auditor):
    response = client_for(auditor).get(f"{API}/scanners/")
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    scanners = {item["name"]: item for item in body["results"]}
    assert list(scanners) == list(scanner_registry.registered())
    assert body["count"] == len(scanners)
    assert scanners["integrity"]["targets"] == ["model_version", "dataset_version"]
    assert {"AML.T0018", "AML.T0010.003"} <= set(scanners["integrity"]["atlas_techniques"])
    assert scanners["supply-chain"]["atlas_techniques"] == ["AML.T0010.001"]
    assert scanners["supply-chain"]["inputs"][0]["name"] == "allowed_indexes"


def test_scanners_list_needs_credentials():
    assert APIClient().get(f"{API}/scanners/").status_code == 401


# --- Findings -----------------------------------------------------------------------------------


class TestFindings:
    def test_findings_of_a_scan_contract_shape(
        self, client_for, data_scientist, register, fake_scanner
    ):
        version = register()
        fake_scanner.findings = [
            finding("a", Severity.CRITICAL, detail="why"),
            finding("b", Severity.LOW, atlas_technique=None),
        ]
        run = services.scan_request(actor=data_scientist, model_version=version, scanners=["fake"])
        services.scan_execute(scan_id=run.pk)
        body = client_for(data_scientist).get(f"{API}/findings/", {"scan": run.pk}).json()
        assert {"next", "previous", "results"} <= set(body)
        results = body["results"]
        assert [r["severity"] for r in results] == ["critical", "low"]  # most severe first
        for item in results:
            assert FINDING_KEYS <= set(item)
            assert item["scan"] == run.pk
            assert item["scanner"] == "fake"
        assert results[0]["atlas_technique"] == "AML.T0010"
        assert results[0]["detail"] == "why"
        assert results[1]["atlas_technique"] is None
        scan = client_for(data_scientist).get(f"{API}/scans/{run.pk}/").json()
        assert scan["findings_count"] == 2

    def test_scan_filter_follows_rescans(self, client_for, data_scientist, register, fake_scanner):
        version = register()
        fake_scanner.findings = [finding("a"), finding("b")]
        first = services.scan_execute(
            scan_id=services.scan_request(
                actor=data_scientist, model_version=version, scanners=["fake"]
            ).pk
        )
        fake_scanner.findings = [finding("a")]
        second = services.scan_execute(
            scan_id=services.scan_request(
                actor=data_scientist, model_version=version, scanners=["fake"]
            ).pk
        )
        client = client_for(data_scientist)
        old = client.get(f"{API}/findings/", {"scan": first.pk}).json()["results"]
        new = client.get(f"{API}/findings/", {"scan": second.pk}).json()["results"]
        assert sorted(item["title"] for item in old) == ["Problem a", "Problem b"]
        assert [item["title"] for item in new] == ["Problem a"]
        statuses = {item["title"]: item["status"] for item in old}
        assert statuses == {"Problem a": "open", "Problem b": "fixed"}

    def test_permission_matrix_for_reading(self, client_for, outsider, auditor, version):
        item = FindingFactory(scan__model_version=version)
        assert APIClient().get(f"{API}/findings/").status_code == 401
        assert client_for(outsider).get(f"{API}/findings/{item.pk}/").status_code == 404
        assert client_for(outsider).get(f"{API}/findings/").json()["results"] == []
        assert client_for(auditor).get(f"{API}/findings/{item.pk}/").status_code == 200

    def test_bad_filter_is_400(self, client_for, data_scientist):
        response = client_for(data_scientist).get(f"{API}/findings/", {"scan": "x"})
        assert response.status_code == 400
        assert (
            client_for(data_scientist)
            .get(f"{API}/findings/", {"severity": "apocalyptic"})
            .status_code
            == 400
        )

    def test_list_query_count_does_not_grow(self, client_for, compliance_officer, version):
        run = ScanRunFactory(model_version=version)
        client = client_for(compliance_officer)
        counts = []
        for total in (2, 20):
            while run.latest_findings.count() < total:
                FindingFactory(scan=run, triaged_by=compliance_officer, triaged_at=timezone.now())
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"{API}/findings/", {"scan": run.pk, "page_size": 100})
            assert len(response.json()["results"]) == total
            counts.append(len(queries))
        assert counts[0] == counts[1], counts


class TestTriageApi:
    @pytest.fixture
    def item(self, version):
        return FindingFactory(scan__model_version=version)

    def test_compliance_officer_accepts_with_reason_and_expiry(
        self, client_for, compliance_officer, item
    ):
        expiry = (timezone.now() + timedelta(days=30)).isoformat()
        response = client_for(compliance_officer).post(
            f"{API}/findings/{item.pk}/triage/",
            {"status": "accepted", "reason": "Compensating control", "expires_at": expiry},
            format="json",
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["status"], body["triage_reason"], body["triaged_by"]) == (
            "accepted",
            "Compensating control",
            "cora",
        )

    def test_missing_reason_is_400(self, client_for, compliance_officer, item):
        response = client_for(compliance_officer).post(
            f"{API}/findings/{item.pk}/triage/", {"status": "false_positive"}, format="json"
        )
        assert response.status_code == 400
        assert "reason" in response.json()

    @pytest.mark.parametrize("status", ["fixed", "whatever"])
    def test_bad_status_is_400(self, client_for, compliance_officer, item, status):
        response = client_for(compliance_officer).post(
            f"{API}/findings/{item.pk}/triage/", {"status": status, "reason": "x"}, format="json"
        )
        assert response.status_code == 400
        assert "status" in response.json()

    def test_permission_matrix(self, client_for, data_scientist, auditor, outsider, item):
        url = f"{API}/findings/{item.pk}/triage/"
        payload = {"status": "false_positive", "reason": "mine"}
        assert APIClient().post(url, payload, format="json").status_code == 401
        assert client_for(data_scientist).post(url, payload, format="json").status_code == 403
        assert client_for(auditor).post(url, payload, format="json").status_code == 403
        assert client_for(outsider).post(url, payload, format="json").status_code == 404
        item.refresh_from_db()
        assert item.status == FindingStatus.OPEN
