"""Writing the audit trail. Every service that changes a governed record calls one of these.

Recording happens in the services that make a change, not in model signals: signals miss
`QuerySet.update()`, `bulk_create()` and `QuerySet.delete()`, which bulk edits and imports use.

- `audit_record(action=..., obj=..., changes=..., actor=...)`: one entry.
- `audit_created / audit_updated / audit_deleted`: one entry with the `[before, after]` values
  of the fields named (`audit_snapshot` takes the "before" picture, `audit_diff` compares).
- Bulk operations record one entry per object (so that filtering the trail by object finds
  them) through `audit_record_many`, which appends them all at once: lock, read the last
  link, one multi-row INSERT, however many objects.

The entry is written in the caller's transaction: it commits or rolls back with the change it
describes. Appends are serialised until the caller's transaction ends: on PostgreSQL by a
transaction-scoped advisory lock, taken by the `audit_entry_append()` function of migration
0002, which also reads the last link, computes the new one (the formula of apps.audit.chain)
and inserts the entry, so that one entry costs one statement; on SQLite by its write lock.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from apps.accounts.permissions import _owning_team_id
from apps.audit import context
from apps.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    chain_hash,
    clean_text,
    content_hash,
    json_value,
    mask_secrets,
)
from apps.audit.choices import AuditAction
from apps.audit.models import AuditEntry
from apps.core import request_context

_MAX = {f.name: f.max_length for f in AuditEntry._meta.concrete_fields if f.max_length}


# --- Building entries ---------------------------------------------------------------------------


def _actor_fields(actor, actor_name: str | None) -> dict[str, Any]:
    if actor_name is not None:  # a named but unauthenticated actor (a failed login)
        return {"actor_id": None, "actor_name": actor_name, "actor_role": ""}
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor_id": None, "actor_name": "", "actor_role": ""}
    role = getattr(actor, "role", "") or ""
    if getattr(actor, "is_superuser", False):
        role = f"{role} (superuser)" if role else "superuser"
    return {"actor_id": actor.pk, "actor_name": actor.get_username(), "actor_role": role}


def _object_fields(obj: Model | None, object_type, object_id, object_repr, team_id) -> dict:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id if object_id is not None else obj.pk
        object_repr = object_repr if object_repr is not None else str(obj)
        if team_id is None:
            try:
                team_id = _owning_team_id(obj)
            except Exception:  # noqa: BLE001 - a missing relation never blocks the write
                team_id = None
    return {
        "object_type": object_type or "",
        "object_id": "" if object_id is None else str(object_id),
        "object_repr": object_repr or "",
        "team_id": team_id,
    }


def audit_entry_build(
    *,
    action: str,
    obj: Model | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    object_repr: str | None = None,
    team_id: int | None = None,
    changes: dict | None = None,
    actor=None,
    actor_name: str | None = None,
) -> AuditEntry:
    """An unsaved entry with who/where/how filled from the bound scope; secrets masked."""
    scope = context.current()
    if actor is None and actor_name is None and scope is not None:
        actor = scope.current_actor()
    fields: dict[str, Any] = {
        "timestamp": timezone.now(),
        "action": str(action),
        **_actor_fields(actor, actor_name),
        **_object_fields(obj, object_type, object_id, object_repr, team_id),
        "changes": canonical_json(mask_secrets(json_value(changes or {}))),
        "ip": scope.ip if scope else "",
        "request_id": (scope.request_id if scope else "")
        or request_context.get("request_id", "")
        or "",
        "interface": scope.interface if scope else context.Interface.COMMAND,
    }
    for name, value in fields.items():
        if isinstance(value, str) and name != "changes":
            fields[name] = clean_text(value, _MAX.get(name))
    entry = AuditEntry(**fields)
    entry.content_digest = content_hash(fields)  # what the link hash covers, computed once
    return entry


# --- Appending to the chain ---------------------------------------------------------------------

# PostgreSQL: `audit_entry_append(...)` (migration 0002) takes a transaction-scoped advisory lock,
# reads the last entry and inserts the next one, in one round trip. Its arguments, in order:
_PG_APPEND = (
    "SELECT seq, prev_hash, hash FROM audit_entry_append(%s, "  # noqa: S608 - placeholders only
    + ", ".join(["%s"] * len(HASHED_FIELDS))
    + ")"
)
_PG_LOCK = "SELECT audit_chain_lock()"


def _lock_chain(cursor) -> None:
    """Hold the chain for the rest of the caller's transaction (appends queue behind it)."""
    if connection.vendor == "postgresql":
        cursor.execute(_PG_LOCK)
    else:
        # Any write takes SQLite's single write lock, even one that changes no row: taken
        # before reading the last entry, no other writer can append in between.
        (table,) = _quoted(AuditEntry._meta.db_table)
        cursor.execute(f"UPDATE {table} SET seq = seq WHERE 1 = 0")  # noqa: S608


def _last_link(cursor) -> tuple[int, str]:
    (table,) = _quoted(AuditEntry._meta.db_table)
    cursor.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")  # noqa: S608
    row = cursor.fetchone()
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


def _quoted(*names: str) -> list[str]:
    return [connection.ops.quote_name(name) for name in names]


def _content_digest(entry: AuditEntry) -> str:
    digest = getattr(entry, "content_digest", None)
    return digest or content_hash({name: getattr(entry, name) for name in HASHED_FIELDS})


def _append_one_postgresql(entry: AuditEntry) -> None:
    params = [_content_digest(entry), *(getattr(entry, name) for name in HASHED_FIELDS)]
    with connection.cursor() as cursor:
        cursor.execute(_PG_APPEND, params)
        entry.seq, entry.prev_hash, entry.hash = cursor.fetchone()


def _append_locked(entries: Sequence[AuditEntry]) -> None:
    """Lock, read the last link, hash the entries here, insert them in one statement."""
    with connection.cursor() as cursor:
        _lock_chain(cursor)
        seq, prev_hash = _last_link(cursor)
    for entry in entries:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev_hash
        entry.hash = chain_hash(prev_hash, seq, _content_digest(entry))
        prev_hash = entry.hash
    AuditEntry.objects.bulk_create(entries)


def audit_append(entries: Sequence[AuditEntry]) -> None:
    """Link unsaved entries to the chain and insert them, in the caller's transaction."""
    if not entries:
        return
    if connection.vendor == "postgresql" and len(entries) == 1:
        _append_one_postgresql(entries[0])  # one statement: atomic on its own
        return
    with transaction.atomic(savepoint=False):
        _append_locked(entries)


# --- Public API ---------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    obj: Model | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    object_repr: str | None = None,
    team_id: int | None = None,
    changes: dict | None = None,
    actor=None,
    actor_name: str | None = None,
) -> AuditEntry | None:
    """Append one entry: `actor` did `action` to `obj` (or to the object named), now.

    `actor` defaults to the request's user; `actor_name` records an unauthenticated actor by
    name (a failed login). `changes` maps fields to `[before, after]`; secret-looking keys are
    masked. Returns the saved entry (None while recording is suspended).
    """
    if context.is_suspended():
        return None
    entry = audit_entry_build(
        action=action, obj=obj, object_type=object_type, object_id=object_id,
        object_repr=object_repr, team_id=team_id, changes=changes, actor=actor,
        actor_name=actor_name,
    )
    audit_append([entry])
    return entry


def audit_record_many(
    *, action: str, objects: Iterable[Model], actor=None, changes_for=None
) -> list[AuditEntry]:
    """One entry per object of a bulk operation, appended together (three statements).

    `changes_for(obj)` returns each object's changes (None: no changes recorded).
    """
    if context.is_suspended():
        return []
    entries = [
        audit_entry_build(action=action, obj=obj, actor=actor,
                          changes=changes_for(obj) if changes_for else None)
        for obj in objects
    ]
    audit_append(entries)
    return entries


def audit_snapshot(instance: Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON-ready values of `fields` (default: every concrete field but the key).

    Foreign keys are read as ids under their column name (`team_id`), so no query is made.
    """
    if fields is None:
        fields = [f.name for f in instance._meta.concrete_fields if not f.primary_key]
    snapshot = {}
    for name in fields:
        field = instance._meta.get_field(name)
        attname = getattr(field, "attname", name)
        snapshot[attname] = json_value(getattr(instance, attname))
    return snapshot


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """`{field: [before, after]}` for every field whose value differs."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def _field_names(before: dict[str, Any], instance: Model) -> list[str]:
    # Snapshot keys are column names (team_id); map them back to field names for get_field().
    by_attname = {f.attname: f.name for f in instance._meta.concrete_fields}
    return [by_attname.get(key, key) for key in before]


def audit_created(*, obj: Model, actor, fields: Iterable[str] | None = None) -> AuditEntry | None:
    """Record the creation of `obj` with the values it was created with."""
    after = audit_snapshot(obj, fields)
    return audit_record(action=AuditAction.CREATE, obj=obj, actor=actor,
                        changes=audit_diff({}, after))


def audit_updated(*, obj: Model, before: dict[str, Any], actor) -> AuditEntry | None:
    """Record what changed since `before` (an `audit_snapshot`); nothing when nothing did."""
    changes = audit_diff(before, audit_snapshot(obj, _field_names(before, obj)))
    if not changes:
        return None
    return audit_record(action=AuditAction.UPDATE, obj=obj, actor=actor, changes=changes)


def audit_deleted(*, obj: Model, actor, fields: Iterable[str] | None = None) -> AuditEntry | None:
    """Record the deletion of `obj` with its last values. Call it before deleting."""
    before = audit_snapshot(obj, fields)
    return audit_record(action=AuditAction.DELETE, obj=obj, actor=actor,
                        changes=audit_diff(before, {}))


def audit_denied(*, user, permission: str, obj: Model | None = None, model=None,
                 team=None, reason: str) -> None:
    """Record a refused authorization (called by apps.accounts.permissions when it refuses).

    Inside a request or task the entry waits in the scope and is written when it ends, because
    the refusal usually rolls back the transaction it happened in.
    """
    if context.is_suspended():
        return
    scope = context.current()
    details = {"permission": permission, "reason": reason}
    if scope is not None and scope.path:
        details.update(method=scope.method, path=scope.path)
    label = model._meta.label_lower if model is not None else None
    entry = audit_entry_build(
        action=AuditAction.ACCESS_DENIED, obj=obj, object_type=label,
        team_id=getattr(team, "pk", None), changes=details,
        actor=user if getattr(user, "is_authenticated", False) else None,
    )
    if scope is None:
        audit_append([entry])
        return
    scope.pending.append(entry)
    scope.denials += 1
