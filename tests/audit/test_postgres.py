"""Append-only on PostgreSQL: the database refuses edits, forgeries are detected, appends queue.

Skipped on SQLite (the embedded profile); in CI (CI=true) DATABASE_URL is PostgreSQL and a
missing PostgreSQL fails these tests instead.
"""

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from apps.audit.choices import AuditAction
from apps.audit.models import AuditEntry
from apps.audit.selectors import chain_verify
from apps.audit.services import audit_record
from apps.registry import services
from tests.audit.conftest import forge
from tests.registry.factories import MLModelFactory

TABLE = AuditEntry._meta.db_table


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_editing_is_refused_and_a_superuser_forgery_is_detected(on_postgresql, data_scientist,
                                                                team):
    model = MLModelFactory(team=team)
    for n in range(3):
        services.model_update(actor=data_scientist, model=model, data={"description": str(n)})

    # The application's role (any role, in fact) cannot change or remove an entry.
    for statement in (f"UPDATE {TABLE} SET actor_name = 'someone else' WHERE seq = 2",
                      f"DELETE FROM {TABLE} WHERE seq = 2"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic():
                raw(statement)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            AuditEntry.objects.filter(seq=3).update(object_repr="x")
    assert AuditEntry.objects.get(seq=2).actor_name == "dana"
    call_command("verify_audit_trail")

    # A superuser can switch the trigger off and rewrite history: the chain gives it away.
    forge(2, "changes", '{"description":["0","nothing happened"]}')
    assert AuditEntry.objects.get(seq=2).changes.endswith('"nothing happened"]}')
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_trail")
    assert "BROKEN at seq 2" in str(caught.value)

    # Recomputing the forged entry's own hash does not help: the next link no longer matches.
    forge(2, "hash", chain_verify().problem.split("expected ")[1].split(",")[0])
    result = chain_verify()
    assert (result.ok, result.broken_seq) == (False, 3)


@pytest.mark.django_db
def test_the_database_computes_the_same_link_as_python(on_postgresql, team):
    model = MLModelFactory(team=team)
    single = audit_record(action=AuditAction.UPDATE, obj=model)  # one statement, hashed in SQL
    assert single.seq == 1 and chain_verify().ok
    audit_record(action=AuditAction.UPDATE, obj=model, changes={"é": ["ü", None]})
    assert chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_queue_into_one_unbroken_chain(on_postgresql, team):
    # The test runner empties tables with TRUNCATE between transactional tests: the trigger
    # refuses row deletes only, so the trail starts empty here.
    assert not AuditEntry.objects.exists()
    model = MLModelFactory(team=team)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                with transaction.atomic():
                    audit_record(action=AuditAction.UPDATE, obj=model,
                                 changes={"writer": [n, i]})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 61))
    assert chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_appending_outside_read_committed_is_refused_clearly(on_postgresql, team):
    model = MLModelFactory(team=team)
    with pytest.raises(DatabaseError, match="READ COMMITTED"):
        with transaction.atomic():
            raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            audit_record(action=AuditAction.UPDATE, obj=model)
    assert not AuditEntry.objects.exists()
