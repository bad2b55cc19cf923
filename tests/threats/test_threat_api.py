"""The threat-model REST API: shapes, permissions per role, bad input, bulk operations."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)
from apps.threats.services_mitigations import applied_mitigation_create
from apps.threats.services_suggestions import suggestions_refresh
from tests.registry.factories import DatasetFactory, MLModelFactory
from tests.threats.factories import assess

pytestmark = pytest.mark.django_db

API = "/api/v1"
LISTS = ("threat-assessments", "applied-mitigations", "evidence", "risk-acceptances",
         "threat-suggestions")


@pytest.fixture
def model(team):
    return MLModelFactory(team=team)


@pytest.fixture
def assessment(data_scientist, model):
    return assess(data_scientist, model, "AML.T0024.002", likelihood=4, impact=4)


@pytest.fixture
def applied(data_scientist, assessment):
    return applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                     mitigation="AML.M0004", status="implemented")


def errors(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    return body


# --- Authentication and scope -------------------------------------------------------------------


@pytest.mark.parametrize("resource", LISTS)
def test_anonymous_is_refused(api_client, resource):
    assert api_client.get(f"{API}/{resource}/").status_code == 401
    assert api_client.post(f"{API}/{resource}/", {}, format="json").status_code in (401, 405)


@pytest.mark.parametrize("resource", LISTS)
def test_lists_are_paginated_and_scoped(client_for, data_scientist, outsider, auditor,
                                        compliance_officer, risky_model, assessment, applied,
                                        resource):
    suggestions_refresh(risky_model)
    applied_evidence = client_for(data_scientist).post(
        f"{API}/evidence/", {"applied_mitigation": applied.pk, "url": "https://x.example.org"})
    assert applied_evidence.status_code == 201
    client_for(compliance_officer).post(f"{API}/risk-acceptances/", {
        "assessment": assessment.pk, "reason": "ok",
        "expires_at": (timezone.now() + timedelta(days=9)).isoformat()})
    for user, expect_items in ((data_scientist, True), (auditor, True),
                               (compliance_officer, True), (outsider, False)):
        body = client_for(user).get(f"{API}/{resource}/").json()
        assert {"next", "previous", "results"} <= set(body)
        assert bool(body["results"]) is expect_items, (user, resource)


def test_outsider_gets_404_on_another_teams_objects(client_for, outsider, assessment, applied,
                                                    model):
    client = client_for(outsider)
    assert client.get(f"{API}/threat-assessments/{assessment.pk}/").status_code == 404
    assert client.patch(f"{API}/threat-assessments/{assessment.pk}/",
                        {"likelihood": 1}).status_code == 404
    assert client.get(f"{API}/applied-mitigations/{applied.pk}/").status_code == 404
    response = client.post(f"{API}/threat-assessments/",
                           {"model": model.pk, "technique": "AML.T0040"})
    assert errors(response, 404)["model"]
    assert client.post(f"{API}/applied-mitigations/",
                       {"assessment": assessment.pk, "title": "x"}).status_code == 404
    assert ThreatAssessment.objects.count() == 1


def test_auditor_reads_and_is_refused_every_write(client_for, auditor, assessment, applied,
                                                  model, risky_model):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.first()
    client = client_for(auditor)
    assert client.get(f"{API}/threat-assessments/{assessment.pk}/").status_code == 200
    writes = [
        ("post", f"{API}/threat-assessments/", {"model": model.pk, "technique": "AML.T0040"}),
        ("patch", f"{API}/threat-assessments/{assessment.pk}/", {"likelihood": 1}),
        ("post", f"{API}/threat-assessments/bulk/",
         {"technique": "AML.T0040", "models": [model.pk]}),
        ("post", f"{API}/applied-mitigations/", {"assessment": assessment.pk, "title": "x"}),
        ("patch", f"{API}/applied-mitigations/{applied.pk}/", {"notes": "x"}),
        ("post", f"{API}/applied-mitigations/bulk/",
         {"assessments": [assessment.pk], "title": "x"}),
        ("post", f"{API}/evidence/", {"applied_mitigation": applied.pk, "url": "https://x.org"}),
        ("post", f"{API}/risk-acceptances/", {"assessment": assessment.pk, "reason": "x"}),
        ("post", f"{API}/threat-suggestions/{suggestion.pk}/accept/", {}),
        ("post", f"{API}/threat-suggestions/{suggestion.pk}/dismiss/", {"reason": "x"}),
        ("post", f"{API}/threat-suggestions/accept-many/", {"suggestions": [suggestion.pk]}),
        ("post", f"{API}/threat-suggestions/refresh/", {"model": model.pk}),
    ]
    for method, url, data in writes:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 403, (url, response.content)
    assert ThreatAssessment.objects.count() == 1
    assert AppliedMitigation.objects.count() == 1
    assert not Evidence.objects.exists() and not RiskAcceptance.objects.exists()


def test_objects_cannot_be_deleted(client_for, compliance_officer, assessment):
    response = client_for(compliance_officer).delete(f"{API}/threat-assessments/{assessment.pk}/")
    assert response.status_code == 405
    assert ThreatAssessment.objects.exists()


# --- Assessments --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer"])
def test_team_data_scientists_and_compliance_officers_assess(request, client_for, model, role):
    client = client_for(request.getfixturevalue(role))
    response = client.post(f"{API}/threat-assessments/", {
        "model": model.pk, "technique": "AML.T0024.002", "likelihood": 5, "impact": 4,
        "rationale": "Public endpoint returns full scores."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["asset"] == {"kind": "model", "id": model.pk, "name": model.name}
    assert body["technique"] == "AML.T0024.002"
    assert body["technique_name"] == "Extract AI Model"
    assert (body["inherent_score"], body["inherent_band"]) == (20, "critical")
    assert body["effective_status"] == "open" and body["origin"] == "manual"
    response = client.patch(f"{API}/threat-assessments/{body['id']}/",
                            {"residual_likelihood": 2, "residual_impact": 2})
    assert response.status_code == 200
    assert response.json()["residual_band"] == "low"


@pytest.mark.parametrize(
    ("data", "field"),
    [({"likelihood": 0}, "likelihood"), ({"likelihood": 6}, "likelihood"),
     ({"impact": 0}, "impact"), ({"impact": "high"}, "impact"),
     ({"technique": "AML.T9999"}, "technique"), ({"technique": ""}, "technique"),
     ({"model": None}, "asset"), ({"dataset": "own"}, "asset"),
     ({"inherent_score": 3}, "inherent_score"), ({"team": 2}, "team")],
)
def test_bad_assessment_input_is_a_400_naming_the_field(client_for, data_scientist, model,
                                                        data, field):
    payload = {"model": model.pk, "technique": "AML.T0040", "likelihood": 3, "impact": 3,
               **data}
    payload = {k: v for k, v in payload.items() if v is not None}
    if payload.get("dataset") == "own":  # a second asset, visible: still exactly one allowed
        payload["dataset"] = DatasetFactory(team=model.team).pk
    body = errors(client_for(data_scientist).post(f"{API}/threat-assessments/", payload,
                                                  format="json"), 400)
    assert field in body, body
    assert not ThreatAssessment.objects.exists()


def test_patching_accepted_or_bad_levels_is_refused(client_for, data_scientist, assessment):
    client = client_for(data_scientist)
    url = f"{API}/threat-assessments/{assessment.pk}/"
    assert "status" in errors(client.patch(url, {"status": "accepted"}), 400)
    assert "likelihood" in errors(client.patch(url, {"likelihood": 6}), 400)
    assessment.refresh_from_db()
    assert assessment.likelihood == 4 and assessment.status == "open"


def test_filters(client_for, compliance_officer, data_scientist, model, team):
    assess(data_scientist, model, "AML.T0024.002", likelihood=4, impact=4)
    assess(data_scientist, model, "AML.T0040")
    other = assess(data_scientist, MLModelFactory(team=team), "AML.T0015", likelihood=1,
                   impact=1)
    client = client_for(compliance_officer)

    def ids(query):
        response = client.get(f"{API}/threat-assessments/?{query}")
        assert response.status_code == 200, response.content
        return {row["technique"] for row in response.json()["results"]}

    assert ids(f"model={model.pk}") == {"AML.T0024.002", "AML.T0040"}
    assert ids("technique=AML.T0024") == {"AML.T0024.002"}
    assert ids("residual_band=high") == {"AML.T0024.002"}
    assert ids("is_scored=false") == {"AML.T0040"}
    assert ids("status=open") == {"AML.T0024.002", "AML.T0040", other.technique.atlas_id}
    assert client.get(f"{API}/threat-assessments/?status=bogus").status_code == 400
    assert client.get(f"{API}/threat-assessments/?model=abc").status_code == 400


def test_completeness_endpoint(client_for, data_scientist, outsider, model):
    client = client_for(data_scientist)
    body = client.get(f"{API}/threat-assessments/completeness/?model={model.pk}").json()
    assert body["complete"] is False
    assert body["reasons"] == ["No threat has been assessed yet."]
    assess(data_scientist, model, "AML.T0040", likelihood=1, impact=1)
    body = client.get(f"{API}/threat-assessments/completeness/?model={model.pk}").json()
    assert body["complete"] is True and body["assessed"] == 1
    assert client.get(f"{API}/threat-assessments/completeness/").status_code == 400
    assert client_for(outsider).get(
        f"{API}/threat-assessments/completeness/?model={model.pk}").status_code == 404


def test_bulk_assessment_is_all_or_nothing(client_for, data_scientist, team, other_team):
    mine = [MLModelFactory(team=team) for _ in range(2)]
    theirs = MLModelFactory(team=other_team)
    client = client_for(data_scientist)
    payload = {"technique": "AML.T0020", "likelihood": 2, "impact": 3,
               "models": [mine[0].pk, theirs.pk, mine[1].pk]}
    assert client.post(f"{API}/threat-assessments/bulk/", payload,
                       format="json").status_code == 404
    assert not ThreatAssessment.objects.exists()
    payload["models"] = [m.pk for m in mine]
    response = client.post(f"{API}/threat-assessments/bulk/", payload, format="json")
    assert response.status_code == 201, response.content
    assert {row["asset"]["id"] for row in response.json()} == {m.pk for m in mine}
    # Again: both already assessed, nothing changes.
    assert "assets" in errors(client.post(f"{API}/threat-assessments/bulk/", payload,
                                          format="json"), 400)
    assert ThreatAssessment.objects.count() == 2
    assert "assets" in errors(client.post(f"{API}/threat-assessments/bulk/",
                                          {"technique": "AML.T0020"}, format="json"), 400)


# --- Mitigations and evidence -------------------------------------------------------------------


def test_mitigations_through_the_api(client_for, data_scientist, compliance_officer,
                                     assessment):
    client = client_for(data_scientist)
    response = client.post(f"{API}/applied-mitigations/", {
        "assessment": assessment.pk, "mitigation": "AML.M0004", "status": "implemented",
        "owner": compliance_officer.username, "due_date": "2031-01-01"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "AML.M0004 Restrict Number of AI Model Queries"
    assert body["owner"] == compliance_officer.username and body["technique"] == "AML.T0024.002"
    assert "mitigation" in errors(client.post(f"{API}/applied-mitigations/", {
        "assessment": assessment.pk, "mitigation": "AML.M9999"}), 400)
    assert "status" in errors(client.patch(f"{API}/applied-mitigations/{body['id']}/",
                                           {"status": "verified"}), 400)


def test_bulk_mitigation_is_all_or_nothing(client_for, data_scientist, compliance_officer,
                                           team, other_team):
    mine = assess(data_scientist, MLModelFactory(team=team), "AML.T0040")
    theirs = assess(compliance_officer, MLModelFactory(team=other_team), "AML.T0040")
    client = client_for(data_scientist)
    response = client.post(f"{API}/applied-mitigations/bulk/", {
        "assessments": [mine.pk, theirs.pk], "mitigation": "AML.M0019"}, format="json")
    assert response.status_code == 404
    assert not AppliedMitigation.objects.exists()
    response = client_for(compliance_officer).post(f"{API}/applied-mitigations/bulk/", {
        "assessments": [mine.pk, theirs.pk], "mitigation": "AML.M0019",
        "status": "implemented"}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()) == 2


def test_evidence_upload_and_download(client_for, data_scientist, outsider, applied):
    client = client_for(data_scientist)
    upload = SimpleUploadedFile("scan.txt", b"rate limit verified", "text/plain")
    response = client.post(f"{API}/evidence/", {
        "applied_mitigation": applied.pk, "file": upload, "description": "load test"},
        format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["file_name"] == "scan.txt" and body["size"] == 19
    assert body["download_url"].endswith(f"/api/v1/evidence/{body['id']}/download/")
    download = client.get(f"{API}/evidence/{body['id']}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"rate limit verified"
    assert "attachment" in download["Content-Disposition"]
    assert AuditEntry.objects.filter(action="download", object_type="threats.evidence").exists()
    assert client_for(outsider).get(
        f"{API}/evidence/{body['id']}/download/").status_code == 404
    link = client.post(f"{API}/evidence/", {"applied_mitigation": applied.pk,
                                             "url": "https://ci.example.org/42"})
    assert link.status_code == 201 and link.json()["download_url"] is None
    assert client.get(f"{API}/evidence/{link.json()['id']}/download/").status_code == 404


@override_settings(MLGOV_MAX_EVIDENCE_BYTES=8)
def test_evidence_over_the_limit_is_413(client_for, data_scientist, applied):
    upload = SimpleUploadedFile("big.bin", b"x" * 9)
    response = client_for(data_scientist).post(
        f"{API}/evidence/", {"applied_mitigation": applied.pk, "file": upload},
        format="multipart")
    assert errors(response, 413)["file"]
    assert not Evidence.objects.exists()


def test_evidence_needs_exactly_one_of_file_and_link(client_for, data_scientist, applied):
    client = client_for(data_scientist)
    assert "file" in errors(client.post(f"{API}/evidence/",
                                        {"applied_mitigation": applied.pk}), 400)
    upload = SimpleUploadedFile("a.txt", b"abc")
    assert "file" in errors(client.post(f"{API}/evidence/", {
        "applied_mitigation": applied.pk, "file": upload, "url": "https://x.example.org"},
        format="multipart"), 400)
    assert not Evidence.objects.exists()


# --- Acceptances --------------------------------------------------------------------------------


def test_acceptance_workflow(client_for, data_scientist, compliance_officer, second_officer,
                             auditor, assessment):
    requester = client_for(compliance_officer)
    body = errors(requester.post(f"{API}/risk-acceptances/",
                                 {"assessment": assessment.pk, "reason": "ok"}), 400)
    assert "expires_at" in body
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    response = requester.post(f"{API}/risk-acceptances/", {
        "assessment": assessment.pk, "reason": "Compensating controls.", "expires_at": expires})
    assert response.status_code == 201, response.content
    acceptance = response.json()
    assert acceptance["status"] == "pending" and acceptance["approved_by"] is None
    url = f"{API}/risk-acceptances/{acceptance['id']}/approve/"
    assert "approved_by" in errors(requester.post(url, {}), 400)
    assert client_for(data_scientist).post(url, {}).status_code == 403
    assert client_for(auditor).post(url, {}).status_code == 403
    response = client_for(second_officer).post(url, {"note": "Agreed."})
    assert response.status_code == 200, response.content
    assert response.json()["approved_by"] == second_officer.username
    detail = client_for(data_scientist).get(f"{API}/threat-assessments/{assessment.pk}/").json()
    assert detail["effective_status"] == "accepted"
    RiskAcceptance.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    detail = client_for(data_scientist).get(f"{API}/threat-assessments/{assessment.pk}/").json()
    assert (detail["status"], detail["effective_status"]) == ("accepted", "open")
    assert detail["acceptance_expired"] is True


def test_reject_through_the_api(client_for, compliance_officer, second_officer, assessment):
    acceptance = client_for(compliance_officer).post(f"{API}/risk-acceptances/", {
        "assessment": assessment.pk, "reason": "x",
        "expires_at": (timezone.now() + timedelta(days=3)).isoformat()}).json()
    url = f"{API}/risk-acceptances/{acceptance['id']}/reject/"
    assert "note" in errors(client_for(second_officer).post(url, {}), 400)
    response = client_for(second_officer).post(url, {"note": "Mitigate instead."})
    assert response.json()["status"] == "rejected"


# --- Suggestions --------------------------------------------------------------------------------


def test_suggestions_through_the_api(client_for, data_scientist, outsider, risky_model):
    client = client_for(data_scientist)
    response = client.post(f"{API}/threat-suggestions/refresh/", {"model": risky_model.pk})
    assert response.status_code == 200, response.content
    assert "AML.T0011.000" in response.json()["created"]
    assert client_for(outsider).post(f"{API}/threat-suggestions/refresh/",
                                     {"model": risky_model.pk}).status_code == 404
    rows = client.get(f"{API}/threat-suggestions/?model={risky_model.pk}&status=pending").json()
    by_id = {row["technique"]: row for row in rows["results"]}
    pickle = by_id["AML.T0011.000"]
    assert pickle["rule_ids"] == ["unsafe-serialization"] and "pickle" in pickle["reason"]
    response = client.post(f"{API}/threat-suggestions/{pickle['id']}/accept/",
                           {"likelihood": 3, "impact": 5})
    assert response.status_code == 201, response.content
    assert response.json()["origin"] == "suggested"
    assert response.json()["inherent_score"] == 15
    assert "reason" in errors(client.post(
        f"{API}/threat-suggestions/{by_id['AML.T0015']['id']}/dismiss/", {}), 400)
    response = client.post(f"{API}/threat-suggestions/{by_id['AML.T0015']['id']}/dismiss/",
                           {"reason": "Inputs are validated."})
    assert response.json()["status"] == "dismissed"
    rest = [row["id"] for technique, row in by_id.items()
            if technique not in ("AML.T0011.000", "AML.T0015")]
    response = client.post(f"{API}/threat-suggestions/accept-many/", {"suggestions": rest},
                           format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()) == len(rest)
    completeness = client.get(
        f"{API}/threat-assessments/completeness/?model={risky_model.pk}").json()
    assert completeness["pending_suggestions"] == []
    assert completeness["unscored"]  # accepted ones still need scores


# --- OpenAPI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    import yaml
    from django.core.management import call_command

    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_threat_model_paths_are_flat_and_document_their_errors(schema):
    paths = schema["paths"]
    for resource in LISTS:
        assert f"{API}/{resource}/" in paths
    for path in (f"{API}/threat-assessments/bulk/", f"{API}/applied-mitigations/bulk/",
                 f"{API}/risk-acceptances/{{id}}/approve/", f"{API}/evidence/{{id}}/download/",
                 f"{API}/threat-suggestions/{{id}}/accept/", f"{API}/threat-suggestions/refresh/",
                 f"{API}/threat-assessments/completeness/",
                 f"{API}/threat-assessments/navigator-layer/"):
        assert path in paths, path
    checked = 0
    for path, operations in paths.items():
        if not path.startswith(tuple(f"{API}/{r}" for r in LISTS)):
            continue
        for method, operation in operations.items():
            if method not in ("post", "patch"):
                continue
            assert {"400", "401", "403", "404"} <= set(operation["responses"]), (path, method)
            checked += 1
    assert checked >= 14
    upload = paths[f"{API}/evidence/"]["post"]
    assert "413" in upload["responses"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
