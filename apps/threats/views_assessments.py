"""Pages of the threat model: the portfolio overview, an asset's threat model, one threat, the
assessment list with bulk mitigation, bulk technique assessment, the ATLAS risk matrix and its
exports (Navigator layer, threat register CSV).

Views are thin: they read through apps.threats.selectors_assessments (scoped: another team's
object is a 404), check page-level rights through apps.accounts.permissions, and write only by
calling services, whose errors apps.core.views_utils turns into form errors or 403/404.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import permissions as perms
from apps.audit.choices import AuditAction
from apps.audit.services import audit_record
from apps.core.exceptions import ApplicationError
from apps.core.views_utils import (
    call_service,
    form_status,
    get_or_404,
    paginate,
    raise_for_access,
)
from apps.registry import selectors as registry_selectors
from apps.registry.models import Dataset, Deployment, MLModel
from apps.threats import exports, forms, risk
from apps.threats import selectors_assessments as reads
from apps.threats import services_assessments as assessments
from apps.threats import services_mitigations as mitigations
from apps.threats import services_suggestions as suggestions
from apps.threats.assets import (
    URL_SEGMENTS,
    AssetRef,
    asset_get,
    asset_kind_of,
    asset_label,
    asset_ref,
    asset_team,
    asset_threat_model_url,
)
from apps.threats.choices import AssetKind, SuggestionStatus
from apps.threats.downloads import evidence_file_response
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)

SEGMENT_KINDS = {segment: kind for kind, segment in URL_SEGMENTS.items()}
# The threat page holds several forms: distinct element ids keep each label on its own field.
EDIT_ID, MITIGATION_ID, ACCEPTANCE_ID = "edit_%s", "mitigation_%s", "acceptance_%s"
NAV = "threats"


def _page_asset(request, segment: str, pk: int):
    kind = SEGMENT_KINDS.get(segment)
    if kind is None:
        raise Http404("Not found.")
    try:
        return asset_get(user=request.user, kind=kind, pk=pk)
    except ApplicationError as exc:
        raise_for_access(exc)
        raise Http404("Not found.") from None


def _can_write(user, team) -> bool:
    return perms.can_create(user, ThreatAssessment, team)


def _policy_url(asset) -> str | None:
    """The access-policy page of the asset (apps.policies), when that app is installed."""
    try:
        return reverse("policies:asset-policy", args=[asset_kind_of(asset), asset.pk])
    except NoReverseMatch:
        return None


def _asset_breadcrumb(asset) -> dict:
    return {"label": asset_label(asset), "url": asset_threat_model_url(asset),
            "registry_url": asset.get_absolute_url(), "kind": asset_kind_of(asset),
            "segment": URL_SEGMENTS[asset_kind_of(asset)]}


# --- Portfolio overview -------------------------------------------------------------------------


@login_required
@require_GET
def threat_model_list(request):
    """Every model in scope with where its threat model stands (one query per page)."""
    user = request.user
    filter_form = forms.SearchForm(request.GET)
    models = reads.model_threat_summaries(user=user)
    if q := filter_form.filters().get("q"):
        models = models.filter(Q(name__icontains=q) | Q(team__name__icontains=q))
    page = paginate(request, models)
    for model in page.object_list:
        model.worst_band = risk.risk_band(model.worst_open_score)
        model.is_complete = bool(
            model.assessed_count and not model.pending_suggestion_count
            and not model.unscored_count and not model.unaddressed_count
        )
    context = {
        "nav_section": NAV,
        "page_obj": page,
        "filter_form": filter_form,
        "is_filtered": bool(filter_form.filters()),
        "can_bulk": perms.may_create_anything(user, ThreatAssessment),
    }
    return render(request, "threats/threat_model_list.html", context)


# --- One asset's threat model -------------------------------------------------------------------


def _asset_context(request, asset, **forms_in_error) -> dict:
    user = request.user
    team = asset_team(asset)
    can_write = _can_write(user, team)
    threat_rows = list(reads.assessments_for_asset(user=user, asset=asset))
    for row in threat_rows:
        row.score_form = forms.ScoreForm(
            initial={"likelihood": row.likelihood, "impact": row.impact},
            auto_id=f"id_a{row.pk}_%s",
        )
    bad = forms_in_error.get("score")
    if bad is not None:
        for row in threat_rows:
            if row.pk == bad[0]:
                row.score_form = bad[1]
    suggestions_all = list(reads.suggestions_for_asset(user=user, asset=asset))
    return {
        "nav_section": NAV,
        "asset": asset,
        "asset_info": _asset_breadcrumb(asset),
        "team": team,
        "can_write": can_write,
        "completeness": reads.assessment_completeness(asset=asset),
        "assessments": threat_rows,
        "pending": [s for s in suggestions_all if s.status == SuggestionStatus.PENDING],
        "decided": [s for s in suggestions_all if s.status != SuggestionStatus.PENDING],
        "create_form": forms_in_error.get("create") or (forms.AssessmentCreateForm()
                                                        if can_write else None),
        "dismiss_form": forms_in_error.get("dismiss"),
        "dismiss_pk": forms_in_error.get("dismiss_pk"),
        "policy_url": _policy_url(asset),
        "matrix_url": reverse("threats:matrix") + f"?{asset_kind_of(asset)}={asset.pk}",
        "register_url": reverse("threats:register") + f"?{asset_kind_of(asset)}={asset.pk}",
    }


@login_required
@require_GET
def asset_threat_model(request, segment, pk):
    """An asset's threat model: completeness, suggested threats, assessed threats.

    Showing it re-evaluates the suggestion rules first (cheap, idempotent), so suggestions
    follow the registry's facts without a background job.
    """
    asset = _page_asset(request, segment, pk)
    suggestions.suggestions_refresh(asset)
    return render(request, "threats/asset_threat_model.html", _asset_context(request, asset))


def _back_to_asset(asset):
    return redirect(asset_threat_model_url(asset))


@login_required
@require_POST
def assessment_create(request, segment, pk):
    asset = _page_asset(request, segment, pk)
    form = forms.AssessmentCreateForm(request.POST)
    if form.is_valid():
        created = call_service(form, assessments.assessment_create, actor=request.user,
                               asset=asset, **form.cleaned_data)
        if created:
            messages.success(request, f"{created.technique.atlas_id} added to the threat model.")
            return _back_to_asset(asset)
    context = _asset_context(request, asset, create=form)
    return render(request, "threats/asset_threat_model.html", context, status=form_status(form))


@login_required
@require_POST
def suggestions_accept_all(request, segment, pk):
    """Accept every pending suggestion of the asset (all or none)."""
    asset = _page_asset(request, segment, pk)
    pending = reads.suggestions_for_asset(user=request.user, asset=asset).filter(
        status=SuggestionStatus.PENDING
    )
    try:
        accepted = suggestions.suggestions_bulk_accept(actor=request.user, suggestions=pending)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{len(accepted)} suggested threat(s) added; score them below.")
    return _back_to_asset(asset)


def _suggestion(request, pk) -> ThreatSuggestion:
    return get_or_404(reads.suggestion_get, user=request.user, pk=pk)


@login_required
@require_POST
def suggestion_accept(request, pk):
    suggestion = _suggestion(request, pk)
    try:
        assessment = suggestions.suggestion_accept(actor=request.user, suggestion=suggestion)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{assessment.technique.atlas_id} added; score it below.")
    return _back_to_asset(suggestion.asset)


@login_required
@require_POST
def suggestion_dismiss(request, pk):
    suggestion = _suggestion(request, pk)
    form = forms.DismissForm(request.POST)
    if form.is_valid() and call_service(form, suggestions.suggestion_dismiss,
                                        actor=request.user, suggestion=suggestion,
                                        reason=form.cleaned_data["reason"]):
        messages.success(request, f"{suggestion.technique.atlas_id} dismissed.")
        return _back_to_asset(suggestion.asset)
    context = _asset_context(request, suggestion.asset, dismiss=form, dismiss_pk=suggestion.pk)
    return render(request, "threats/asset_threat_model.html", context, status=form_status(form))


@login_required
@require_POST
def assessment_score(request, pk):
    """The inline likelihood x impact form of a row on the asset page."""
    assessment = get_or_404(reads.assessment_get, user=request.user, pk=pk)
    form = forms.ScoreForm(request.POST, auto_id=f"id_a{assessment.pk}_%s")
    if form.is_valid() and call_service(form, assessments.assessment_update,
                                        actor=request.user, assessment=assessment,
                                        data=form.cleaned_data):
        messages.success(request, f"{assessment.technique.atlas_id} scored.")
        return _back_to_asset(assessment.asset)
    context = _asset_context(request, assessment.asset, score=(assessment.pk, form))
    return render(request, "threats/asset_threat_model.html", context, status=form_status(form))


# --- One threat ---------------------------------------------------------------------------------


def _detail_context(request, assessment, **bound) -> dict:
    user = request.user
    can_write = perms.can(user, perms.CHANGE, assessment)
    owners = reads.owner_choices(assessment=assessment)
    first = list(reads.technique_mitigations(technique=assessment.technique))
    context = {
        "nav_section": NAV,
        "assessment": assessment,
        "asset_info": _asset_breadcrumb(assessment.asset),
        "can_write": can_write,
        "is_compliance_officer": user.role == "compliance_officer",
        "mitigation_rows": list(assessment.mitigations.all()),
        "acceptances": list(assessment.acceptances.all()),
        "now": timezone.now(),
        "bound": bound,
    }
    if can_write:
        context.update(
            edit_form=bound.get("edit") or forms.AssessmentEditForm(auto_id=EDIT_ID, initial={
                "likelihood": assessment.likelihood, "impact": assessment.impact,
                "residual_likelihood": assessment.residual_likelihood,
                "residual_impact": assessment.residual_impact,
                "rationale": assessment.rationale,
                "not_applicable_reason": assessment.not_applicable_reason,
            }),
            mitigation_form=bound.get("mitigation") or forms.MitigationForm(
                owners=owners, first_mitigations=first, auto_id=MITIGATION_ID),
            acceptance_form=bound.get("acceptance") or forms.AcceptanceRequestForm(
                auto_id=ACCEPTANCE_ID),
            evidence_form_errors=bound.get("evidence"),
            evidence_for=bound.get("evidence_for"),
        )
    return context


def _render_detail(request, assessment, form, **bound):
    context = _detail_context(request, assessment, **bound)
    return render(request, "threats/assessment_detail.html", context, status=form_status(form))


def _assessment(request, pk) -> ThreatAssessment:
    return get_or_404(reads.assessment_get, user=request.user, pk=pk)


@login_required
@require_GET
def assessment_detail(request, pk):
    assessment = _assessment(request, pk)
    return render(request, "threats/assessment_detail.html",
                  _detail_context(request, assessment))


@login_required
@require_POST
def assessment_edit(request, pk):
    assessment = _assessment(request, pk)
    form = forms.AssessmentEditForm(request.POST, auto_id=EDIT_ID)
    if form.is_valid() and call_service(form, assessments.assessment_update, actor=request.user,
                                        assessment=assessment, data=form.changes()):
        messages.success(request, "Threat saved.")
        return redirect(assessment)
    return _render_detail(request, _assessment(request, pk), form, edit=form)


@login_required
@require_POST
def mitigation_add(request, pk):
    assessment = _assessment(request, pk)
    form = forms.MitigationForm(
        request.POST, owners=reads.owner_choices(assessment=assessment), auto_id=MITIGATION_ID,
        first_mitigations=list(reads.technique_mitigations(technique=assessment.technique)),
    )
    if form.is_valid():
        applied = call_service(form, mitigations.applied_mitigation_create, actor=request.user,
                               assessment=assessment, **form.cleaned_data)
        if applied:
            messages.success(request, f"Mitigation {applied.display_name} added.")
            return redirect(applied)
    return _render_detail(request, assessment, form, mitigation=form)


def _applied(request, pk) -> AppliedMitigation:
    return get_or_404(reads.applied_mitigation_get, user=request.user, pk=pk)


@login_required
@require_POST
def mitigation_status(request, pk):
    applied = _applied(request, pk)
    form = forms.MitigationStatusForm(request.POST)
    if form.is_valid() and call_service(form, mitigations.applied_mitigation_update,
                                        actor=request.user, applied=applied,
                                        data=form.cleaned_data):
        messages.success(request, f"{applied.display_name}: {applied.get_status_display()}.")
        return redirect(applied)
    if not form.errors:
        form.add_error(None, "The status was not changed.")
    messages.error(request, " ".join(" ".join(e) for e in form.errors.values()))
    return redirect(applied)


@login_required
@require_POST
def evidence_add(request, pk):
    applied = _applied(request, pk)
    form = forms.EvidenceForm(request.POST, request.FILES)
    if form.is_valid() and call_service(
        form, mitigations.evidence_add, actor=request.user, applied=applied,
        file=form.cleaned_data.get("file"), url=form.cleaned_data.get("url", ""),
        description=form.cleaned_data.get("description", ""),
    ):
        messages.success(request, f"Evidence attached to {applied.display_name}.")
        return redirect(applied)
    assessment = _assessment(request, applied.assessment_id)
    return _render_detail(request, assessment, form, evidence=form, evidence_for=applied.pk)


@login_required
@require_GET
def evidence_download(request, pk):
    evidence: Evidence = get_or_404(reads.evidence_get, user=request.user, pk=pk)
    try:
        return evidence_file_response(evidence)
    except ApplicationError as exc:
        raise Http404(exc.message) from None


@login_required
@require_POST
def acceptance_request(request, pk):
    assessment = _assessment(request, pk)
    form = forms.AcceptanceRequestForm(request.POST, auto_id=ACCEPTANCE_ID)
    if form.is_valid() and call_service(
        form, assessments.acceptance_request, actor=request.user, assessment=assessment,
        reason=form.cleaned_data["reason"], expires_at=form.cleaned_data.get("expires_on"),
    ):
        messages.success(request, "Acceptance requested; another compliance officer approves it.")
        return redirect(assessment)
    if "expires_at" in form.errors:
        form.errors["expires_on"] = form.errors.pop("expires_at")
    return _render_detail(request, assessment, form, acceptance=form)


def _decide(request, pk, service, verb: str):
    acceptance: RiskAcceptance = get_or_404(reads.acceptance_get, user=request.user, pk=pk)
    form = forms.DecisionForm(request.POST)
    form.is_valid()
    try:
        service(actor=request.user, acceptance=acceptance,
                note=form.cleaned_data.get("note", ""))
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Risk acceptance {verb}.")
    return redirect(acceptance)


@login_required
@require_POST
def acceptance_approve(request, pk):
    return _decide(request, pk, assessments.acceptance_approve, "approved")


@login_required
@require_POST
def acceptance_reject(request, pk):
    return _decide(request, pk, assessments.acceptance_reject, "rejected")


# --- Assessment list and bulk operations --------------------------------------------------------


def _filtered_assessments(request, filter_form):
    rows = reads.assessment_list(user=request.user)
    values = filter_form.filters()
    if technique := values.get("technique"):
        rows = rows.filter(Q(technique__atlas_id=technique)
                           | Q(technique__parent__atlas_id=technique))
    if team := values.get("team"):
        rows = rows.filter(team=team)
    if status := values.get("status"):
        rows = rows.filter(effective_status=status)
    if band := values.get("residual_band"):
        rows = rows.filter(residual_band=band)
    if kind := values.get("kind"):
        rows = rows.filter(**{f"{kind}__isnull": False})
    if q := values.get("q"):
        rows = rows.filter(Q(technique__name__icontains=q) | Q(rationale__icontains=q)
                           | Q(model__name__icontains=q) | Q(dataset__name__icontains=q))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def assessment_list(request):
    """Every assessed threat in scope, filterable; tick several to apply one mitigation."""
    user = request.user
    filter_form = forms.AssessmentFilterForm(
        request.GET, teams=registry_selectors.team_list(user=user).order_by("name")
    )
    rows = _filtered_assessments(request, filter_form)
    can_bulk = perms.may_create_anything(user, AppliedMitigation)
    bulk_form = None
    if can_bulk:
        bulk_form = forms.BulkMitigationForm(
            request.POST or None, assessments=reads.assessment_list(user=user)
        )
    if request.method == "POST":
        if not can_bulk:
            raise PermissionDenied("Your role cannot apply mitigations.")
        if bulk_form.is_valid():
            data = dict(bulk_form.cleaned_data)
            created = call_service(bulk_form, mitigations.applied_mitigations_bulk_create,
                                   actor=user, **data)
            if created:
                messages.success(request, f"Mitigation applied to {len(created)} threat(s).")
                return redirect(request.get_full_path())
    context = {
        "nav_section": NAV,
        "page_obj": paginate(request, rows),
        "filter_form": filter_form,
        "is_filtered": bool(filter_form.filters()),
        "bulk_form": bulk_form,
    }
    return render(request, "threats/assessment_list.html", context,
                  status=form_status(bulk_form) if request.method == "POST" else 200)


@login_required
@require_http_methods(["GET", "POST"])
def bulk_technique(request):
    """Assess one technique, with the same scores, on several assets at once (all or none)."""
    user = request.user
    if not perms.may_create_anything(user, ThreatAssessment):
        raise PermissionDenied("Your role cannot assess threats.")
    teams = registry_selectors.teams_writable(user=user, model=ThreatAssessment)
    form = forms.BulkTechniqueForm(
        request.POST or None,
        models=MLModel.objects.filter(team__in=teams).select_related("team").order_by("name"),
        datasets=Dataset.objects.filter(team__in=teams).select_related("team").order_by("name"),
        deployments=Deployment.objects.filter(
            model_version__model__team__in=teams, is_active=True
        ).select_related("model_version__model").order_by("model_version__model__name", "id"),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = call_service(
            form, assessments.assessments_bulk_create, actor=user, assets=form.assets(),
            technique=data["technique"], likelihood=data["likelihood"], impact=data["impact"],
            rationale=data["rationale"],
        )
        if created:
            messages.success(request, f"{data['technique']} assessed on {len(created)} "
                                      "asset(s).")
            return redirect("threats:assessment-list")
    return render(request, "threats/bulk_technique.html", {"nav_section": NAV, "form": form},
                  status=form_status(form))


# --- Matrix and exports -------------------------------------------------------------------------


def _scope_from_query(request) -> tuple[AssetRef | None, object, int | None, dict]:
    """The asset (?model=/dataset=/deployment=) and team (?team=) a matrix or export covers."""
    asset = None
    for kind in AssetKind.values:
        if request.GET.get(kind):
            try:
                asset = asset_get(user=request.user, kind=kind, pk=request.GET[kind])
            except ApplicationError as exc:
                raise Http404(exc.message) from None
            break
    filter_form = forms.MatrixFilterForm(
        request.GET, teams=registry_selectors.team_list(user=request.user).order_by("name")
    )
    filter_form.is_valid()
    team = filter_form.cleaned_data.get("team") if hasattr(filter_form, "cleaned_data") else None
    query = {}
    if asset is not None:
        query[asset_kind_of(asset)] = asset.pk
    if team is not None:
        query["team"] = team.pk
    return (asset_ref(asset) if asset else None), asset, (team.pk if team else None), query


@login_required
@require_GET
def matrix(request):
    """The ATLAS matrix coloured by the worst open residual risk per technique, for the
    portfolio, a team or one asset; cells link to the assessments behind them."""
    ref, asset, team_id, query = _scope_from_query(request)
    context = {
        "nav_section": NAV,
        "columns": reads.threat_matrix(user=request.user, ref=ref, team_id=team_id),
        "asset_info": _asset_breadcrumb(asset) if asset else None,
        "filter_form": forms.MatrixFilterForm(
            request.GET, teams=registry_selectors.team_list(user=request.user).order_by("name")
        ),
        "query": urlencode(query),
        "team_query": f"&team={team_id}" if team_id else "",
        "bands": [(band, label, risk.BAND_COLOURS[band]) for band, label in
                  risk.RiskBand.choices],
    }
    return render(request, "threats/matrix.html", context)


@login_required
@require_GET
def navigator_layer(request):
    """The matrix as an ATT&CK Navigator layer file (JSON download)."""
    ref, asset, team_id, _ = _scope_from_query(request)
    layer = reads.navigator_layer(user=request.user, ref=ref, team_id=team_id)
    audit_record(action=AuditAction.EXPORT, object_type="threats.navigatorlayer",
                 object_repr=layer["name"], changes={"format": "navigator-layer",
                                                     "scope": _scope_label(asset, team_id)})
    response = JsonResponse(layer, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="mlgov-atlas-layer.json"'
    return response


def _scope_label(asset, team_id) -> str:
    if asset is not None:
        return f"{asset_kind_of(asset)} {asset.pk}"
    return f"team {team_id}" if team_id else "portfolio"


@login_required
@require_GET
def register_csv(request):
    """The threat register: one CSV line per assessment in scope, streamed."""
    ref, asset, team_id, _ = _scope_from_query(request)
    rows = reads.register_rows(user=request.user, ref=ref, team_id=team_id)
    audit_record(action=AuditAction.EXPORT, object_type="threats.register",
                 object_repr="threat register", changes={"format": "csv",
                                                         "scope": _scope_label(asset, team_id)})
    response = StreamingHttpResponse(
        exports.register_csv_lines(rows.iterator(chunk_size=2000)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="threat-register-{stamp}.csv"'
    return response

