"""The figure builders are pure: rows in, Plotly dicts out (no database)."""

from apps.dashboards import charts

FINDING_ROWS = [{"severity": "low", "n": 3}, {"severity": "critical", "n": 1},
                {"severity": "high", "n": 2}]


def test_findings_by_severity_orders_least_to_most_severe_and_links_each_bar():
    figure = charts.figure_findings_by_severity(FINDING_ROWS, list_url="/scans/findings/")
    (trace,) = figure["data"]
    assert trace["x"] == ["Low", "High", "Critical"]
    assert trace["y"] == [3, 2, 1]
    assert trace["customdata"] == [
        "/scans/findings/?severity=low&status=open",
        "/scans/findings/?severity=high&status=open",
        "/scans/findings/?severity=critical&status=open",
    ]
    assert trace["marker"]["color"] == [
        charts.OKABE_ITO["sky_blue"], charts.OKABE_ITO["orange"], charts.OKABE_ITO["vermillion"]
    ]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Number of open findings"
    assert charts.point_count(figure) == 3


def test_findings_by_severity_without_rows_draws_nothing():
    figure = charts.figure_findings_by_severity([], list_url="/x/")
    assert figure["data"] == []
    assert charts.point_count(figure) == 0


def test_heatmap_is_a_complete_five_by_five_grid_of_counts():
    rows = [{"level_l": 5, "level_i": 4, "n": 2}, {"level_l": 1, "level_i": 1, "n": 1}]
    figure = charts.figure_threat_heatmap(rows, list_url="/threats/assessments/",
                                          filters={"team": 7})
    (trace,) = figure["data"]
    assert trace["type"] == "heatmap"
    assert trace["z"][4][3] == 2  # likelihood 5 (row), impact 4 (column)
    assert trace["z"][0][0] == 1
    assert sum(map(sum, trace["z"])) == 3
    assert trace["customdata"][4][3] == "/threats/assessments/?status=open&team=7"
    assert charts.point_count(figure) == 25


def test_models_by_tier_makes_one_trace_per_lifecycle_status_present_and_keeps_filters():
    rows = [
        {"risk_tier": "high", "lifecycle_status": "production", "n": 2},
        {"risk_tier": "minimal", "lifecycle_status": "production", "n": 1},
        {"risk_tier": "high", "lifecycle_status": "development", "n": 4},
    ]
    figure = charts.figure_models_by_tier(rows, list_url="/models/", filters={"team": 3})
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["Development", "Production"]
    production = figure["data"][1]
    assert production["x"] == ["Minimal", "High"]
    assert production["y"] == [1, 2]
    assert production["customdata"][1] == (
        "/models/?team=3&risk_tier=high&lifecycle_status=production"
    )
    assert charts.point_count(figure) == 3


def test_mitigation_status_by_team_stacks_statuses_per_team():
    rows = [
        {"team_id": 1, "team__name": "A", "status": "planned", "n": 2},
        {"team_id": 1, "team__name": "A", "status": "verified", "n": 1},
        {"team_id": 2, "team__name": "B", "status": "planned", "n": 5},
    ]
    figure = charts.figure_mitigation_status_by_team(rows, list_url="/threats/assessments/")
    planned, verified = figure["data"]
    assert planned["x"] == ["A", "B"] and planned["y"] == [2, 5]
    assert planned["customdata"] == ["/threats/assessments/?team=1",
                                     "/threats/assessments/?team=2"]
    assert verified["x"] == ["A"]
    assert figure["layout"]["barmode"] == "stack"


def test_my_models_needs_leaves_out_models_needing_nothing():
    rows = [
        {"pk": 1, "name": "a", "failed_scans": 1, "open_findings": 0, "my_mitigations": 2,
         "pending_suggestions": 0},
        {"pk": 2, "name": "b", "failed_scans": 0, "open_findings": 0, "my_mitigations": 0,
         "pending_suggestions": 0},
    ]
    figure = charts.figure_my_models_needs(rows, model_url="/threats/models/{pk}/")
    assert [trace["name"] for trace in figure["data"]] == [
        "Failed scans", "Mitigations assigned to me"
    ]
    assert figure["data"][0]["y"] == ["a"]
    assert figure["data"][0]["customdata"] == ["/threats/models/1/"]
    assert charts.point_count(figure) == 2


def test_link_drops_empty_parameters():
    assert charts.link("/m/", team=None, risk_tier="", lifecycle_status="production") == (
        "/m/?lifecycle_status=production"
    )
    assert charts.link("/m/") == "/m/"


def test_count_axes_tick_whole_numbers_only():
    assert charts.count_axis("n", 2)["dtick"] == 1
    assert charts.count_axis("n", 0)["dtick"] == 1
    assert charts.count_axis("n", 400)["dtick"] == 50
    rows = [{"risk_tier": "high", "lifecycle_status": "production", "n": 9},
            {"risk_tier": "high", "lifecycle_status": "development", "n": 8}]
    figure = charts.figure_models_by_tier(rows, list_url="/m/", filters={})
    assert figure["layout"]["yaxis"]["dtick"] == 3  # tallest stack 17 -> ceil(17 / 8)


def test_weekly_charts_stack_by_value_and_link_to_the_filtered_list():
    from datetime import date, datetime

    rows = [
        {"week": datetime(2026, 11, 9), "status": "succeeded", "n": 4},
        {"week": datetime(2026, 11, 9), "status": "failed", "n": 1},
        {"week": date(2026, 11, 16), "status": "failed", "n": 2},
    ]
    figure = charts.figure_scan_activity(rows, list_url="/scans/")
    succeeded, failed = figure["data"]
    assert succeeded["x"] == ["2026-11-09"] and succeeded["y"] == [4]
    assert failed["x"] == ["2026-11-09", "2026-11-16"] and failed["y"] == [1, 2]
    assert failed["customdata"] == ["/scans/?status=failed"] * 2
    assert failed["marker"]["color"] == charts.OKABE_ITO["vermillion"]
    assert figure["layout"]["yaxis"]["dtick"] == 1
    findings = charts.figure_findings_over_time(
        [{"week": date(2026, 11, 9), "severity": "high", "n": 3}], list_url="/f/"
    )
    assert findings["data"][0]["customdata"] == ["/f/?severity=high"]
    assert charts.point_count(findings) == 1
