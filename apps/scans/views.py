"""Server-rendered scan pages: scan list and detail (with a live progress bar), starting and
cancelling a scan, findings and their triage.

Views are thin: they read through `apps.scans.selectors` (scoped, so another team's scan is a
404), check the page-level right through apps.accounts.permissions and write only by calling
`apps.scans.services`. The progress bar is updated by static/scans/js/scan_progress.js, which
polls GET /api/v1/scans/{id}/; no inline script.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import permissions as perms
from apps.core.exceptions import ApplicationError
from apps.core.views_utils import call_service, get_or_404, paginate, raise_for_access
from apps.registry import selectors as registry_selectors
from apps.scans import forms, scanners, selectors, services
from apps.scans.choices import FINISHED_STATUSES, TargetType
from apps.scans.models import ScanRun

TARGET_LOOKUPS = {
    TargetType.MODEL_VERSION: registry_selectors.model_version_list,
    TargetType.DATASET_VERSION: registry_selectors.dataset_version_list,
    TargetType.DEPLOYMENT: registry_selectors.deployment_list,
}


MAX_ID = 2**63 - 1


def _target_filter(request) -> dict[str, int]:
    """The asset a list is narrowed to (?model_version=ID ...), from the asset pages' links."""
    found = {}
    for name in TargetType.values:
        value = request.GET.get(name, "").strip()
        if value.isdecimal() and 0 < int(value) <= MAX_ID:
            found[name] = int(value)
    return found


def _list_context(request, queryset, filter_form, target_filter) -> dict:
    queryset = queryset.filter(**{f"{name}_id": pk for name, pk in target_filter.items()})
    return {"page_obj": paginate(request, queryset), "filter_form": filter_form,
            "is_filtered": bool(filter_form.filters()), "target_filter": target_filter,
            "nav_section": "scans"}


# --- Scans --------------------------------------------------------------------------------------


@login_required
@require_GET
def scan_list(request):
    filter_form = forms.ScanFilterForm(request.GET)
    runs = selectors.scan_list(user=request.user)
    filters = filter_form.filters()
    if q := filters.pop("q", None):
        runs = runs.filter(
            Q(model_version__model__name__icontains=q)
            | Q(dataset_version__dataset__name__icontains=q)
            | Q(deployment__model_version__model__name__icontains=q)
        )
    runs = runs.filter(**filters)
    return render(request, "scans/scanrun_list.html",
                  _list_context(request, runs, filter_form, _target_filter(request)))


@login_required
@require_GET
def scan_detail(request, pk):
    run = get_or_404(selectors.scan_get, user=request.user, pk=pk)
    findings = selectors.findings_of_scan(user=request.user, scan=run)
    context = {
        "nav_section": "scans",
        "scan": run,
        "findings": findings,
        "can_cancel": not run.is_finished and perms.can(request.user, perms.CHANGE, run),
        "is_live": run.status not in FINISHED_STATUSES,
        "finished_statuses": sorted(FINISHED_STATUSES),
        "api_url": reverse("scan-detail", args=[run.pk]),
    }
    return render(request, "scans/scanrun_detail.html", context)


def _target_from(request) -> tuple[str, object]:
    """The scan target named by the query string or form (model_version=ID, ...), in scope."""
    data = request.POST if request.method == "POST" else request.GET
    for target_type, lookup in TARGET_LOOKUPS.items():
        if value := data.get(target_type):
            try:
                return target_type, lookup(user=request.user).get(pk=int(value))
            except (ObjectDoesNotExist, ValueError, OverflowError):
                raise Http404("Not found.") from None
    raise Http404("Choose what to scan.")


@login_required
@require_http_methods(["GET", "POST"])
def scan_create(request):
    """Start a scan of the target named in the query string, with chosen scanners/inputs."""
    target_type, target = _target_from(request)
    if not perms.can_create(request.user, ScanRun, services.target_team(target_type, target)):
        raise PermissionDenied("Your role cannot start scans of this.")
    applicable = {
        name: scanners.registered()[name] for name in scanners.scanners_for(target_type)
    }
    form = forms.ScanStartForm(request.POST or None, scanners=applicable)
    if request.method == "POST" and form.is_valid():
        run = call_service(
            form, services.scan_request, actor=request.user, **{target_type: target},
            scanners=form.cleaned_data["scanners"], params=form.params(),
        )
        if run:
            messages.success(request, "Scan queued.")
            return redirect(run)
    context = {"nav_section": "scans", "form": form, "target": target,
               "target_type": target_type, "target_label": TargetType(target_type).label}
    return render(request, "scans/scanrun_form.html", context,
                  status=getattr(form, "error_status", 400) if form.errors else 200)


@login_required
@require_POST
def scan_cancel(request, pk):
    run = get_or_404(selectors.scan_get, user=request.user, pk=pk)
    try:
        services.scan_cancel(actor=request.user, scan=run)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, "Scan cancelled.")
    return redirect(run)


# --- Findings -----------------------------------------------------------------------------------


@login_required
@require_GET
def finding_list(request):
    filter_form = forms.FindingFilterForm(request.GET, scanner_names=list(scanners.registered()))
    findings = selectors.finding_list(user=request.user)
    filters = filter_form.filters()
    if q := filters.pop("q", None):
        findings = findings.filter(Q(title__icontains=q) | Q(detail__icontains=q))
    findings = findings.filter(**filters)
    return render(request, "scans/finding_list.html",
                  _list_context(request, findings, filter_form, _target_filter(request)))


def _finding_context(request, finding, form=None) -> dict:
    can_triage = perms.can(request.user, perms.CHANGE, finding)
    if can_triage and form is None:
        form = forms.TriageForm(initial={"status": finding.status, "reason": finding.triage_reason})
    return {
        "nav_section": "scans",
        "finding": finding,
        "observations": selectors.finding_observations(finding=finding),
        "evidence": json.dumps(finding.evidence, indent=2, sort_keys=True, ensure_ascii=False),
        "can_triage": can_triage and finding.status != "fixed",
        "form": form,
    }


@login_required
@require_GET
def finding_detail(request, pk):
    finding = get_or_404(selectors.finding_get, user=request.user, pk=pk)
    return render(request, "scans/finding_detail.html", _finding_context(request, finding))


@login_required
@require_POST
def finding_triage(request, pk):
    """A compliance officer's decision on a finding (others: 403)."""
    finding = get_or_404(selectors.finding_get, user=request.user, pk=pk)
    if not perms.can(request.user, perms.CHANGE, finding):
        raise PermissionDenied("Only compliance officers triage findings.")
    form = forms.TriageForm(request.POST)
    if form.is_valid() and call_service(
        form, services.finding_triage, actor=request.user, finding=finding,
        status=form.cleaned_data["status"], reason=form.cleaned_data["reason"],
        expires_at=form.expiry(),
    ):
        messages.success(request, "Decision recorded.")
        return redirect(finding)
    return render(request, "scans/finding_detail.html", _finding_context(request, finding, form),
                  status=getattr(form, "error_status", 400))
