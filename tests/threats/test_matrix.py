"""The ATLAS risk matrix, the Navigator layer and the threat register: content, scope and a
query count that does not grow with the portfolio."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEntry
from apps.threats import exports
from apps.threats import services_assessments as assessments
from apps.threats import services_mitigations as mitigations
from apps.threats.selectors_assessments import threat_matrix
from apps.threats.services_suggestions import suggestions_refresh
from tests.registry.factories import MLModelFactory
from tests.threats.factories import approved_acceptance, assess

pytestmark = pytest.mark.django_db


def populate(team, data_scientist, officer, approver, count: int) -> list:
    """`count` models, each with two suggestions, four assessed threats, a mitigation with
    evidence and an acceptance."""
    models = []
    for _ in range(count):
        model = MLModelFactory(team=team, risk_tier="high")
        suggestions_refresh(model)  # the high-risk rule suggests two techniques
        assess(data_scientist, model, "AML.T0024.002", likelihood=4, impact=4)  # high, open
        sub = assess(data_scientist, model, "AML.T0024.000", likelihood=5, impact=5)
        approved_acceptance(officer, approver, sub)
        mitigated = assess(data_scientist, model, "AML.T0011.000", likelihood=2, impact=3)
        applied = mitigations.applied_mitigation_create(
            actor=data_scientist, assessment=mitigated, mitigation="AML.M0011",
            status="implemented", owner=data_scientist)
        mitigations.evidence_add(actor=data_scientist, applied=applied,
                                 url="https://ci.example.org/loader-policy")
        assess(data_scientist, model, "AML.T0040")  # open, unscored
        models.append(model)
    return models


@pytest.fixture
def portfolio(team, data_scientist, compliance_officer, second_officer):
    def make(count):
        return populate(team, data_scientist, compliance_officer, second_officer, count)

    return make


def cells(columns) -> dict:
    return {cell.technique.atlas_id: cell for column in columns for cell in column.cells}


# --- Matrix -------------------------------------------------------------------------------------


def test_cells_fold_sub_techniques_and_take_the_worst_open_risk(portfolio, compliance_officer):
    model = portfolio(1)[0]
    found = cells(threat_matrix(user=compliance_officer))
    exfiltration = found["AML.T0024"]  # T0024.002 open 16 + T0024.000 accepted 25
    assert (exfiltration.count, exfiltration.open_count) == (2, 1)
    assert (exfiltration.worst_open_score, exfiltration.band) == (16, "high")
    subs = {sub.technique.atlas_id: sub for sub in exfiltration.subtechniques}
    assert subs["AML.T0024.000"].open_count == 0
    assert found["AML.T0040"].open_count == 1 and found["AML.T0040"].band == ""
    assert found["AML.T0000"].count == 0
    # One asset's matrix.
    from apps.threats.assets import asset_ref

    assert cells(threat_matrix(user=compliance_officer, ref=asset_ref(model)))[
        "AML.T0024"].count == 2


def test_tactics_are_columns_in_matrix_order(compliance_officer):
    columns = threat_matrix(user=compliance_officer)
    orders = [column.tactic.matrix_order for column in columns]
    assert orders == sorted(orders) and len(columns) == 16
    # A technique under several tactics appears in each column.
    evade = [c for c in columns if any(x.technique.atlas_id == "AML.T0015" for x in c.cells)]
    assert len(evade) == 3


def test_outsiders_see_nothing_of_another_team(portfolio, outsider):
    portfolio(1)
    assert all(cell.count == 0 for cell in cells(threat_matrix(user=outsider)).values())


def test_expired_acceptance_counts_as_open_on_the_matrix(portfolio, compliance_officer):
    from datetime import timedelta

    from django.utils import timezone

    from apps.threats.models import RiskAcceptance

    portfolio(1)
    RiskAcceptance.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    exfiltration = cells(threat_matrix(user=compliance_officer))["AML.T0024"]
    assert (exfiltration.open_count, exfiltration.worst_open_score) == (2, 25)
    assert exfiltration.band == "critical"


# --- Query counts at two sizes ------------------------------------------------------------------


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, response.content[:500]
        if response.streaming:
            b"".join(response.streaming_content)
        else:
            response.content  # noqa: B018 - rendered already; keeps the two paths alike
    return len(captured)


@pytest.mark.parametrize(
    "url",
    ["/threats/matrix/", "/threats/matrix/navigator-layer.json", "/threats/register.csv",
     "/threats/", "/threats/assessments/", "/api/v1/threat-assessments/",
     "/api/v1/applied-mitigations/", "/api/v1/risk-acceptances/",
     "/api/v1/threat-suggestions/", "/api/v1/evidence/"],
)
def test_query_count_does_not_grow_with_the_portfolio(client, portfolio, compliance_officer,
                                                      url):
    client.force_login(compliance_officer)
    portfolio(1)
    small = count_queries(client, url)
    portfolio(4)
    assert count_queries(client, url) == small


# --- Navigator layer ----------------------------------------------------------------------------


def test_navigator_layer_shape(client, portfolio, compliance_officer):
    portfolio(1)
    client.force_login(compliance_officer)
    response = client.get("/threats/matrix/navigator-layer.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    layer = json.loads(response.content)
    assert layer["versions"] == {"layer": "4.5", "navigator": "5.1.0"}
    assert layer["domain"] == "atlas-atlas"
    assert layer["name"].startswith("mlgov threat model")
    by_id = {t["techniqueID"]: t for t in layer["techniques"]}
    assert set(by_id) == {"AML.T0024.002", "AML.T0024.000", "AML.T0011.000", "AML.T0040"}
    assert by_id["AML.T0024.002"]["score"] == 16
    assert by_id["AML.T0024.002"]["color"] == "#ff9f43"
    assert "score" not in by_id["AML.T0024.000"]  # accepted: nothing open
    assert "score" not in by_id["AML.T0040"]  # open but unscored
    assert all(isinstance(t["comment"], str) and t["comment"] for t in layer["techniques"])
    assert layer["gradient"]["minValue"] == 1 and layer["gradient"]["maxValue"] == 25
    assert len(layer["gradient"]["colors"]) >= 2
    assert {item["label"] for item in layer["legendItems"]} >= {"High open residual risk"}
    assert AuditEntry.objects.filter(action="export",
                                     object_type="threats.navigatorlayer").exists()


def test_navigator_layer_builder_marks_parents_with_sub_techniques():
    from django.utils import timezone

    layer = exports.navigator_layer(
        name="x", description="", generated_at=timezone.now(),
        techniques=[
            {"atlas_id": "AML.T0024", "count": 1, "open_count": 1, "worst_open": 20,
             "parent_atlas_id": None},
            {"atlas_id": "AML.T0024.002", "count": 1, "open_count": 1, "worst_open": 3,
             "parent_atlas_id": "AML.T0024"},
        ],
    )
    first, second = layer["techniques"]
    assert first["showSubtechniques"] is True and first["color"] == "#e8453c"
    assert second["score"] == 3 and second["color"] == "#8ec843"


def test_navigator_layer_api_for_one_asset(client_for, portfolio, data_scientist, outsider):
    model = portfolio(2)[0]
    response = client_for(data_scientist).get(
        f"/api/v1/threat-assessments/navigator-layer/?model={model.pk}")
    assert response.status_code == 200
    layer = response.json()
    assert layer["name"] == f"mlgov threat model: {model.name}"
    assert len(layer["techniques"]) == 4
    assert client_for(outsider).get(
        f"/api/v1/threat-assessments/navigator-layer/?model={model.pk}").status_code == 404
    assert client_for(data_scientist).get(
        "/api/v1/threat-assessments/navigator-layer/?model=1&dataset=2").status_code == 400


# --- Threat register ----------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_register_has_one_row_per_assessment(client, portfolio, compliance_officer,
                                             second_officer, data_scientist):
    model = portfolio(1)[0]
    client.force_login(compliance_officer)
    response = client.get(f"/threats/register.csv?model={model.pk}")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0]) == exports.REGISTER_HEADER
    assert len(rows) == 4
    by_id = {row["technique_id"]: row for row in rows}
    extraction = by_id["AML.T0024.002"]
    assert extraction["asset"] == model.name and extraction["asset_kind"] == "model"
    assert extraction["team"] == model.team.name
    assert extraction["tactics"] == "Exfiltration"
    assert (extraction["likelihood"], extraction["impact"]) == ("4", "4")
    assert (extraction["inherent_score"], extraction["residual_band"]) == ("16", "high")
    assert extraction["status"] == "Open"
    accepted = by_id["AML.T0024.000"]
    assert accepted["status"] == "Accepted"
    assert accepted["acceptance"].startswith(f"approved by {second_officer.username} until ")
    mitigated = by_id["AML.T0011.000"]
    assert mitigated["mitigations"] == "AML.M0011 Restrict Library Loading (implemented)"
    assert mitigated["owners"] == data_scientist.username
    assert by_id["AML.T0040"]["likelihood"] == ""
    assert AuditEntry.objects.filter(action="export", object_type="threats.register").exists()


def test_register_cells_never_run_as_formulas(client, data_scientist, team):
    model = MLModelFactory(team=team, name="=HYPERLINK(\"http://evil\")")
    assessment = assess(data_scientist, model, "AML.T0040", likelihood=1, impact=1)
    assessments.assessment_update(actor=data_scientist, assessment=assessment,
                                  data={"rationale": "+cmd|' /C calc'!A0"})
    client.force_login(data_scientist)
    row = read_csv(client.get("/threats/register.csv"))[0]
    assert row["asset"].startswith("'=")
    assert row["rationale"].startswith("'+")


def test_register_is_scoped(client, portfolio, outsider, auditor):
    portfolio(1)
    client.force_login(outsider)
    assert read_csv(client.get("/threats/register.csv")) == []
    client.force_login(auditor)
    assert len(read_csv(client.get("/threats/register.csv"))) == 4


def test_exports_need_a_login(client):
    for url in ("/threats/register.csv", "/threats/matrix/navigator-layer.json",
                "/threats/matrix/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
