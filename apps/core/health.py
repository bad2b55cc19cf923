"""Liveness of what the product needs: the database and the Celery broker."""

import os

from django.db import connection

from mlgov.celery import app as celery_app


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


def _filesystem_broker_ready(options: dict) -> bool:
    """kombu's filesystem transport "connects" without touching the disk; what must work for a
    task to be queued and consumed is its folders, so those are what is checked."""
    folders = {options.get("data_folder_in"), options.get("data_folder_out")}
    if options.get("store_processed"):
        folders.add(options.get("processed_folder"))
    return all(
        folder and os.path.isdir(folder) and os.access(folder, os.R_OK | os.W_OK | os.X_OK)
        for folder in folders
    )


def broker_answers(timeout: float = 2.0) -> bool:
    url = celery_app.conf.broker_write_url or celery_app.conf.broker_url or ""
    if url.startswith("filesystem://"):
        return _filesystem_broker_ready(celery_app.conf.broker_transport_options or {})
    try:
        with celery_app.connection_for_write() as conn:
            # One immediate retry: a probe must answer within its own timeout, not back off.
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
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
