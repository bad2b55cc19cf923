"""Plotly figures for the dashboards, as plain dicts (`{"data": [...], "layout": {...}}`).

Pure functions of selector rows: no ORM, no request, so they are tested without a database and
the figure JSON is what the browser draws. Every clickable point carries, in `customdata`, the
URL of the filtered list behind it (static/dashboards/js/charts.js navigates there).

Only trace types that run under a strict CSP (no eval) are used: bar and heatmap.
Colours are the Okabe-Ito palette (safe for the common colour-vision deficiencies); severities
also differ in order and label, never by colour alone.
"""

import math
from collections import Counter
from urllib.parse import urlencode

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
SEVERITIES = [  # least to most severe
    ("info", "Info", OKABE_ITO["grey"]),
    ("low", "Low", OKABE_ITO["sky_blue"]),
    ("medium", "Medium", OKABE_ITO["yellow"]),
    ("high", "High", OKABE_ITO["orange"]),
    ("critical", "Critical", OKABE_ITO["vermillion"]),
]
LIFECYCLE = [
    ("development", "Development", OKABE_ITO["sky_blue"]),
    ("validation", "Validation", OKABE_ITO["yellow"]),
    ("production", "Production", OKABE_ITO["vermillion"]),
    ("retired", "Retired", OKABE_ITO["grey"]),
]
RISK_TIERS = [
    ("minimal", "Minimal"), ("limited", "Limited"), ("high", "High"),
    ("unacceptable", "Unacceptable"),
]
MITIGATION_STATUSES = [
    ("planned", "Planned", OKABE_ITO["vermillion"]),
    ("in_progress", "In progress", OKABE_ITO["orange"]),
    ("implemented", "Implemented", OKABE_ITO["sky_blue"]),
    ("verified", "Verified", OKABE_ITO["blue"]),
]
NEEDS = [
    ("failed_scans", "Failed scans", OKABE_ITO["vermillion"]),
    ("open_findings", "Open findings", OKABE_ITO["orange"]),
    ("my_mitigations", "Mitigations assigned to me", OKABE_ITO["blue"]),
    ("pending_suggestions", "Suggested threats waiting", OKABE_ITO["purple"]),
]
SCAN_STATUSES = [
    ("succeeded", "Succeeded", OKABE_ITO["blue"]),
    ("failed", "Failed", OKABE_ITO["vermillion"]),
    ("cancelled", "Cancelled", OKABE_ITO["grey"]),
    ("running", "Running", OKABE_ITO["sky_blue"]),
    ("queued", "Queued", OKABE_ITO["yellow"]),
]
LEVELS = [1, 2, 3, 4, 5]
# Sequential, colour-blind safe (light to dark blue): readable in greyscale print too.
HEAT_SCALE = [[0.0, "#F7FBFF"], [0.5, "#6BAED6"], [1.0, "#08306B"]]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13,
        "color": "#222222"}


def link(base_url: str, **params) -> str:
    """`base_url` with the non-empty `params` as its query string."""
    query = urlencode({key: value for key, value in params.items() if value not in ("", None)})
    return f"{base_url}?{query}" if query else base_url


def count_axis(title: str, largest: int) -> dict:
    """An axis of whole counts: about eight ticks at most, never a fractional one."""
    return {"title": {"text": title}, "automargin": True, "gridcolor": "#DDDDDD",
            "rangemode": "tozero", "tick0": 0, "dtick": max(1, math.ceil(largest / 8))}


def _layout(title: str, x_title: str, y_title: str, **extra) -> dict:
    layout = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "font": FONT,
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "margin": {"l": 70, "r": 20, "t": 60, "b": 60},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True, "gridcolor": "#DDDDDD"},
        # A legend even for one series: the colour of a status must always be explained.
        "showlegend": True,
        "legend": {"title": {"text": ""}},
        "barmode": "stack",
    }
    layout.update(extra)
    return layout


def _largest_stack(rows: list[dict], group: str) -> int:
    """The tallest stacked bar: the largest sum of `n` over rows sharing `group`."""
    totals: Counter = Counter()
    for row in rows:
        totals[row[group]] += row["n"]
    return max(totals.values(), default=0)


def figure_models_by_tier(rows: list[dict], *, list_url: str, filters: dict) -> dict:
    """Models per risk tier (x), stacked by lifecycle status: one trace per status present."""
    counts = {(row["risk_tier"], row["lifecycle_status"]): row["n"] for row in rows}
    data = []
    for status, status_label, colour in LIFECYCLE:
        tiers = [(tier, label) for tier, label in RISK_TIERS if counts.get((tier, status))]
        if not tiers:
            continue
        data.append({
            "type": "bar",
            "name": status_label,
            "x": [label for _, label in tiers],
            "y": [counts[(tier, status)] for tier, _ in tiers],
            "marker": {"color": colour, "line": {"color": "#000000", "width": 0.5}},
            "customdata": [
                link(list_url, **{**filters, "risk_tier": tier, "lifecycle_status": status})
                for tier, _ in tiers
            ],
            "hovertemplate": "%{x} risk, " + status_label + ": %{y} model(s)<extra></extra>",
        })
    return {
        "data": data,
        "layout": _layout(
            "Models by risk tier and lifecycle status", "EU AI Act risk tier",
            "Number of models",
            xaxis={"title": {"text": "EU AI Act risk tier"}, "categoryorder": "array",
                   "categoryarray": [label for _, label in RISK_TIERS]},
            yaxis=count_axis("Number of models", _largest_stack(rows, "risk_tier")),
        ),
    }


def figure_findings_by_severity(rows: list[dict], *, list_url: str) -> dict:
    """Open scan findings per severity: one bar per severity present, least to most severe."""
    counts = {row["severity"]: row["n"] for row in rows}
    present = [(key, label, colour) for key, label, colour in SEVERITIES if counts.get(key)]
    data = [{
        "type": "bar",
        "name": "Open findings",
        "x": [label for _, label, _ in present],
        "y": [counts[key] for key, _, _ in present],
        "marker": {"color": [colour for _, _, colour in present],
                   "line": {"color": "#000000", "width": 0.5}},
        "customdata": [link(list_url, severity=key, status="open") for key, _, _ in present],
        "hovertemplate": "%{x}: %{y} open finding(s)<extra></extra>",
    }] if present else []
    return {
        "data": data,
        "layout": _layout(
            "Open scan findings by severity", "Severity", "Number of open findings",
            showlegend=False,
            yaxis=count_axis("Number of open findings", max(counts.values(), default=0)),
        ),
    }


def figure_threat_heatmap(rows: list[dict], *, list_url: str, filters: dict) -> dict:
    """Open threats on a likelihood (y) x impact (x) grid of residual levels 1-5; each cell
    shows its count. Empty cells are drawn (zero) so the grid is always complete."""
    counts = {(row["level_l"], row["level_i"]): row["n"] for row in rows}
    z = [[counts.get((lk, im), 0) for im in LEVELS] for lk in LEVELS]
    team = filters.get("team")
    url = link(list_url, status="open", team=team)
    return {
        "data": [{
            "type": "heatmap",
            "name": "Open threats",
            "x": LEVELS,
            "y": LEVELS,
            "z": z,
            "text": [[str(value) if value else "" for value in line] for line in z],
            "texttemplate": "%{text}",
            "colorscale": HEAT_SCALE,
            "zmin": 0,
            # No colour bar: plotly.js resets its fills with an inline style attribute, which a
            # strict CSP refuses; each cell prints its count instead.
            "showscale": False,
            "customdata": [[url for _ in LEVELS] for _ in LEVELS],
            "hovertemplate": (
                "Likelihood %{y}, impact %{x}: %{z} open threat(s)<extra></extra>"
            ),
            "xgap": 2,
            "ygap": 2,
        }],
        "layout": _layout(
            "Open threats by residual likelihood and impact", "Impact (1-5)",
            "Likelihood (1-5)",
            xaxis={"title": {"text": "Impact (1-5)"}, "dtick": 1},
            yaxis={"title": {"text": "Likelihood (1-5)"}, "dtick": 1},
        ),
    }


def _week(value) -> str:
    """A week bucket (date or datetime from TruncWeek) as its Monday, YYYY-MM-DD."""
    return value.date().isoformat() if hasattr(value, "date") else value.isoformat()


def _weekly_stacks(rows: list[dict], key: str, series: list[tuple], *, base_url: str,
                   what: str, extra: dict) -> list[dict]:
    """One bar trace per series value present, x = weeks; each bar links to the list filtered
    by that value (the lists have no date filter yet)."""
    counts: dict[tuple[str, str], int] = {}
    weeks: list[str] = []
    for row in rows:
        week = _week(row["week"])
        if week not in weeks:
            weeks.append(week)
        counts[(week, row[key])] = counts.get((week, row[key]), 0) + row["n"]
    data = []
    for value, label, colour in series:
        present = [week for week in weeks if counts.get((week, value))]
        if not present:
            continue
        data.append({
            "type": "bar",
            "name": label,
            "x": present,
            "y": [counts[(week, value)] for week in present],
            "marker": {"color": colour, "line": {"color": "#000000", "width": 0.5}},
            "customdata": [link(base_url, **{key: value, **extra}) for _ in present],
            "hovertemplate": "Week of %{x}, " + label + ": %{y} " + what + "<extra></extra>",
        })
    return data


def _largest_week(rows: list[dict]) -> int:
    return _largest_stack([{**row, "week": _week(row["week"])} for row in rows], "week")


def figure_findings_over_time(rows: list[dict], *, list_url: str) -> dict:
    """Findings first seen per week (x), stacked by severity."""
    return {
        "data": _weekly_stacks(rows, "severity", SEVERITIES, base_url=list_url,
                               what="new finding(s)", extra={}),
        "layout": _layout(
            "New scan findings per week by severity", "Week (starting Monday)",
            "Number of findings first seen",
            xaxis={"title": {"text": "Week (starting Monday)"}, "type": "category"},
            yaxis=count_axis("Number of findings first seen", _largest_week(rows)),
        ),
    }


def figure_scan_activity(rows: list[dict], *, list_url: str) -> dict:
    """Scans started per week (x), stacked by outcome: failures stand out in vermillion."""
    return {
        "data": _weekly_stacks(rows, "status", SCAN_STATUSES, base_url=list_url,
                               what="scan(s)", extra={}),
        "layout": _layout(
            "Scans started per week by outcome", "Week (starting Monday)", "Number of scans",
            xaxis={"title": {"text": "Week (starting Monday)"}, "type": "category"},
            yaxis=count_axis("Number of scans", _largest_week(rows)),
        ),
    }


def figure_mitigation_status_by_team(rows: list[dict], *, list_url: str) -> dict:
    """Applied mitigations per team (x), stacked by status: one trace per status present."""
    teams: dict[int, str] = {}
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        teams[row["team_id"]] = row["team__name"]
        counts[(row["team_id"], row["status"])] = row["n"]
    data = []
    for status, status_label, colour in MITIGATION_STATUSES:
        team_ids = [team_id for team_id in teams if counts.get((team_id, status))]
        if not team_ids:
            continue
        data.append({
            "type": "bar",
            "name": status_label,
            "x": [teams[team_id] for team_id in team_ids],
            "y": [counts[(team_id, status)] for team_id in team_ids],
            "marker": {"color": colour, "line": {"color": "#000000", "width": 0.5}},
            "customdata": [link(list_url, team=team_id) for team_id in team_ids],
            "hovertemplate": "%{x}, " + status_label + ": %{y} mitigation(s)<extra></extra>",
        })
    return {
        "data": data,
        "layout": _layout(
            "Applied mitigations by team and status", "Team", "Number of applied mitigations",
            yaxis=count_axis("Number of applied mitigations", _largest_stack(rows, "team_id")),
        ),
    }


def figure_my_models_needs(rows: list[dict], *, model_url: str) -> dict:
    """Per model of the user's teams (y), what waits for them (stacked horizontal bars):
    one trace per kind of need present. `model_url` holds "{pk}" for the model's id."""
    needing = [row for row in rows if any(row[key] for key, _, _ in NEEDS)]
    data = []
    for key, label, colour in NEEDS:
        present = [row for row in needing if row[key]]
        if not present:
            continue
        data.append({
            "type": "bar",
            "orientation": "h",
            "name": label,
            "y": [row["name"] for row in present],
            "x": [row[key] for row in present],
            "marker": {"color": colour, "line": {"color": "#000000", "width": 0.5}},
            "customdata": [model_url.replace("{pk}", str(row["pk"])) for row in present],
            "hovertemplate": "%{y}: %{x} " + label.lower() + "<extra></extra>",
        })
    return {
        "data": data,
        "layout": _layout(
            "What my teams' models need from me", "Number of items", "Model",
            xaxis=count_axis("Number of items", max(
                (sum(row[key] for key, _, _ in NEEDS) for row in needing), default=0)),
            yaxis={"title": {"text": "Model"}, "automargin": True, "autorange": "reversed"},
        ),
    }


def point_count(figure: dict) -> int:
    """How many points (bars or heat-map cells) a figure draws: what the browser test checks."""
    total = 0
    for trace in figure["data"]:
        if trace["type"] == "heatmap":
            total += sum(len(line) for line in trace["z"])
        else:
            total += len(trace["y"] if trace.get("orientation") != "h" else trace["x"])
    return total
