"""Reads of access policies, scoped through apps.accounts.permissions, and the download rule.

The download rule (`download_decision`) is the part of a policy mlgov enforces itself:
- the caller must be able to see the asset in mlgov (apps.accounts.permissions: team members,
  compliance officers, auditors, administrators), and
- with a policy, one of its `download` grants must name the caller (their team, their role or
  them); without a policy the default rule applies: members of the owning team only.
Superusers pass, as everywhere in mlgov (permissions.py: "superusers bypass explicitly").
"""

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.policies.assets import Asset, asset_field, asset_team
from apps.policies.choices import GrantPermission, PrincipalType
from apps.policies.models import AccessPolicy, PolicyGrant
from apps.registry.choices import Exposure, RiskTier
from apps.registry.models import Dataset, Deployment, MLModel, Team

DEFAULT_RULE = "No access policy: members of the owning team may download (the default rule)."


def _grants_prefetch() -> Prefetch:
    return Prefetch(
        "grants",
        queryset=PolicyGrant.objects.select_related("principal_team", "principal_user"),
    )


def policy_list(*, user: User, action: str = perms.VIEW) -> QuerySet[AccessPolicy]:
    """Policies the user may see, with their asset, team, reviewer and grants (fixed queries)."""
    return (
        perms.scope(AccessPolicy.objects.all(), user, action)
        .select_related(
            "team", "model", "dataset", "deployment", "deployment__model_version",
            "deployment__model_version__model", "deployment__model_version__model__team",
            "reviewed_by", "created_by", "updated_by",
        )
        .prefetch_related(_grants_prefetch())
    )


def policy_get(*, user: User, pk, action: str = perms.VIEW) -> AccessPolicy:
    return policy_list(user=user, action=action).get(pk=pk)


def policy_for_asset(*, asset: Asset) -> AccessPolicy | None:
    """The asset's policy with its grants, or None. The caller has already checked scope."""
    return (
        AccessPolicy.objects.filter(**asset_field(asset))
        .select_related("reviewed_by", "created_by", "updated_by")
        .prefetch_related(_grants_prefetch())
        .first()
    )


def grant_get(*, user: User, pk) -> PolicyGrant:
    return (
        perms.scope(PolicyGrant.objects.all(), user)
        .select_related("policy", "policy__model", "policy__dataset", "policy__deployment")
        .get(pk=pk)
    )


# --- Who may be named in a grant ----------------------------------------------------------------


def principal_teams(*, user: User) -> QuerySet[Team]:
    """Teams the user may name in a grant: the teams they can see."""
    return perms.scope(Team.objects.all(), user).order_by("name")


def principal_users(*, user: User) -> QuerySet[User]:
    """Active users the user may name in a grant.

    Roles that read everything see everyone. Others see the members of their own teams and the
    organisation-wide roles (compliance officers, auditors, administrators), whom a policy often
    names; members of teams they cannot see stay invisible, like those teams.
    """
    users = User.objects.filter(is_active=True).order_by("username")
    if not perms.is_active_user(user):
        return users.none()
    if perms.reads_everything(user):
        return users
    return users.filter(
        Q(memberships__team_id__in=perms.member_team_ids(user))
        | Q(role__in=perms.READS_EVERYTHING)
        | Q(pk=user.pk)
    ).distinct()


# --- Assets that should have a policy -----------------------------------------------------------


def assets_without_policy(*, user: User) -> dict[str, QuerySet]:
    """High-risk assets in the user's scope that have no policy (three queries when read):
    high-risk models, datasets with sensitive data, active public or partner deployments."""
    high = [RiskTier.HIGH, RiskTier.UNACCEPTABLE]
    return {
        "models": perms.scope(MLModel.objects.all(), user)
        .filter(risk_tier__in=high, access_policy__isnull=True)
        .select_related("team").order_by("name", "id"),
        "datasets": perms.scope(Dataset.objects.all(), user)
        .filter(Q(has_personal_data=True) | Q(has_health_data=True) | Q(has_financial_data=True),
                access_policy__isnull=True)
        .select_related("team").order_by("name", "id"),
        "deployments": perms.scope(Deployment.objects.all(), user)
        .filter(Q(exposure__in=[Exposure.PUBLIC, Exposure.PARTNER])
                | Q(model_version__model__risk_tier__in=high),
                is_active=True, access_policy__isnull=True)
        .select_related("model_version", "model_version__model", "model_version__model__team")
        .order_by("-created_at", "-id"),
    }


# --- The download rule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def grant_names(grant: PolicyGrant, user: User) -> bool:
    """Whether a grant's principal is this user (their team, their role, or them)."""
    if grant.principal_type == PrincipalType.USER:
        return grant.principal_user_id == user.pk
    if grant.principal_type == PrincipalType.ROLE:
        return grant.principal_role == user.role
    return grant.principal_team_id in perms.member_team_ids(user)


def download_decision(*, user: User, asset: Asset, policy=None, policy_known: bool = False
                      ) -> Decision:
    """May `user` download the files of `asset` (a model or a dataset) under its policy.

    Visibility in mlgov is checked by the caller (the services call `perms.require` first);
    this is the policy part. `policy` may be passed when already loaded (`policy_known=True`).
    """
    if not perms.is_active_user(user):
        return Decision(False, "Sign in to download.")
    if user.is_superuser:
        return Decision(True, "Superuser.")
    if not policy_known:
        policy = policy_for_asset(asset=asset)
    if policy is None:
        if asset_team(asset).pk in perms.member_team_ids(user):
            return Decision(True, DEFAULT_RULE)
        return Decision(False, DEFAULT_RULE)
    for grant in policy.grants.all():
        if grant.permission == GrantPermission.DOWNLOAD and grant_names(grant, user):
            return Decision(True, f"The access policy grants download to {grant.principal_label}.")
    return Decision(False, "The access policy grants you no download of this "
                           f"{asset._meta.verbose_name}.")
