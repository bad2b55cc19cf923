"""Helpers of the audit tests: reading the trail back, and forging a row behind its back."""

import pytest
from django.db import connection

from apps.audit.models import AuditEntry


def entries(**filters) -> list[AuditEntry]:
    """Entries matching `filters`, oldest first."""
    return list(AuditEntry.objects.filter(**filters).order_by("seq"))


def last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-seq").first()


def forge(seq: int, column: str, value) -> None:
    """Rewrite one column of one entry the way an attacker with database rights would.

    On PostgreSQL only a superuser (the test role) can, by disabling the append-only trigger
    for the duration of the UPDATE; on SQLite there is no trigger to get past.
    """
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    quoted = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER audit_entry_append_only")
        sql = f"UPDATE {table} SET {quoted} = %s WHERE seq = %s"  # noqa: S608 - quoted names
        cursor.execute(sql, [value, seq])  # noqa: S608
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER audit_entry_append_only")


@pytest.fixture
def on_postgresql():
    from tests.conftest import require_service

    require_service("PostgreSQL", connection.vendor == "postgresql",
                    "set DATABASE_URL to a PostgreSQL database")
