"""Pages of access policies: the list, one asset's policy (editor and review), and downloads.

Views are thin: assets and policies come from scoped selectors (another team's asset is a 404),
writes go through apps.policies.services (403 for read-only roles), and the review is the pure
rule set of apps.policies.review. Downloads stream the stored file through Django's storage API
after the service has checked the policy and recorded the download.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import permissions as perms
from apps.core.exceptions import ApplicationError
from apps.core.views_utils import call_service, form_status, get_or_404, paginate, raise_for_access
from apps.policies import forms, selectors, services
from apps.policies.assets import Asset, asset_get, asset_kind, asset_label, asset_team
from apps.policies.choices import AssetKind
from apps.policies.models import AccessPolicy
from apps.policies.review import facts_of, policy_review, review
from apps.registry import selectors as registry

NAV = "policies"
MISSING_SHOWN = 50


# --- List ---------------------------------------------------------------------------------------


@login_required
@require_GET
def policy_list(request):
    """Policies in scope with their gap counts, and the high-risk assets that have none."""
    user = request.user
    kind = request.GET.get("kind", "")
    policies = selectors.policy_list(user=user).order_by("-updated_at", "-id")
    if kind in AssetKind.values:
        policies = policies.filter(**{f"{kind}__isnull": False})
    page = paginate(request, policies)
    rows = [(policy, review(facts_of(policy.asset, policy))) for policy in page.object_list]
    context = {
        "nav_section": NAV,
        "page_obj": page,
        "rows": rows,
        "kind": kind,
        "kinds": AssetKind.choices,
        # The first few of each kind: a to-do list, not a second paginated list.
        "missing": {key: list(assets[:MISSING_SHOWN])
                    for key, assets in selectors.assets_without_policy(user=user).items()},
    }
    return render(request, "policies/policy_list.html", context)


# --- One asset's policy -------------------------------------------------------------------------


def _asset_context(request, asset: Asset, *, create_form=None, settings_form=None,
                   grant_form=None) -> dict:
    user = request.user
    kind = asset_kind(asset)
    team = asset_team(asset)
    policy = selectors.policy_for_asset(asset=asset)
    can_edit = (perms.can(user, perms.CHANGE, policy) if policy is not None
                else perms.can_create(user, AccessPolicy, team))
    context = {
        "nav_section": NAV,
        "asset": asset,
        "kind": kind,
        "kind_label": AssetKind(kind).label,
        "label": asset_label(asset),
        "team": team,
        "policy": policy,
        "gaps": policy_review(asset, policy),
        "can_edit": can_edit,
        "can_review": policy is not None and services.may_review(user),
        "default_rule": selectors.DEFAULT_RULE,
        "create_form": None,
        "settings_form": None,
        "grant_form": None,
    }
    if kind == AssetKind.DEPLOYMENT:
        context["can_edit_deployment"] = perms.can(user, perms.CHANGE, asset)
    if kind != AssetKind.DEPLOYMENT:
        context["download"] = selectors.download_decision(
            user=user, asset=asset, policy=policy, policy_known=True
        )
    if not can_edit:
        return context
    if policy is None:
        context["create_form"] = create_form or forms.PolicyCreateForm(kind=kind)
    else:
        context["settings_form"] = settings_form or forms.PolicySettingsForm(
            kind=kind, initial={"notes": policy.notes,
                                "query_logging_enabled": policy.query_logging_enabled},
        )
        context["grant_form"] = grant_form or _grant_form(request, kind)
    return context


def _grant_form(request, kind: str, data=None) -> forms.GrantForm:
    return forms.GrantForm(
        data, kind=kind, teams=selectors.principal_teams(user=request.user),
        users=selectors.principal_users(user=request.user),
    )


def _render_asset(request, asset: Asset, status: int = 200, **forms_) -> object:
    return render(request, "policies/asset_policy.html",
                  _asset_context(request, asset, **forms_), status=status)


@login_required
@require_GET
def asset_policy(request, kind: str, pk: int):
    """The policy editor and review of one model, dataset or deployment."""
    asset = asset_get(user=request.user, kind=kind, pk=pk)
    return _render_asset(request, asset)


@login_required
@require_POST
def policy_create(request, kind: str, pk: int):
    asset = asset_get(user=request.user, kind=kind, pk=pk)
    form = forms.PolicyCreateForm(request.POST, kind=kind)
    if form.is_valid():
        data = dict(form.cleaned_data)
        grants = []
        if data.pop("start_with_team"):
            team = asset_team(asset)
            grants = [{"permission": p, "team": team}
                      for p in forms.default_team_permissions(kind)]
        policy = call_service(form, services.policy_create, actor=request.user, asset=asset,
                              grants=grants, **data)
        if policy:
            messages.success(request, "Access policy created.")
            return redirect(policy)
    return _render_asset(request, asset, status=form_status(form), create_form=form)


def _policy_and_asset(request, pk: int) -> tuple[AccessPolicy, Asset]:
    policy = get_or_404(selectors.policy_get, user=request.user, pk=pk)
    return policy, policy.asset


@login_required
@require_POST
def policy_update(request, pk: int):
    policy, asset = _policy_and_asset(request, pk)
    form = forms.PolicySettingsForm(request.POST, kind=policy.kind)
    if form.is_valid():
        if call_service(form, services.policy_update, actor=request.user, policy=policy,
                        data=form.cleaned_data):
            messages.success(request, "Access policy saved.")
            return redirect(policy)
    return _render_asset(request, asset, status=form_status(form), settings_form=form)


@login_required
@require_POST
def grant_add(request, pk: int):
    policy, asset = _policy_and_asset(request, pk)
    form = _grant_form(request, policy.kind, request.POST)
    if form.is_valid():
        grant = call_service(form, services.policy_grant_add, actor=request.user,
                             policy=policy, grant=form.grant())
        if grant:
            messages.success(request, f"Granted {grant}.")
            return redirect(policy)
    return _render_asset(request, asset, status=form_status(form), grant_form=form)


def _post_service(request, service, **kwargs) -> bool:
    """Run a button's service; access errors become 403/404 pages, others a message."""
    try:
        service(actor=request.user, **kwargs)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
        return False
    return True


@login_required
@require_POST
def grant_remove(request, pk: int):
    grant = get_or_404(selectors.grant_get, user=request.user, pk=pk)
    policy = grant.policy
    if _post_service(request, services.policy_grant_remove, grant=grant):
        messages.success(request, "Grant removed.")
    return redirect(policy)


@login_required
@require_POST
def policy_mark_reviewed(request, pk: int):
    policy, _ = _policy_and_asset(request, pk)
    if _post_service(request, services.policy_mark_reviewed, policy=policy):
        messages.success(request, "Policy marked as reviewed.")
    return redirect(policy)


@login_required
@require_POST
def policy_delete(request, pk: int):
    policy, asset = _policy_and_asset(request, pk)
    url = policy.get_absolute_url()
    if _post_service(request, services.policy_delete, policy=policy):
        messages.success(request, "Access policy deleted: the default rule applies again.")
    return redirect(url)


# --- Downloads ----------------------------------------------------------------------------------


def _stream(download: services.Download) -> FileResponse:
    response = FileResponse(download.file, as_attachment=True, filename=download.filename,
                            content_type=download.content_type)
    response["Content-Length"] = str(download.size)
    # Artifacts and data are sensitive: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    return response


def _download_page(request, service, **kwargs) -> FileResponse:
    try:
        download = service(actor=request.user, **kwargs)
    except ApplicationError as exc:
        raise_for_access(exc)
        raise
    return _stream(download)


@login_required
@require_GET
def download_model_version(request, pk: int):
    """Stream a model version's artifact if the model's access policy allows it."""
    version = get_or_404(registry.model_version_list(user=request.user).get, pk=pk)
    return _download_page(request, services.model_version_download, model_version=version)


@login_required
@require_GET
def download_dataset_version(request, pk: int):
    """Stream a dataset version's CSV if the dataset's access policy allows it."""
    version = get_or_404(registry.dataset_version_list(user=request.user).get, pk=pk)
    return _download_page(request, services.dataset_version_download, dataset_version=version)

