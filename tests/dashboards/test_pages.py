"""Dashboard pages: who may open them, what each role's figures count, filters, query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.dashboards import charts, selectors
from apps.registry.choices import LifecycleStatus, RiskTier
from apps.threats.choices import AcceptanceStatus
from apps.threats.models import RiskAcceptance, ThreatAssessment
from tests.dashboards.builders import build_model
from tests.registry.factories import MLModelFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db

PORTFOLIO = reverse("dashboards:portfolio")
HOME = reverse("dashboards:home")


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figures(response) -> dict:
    return {item["id"]: item["figure"] for item in response.context["figures"]}


def bar_total(figure) -> int:
    return sum(sum(trace["y"] if trace.get("orientation") != "h" else trace["x"])
               for trace in figure["data"] if trace["type"] == "bar")


def heat_total(figure) -> int:
    return sum(map(sum, figure["data"][0]["z"]))


@pytest.fixture
def portfolio(team, other_team, data_scientist, outsider):
    """One model in `team` (the data scientist's), two in `other_team`."""
    build_model(team, data_scientist, name="credit-scorer", owner=data_scientist)
    build_model(other_team, outsider, name="fraud-a", risk_tier=RiskTier.LIMITED)
    build_model(other_team, outsider, name="fraud-b",
                lifecycle_status=LifecycleStatus.DEVELOPMENT)


@pytest.mark.parametrize("url", [PORTFOLIO, HOME])
def test_anonymous_is_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("url", [PORTFOLIO, HOME])
def test_writes_are_refused(data_scientist, url):
    assert as_user(data_scientist).post(url).status_code == 405


def test_compliance_officer_sees_every_team_in_every_figure(compliance_officer, portfolio):
    response = as_user(compliance_officer).get(PORTFOLIO)
    assert response.status_code == 200
    shown = figures(response)
    assert bar_total(shown["fig-models"]) == 3
    assert bar_total(shown["fig-findings"]) == 6
    assert heat_total(shown["fig-heatmap"]) == 6
    assert bar_total(shown["fig-findings-weekly"]) == 6
    assert bar_total(shown["fig-scans-weekly"]) == 6
    failed = [t for t in shown["fig-scans-weekly"]["data"] if t["name"] == "Failed"]
    assert sum(failed[0]["y"]) == 3
    assert {x for trace in shown["fig-mitigations"]["data"] for x in trace["x"]} == {
        "Credit Risk", "Fraud Detection"
    }
    headline = response.context["headline"]
    assert headline["models"] == 3
    assert headline["open_findings"] == 6
    assert headline["open_severe_findings"] == 3
    assert headline["open_threats"] == 6
    assert headline["overdue_mitigations"] == 3
    assert {row["name"] for row in response.context["riskiest"]} == {
        "credit-scorer", "fraud-a", "fraud-b"
    }


def test_data_scientist_sees_only_their_teams_in_every_figure(data_scientist, portfolio):
    response = as_user(data_scientist).get(PORTFOLIO)
    assert response.status_code == 200
    shown = figures(response)
    assert bar_total(shown["fig-models"]) == 1
    assert bar_total(shown["fig-findings"]) == 2
    assert heat_total(shown["fig-heatmap"]) == 2
    assert bar_total(shown["fig-findings-weekly"]) == 2
    assert bar_total(shown["fig-scans-weekly"]) == 2
    assert {x for trace in shown["fig-mitigations"]["data"] for x in trace["x"]} == {
        "Credit Risk"
    }
    headline = response.context["headline"]
    assert headline["models"] == 1
    assert headline["open_findings"] == 2
    assert headline["overdue_mitigations"] == 1
    assert [row["name"] for row in response.context["riskiest"]] == ["credit-scorer"]
    assert b"fraud-" not in response.content


def test_team_filter_changes_the_numbers_and_is_kept_in_the_links(
    compliance_officer, other_team, portfolio
):
    response = as_user(compliance_officer).get(PORTFOLIO, {"team": other_team.pk})
    assert response.status_code == 200
    shown = figures(response)
    assert bar_total(shown["fig-findings"]) == 4
    assert response.context["headline"]["models"] == 2
    links = [url for trace in shown["fig-models"]["data"] for url in trace["customdata"]]
    assert links and all(f"team={other_team.pk}" in url for url in links)


def test_risk_tier_and_lifecycle_filters_narrow_every_figure(compliance_officer, portfolio):
    response = as_user(compliance_officer).get(
        PORTFOLIO, {"risk_tier": "high", "lifecycle_status": "production"}
    )
    shown = figures(response)
    assert bar_total(shown["fig-models"]) == 1
    assert bar_total(shown["fig-findings"]) == 2
    assert heat_total(shown["fig-heatmap"]) == 2
    assert [row["name"] for row in response.context["riskiest"]] == ["credit-scorer"]


def test_a_team_outside_the_users_scope_is_a_bad_filter(data_scientist, other_team, portfolio):
    response = as_user(data_scientist).get(PORTFOLIO, {"team": other_team.pk})
    assert response.status_code == 400
    assert response.context["figures"] == []
    assert b"fraud-" not in response.content


def test_an_unknown_risk_tier_is_a_bad_filter(compliance_officer):
    assert as_user(compliance_officer).get(PORTFOLIO, {"risk_tier": "nope"}).status_code == 400


def test_home_lists_what_my_teams_models_need_from_me(data_scientist, portfolio):
    response = as_user(data_scientist).get(HOME)
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert row["name"] == "credit-scorer"
    assert (row["failed_scans"], row["open_findings"], row["my_mitigations"],
            row["pending_suggestions"]) == (1, 2, 1, 1)
    figure = figures(response)["fig-needs"]
    assert charts.point_count(figure) == 4
    assert all(trace["y"] == ["credit-scorer"] for trace in figure["data"])


def test_home_of_a_compliance_officer_shows_only_teams_they_belong_to(
    compliance_officer, other_team, portfolio
):
    assert as_user(compliance_officer).get(HOME).context["rows"] == []
    TeamMembershipFactory(team=other_team, user=compliance_officer)
    rows = as_user(compliance_officer).get(HOME).context["rows"]
    assert {row["name"] for row in rows} == {"fraud-a", "fraud-b"}
    assert all(row["my_mitigations"] == 0 for row in rows)  # owned by nobody / someone else


def test_headline_counts_expired_acceptances_and_unscanned_production_models(
    compliance_officer, data_scientist, team, portfolio
):
    MLModelFactory(team=team, lifecycle_status=LifecycleStatus.PRODUCTION)  # never scanned
    assessment = ThreatAssessment.objects.filter(team=team).first()
    RiskAcceptance.objects.create(
        assessment=assessment, team=team, status=AcceptanceStatus.APPROVED, reason="x",
        expires_at=timezone.now() - timedelta(days=1), requested_by=data_scientist,
    )
    headline = selectors.portfolio_headline(user=compliance_officer)
    assert headline["unscanned_production_models"] == 1
    assert headline["expired_acceptances"] == 1
    later = timezone.now() + timedelta(days=selectors.STALE_SCAN_DAYS + 1)
    # A month on, the scans of the built models are stale too (two of them are in production).
    assert selectors.portfolio_headline(user=compliance_officer, now=later)[
        "unscanned_production_models"
    ] == 3


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [PORTFOLIO, HOME])
@pytest.mark.parametrize("role", ["compliance_officer", "data_scientist"])
def test_query_count_does_not_grow_with_the_data(request, team, other_team, url, role):
    user = request.getfixturevalue(role)
    if role == "compliance_officer":
        TeamMembershipFactory(team=team, user=user)
    author = request.getfixturevalue("data_scientist")
    stranger = request.getfixturevalue("outsider")
    build_model(team, author, owner=author)
    client = as_user(user)
    client.get(url)  # warm the session
    small = _queries(client, url)
    for _ in range(4):
        build_model(team, author, owner=author)
        build_model(other_team, stranger)
    large = _queries(client, url)
    assert small == large
