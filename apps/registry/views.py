"""Server-rendered pages of the registry: overview, lists, details, create/edit and uploads.

Views are thin: they read through `selectors` (already scoped to the user, so another team's
object is a 404), check the page-level right through `apps.accounts.permissions`, and write only
by calling `services`, whose errors `apps.core.views_utils` turns into form errors or 403/404.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts import permissions as perms
from apps.accounts.choices import TeamRole
from apps.core.exceptions import ApplicationError
from apps.core.views_utils import (
    call_service,
    form_status,
    get_or_404,
    paginate,
    raise_for_access,
    render_form,
    success_redirect,
)
from apps.registry import forms, selectors, services
from apps.registry.choices import Environment, LifecycleStatus, RiskTier
from apps.registry.models import Dataset, MLModel, Team

GET_POST = ["GET", "POST"]


def require_page(user, action: str, obj) -> None:
    """Page-level check before showing a write form: 404 outside scope, 403 without the right."""
    try:
        perms.require(user, action, obj)
    except ApplicationError as exc:
        raise_for_access(exc)


def require_creator(user, model) -> None:
    """Create pages are refused (403) to roles that create no `model` objects anywhere."""
    if not perms.may_create_anything(user, model):
        raise PermissionDenied(f"Your role cannot create {model._meta.verbose_name_plural}.")


def _list_context(request, page, filter_form, **extra) -> dict:
    return {
        "page_obj": page,
        "filter_form": filter_form,
        "is_filtered": bool(filter_form.filters()),
        **extra,
    }


# --- Overview -----------------------------------------------------------------------------------


@login_required
@require_GET
def home(request):
    """What the user's registry holds: models by risk tier and lifecycle, the latest versions."""
    user = request.user
    models = selectors.model_list(user=user).order_by()
    by_tier = dict(models.values_list("risk_tier").annotate(n=Count("id", distinct=True)))
    by_status = dict(
        models.values_list("lifecycle_status").annotate(n=Count("id", distinct=True))
    )
    context = {
        "nav_section": "home",
        "model_count": sum(by_tier.values()),
        "tiers": [(value, label, by_tier.get(value, 0)) for value, label in RiskTier.choices],
        "statuses": [
            (value, label, by_status.get(value, 0)) for value, label in LifecycleStatus.choices
        ],
        "dataset_count": selectors.dataset_list(user=user).order_by().count(),
        "active_deployment_count": selectors.deployment_list(user=user)
        .filter(is_active=True, environment=Environment.PRODUCTION)
        .count(),
        "recent_versions": selectors.model_version_list(user=user)[:8],
        "can_create_model": perms.may_create_anything(user, MLModel),
    }
    return render(request, "registry/home.html", context)


# --- Teams --------------------------------------------------------------------------------------


@login_required
@require_GET
def team_list(request):
    filter_form = forms.SearchForm(request.GET)
    # Aggregated querysets drop Meta.ordering (GROUP BY), so pages need an explicit order.
    teams = selectors.team_list(user=request.user).order_by("name", "id")
    if q := filter_form.filters().get("q"):
        teams = teams.filter(Q(name__icontains=q) | Q(description__icontains=q))
    context = _list_context(
        request, paginate(request, teams), filter_form, nav_section="teams",
        can_create=perms.may_create_anything(request.user, Team),
    )
    return render(request, "registry/team_list.html", context)


def _team_detail_context(request, team, member_form=None) -> dict:
    user = request.user
    can_manage = perms.can(user, perms.CHANGE, team)
    if can_manage and member_form is None:
        member_form = forms.TeamMemberForm(users=selectors.user_list(user=user))
    return {
        "nav_section": "teams",
        "team": team,
        "memberships": selectors.team_memberships(team=team),
        "models": selectors.model_list(user=user).filter(team=team).order_by("name"),
        "datasets": selectors.dataset_list(user=user).filter(team=team).order_by("name"),
        "can_manage": can_manage,
        "can_add_model": perms.can_create(user, MLModel, team),
        "can_add_dataset": perms.can_create(user, Dataset, team),
        "member_form": member_form,
        "team_roles": TeamRole.choices,
    }


@login_required
@require_GET
def team_detail(request, pk):
    team = get_or_404(selectors.team_get, user=request.user, pk=pk)
    return render(request, "registry/team_detail.html", _team_detail_context(request, team))


@login_required
@require_http_methods(GET_POST)
def team_create(request):
    require_creator(request.user, Team)
    form = forms.TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = call_service(form, services.team_create, actor=request.user, **form.cleaned_data)
        if team:
            messages.success(request, f"Team {team.name} created.")
            return redirect(team)
    return render_form(request, "registry/team_form.html", {"nav_section": "teams"}, form)


@login_required
@require_http_methods(GET_POST)
def team_update(request, pk):
    team = get_or_404(selectors.team_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, team)
    initial = {"name": team.name, "description": team.description}
    form = forms.TeamForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.team_update, actor=request.user, team=team,
                        data=form.cleaned_data):
            messages.success(request, "Team saved.")
            return redirect(team)
    context = {"nav_section": "teams", "team": team}
    return render_form(request, "registry/team_form.html", context, form)


@login_required
@require_POST
def team_member_set(request, pk):
    """Add a member or change a member's team role (administrators)."""
    team = get_or_404(selectors.team_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, team)
    form = forms.TeamMemberForm(request.POST, users=selectors.user_list(user=request.user))
    if form.is_valid():
        membership = call_service(form, services.team_member_set, actor=request.user, team=team,
                                  **form.cleaned_data)
        if membership:
            messages.success(
                request, f"{membership.user.username} is now {membership.get_role_display()} "
                f"of {team.name}."
            )
            return redirect(team)
    context = _team_detail_context(request, team, member_form=form)
    return render(request, "registry/team_detail.html", context, status=form_status(form))


@login_required
@require_POST
def team_member_remove(request, pk, user_pk):
    team = get_or_404(selectors.team_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, team)
    member = get_or_404(selectors.user_list(user=request.user).get, pk=user_pk)
    try:
        services.team_member_remove(actor=request.user, team=team, user=member)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{member.username} removed from {team.name}.")
    return redirect(team)


# --- Models -------------------------------------------------------------------------------------


@login_required
@require_GET
def model_list(request):
    user = request.user
    teams = selectors.team_choices(user=user)
    filter_form = forms.ModelFilterForm(request.GET, teams=teams)
    models = selectors.model_list(user=user).order_by("name", "id")
    filters = filter_form.filters()
    if q := filters.pop("q", None):
        models = models.filter(
            Q(name__icontains=q) | Q(description__icontains=q) | Q(team__name__icontains=q)
        )
    models = models.filter(**filters)
    context = _list_context(
        request, paginate(request, models), filter_form, nav_section="models",
        can_create=perms.may_create_anything(user, MLModel),
    )
    return render(request, "registry/model_list.html", context)


@login_required
@require_GET
def model_detail(request, pk):
    user = request.user
    model = get_or_404(selectors.model_get, user=user, pk=pk)
    context = {
        "nav_section": "models",
        "model": model,
        "versions": selectors.model_version_list(user=user).filter(model=model),
        "lineage": selectors.lineage_for_model(model=model),
        "deployments": selectors.deployment_list(user=user).filter(model_version__model=model),
        "can_edit": perms.can(user, perms.CHANGE, model),
    }
    return render(request, "registry/model_detail.html", context)


@login_required
@require_http_methods(GET_POST)
def model_create(request):
    user = request.user
    require_creator(user, MLModel)
    teams = selectors.teams_writable(user=user, model=MLModel)
    form = forms.ModelForm(request.POST or None, teams=teams,
                           initial={"team": request.GET.get("team")})
    if request.method == "POST" and form.is_valid():
        model = call_service(form, services.model_create, actor=user, **form.cleaned_data)
        if model:
            messages.success(request, f"Model {model.name} registered.")
            return redirect(model)
    return render_form(request, "registry/model_form.html", {"nav_section": "models"}, form)


@login_required
@require_http_methods(GET_POST)
def model_update(request, pk):
    model = get_or_404(selectors.model_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, model)
    initial = {name: getattr(model, name) for name in services.MODEL_EDITABLE}
    form = forms.ModelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.model_update, actor=request.user, model=model,
                        data=form.cleaned_data):
            messages.success(request, "Model saved.")
            return redirect(model)
    context = {"nav_section": "models", "model": model}
    return render_form(request, "registry/model_form.html", context, form)


@login_required
@require_http_methods(GET_POST)
def version_create(request, pk):
    """Upload an artifact as a new version (also posted by upload.js, which wants JSON)."""
    model = get_or_404(selectors.model_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, model)
    form = forms.ModelVersionUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        version = call_service(form, services.model_version_register, actor=request.user,
                               model=model, **form.cleaned_data)
        if version:
            messages.success(
                request, f"Version {version.version} registered ({version.get_format_display()})."
            )
            return success_redirect(request, version.get_absolute_url())
    context = {"nav_section": "models", "model": model,
               "upload_limit": {"max_bytes": settings.MLGOV_MAX_ARTIFACT_BYTES}}
    return render_form(request, "registry/version_form.html", context, form)


def _version_detail_context(request, version, lineage_form=None) -> dict:
    user = request.user
    can_edit = perms.can(user, perms.CHANGE, version)
    if can_edit and lineage_form is None:
        lineage_form = forms.LineageLinkForm(
            dataset_versions=selectors.dataset_version_list(user=user)
        )
    return {
        "nav_section": "models",
        "version": version,
        "model": version.model,
        "can_edit": can_edit,
        "lineage_form": lineage_form,
        "has_dataset_versions": bool(
            lineage_form and lineage_form.fields["dataset_version"].queryset.exists()
        ),
    }


@login_required
@require_GET
def version_detail(request, pk):
    version = get_or_404(selectors.model_version_get, user=request.user, pk=pk)
    return render(request, "registry/version_detail.html",
                  _version_detail_context(request, version))


@login_required
@require_POST
def lineage_add(request, pk):
    version = get_or_404(selectors.model_version_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, version)
    form = forms.LineageLinkForm(
        request.POST, dataset_versions=selectors.dataset_version_list(user=request.user)
    )
    if form.is_valid():
        link = call_service(form, services.lineage_link_add, actor=request.user,
                            model_version=version, **form.cleaned_data)
        if link:
            messages.success(request, f"Lineage recorded: {link.dataset_version} "
                                      f"({link.get_role_display().lower()}).")
            return redirect(version)
    context = _version_detail_context(request, version, lineage_form=form)
    return render(request, "registry/version_detail.html", context, status=form_status(form))


# --- Datasets -----------------------------------------------------------------------------------

SENSITIVITY_FILTERS = {
    "personal": Q(has_personal_data=True),
    "health": Q(has_health_data=True),
    "financial": Q(has_financial_data=True),
    "any": Q(has_personal_data=True) | Q(has_health_data=True) | Q(has_financial_data=True),
    "none": Q(has_personal_data=False, has_health_data=False, has_financial_data=False),
}


@login_required
@require_GET
def dataset_list(request):
    user = request.user
    teams = selectors.team_choices(user=user)
    filter_form = forms.DatasetFilterForm(request.GET, teams=teams)
    datasets = selectors.dataset_list(user=user).order_by("name", "id")
    filters = filter_form.filters()
    if q := filters.pop("q", None):
        datasets = datasets.filter(
            Q(name__icontains=q) | Q(description__icontains=q) | Q(team__name__icontains=q)
        )
    if sensitivity := filters.pop("sensitivity", None):
        datasets = datasets.filter(SENSITIVITY_FILTERS[sensitivity])
    datasets = datasets.filter(**filters)
    context = _list_context(
        request, paginate(request, datasets), filter_form, nav_section="datasets",
        can_create=perms.may_create_anything(user, Dataset),
    )
    return render(request, "registry/dataset_list.html", context)


@login_required
@require_GET
def dataset_detail(request, pk):
    user = request.user
    dataset = get_or_404(selectors.dataset_get, user=user, pk=pk)
    context = {
        "nav_section": "datasets",
        "dataset": dataset,
        "versions": selectors.dataset_version_list(user=user).filter(dataset=dataset),
        "can_edit": perms.can(user, perms.CHANGE, dataset),
    }
    return render(request, "registry/dataset_detail.html", context)


@login_required
@require_http_methods(GET_POST)
def dataset_create(request):
    user = request.user
    require_creator(user, Dataset)
    teams = selectors.teams_writable(user=user, model=Dataset)
    form = forms.DatasetForm(request.POST or None, teams=teams,
                             initial={"team": request.GET.get("team")})
    if request.method == "POST" and form.is_valid():
        dataset = call_service(form, services.dataset_create, actor=user, **form.cleaned_data)
        if dataset:
            messages.success(request, f"Dataset {dataset.name} registered.")
            return redirect(dataset)
    return render_form(request, "registry/dataset_form.html", {"nav_section": "datasets"}, form)


@login_required
@require_http_methods(GET_POST)
def dataset_update(request, pk):
    dataset = get_or_404(selectors.dataset_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, dataset)
    initial = {name: getattr(dataset, name) for name in services.DATASET_EDITABLE}
    initial["sensitive_columns"] = ", ".join(dataset.sensitive_columns or [])
    form = forms.DatasetForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.dataset_update, actor=request.user, dataset=dataset,
                        data=form.cleaned_data):
            messages.success(request, "Dataset saved.")
            return redirect(dataset)
    context = {"nav_section": "datasets", "dataset": dataset}
    return render_form(request, "registry/dataset_form.html", context, form)


@login_required
@require_http_methods(GET_POST)
def dataset_version_create(request, pk):
    """Upload a CSV as a new dataset version (also posted by upload.js, which wants JSON)."""
    dataset = get_or_404(selectors.dataset_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, dataset)
    form = forms.DatasetVersionUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        version = call_service(form, services.dataset_version_register, actor=request.user,
                               dataset=dataset, **form.cleaned_data)
        if version:
            messages.success(
                request, f"Version {version.version} registered: {version.row_count} rows, "
                f"{len(version.columns)} columns."
            )
            return success_redirect(request, version.get_absolute_url())
    context = {"nav_section": "datasets", "dataset": dataset,
               "upload_limit": {"max_bytes": settings.MLGOV_MAX_DATASET_BYTES}}
    return render_form(request, "registry/dataset_version_form.html", context, form)


@login_required
@require_GET
def dataset_version_detail(request, pk):
    version = get_or_404(selectors.dataset_version_get, user=request.user, pk=pk)
    context = {"nav_section": "datasets", "version": version, "dataset": version.dataset}
    return render(request, "registry/dataset_version_detail.html", context)


# --- Deployments --------------------------------------------------------------------------------


@login_required
@require_GET
def deployment_list(request):
    filter_form = forms.DeploymentFilterForm(request.GET)
    deployments = selectors.deployment_list(user=request.user).order_by("-created_at", "-id")
    filters = filter_form.filters()
    if q := filters.get("q"):
        deployments = deployments.filter(
            Q(model_version__model__name__icontains=q)
            | Q(model_version__version__icontains=q)
            | Q(endpoint_url__icontains=q)
        )
    if environment := filters.get("environment"):
        deployments = deployments.filter(environment=environment)
    if active := filters.get("active"):
        deployments = deployments.filter(is_active=(active == "yes"))
    context = _list_context(request, paginate(request, deployments), filter_form,
                            nav_section="deployments")
    return render(request, "registry/deployment_list.html", context)


@login_required
@require_GET
def deployment_detail(request, pk):
    deployment = get_or_404(selectors.deployment_get, user=request.user, pk=pk)
    context = {
        "nav_section": "deployments",
        "deployment": deployment,
        "can_edit": perms.can(request.user, perms.CHANGE, deployment),
    }
    return render(request, "registry/deployment_detail.html", context)


@login_required
@require_http_methods(GET_POST)
def deployment_create(request, pk):
    """Record a deployment of the model version `pk`."""
    version = get_or_404(selectors.model_version_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, version)
    form = forms.DeploymentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        deployment = call_service(form, services.deployment_create, actor=request.user,
                                  model_version=version, **form.cleaned_data)
        if deployment:
            messages.success(request, f"Deployment to {deployment.get_environment_display()} "
                                      "recorded.")
            return redirect(deployment)
    context = {"nav_section": "deployments", "version": version}
    return render_form(request, "registry/deployment_form.html", context, form)


@login_required
@require_http_methods(GET_POST)
def deployment_update(request, pk):
    deployment = get_or_404(selectors.deployment_get, user=request.user, pk=pk)
    require_page(request.user, perms.CHANGE, deployment)
    initial = {name: getattr(deployment, name) for name in services.DEPLOYMENT_EDITABLE}
    form = forms.DeploymentForm(request.POST or None, initial=initial, creating=False)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.deployment_update, actor=request.user,
                        deployment=deployment, data=form.cleaned_data):
            messages.success(request, "Deployment saved.")
            return redirect(deployment)
    context = {"nav_section": "deployments", "deployment": deployment,
               "version": deployment.model_version}
    return render_form(request, "registry/deployment_form.html", context, form)


@login_required
@require_POST
def deployment_retire(request, pk):
    deployment = get_or_404(selectors.deployment_get, user=request.user, pk=pk)
    try:
        services.deployment_retire(actor=request.user, deployment=deployment)
    except ApplicationError as exc:
        raise_for_access(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, "Deployment retired.")
    return redirect(deployment)
