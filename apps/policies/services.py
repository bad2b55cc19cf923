"""Every write to access policies, and the policy-checked downloads of artifacts and data files.

Each service checks the caller's rights through apps.accounts.permissions, validates all of its
input before writing anything, runs in one transaction and records what it did in the audit
trail. Grants name their principal by exactly one of `team` (an id or Team), `role` (a role
name) or `user` (an id or User); a team or user the caller cannot see counts as unknown.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.audit.choices import AuditAction
from apps.audit.services import audit_denied, audit_diff, audit_record
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.core.uploads import safe_display_name
from apps.policies import selectors
from apps.policies.assets import Asset, asset_field, asset_kind, asset_team
from apps.policies.choices import (
    PERMISSIONS_BY_KIND,
    AssetKind,
    GrantPermission,
    PrincipalType,
)
from apps.policies.models import AccessPolicy, PolicyGrant
from apps.registry.models import DatasetVersion, ModelVersion, Team

MAX_GRANTS = 200
POLICY_EDITABLE = ("query_logging_enabled", "notes", "grants")
MAX_NOTES = 10_000
PRINCIPAL_KEYS = ("team", "role", "user")
# Who may sign a policy off as reviewed: the second pair of eyes is compliance's.
REVIEWERS = frozenset({Role.COMPLIANCE_OFFICER})


@dataclass(frozen=True)
class GrantSpec:
    """A validated grant, ready to be saved."""

    permission: str
    principal_type: str
    team: Team | None = None
    role: str = ""
    user: User | None = None

    @property
    def identity(self) -> tuple:
        return (self.permission, self.principal_type, self.team and self.team.pk, self.role,
                self.user and self.user.pk)

    def label(self) -> str:
        if self.team is not None:
            who = f"team {self.team.name}"
        elif self.user is not None:
            who = f"user {self.user.username}"
        else:
            who = f"role {self.role}"
        return f"{self.permission}: {who}"

    def build(self, policy: AccessPolicy) -> PolicyGrant:
        return PolicyGrant(policy=policy, permission=self.permission,
                           principal_type=self.principal_type, principal_team=self.team,
                           principal_role=self.role, principal_user=self.user)


# --- Validation ---------------------------------------------------------------------------------


def _as_id(value, what: str, where: str) -> int:
    if isinstance(value, bool):
        raise ApplicationError(f"{where}: {what} must be an id.", field="grants")
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise ApplicationError(f"{where}: {what} must be an id.", field="grants")
    return value


def _resolve_grant(actor: User, kind: str, raw: Any, where: str) -> GrantSpec:
    if not isinstance(raw, dict):
        raise ApplicationError(
            f"{where}: a grant is an object with a permission and one of team, role or user.",
            field="grants",
        )
    unknown = sorted(set(raw) - {"permission", *PRINCIPAL_KEYS})
    if unknown:
        raise ApplicationError(
            f"{where}: unknown principal or field {', '.join(unknown)}; name a team, a role or "
            "a user.", field="grants",
        )
    permission = raw.get("permission")
    if permission not in GrantPermission.values:
        raise ApplicationError(
            f"{where}: unknown permission {permission!r}; use one of "
            f"{', '.join(GrantPermission.values)}.", field="grants",
        )
    if permission not in PERMISSIONS_BY_KIND[kind]:
        raise ApplicationError(
            f"{where}: {permission!r} does not apply to a {AssetKind(kind).label.lower()}; use "
            f"{', '.join(PERMISSIONS_BY_KIND[kind])}.", field="grants",
        )
    named = [key for key in PRINCIPAL_KEYS if raw.get(key) not in (None, "")]
    if len(named) != 1:
        raise ApplicationError(
            f"{where}: name exactly one principal (team, role or user).", field="grants"
        )
    key, value = named[0], raw[named[0]]
    if key == "role":
        if value not in Role.values:
            raise ApplicationError(
                f"{where}: unknown role {value!r}; use one of {', '.join(Role.values)}.",
                field="grants",
            )
        return GrantSpec(permission, PrincipalType.ROLE, role=value)
    if key == "team":
        team = value if isinstance(value, Team) else None
        pk = team.pk if team else _as_id(value, "team", where)
        team = selectors.principal_teams(user=actor).filter(pk=pk).first()
        if team is None:
            raise ApplicationError(f"{where}: team {pk} does not exist.", field="grants")
        return GrantSpec(permission, PrincipalType.TEAM, team=team)
    user = value if isinstance(value, User) else None
    pk = user.pk if user else _as_id(value, "user", where)
    user = selectors.principal_users(user=actor).filter(pk=pk).first()
    if user is None:
        raise ApplicationError(f"{where}: user {pk} does not exist.", field="grants")
    return GrantSpec(permission, PrincipalType.USER, user=user)


def grants_resolve(*, actor: User, kind: str, grants: Any) -> list[GrantSpec]:
    """Validate a whole list of grants (all or nothing); duplicates collapse into one."""
    if not isinstance(grants, list | tuple):
        raise ApplicationError("grants must be a list.", field="grants")
    if len(grants) > MAX_GRANTS:
        raise ApplicationError(f"At most {MAX_GRANTS} grants per policy.", field="grants")
    specs: dict[tuple, GrantSpec] = {}
    for index, raw in enumerate(grants, start=1):
        spec = _resolve_grant(actor, kind, raw, f"Grant {index}")
        specs.setdefault(spec.identity, spec)
    return list(specs.values())


def _clean_settings(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(POLICY_EDITABLE))
    if unknown:
        raise ApplicationError(
            f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0]
        )
    cleaned = {}
    if "query_logging_enabled" in data:
        value = data["query_logging_enabled"]
        if not isinstance(value, bool):
            raise ApplicationError("Must be true or false.", field="query_logging_enabled")
        if value and kind != AssetKind.DEPLOYMENT:
            raise ApplicationError(
                "Query logging applies to deployments only.", field="query_logging_enabled"
            )
        cleaned["query_logging_enabled"] = value
    if "notes" in data:
        notes = data["notes"]
        if notes is None:
            notes = ""
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise ApplicationError(f"Notes are text of at most {MAX_NOTES} characters.",
                                   field="notes")
        cleaned["notes"] = notes
    return cleaned


def _state(policy: AccessPolicy, grant_labels: Iterable[str]) -> dict[str, Any]:
    """What the audit trail records of a policy: its settings and its grants in words."""
    return {
        "query_logging_enabled": policy.query_logging_enabled,
        "notes": policy.notes,
        "grants": sorted(grant_labels),
    }


def _labels(policy: AccessPolicy) -> list[str]:
    return [
        GrantSpec(g.permission, g.principal_type, g.principal_team, g.principal_role,
                  g.principal_user).label()
        for g in policy.grants.select_related("principal_team", "principal_user")
    ]


def _clear_review(policy: AccessPolicy) -> None:
    # A review signs off what the policy said at the time; a change needs a new review.
    policy.reviewed_by = None
    policy.reviewed_at = None


# --- Policies -----------------------------------------------------------------------------------


@transaction.atomic
def policy_create(
    *,
    actor: User,
    asset: Asset,
    query_logging_enabled: bool = False,
    notes: str = "",
    grants: Any = (),
) -> AccessPolicy:
    """Give an asset its access policy (data scientists of its team, compliance officers).

    Every grant is validated before anything is written; an asset has at most one policy.
    """
    kind = asset_kind(asset)
    perms.require(actor, perms.VIEW, asset)
    team = asset_team(asset)
    perms.require_create(actor, AccessPolicy, team)
    settings_ = _clean_settings(
        kind, {"query_logging_enabled": query_logging_enabled, "notes": notes}
    )
    specs = grants_resolve(actor=actor, kind=kind, grants=list(grants))
    clash = ApplicationError(
        f"This {AssetKind(kind).label.lower()} already has an access policy.", field=kind
    )
    if AccessPolicy.objects.filter(**asset_field(asset)).exists():
        raise clash
    policy = AccessPolicy(team=team, created_by=actor, updated_by=actor, **asset_field(asset),
                          **settings_)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:  # another request created it a moment ago
        raise clash from None
    PolicyGrant.objects.bulk_create([spec.build(policy) for spec in specs])
    audit_record(action=AuditAction.CREATE, obj=policy, actor=actor,
                 changes=audit_diff({}, _state(policy, (s.label() for s in specs))))
    return policy


@transaction.atomic
def policy_update(*, actor: User, policy: AccessPolicy, data: dict[str, Any]) -> AccessPolicy:
    """Change query logging, notes or the whole list of grants (`grants` replaces it)."""
    perms.require(actor, perms.CHANGE, policy)
    cleaned = _clean_settings(policy.kind, data)
    specs = (
        grants_resolve(actor=actor, kind=policy.kind, grants=data["grants"])
        if "grants" in data else None
    )
    before = _state(policy, _labels(policy))
    for key, value in cleaned.items():
        setattr(policy, key, value)
    after_labels = [s.label() for s in specs] if specs is not None else before["grants"]
    changes = audit_diff(before, _state(policy, after_labels))
    if not changes:
        return policy
    if specs is not None:
        policy.grants.all().delete()
        PolicyGrant.objects.bulk_create([spec.build(policy) for spec in specs])
    policy.updated_by = actor
    _clear_review(policy)
    policy.save()
    audit_record(action=AuditAction.UPDATE, obj=policy, actor=actor, changes=changes)
    return policy


@transaction.atomic
def policy_grant_add(*, actor: User, policy: AccessPolicy, grant: dict[str, Any]) -> PolicyGrant:
    """Add one grant to a policy (400 if the same grant is already there)."""
    perms.require(actor, perms.CHANGE, policy)
    (spec,) = grants_resolve(actor=actor, kind=policy.kind, grants=[grant])
    before = _state(policy, _labels(policy))
    if spec.label() in before["grants"]:
        raise ApplicationError(f"The policy already grants {spec.label()}.", field="grants")
    created = spec.build(policy)
    try:
        with transaction.atomic():
            created.save()
    except IntegrityError:  # the same grant added by another request a moment ago
        raise ApplicationError(f"The policy already grants {spec.label()}.",
                               field="grants") from None
    policy.updated_by = actor
    _clear_review(policy)
    policy.save()
    audit_record(action=AuditAction.UPDATE, obj=policy, actor=actor,
                 changes=audit_diff(before, _state(policy, [*before["grants"], spec.label()])))
    return created


@transaction.atomic
def policy_grant_remove(*, actor: User, grant: PolicyGrant) -> None:
    policy = grant.policy
    perms.require(actor, perms.CHANGE, policy)
    before = _state(policy, _labels(policy))
    grant.delete()
    policy.updated_by = actor
    _clear_review(policy)
    policy.save()
    audit_record(action=AuditAction.UPDATE, obj=policy, actor=actor,
                 changes=audit_diff(before, _state(policy, _labels(policy))))


@transaction.atomic
def policy_delete(*, actor: User, policy: AccessPolicy) -> None:
    """Remove a policy: the asset falls back to the default rule."""
    perms.require(actor, perms.DELETE, policy)
    audit_record(action=AuditAction.DELETE, obj=policy, actor=actor,
                 changes=audit_diff(_state(policy, _labels(policy)), {}))
    policy.delete()


def may_review(user: User) -> bool:
    """Whether the user may mark policies as reviewed (to show or hide the button)."""
    return perms.is_active_user(user) and (user.is_superuser or user.role in REVIEWERS)


@transaction.atomic
def policy_mark_reviewed(*, actor: User, policy: AccessPolicy) -> AccessPolicy:
    """A compliance officer signs the policy off as reviewed, as it stands now."""
    perms.require(actor, perms.VIEW, policy)
    if not may_review(actor):
        raise Forbidden("Only a compliance officer may mark a policy as reviewed.")
    before = policy.reviewed_at
    policy.reviewed_by = actor
    policy.reviewed_at = timezone.now()
    policy.save(update_fields=["reviewed_by", "reviewed_at"])
    audit_record(action=AuditAction.UPDATE, obj=policy, actor=actor,
                 changes={"reviewed_at": [before, policy.reviewed_at]})
    return policy


# --- Downloads ----------------------------------------------------------------------------------


@dataclass
class Download:
    """An opened stored file and how to present it; the caller streams and closes it."""

    file: IO[bytes]
    filename: str
    size: int
    content_type: str


def _download(*, actor: User, version, asset: Asset, storage_name: str, display_name: str,
              default_name: str, content_type: str) -> Download:
    perms.require(actor, perms.VIEW, version)
    decision = selectors.download_decision(user=actor, asset=asset)
    if not decision.allowed:
        audit_denied(user=actor, permission="download", obj=version, reason=decision.reason)
        raise Forbidden(decision.reason)
    if not storage_name or not default_storage.exists(storage_name):
        raise NotInScope("The stored file of this version is missing.")
    fileobj = default_storage.open(storage_name, "rb")
    try:
        audit_record(
            action=AuditAction.DOWNLOAD, obj=version, actor=actor,
            changes={"sha256": version.sha256, "size": version.size,
                     "file_name": display_name, "rule": decision.reason},
        )
    except BaseException:
        fileobj.close()
        raise
    return Download(file=fileobj, filename=safe_display_name(display_name, default_name),
                    size=version.size, content_type=content_type)


def model_version_download(*, actor: User, model_version: ModelVersion) -> Download:
    """Open a version's artifact for the caller if the model's policy lets them download it;
    the download is recorded in the audit trail (a refusal too)."""
    return _download(actor=actor, version=model_version, asset=model_version.model,
                     storage_name=model_version.artifact,
                     display_name=model_version.artifact_name, default_name="artifact",
                     content_type="application/octet-stream")


def dataset_version_download(*, actor: User, dataset_version: DatasetVersion) -> Download:
    """Open a dataset version's CSV for the caller if the dataset's policy lets them download
    it; recorded like artifact downloads."""
    return _download(actor=actor, version=dataset_version, asset=dataset_version.dataset,
                     storage_name=dataset_version.file,
                     display_name=dataset_version.file_name, default_name="data.csv",
                     content_type="text/csv")
