"""Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

import os

from celery import Celery

from apps.core.celery_setup import ensure_broker_folders

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlgov.settings.local")

app = Celery("mlgov")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_embedded_broker(sender, source, **kwargs) -> None:
    """Create the filesystem broker's folders as soon as the configuration is read.

    Connected at import, run lazily: reading Django settings while this module is imported
    (from mlgov/__init__.py, possibly during settings loading) would be circular.
    """
    ensure_broker_folders(source)
