"""Liveness of what the product needs: the database and the Celery broker."""

from django.db import connection

from mlgov.celery import app as celery_app


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


def broker_answers(timeout: float = 2.0) -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return True
    except Exception:  # noqa: BLE001
        return False


def components_down() -> list[str]:
    down = []
    if not database_answers():
        down.append("database")
    if not broker_answers():
        down.append("broker")
    return down
