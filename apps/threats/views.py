"""Web pages of the threats app."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.threats import selectors


@login_required
@require_GET
def catalogue(request):
    """The MITRE ATLAS matrix: tactics in matrix order, their techniques and sub-techniques."""
    include_retired = request.GET.get("retired") == "1"
    context = {
        "tactics": selectors.catalogue_matrix(user=request.user, include_retired=include_retired),
        "catalogue_version": selectors.catalogue_version_current(user=request.user),
        "include_retired": include_retired,
        "nav_section": "threats",
    }
    return render(request, "threats/catalogue.html", context)
