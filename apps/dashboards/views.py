"""Dashboard pages: parse the filters, call the selectors, hand their rows to charts.py."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.dashboards import charts, selectors
from apps.dashboards.forms import PortfolioFilterForm
from apps.registry import selectors as registry_selectors


def _figure(element_id: str, figure: dict) -> dict:
    return {"id": element_id, "data_id": f"{element_id}-data", "figure": figure,
            "points": charts.point_count(figure)}


@login_required
@require_GET
def portfolio(request):
    """The compliance officer's portfolio: headline figures and charts over every model the
    user may see, narrowed by the filters in the query string. Invalid filters answer 400."""
    user = request.user
    form = PortfolioFilterForm(
        request.GET or None, teams=registry_selectors.team_list(user=user).order_by("name")
    )
    context = {"nav_section": "dashboard", "form": form, "figures": [], "headline": None}
    if form.is_bound and not form.is_valid():
        return render(request, "dashboards/portfolio.html", context, status=400)
    filters = form.portfolio_filters() if form.is_bound else selectors.NO_FILTERS
    params = form.as_params() if form.is_bound else {}
    context["headline"] = selectors.portfolio_headline(user=user, filters=filters)
    context["figures"] = [
        _figure("fig-models", charts.figure_models_by_tier(
            selectors.models_by_tier_and_status(user=user, filters=filters),
            list_url=reverse("registry:model-list"), filters=params)),
        _figure("fig-findings", charts.figure_findings_by_severity(
            selectors.open_findings_by_severity(user=user, filters=filters),
            list_url=reverse("scans:finding-list"))),
        _figure("fig-heatmap", charts.figure_threat_heatmap(
            selectors.open_threat_heatmap(user=user, filters=filters),
            list_url=reverse("threats:assessment-list"), filters=params)),
        _figure("fig-mitigations", charts.figure_mitigation_status_by_team(
            selectors.mitigation_status_by_team(user=user, filters=filters),
            list_url=reverse("threats:assessment-list"))),
        _figure("fig-findings-weekly", charts.figure_findings_over_time(
            selectors.findings_over_time(user=user, filters=filters),
            list_url=reverse("scans:finding-list"))),
        _figure("fig-scans-weekly", charts.figure_scan_activity(
            selectors.scan_activity(user=user, filters=filters),
            list_url=reverse("scans:scan-list"))),
    ]
    context["riskiest"] = selectors.riskiest_models(user=user, filters=filters)
    return render(request, "dashboards/portfolio.html", context)


@login_required
@require_GET
def home(request):
    """A data scientist's home: their teams' models and what each needs from them."""
    rows = selectors.my_models_needs(user=request.user)
    model_url = reverse("threats:asset", kwargs={"segment": "models", "pk": 0})
    figure = charts.figure_my_models_needs(rows, model_url=model_url.replace("/0/", "/{pk}/"))
    context = {
        "nav_section": "dashboard",
        "rows": rows,
        "needs": [(key, label, sum(row[key] for row in rows)) for key, label, _ in charts.NEEDS],
        "figures": [_figure("fig-needs", figure)],
    }
    return render(request, "dashboards/home.html", context)
