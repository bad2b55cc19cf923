"""The one home of authorization: who may see and change what.

Every selector, view and API call goes through `scope()` (querysets) or `require()` (one object).
Deny by default; superusers pass explicitly.

- Scope: every governed model names the path from itself to its owning team
  (`scope_team_path`, e.g. "model__team" on ModelVersion, "pk" on Team). A data scientist sees
  the objects of the teams they belong to; compliance officers, auditors and administrators read
  everything. An object outside a caller's scope is answered as "not found".
- Reference data: a model with `is_reference_data = True` (e.g. the MITRE ATLAS catalogue)
  belongs to no team and is readable by every active user; writes follow the rules below
  (with `scope_team_path = None`, only global writers and superusers).
- Writes: `WRITE_RULES` says, per model, which roles change objects of their own teams and which
  roles change any object. A model absent from the table is written by team data scientists only.
"""

from dataclasses import dataclass, field

from django.db.models import Model, QuerySet, Subquery
from rest_framework import permissions

from apps.accounts.choices import Role
from apps.core.exceptions import Forbidden, NotInScope

VIEW = "view"
CREATE = "create"
CHANGE = "change"
DELETE = "delete"
ACTIONS = (VIEW, CREATE, CHANGE, DELETE)

READS_EVERYTHING = frozenset({Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class WriteRule:
    team_writers: frozenset = field(default_factory=lambda: frozenset({Role.DATA_SCIENTIST}))
    global_writers: frozenset = frozenset()


ADMIN_ONLY = WriteRule(team_writers=frozenset(), global_writers=frozenset({Role.ADMINISTRATOR}))
# The asset's team writes, and compliance officers write for any team.
THREAT_MODEL_WRITERS = WriteRule(
    team_writers=frozenset({Role.DATA_SCIENTIST}),
    global_writers=frozenset({Role.COMPLIANCE_OFFICER}),
)
WRITE_RULES: dict[str, WriteRule] = {
    "accounts.user": ADMIN_ONLY,
    "registry.team": ADMIN_ONLY,
    "registry.teammembership": ADMIN_ONLY,
    # Append-only: entries are written by apps.audit.services and never edited by anyone.
    "audit.auditentry": WriteRule(team_writers=frozenset()),
    # Threat models: the asset's team writes them, compliance officers write any. Approving a
    # risk acceptance is further limited to compliance officers (apps.threats services).
    "threats.threatassessment": THREAT_MODEL_WRITERS,
    "threats.appliedmitigation": THREAT_MODEL_WRITERS,
    "threats.evidence": THREAT_MODEL_WRITERS,
    "threats.riskacceptance": THREAT_MODEL_WRITERS,
    "threats.threatsuggestion": THREAT_MODEL_WRITERS,
    # Access policies: the asset's team writes them, compliance officers write any. Marking a
    # policy reviewed is further limited to compliance officers (apps.policies.services).
    "policies.accesspolicy": THREAT_MODEL_WRITERS,
    "policies.policygrant": THREAT_MODEL_WRITERS,
    # Scans: the target's team and compliance officers start and cancel them (auditors read
    # only); triaging a finding (accept, false positive) is the compliance officers' decision.
    "scans.scanrun": THREAT_MODEL_WRITERS,
    "scans.finding": WriteRule(
        team_writers=frozenset(), global_writers=frozenset({Role.COMPLIANCE_OFFICER})
    ),
}
DEFAULT_WRITE_RULE = WriteRule()


def _label(model) -> str:
    return model._meta.label_lower


def is_active_user(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def reads_everything(user) -> bool:
    return is_active_user(user) and (user.is_superuser or user.role in READS_EVERYTHING)


def member_team_ids(user) -> frozenset[int]:
    """Ids of the teams the user belongs to, cached on the user object for the request."""
    cached = getattr(user, "_mlgov_team_ids", None)
    if cached is None:
        from apps.registry.models import TeamMembership

        cached = frozenset(
            TeamMembership.objects.filter(user_id=user.pk).values_list("team_id", flat=True)
        )
        user._mlgov_team_ids = cached
    return cached


def _member_teams_subquery(user) -> Subquery:
    from apps.registry.models import TeamMembership

    return Subquery(TeamMembership.objects.filter(user_id=user.pk).values("team_id"))


def scope(queryset: QuerySet, user, action: str = VIEW) -> QuerySet:
    """Restrict a queryset to the rows `user` may perform `action` on (one SQL query, no N+1)."""
    model = queryset.model
    if not is_active_user(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    team_path = getattr(model, "scope_team_path", None)
    if action == VIEW and getattr(model, "is_reference_data", False):
        return queryset
    if action == VIEW and reads_everything(user):
        return queryset
    if action == VIEW:
        if team_path is None:
            is_user_model = _label(model) == "accounts.user"
            return queryset.filter(pk=user.pk) if is_user_model else queryset.none()
        return queryset.filter(**{f"{team_path}__in": _member_teams_subquery(user)})
    rule = WRITE_RULES.get(_label(model), DEFAULT_WRITE_RULE)
    if user.role in rule.global_writers:
        return queryset
    if user.role in rule.team_writers and team_path is not None:
        return queryset.filter(**{f"{team_path}__in": _member_teams_subquery(user)})
    return queryset.none()


def _owning_team_id(obj: Model) -> int | None:
    """Follow `scope_team_path` on an instance to its team id (uses already-loaded relations)."""
    path = getattr(type(obj), "scope_team_path", None)
    if path is None:
        return None
    if path == "pk":
        return obj.pk
    current = obj
    parts = path.split("__")
    for part in parts[:-1]:
        current = getattr(current, part)
    return getattr(current, f"{parts[-1]}_id")


def can(user, action: str, obj: Model) -> bool:
    """May `user` perform `action` on this one object."""
    if not is_active_user(user):
        return False
    if user.is_superuser:
        return True
    model = type(obj)
    team_id = _owning_team_id(obj)
    in_team = team_id is not None and team_id in member_team_ids(user)
    if action == VIEW:
        if getattr(model, "is_reference_data", False):
            return True
        if _label(model) == "accounts.user" and obj.pk == user.pk:
            return True
        return reads_everything(user) or in_team
    rule = WRITE_RULES.get(_label(model), DEFAULT_WRITE_RULE)
    return user.role in rule.global_writers or (user.role in rule.team_writers and in_team)


def can_create(user, model, team=None) -> bool:
    """May `user` create an object of `model` owned by `team` (None for objects without a team)."""
    if not is_active_user(user):
        return False
    if user.is_superuser:
        return True
    rule = WRITE_RULES.get(model._meta.label_lower, DEFAULT_WRITE_RULE)
    if user.role in rule.global_writers:
        return True
    return (
        team is not None and user.role in rule.team_writers and team.pk in member_team_ids(user)
    )


def _record_refusal(user, action: str, *, obj=None, model=None, team=None, reason: str) -> None:
    """Every refusal raised here goes to the audit trail (the one place that records them)."""
    from apps.audit.services import audit_denied  # imported late: the audit app imports this

    audit_denied(user=user, permission=action, obj=obj, model=model, team=team, reason=reason)


def require(user, action: str, obj: Model) -> None:
    """Raise NotInScope (404) for an object the user cannot see, Forbidden (403) if they may not
    act."""
    if not can(user, VIEW, obj):
        _record_refusal(user, action, obj=obj, reason="not_in_scope")
        raise NotInScope("Not found.")
    if action != VIEW and not can(user, action, obj):
        _record_refusal(user, action, obj=obj, reason="forbidden")
        raise Forbidden("You do not have permission to perform this action.")


def require_create(user, model, team=None) -> None:
    """The create-side twin of `require`: the owning team must be visible and writable."""
    if team is not None and not can(user, VIEW, team):
        _record_refusal(user, CREATE, model=model, team=team, reason="not_in_scope")
        raise NotInScope("Team not found.", field="team")
    if not can_create(user, model, team):
        _record_refusal(user, CREATE, model=model, team=team, reason="forbidden")
        raise Forbidden(f"You may not create a {model._meta.verbose_name} here.", field="team")


def may_create_anything(user, model) -> bool:
    """Whether the user's role creates `model` objects anywhere (to show or hide create buttons)."""
    if not is_active_user(user):
        return False
    if user.is_superuser:
        return True
    rule = WRITE_RULES.get(model._meta.label_lower, DEFAULT_WRITE_RULE)
    return user.role in rule.global_writers or (
        user.role in rule.team_writers and bool(member_team_ids(user))
    )


def scope_api_tokens(queryset: QuerySet, user) -> QuerySet:
    """API tokens (`ApiTokenInfo` rows) act for one person: that person lists and revokes them,
    and so do administrators (who must be able to cut off anyone's leaked token). Nobody else
    sees them, not even the roles that read everything else."""
    if not is_active_user(user):
        return queryset.none()
    if user.is_superuser or user.role == Role.ADMINISTRATOR:
        return queryset
    return queryset.filter(token__user_id=user.pk)


class IsAuthenticatedMember(permissions.BasePermission):
    """API default: an active, authenticated user. Object rules come from `require()`."""

    def has_permission(self, request, view) -> bool:
        return is_active_user(request.user)


class ScopedObjectPermission(IsAuthenticatedMember):
    """Object-level check for viewsets: reading needs VIEW, unsafe methods need CHANGE/DELETE."""

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            action = VIEW
        elif request.method == "DELETE":
            action = DELETE
        else:
            action = CHANGE
        require(request.user, action, obj)
        return True
