"""The dashboards in a real Chromium, under the application's own security headers: each chart
draws exactly the points its selector counts, for a compliance officer (every team) and a data
scientist (their teams only); a filter changes the numbers; a click on a bar opens the list
behind it; the console stays clean. Screenshots go to test-artifacts/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from apps.dashboards import selectors
from apps.dashboards.selectors import PortfolioFilters
from apps.registry.choices import LifecycleStatus, RiskTier
from tests.dashboards.builders import build_model
from tests.e2e.conftest import snap
from tests.e2e.test_threat_model_browser import enrol_second_factor, sign_in_with_code

pytestmark = pytest.mark.browser

FIGURES = ("fig-models", "fig-findings", "fig-heatmap", "fig-mitigations",
           "fig-findings-weekly", "fig-scans-weekly")


def drawn(page, element_id: str) -> dict:
    """What Plotly drew into one chart: traces, points per trace (from the rendered SVG) and
    the sum of the values it plotted."""
    page.wait_for_selector(f'#{element_id}[data-drawn="true"]')
    return page.evaluate(
        """id => {
             const gd = document.getElementById(id);
             const traces = gd.data.map(t => t.type);
             const heat = gd.data.filter(t => t.type === 'heatmap');
             const bars = gd.querySelectorAll('.barlayer .point').length;
             const values = gd.data.filter(t => t.type === 'bar')
               .flatMap(t => t.orientation === 'h' ? t.x : t.y)
               .concat(heat.flatMap(t => t.z.flat()))
               .reduce((a, b) => a + b, 0);
             const cells = heat.reduce((n, t) => n + t.z.flat().length, 0);
             return {traces, bars, cells, values,
                     heatImage: gd.querySelectorAll('.hm image').length};
           }""",
        element_id,
    )


def expected(user, filters=selectors.NO_FILTERS) -> dict:
    """The same numbers, straight from the selectors."""
    models = selectors.models_by_tier_and_status(user=user, filters=filters)
    findings = selectors.open_findings_by_severity(user=user, filters=filters)
    heat = selectors.open_threat_heatmap(user=user, filters=filters)
    mitigations = selectors.mitigation_status_by_team(user=user, filters=filters)
    weekly = selectors.findings_over_time(user=user, filters=filters)
    scans = selectors.scan_activity(user=user, filters=filters)
    return {
        "fig-findings-weekly": (len(weekly), sum(row["n"] for row in weekly)),
        "fig-scans-weekly": (len(scans), sum(row["n"] for row in scans)),
        "fig-models": (len(models), sum(row["n"] for row in models)),
        "fig-findings": (len(findings), sum(row["n"] for row in findings)),
        "fig-heatmap": (25, sum(row["n"] for row in heat)),
        "fig-mitigations": (len(mitigations), sum(row["n"] for row in mitigations)),
    }


def check_figures(page, user, filters=selectors.NO_FILTERS) -> dict:
    want = expected(user, filters)
    for element_id in FIGURES:
        points, total = want[element_id]
        got = drawn(page, element_id)
        if element_id == "fig-heatmap":
            assert got["traces"] == ["heatmap"]
            assert got["cells"] == points
            assert got["heatImage"] == 1
        else:
            assert set(got["traces"]) == {"bar"}
            assert got["bars"] == points, element_id
        assert got["values"] == total, element_id
    return want


def stat(page, key: str) -> int:
    return int(page.locator(f'[data-stat="{key}"] .stat__value').inner_text())


@pytest.fixture
def world(team, other_team, data_scientist, outsider):
    build_model(team, data_scientist, name="credit-scorer", owner=data_scientist)
    build_model(other_team, outsider, name="fraud-a", risk_tier=RiskTier.LIMITED)
    build_model(other_team, outsider, name="fraud-b",
                lifecycle_status=LifecycleStatus.DEVELOPMENT)


def test_compliance_officer_portfolio_draws_filters_and_links(
    transactional_db, live_server, page, console_errors, screenshot, compliance_officer,
    other_team, world,
):
    codes = enrol_second_factor(compliance_officer)
    sign_in_with_code(page, live_server.url, compliance_officer.username, codes[0])
    response = page.goto(live_server.url + "/dashboard/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "unsafe-inline" not in csp
    expect(page.get_by_role("heading", name="Portfolio dashboard")).to_be_visible()

    want = check_figures(page, compliance_officer)
    assert want["fig-findings"][1] == 6
    assert stat(page, "models") == 3
    snap(page, "dashboard-portfolio-compliance-officer")
    assert console_errors == []

    # A filter changes the numbers (and stays in the URL, so the view can be shared).
    page.get_by_label("Team", exact=True).select_option(str(other_team.pk))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(rf"team={other_team.pk}"))
    filtered = check_figures(page, compliance_officer, PortfolioFilters(team_id=other_team.pk))
    assert filtered["fig-findings"][1] == 4
    assert stat(page, "models") == 2
    snap(page, "dashboard-portfolio-filtered")

    # A click on the "High" findings bar opens the open high findings list.
    bar = page.locator("#fig-findings .barlayer .point").nth(1)
    bar.click(force=True)
    page.wait_for_url(re.compile(r"/scans/findings/\?severity=high&status=open$"))
    expect(page.get_by_role("heading", name=re.compile("Findings"))).to_be_visible()
    assert console_errors == []


def test_data_scientist_sees_only_their_team_in_every_chart(
    transactional_db, live_server, page, console_errors, screenshot, sign_in, data_scientist,
    world,
):
    sign_in(data_scientist.username)
    page.goto(live_server.url + "/dashboard/")
    want = check_figures(page, data_scientist)
    assert want["fig-findings"][1] == 2
    assert want["fig-models"][1] == 1
    mitigation_teams = page.evaluate(
        "() => document.getElementById('fig-mitigations').data.flatMap(t => t.x)"
    )
    assert set(mitigation_teams) == {"Credit Risk"}
    expect(page.locator('table[data-table="riskiest"] tbody tr')).to_have_count(1)
    assert "fraud-" not in page.content()
    snap(page, "dashboard-portfolio-data-scientist")

    page.goto(live_server.url + "/dashboard/mine/")
    got = drawn(page, "fig-needs")
    rows = selectors.my_models_needs(user=data_scientist)
    needs = ("failed_scans", "open_findings", "my_mitigations", "pending_suggestions")
    assert got["values"] == sum(row[key] for row in rows for key in needs) == 5
    assert got["bars"] == sum(1 for row in rows for key in needs if row[key]) == 4
    assert stat(page, "my_mitigations") == 1
    snap(page, "dashboard-home-data-scientist")
    # The "Mitigations assigned to me" bar opens the model's threat model.
    page.locator("#fig-needs .barlayer .trace").nth(2).locator(".point").first.click(force=True)
    page.wait_for_url(re.compile(r"/threats/models/\d+/$"))
    expect(page.get_by_role("heading", name="Threat model of credit-scorer")).to_be_visible()
    assert console_errors == []
