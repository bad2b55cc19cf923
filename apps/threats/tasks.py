"""Celery entry points of the threats app (thin: each calls one service)."""

from celery import shared_task

from apps.threats.services_assessments import acceptances_expire


@shared_task(name="threats.acceptances_expire")
def acceptances_expire_task() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): expire risk acceptances past their date, re-open threats."""
    return acceptances_expire()
