"""The audit trail: an append-only, hash-chained log of who did what, when, from where.

Entries hold the actor's id, name and role as plain data (no foreign keys), so deleting or
renaming a user never rewrites history. Each entry's `hash` covers its content and the previous
entry's hash (see apps.audit.chain), so editing, removing or inserting a row breaks the chain
from that row on, which `manage.py verify_audit_trail` reports. On PostgreSQL a trigger refuses
UPDATE and DELETE on the table (migration 0002); docs/operations.md describes the database role.
The chain's head is simply the entry with the highest `seq`.
"""

import json

from django.db import models

from apps.audit.choices import AuditAction, Interface


class AuditEntry(models.Model):
    """One audited event. Never updated or deleted once written (append-only).

    `seq` is the position in the chain (1, 2, 3 ... without gaps) and the primary key.
    `changes` is canonical JSON text (sorted keys, no spaces) rather than a JSON column, so
    the bytes that were hashed are the bytes that are stored, on every database: a jsonb
    column would re-format numbers and keys and make honest rows look forged.
    For create/update/delete it maps each field to `[before, after]`; other actions put their
    context there (e.g. the filters of an export).
    """

    seq = models.BigIntegerField(primary_key=True)
    timestamp = models.DateTimeField()  # PostgreSQL: BRIN index (migration 0002)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    changes = models.TextField(default="{}")
    ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    interface = models.CharField(max_length=16, choices=Interface.choices)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    # Role scoping (apps.accounts.permissions.scope): the owning team is a plain id, not a key.
    scope_team_path = "team_id"

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    @property
    def changes_data(self) -> dict:
        """`changes` parsed (a dict); an unreadable value shows as itself rather than failing."""
        try:
            value = json.loads(self.changes or "{}")
        except ValueError:
            return {"_raw": self.changes}
        return value if isinstance(value, dict) else {"_value": value}
