"""The threat-model pages: who may see and do what, form errors with the right status, and no
inline code."""

import re
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.threats.choices import SuggestionStatus
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


@pytest.fixture
def assessment(data_scientist, risky_model):
    return assess(data_scientist, risky_model, "AML.T0024.002", likelihood=4, impact=4)


@pytest.fixture
def applied(data_scientist, assessment):
    return applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                     mitigation="AML.M0004", status="implemented")


def as_user(client, user):
    client.force_login(user)
    return client


def assert_no_inline_code(html: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


# --- Access -------------------------------------------------------------------------------------


def test_pages_need_a_login(client, risky_model, assessment):
    for url in ("/threats/", f"/threats/models/{risky_model.pk}/",
                f"/threats/assessments/{assessment.pk}/", "/threats/assessments/",
                "/threats/bulk/technique/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"]
    assert client.post(f"/threats/assessments/{assessment.pk}/score/",
                       {"likelihood": 1}).status_code == 302
    assessment.refresh_from_db()
    assert assessment.likelihood == 4


def test_outsiders_get_404(client, outsider, risky_model, assessment, applied):
    from django.core.files.base import ContentFile

    from apps.threats.services_mitigations import evidence_add

    evidence = evidence_add(actor=applied.created_by, applied=applied,
                            file=ContentFile(b"secret", name="e.txt"))
    evidence_url = f"/threats/evidence/{evidence.pk}/download/"
    client = as_user(client, applied.created_by)
    assert client.get(evidence_url).status_code == 200
    client = as_user(client, outsider)
    for url in (f"/threats/models/{risky_model.pk}/", f"/threats/assessments/{assessment.pk}/",
                evidence_url, f"/threats/matrix/?model={risky_model.pk}"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/threats/assessments/{assessment.pk}/score/",
                       {"likelihood": 1, "impact": 1}).status_code == 404
    assert client.post(f"/threats/models/{risky_model.pk}/assessments/",
                       {"technique": "AML.T0040"}).status_code == 404
    assert client.get("/threats/unknown/1/").status_code == 404
    assessment.refresh_from_db()
    assert assessment.likelihood == 4


def test_auditors_read_but_every_write_is_403(client, auditor, risky_model, assessment, applied):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.filter(status=SuggestionStatus.PENDING).first()
    client = as_user(client, auditor)
    page = client.get(f"/threats/models/{risky_model.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Accept all suggestions" not in html and "Save score" not in html
    writes = [
        (f"/threats/models/{risky_model.pk}/assessments/", {"technique": "AML.T0040"}),
        (f"/threats/models/{risky_model.pk}/accept-suggestions/", {}),
        (f"/threats/suggestions/{suggestion.pk}/accept/", {}),
        (f"/threats/suggestions/{suggestion.pk}/dismiss/", {"reason": "x"}),
        (f"/threats/assessments/{assessment.pk}/score/", {"likelihood": 1, "impact": 1}),
        (f"/threats/assessments/{assessment.pk}/edit/", {"likelihood": 1}),
        (f"/threats/assessments/{assessment.pk}/mitigations/", {"title": "x",
                                                                "status": "planned"}),
        (f"/threats/assessments/{assessment.pk}/acceptances/", {"reason": "x",
                                                                "expires_on": "2099-01-01"}),
        (f"/threats/mitigations/{applied.pk}/status/", {"status": "planned"}),
        (f"/threats/mitigations/{applied.pk}/evidence/", {"url": "https://x.example.org"}),
        ("/threats/bulk/technique/", {"technique": "AML.T0040", "models": [risky_model.pk]}),
        ("/threats/assessments/", {"assessments": [assessment.pk], "title": "x",
                                   "status": "planned"}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert client.get("/threats/bulk/technique/").status_code == 403
    assessment.refresh_from_db()
    assert assessment.likelihood == 4
    assert ThreatAssessment.objects.count() == 1
    assert AppliedMitigation.objects.count() == 1
    assert not Evidence.objects.exists() and not RiskAcceptance.objects.exists()


# --- The asset page -----------------------------------------------------------------------------


def test_the_asset_page_refreshes_suggestions_and_shows_completeness(client, data_scientist,
                                                                    risky_model):
    client = as_user(client, data_scientist)
    response = client.get(f"/threats/models/{risky_model.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-completeness="incomplete"' in html
    assert "No threat has been assessed yet." in html
    assert "AML.T0011.000" in html and "Accept all suggestions" in html
    assert ThreatSuggestion.objects.filter(model=risky_model).exists()
    assert_no_inline_code(html)


def test_every_asset_kind_has_a_page(client, compliance_officer, risky_model, team):
    client = as_user(client, compliance_officer)
    deployment = risky_model.versions.get().deployments.get()
    dataset = DatasetFactory(team=team)
    for url in (f"/threats/deployments/{deployment.pk}/", f"/threats/datasets/{dataset.pk}/"):
        assert client.get(url).status_code == 200, url


def test_accept_score_and_complete_through_the_pages(client, data_scientist, risky_model):
    client = as_user(client, data_scientist)
    client.get(f"/threats/models/{risky_model.pk}/")
    response = client.post(f"/threats/models/{risky_model.pk}/accept-suggestions/")
    assert response.status_code == 302
    assert not ThreatSuggestion.objects.filter(status=SuggestionStatus.PENDING).exists()
    for assessment in ThreatAssessment.objects.filter(model=risky_model):
        response = client.post(f"/threats/assessments/{assessment.pk}/score/",
                               {"likelihood": 1, "impact": 3})
        assert response.status_code == 302
    html = client.get(f"/threats/models/{risky_model.pk}/").content.decode()
    assert 'data-completeness="complete"' in html
    assert "Threat model complete" in html


def test_a_bad_score_is_shown_on_the_page_with_400(client, data_scientist, assessment):
    client = as_user(client, data_scientist)
    response = client.post(f"/threats/assessments/{assessment.pk}/score/",
                           {"likelihood": 6, "impact": 2})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.likelihood == 4


def test_adding_a_threat_and_refusing_a_duplicate(client, data_scientist, team):
    model = MLModelFactory(team=team)
    client = as_user(client, data_scientist)
    url = f"/threats/models/{model.pk}/assessments/"
    response = client.post(url, {"technique": "AML.T0040", "likelihood": 2, "impact": 2})
    assert response.status_code == 302
    response = client.post(url, {"technique": "AML.T0040"})
    assert response.status_code == 400
    assert "already has an assessment" in response.content.decode()
    response = client.post(url, {"technique": "AML.T9999"})
    assert response.status_code == 400
    assert ThreatAssessment.objects.count() == 1


def test_dismissing_needs_a_reason_on_the_page(client, data_scientist, risky_model):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.first()
    client = as_user(client, data_scientist)
    response = client.post(f"/threats/suggestions/{suggestion.pk}/dismiss/", {"reason": ""})
    assert response.status_code == 400
    response = client.post(f"/threats/suggestions/{suggestion.pk}/dismiss/",
                           {"reason": "Not exposed."})
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.DISMISSED


# --- The threat page ----------------------------------------------------------------------------


def test_mitigation_evidence_and_acceptance_pages(client, data_scientist, compliance_officer,
                                                  second_officer, assessment):
    client = as_user(client, data_scientist)
    page = client.get(f"/threats/assessments/{assessment.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "AML.M0004" in html  # offered first: it addresses the technique
    assert_no_inline_code(html)
    response = client.post(f"/threats/assessments/{assessment.pk}/mitigations/", {
        "mitigation": "AML.M0004", "status": "implemented", "owner": data_scientist.pk})
    assert response.status_code == 302
    applied = AppliedMitigation.objects.get()
    upload = SimpleUploadedFile("report.txt", b"rate limits enforced")
    response = client.post(f"/threats/mitigations/{applied.pk}/evidence/",
                           {"file": upload, "description": "gateway config"})
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    download = client.get(f"/threats/evidence/{evidence.pk}/download/")
    assert b"".join(download.streaming_content) == b"rate limits enforced"
    response = client.post(f"/threats/mitigations/{applied.pk}/status/",
                           {"status": "verified"})
    applied.refresh_from_db()
    assert applied.status == "verified"
    # Acceptance: no expiry is a 400 on the form; then a request, approved by an officer.
    response = client.post(f"/threats/assessments/{assessment.pk}/acceptances/",
                           {"reason": "Low value."})
    assert response.status_code == 400
    assert "expiry" in response.content.decode()
    until = (date.today() + timedelta(days=60)).isoformat()
    response = client.post(f"/threats/assessments/{assessment.pk}/acceptances/",
                           {"reason": "Low value.", "expires_on": until})
    assert response.status_code == 302
    acceptance = RiskAcceptance.objects.get()
    assert acceptance.expires_at.date().isoformat() == until
    # The data scientist sees no approve button; the approval page refuses them.
    assert "Approve acceptance" not in client.get(
        f"/threats/assessments/{assessment.pk}/").content.decode()
    client.post(f"/threats/acceptances/{acceptance.pk}/approve/")
    acceptance.refresh_from_db()
    assert acceptance.status == "pending"
    client = as_user(client, compliance_officer)
    assert "Approve acceptance" in client.get(
        f"/threats/assessments/{assessment.pk}/").content.decode()
    client.post(f"/threats/acceptances/{acceptance.pk}/approve/", {"note": "ok"})
    acceptance.refresh_from_db()
    assert acceptance.status == "approved" and acceptance.decided_by == compliance_officer


def test_an_officer_cannot_approve_their_own_request_on_the_page(client, compliance_officer,
                                                                 assessment):
    client = as_user(client, compliance_officer)
    until = (date.today() + timedelta(days=10)).isoformat()
    client.post(f"/threats/assessments/{assessment.pk}/acceptances/",
                {"reason": "x", "expires_on": until})
    acceptance = RiskAcceptance.objects.get()
    html = client.get(f"/threats/assessments/{assessment.pk}/").content.decode()
    assert "another compliance officer must approve it" in html
    response = client.post(f"/threats/acceptances/{acceptance.pk}/approve/", follow=True)
    assert "someone other than the person who requested it" in response.content.decode()
    acceptance.refresh_from_db()
    assert acceptance.status == "pending"


@override_settings(MLGOV_MAX_EVIDENCE_BYTES=5)
def test_evidence_over_the_limit_is_413_on_the_page(client, data_scientist, applied):
    client = as_user(client, data_scientist)
    response = client.post(f"/threats/mitigations/{applied.pk}/evidence/",
                           {"file": SimpleUploadedFile("big.bin", b"x" * 6)})
    assert response.status_code == 413
    assert "The file is too large." in response.content.decode()
    assert not Evidence.objects.exists()


# --- Lists and bulk pages -----------------------------------------------------------------------


def test_bulk_technique_page(client, data_scientist, team, other_team):
    mine = [MLModelFactory(team=team), MLModelFactory(team=team)]
    MLModelFactory(team=other_team, name="not-offered")
    client = as_user(client, data_scientist)
    page = client.get("/threats/bulk/technique/").content.decode()
    assert "not-offered" not in page
    response = client.post("/threats/bulk/technique/", {
        "technique": "AML.T0020", "likelihood": 2, "impact": 2,
        "models": [m.pk for m in mine]})
    assert response.status_code == 302
    assert ThreatAssessment.objects.count() == 2
    response = client.post("/threats/bulk/technique/", {"technique": "AML.T0020"})
    assert response.status_code == 400
    assert "Choose at least one asset" in response.content.decode()


def test_bulk_mitigation_from_the_list(client, compliance_officer, data_scientist, team):
    targets = [assess(data_scientist, MLModelFactory(team=team), "AML.T0040")
               for _ in range(2)]
    client = as_user(client, compliance_officer)
    page = client.get("/threats/assessments/?technique=AML.T0040")
    assert page.status_code == 200
    assert_no_inline_code(page.content.decode())
    response = client.post("/threats/assessments/?technique=AML.T0040", {
        "assessments": [t.pk for t in targets], "mitigation": "AML.M0019",
        "status": "implemented"})
    assert response.status_code == 302
    assert AppliedMitigation.objects.count() == 2
    response = client.post("/threats/assessments/", {"mitigation": "AML.M0004",
                                                     "status": "planned"})
    assert response.status_code == 400
    assert "Tick at least one threat" in response.content.decode()


def test_overview_and_matrix_pages(client, data_scientist, risky_model, assessment):
    client = as_user(client, data_scientist)
    overview = client.get("/threats/")
    assert overview.status_code == 200
    assert risky_model.name in overview.content.decode()
    matrix = client.get(f"/threats/matrix/?model={risky_model.pk}")
    html = matrix.content.decode()
    assert matrix.status_code == 200
    assert 'data-technique="AML.T0024" data-band="high"' in html
    assert "/threats/assessments/?technique=AML.T0024" in html
    assert_no_inline_code(html)
    assert client.get("/threats/matrix/?team=abc").status_code == 200
