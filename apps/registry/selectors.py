"""Reads of the registry, already scoped to what the user may see and joined for their pages.

Every list returns a queryset whose cost in queries does not grow with its length.
"""

from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)


def _count_per(queryset: QuerySet, path: str):
    """How many rows of `queryset` point (through `path`) at the outer row, 0 when none: a
    correlated subquery, computed only for the rows a page shows."""
    counted = (
        queryset.filter(**{path: OuterRef("pk")}).order_by().values(path)
        .annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def team_list(*, user: User) -> QuerySet[Team]:
    """Teams the user may see, with how many models, datasets and members each has.

    Counted by one subquery each: joining models, datasets and memberships at once multiplied
    them (100 models x 20 datasets x 12 members = 24,000 rows for one team) before COUNT
    DISTINCT, half a second per page at 10,000 models (docs/performance.md).
    """
    return perms.scope(Team.objects.all(), user).annotate(
        model_count=_count_per(MLModel.objects.all(), "team"),
        dataset_count=_count_per(Dataset.objects.all(), "team"),
        member_count=_count_per(TeamMembership.objects.all(), "team"),
    )


def team_choices(*, user: User) -> QuerySet[Team]:
    """Teams the user may see, by name, without counts: for filter menus, where counting every
    team's models, datasets and members would cost more than the page itself."""
    return perms.scope(Team.objects.all(), user).order_by("name")


def team_get(*, user: User, pk) -> Team:
    return perms.scope(Team.objects.all(), user).get(pk=pk)


def team_memberships(*, team: Team) -> QuerySet[TeamMembership]:
    return team.memberships.select_related("user").order_by("user__username")


def teams_writable(*, user: User, model) -> QuerySet[Team]:
    """Teams in which the user may create objects of `model` (for form choices)."""
    teams = Team.objects.all()
    if user.is_superuser:
        return teams
    rule = perms.WRITE_RULES.get(model._meta.label_lower, perms.DEFAULT_WRITE_RULE)
    if user.role in rule.global_writers:
        return teams
    if user.role in rule.team_writers:
        return teams.filter(pk__in=perms.member_team_ids(user))
    return teams.none()


def model_list(*, user: User, action: str = perms.VIEW) -> QuerySet[MLModel]:
    """Models the user may see, with their team, version count and latest registration time.

    The per-model figures are correlated subqueries rather than joins with GROUP BY: a page of
    50 models then computes them for those 50 rows only (PostgreSQL evaluates them after the
    sort and LIMIT), where GROUP BY aggregated every version of all 10,000 models first
    (docs/performance.md).
    """
    return (
        perms.scope(MLModel.objects.all(), user, action)
        .select_related("team")
        .annotate(
            version_count=_count_per(ModelVersion.objects.all(), "model"),
            latest_version_at=Subquery(
                ModelVersion.objects.filter(model=OuterRef("pk"))
                .order_by("-registered_at").values("registered_at")[:1]
            ),
            active_deployment_count=_count_per(
                Deployment.objects.filter(is_active=True), "model_version__model"
            ),
        )
    )


def model_get(*, user: User, pk, action: str = perms.VIEW) -> MLModel:
    return perms.scope(MLModel.objects.select_related("team", "created_by"), user, action).get(
        pk=pk
    )


def model_version_list(*, user: User) -> QuerySet[ModelVersion]:
    return perms.scope(ModelVersion.objects.all(), user).select_related(
        "model", "model__team", "registered_by"
    )


def model_version_get(*, user: User, pk) -> ModelVersion:
    return (
        model_version_list(user=user)
        .prefetch_related(
            Prefetch(
                "lineage",
                queryset=LineageLink.objects.select_related(
                    "dataset_version", "dataset_version__dataset"
                ),
            ),
            Prefetch("deployments", queryset=Deployment.objects.order_by("-created_at")),
        )
        .get(pk=pk)
    )


def dataset_list(*, user: User) -> QuerySet[Dataset]:
    return (
        perms.scope(Dataset.objects.all(), user)
        .select_related("team")
        .annotate(
            version_count=Count("versions", distinct=True),
            latest_version_at=Max("versions__registered_at"),
        )
    )


def dataset_get(*, user: User, pk) -> Dataset:
    return perms.scope(Dataset.objects.select_related("team", "created_by"), user).get(pk=pk)


def dataset_version_list(*, user: User) -> QuerySet[DatasetVersion]:
    return perms.scope(DatasetVersion.objects.all(), user).select_related(
        "dataset", "dataset__team", "registered_by"
    )


def dataset_version_get(*, user: User, pk) -> DatasetVersion:
    return (
        dataset_version_list(user=user)
        .prefetch_related(
            Prefetch(
                "lineage",
                queryset=LineageLink.objects.select_related(
                    "model_version", "model_version__model"
                ),
            )
        )
        .get(pk=pk)
    )


def lineage_for_model(*, model: MLModel) -> QuerySet[LineageLink]:
    """Every dataset version behind every version of a model, for the lineage table."""
    return LineageLink.objects.filter(model_version__model=model).select_related(
        "model_version", "dataset_version", "dataset_version__dataset"
    ).order_by("-model_version__registered_at", "role")


def lineage_link_list(*, user: User) -> QuerySet[LineageLink]:
    """Lineage links the user may see (through the model version's team), with both ends."""
    return perms.scope(LineageLink.objects.all(), user).select_related(
        "model_version", "dataset_version"
    )


def deployment_list(*, user: User) -> QuerySet[Deployment]:
    return perms.scope(Deployment.objects.all(), user).select_related(
        "model_version", "model_version__model", "model_version__model__team"
    )


def deployment_get(*, user: User, pk) -> Deployment:
    return deployment_list(user=user).get(pk=pk)


def user_list(*, user: User) -> QuerySet[User]:
    return perms.scope(User.objects.all(), user)
