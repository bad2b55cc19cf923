"""Access policies: per model, dataset or deployment, who may view, download, deploy and query.

A policy belongs to exactly one asset (one of three nullable keys, enforced by a check
constraint) and carries a denormalised `team`, the asset's owning team, so that
apps.accounts.permissions scopes policies like every other team-owned record
(`scope_team_path = "team"`). The endpoint controls of a deployment (authentication, rate limit,
output granularity, exposure) stay on the Deployment itself; the policy adds query logging.

Without a policy an asset follows the default rule (apps.policies.selectors.download_decision):
members of the owning team may download its files, nobody else.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from apps.accounts.choices import Role
from apps.policies.choices import AssetKind, GrantPermission, PrincipalType
from apps.registry.models import Dataset, Deployment, MLModel, Team

_ONE_ASSET = (
    Q(model__isnull=False, dataset__isnull=True, deployment__isnull=True)
    | Q(model__isnull=True, dataset__isnull=False, deployment__isnull=True)
    | Q(model__isnull=True, dataset__isnull=True, deployment__isnull=False)
)
_ONE_PRINCIPAL = (
    Q(principal_type=PrincipalType.TEAM, principal_team__isnull=False,
      principal_user__isnull=True, principal_role="")
    | Q(principal_type=PrincipalType.ROLE, principal_team__isnull=True,
        principal_user__isnull=True, principal_role__in=Role.values)
    | Q(principal_type=PrincipalType.USER, principal_team__isnull=True,
        principal_user__isnull=False, principal_role="")
)


class AccessPolicy(models.Model):
    """Who may view, download, deploy and query one asset, and whether its queries are logged.

    Written only by apps.policies.services (which sets `team` from the asset and clears the
    review when the policy changes); one policy per asset.
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="access_policies")
    model = models.OneToOneField(
        MLModel, on_delete=models.CASCADE, null=True, blank=True, related_name="access_policy"
    )
    dataset = models.OneToOneField(
        Dataset, on_delete=models.CASCADE, null=True, blank=True, related_name="access_policy"
    )
    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, null=True, blank=True, related_name="access_policy"
    )
    query_logging_enabled = models.BooleanField(
        default=False,
        help_text="Deployments: every query to the endpoint is logged with its caller.",
    )
    notes = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_team_path = "team"

    class Meta:
        verbose_name = "access policy"
        verbose_name_plural = "access policies"
        constraints = [
            models.CheckConstraint(condition=_ONE_ASSET, name="access_policy_exactly_one_asset"),
        ]
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"Access policy of {self.asset}"

    def get_absolute_url(self) -> str:
        return reverse("policies:asset-policy", args=[self.kind, self.asset_id])

    @property
    def kind(self) -> str:
        if self.model_id:
            return AssetKind.MODEL
        if self.dataset_id:
            return AssetKind.DATASET
        return AssetKind.DEPLOYMENT

    @property
    def asset(self):
        return self.model or self.dataset or self.deployment

    @property
    def asset_id(self) -> int:
        return self.model_id or self.dataset_id or self.deployment_id


class PolicyGrant(models.Model):
    """One permission given to one principal: a team (its members), a role, or a user."""

    policy = models.ForeignKey(AccessPolicy, on_delete=models.CASCADE, related_name="grants")
    permission = models.CharField(max_length=16, choices=GrantPermission.choices)
    principal_type = models.CharField(max_length=8, choices=PrincipalType.choices)
    principal_team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    principal_role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    principal_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "policy__team"

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_ONE_PRINCIPAL, name="policy_grant_one_principal"),
            models.UniqueConstraint(
                fields=["policy", "permission", "principal_team"],
                condition=Q(principal_type=PrincipalType.TEAM),
                name="unique_policy_grant_team",
            ),
            models.UniqueConstraint(
                fields=["policy", "permission", "principal_role"],
                condition=Q(principal_type=PrincipalType.ROLE),
                name="unique_policy_grant_role",
            ),
            models.UniqueConstraint(
                fields=["policy", "permission", "principal_user"],
                condition=Q(principal_type=PrincipalType.USER),
                name="unique_policy_grant_user",
            ),
        ]
        ordering = ["permission", "principal_type", "id"]

    def __str__(self) -> str:
        return f"{self.get_permission_display()} to {self.principal_label}"

    @property
    def principal_label(self) -> str:
        """The principal in words (uses the relations the selectors load)."""
        if self.principal_type == PrincipalType.TEAM:
            return f"team {self.principal_team.name}"
        if self.principal_type == PrincipalType.ROLE:
            return f"every {Role(self.principal_role).label.lower()}"
        return f"user {self.principal_user.username}"
