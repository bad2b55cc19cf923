"""Celery wiring of the scans app: task options, periodic schedules, the safety checks."""

import pytest
from django.core import checks
from django_celery_beat.models import PeriodicTask

from apps.scans import services
from apps.scans.checks import check_scanners, check_time_limits
from apps.scans.choices import ScanStatus
from apps.scans.scanners import SCANNERS
from apps.scans.tasks import (
    findings_reopen_expired_task,
    scan_execute_task,
    scans_fail_stuck_task,
    scans_schedule_production_rescans_task,
)
from mlgov.celery import app as celery_app
from tests.registry.factories import DeploymentFactory
from tests.scans.factories import ScanRunFactory


def test_scan_task_is_acknowledged_late_and_requeued_when_its_worker_is_lost():
    assert scan_execute_task.name == "scans.execute"
    assert scan_execute_task.acks_late is True
    assert scan_execute_task.reject_on_worker_lost is True
    assert celery_app.conf.task_serializer == "json"


@pytest.mark.django_db
def test_scan_task_runs_the_scan_and_reports_a_summary(register, data_scientist):
    run = services.scan_request(actor=data_scientist, model_version=register(),
                                scanners=["integrity"])
    summary = scan_execute_task.apply(args=[run.pk]).get()
    assert summary == {"scan": run.pk, "status": "succeeded", "attempts": 1}
    assert scan_execute_task.apply(args=[10**9]).get() == {"scan": 10**9, "status": None}


@pytest.mark.django_db
def test_periodic_tasks_call_their_services():
    DeploymentFactory(environment="production")
    assert len(scans_schedule_production_rescans_task.apply().get()) == 1
    ScanRunFactory(status=ScanStatus.RUNNING, attempts=1, attempt_started_at="2000-01-01T00:00Z")
    assert scans_fail_stuck_task.apply().get() == 1
    assert findings_reopen_expired_task.apply().get() == 0


@pytest.mark.django_db
def test_periodic_tasks_are_scheduled_with_celery_beat():
    scheduled = {task.task: task for task in PeriodicTask.objects.filter(task__startswith="scans.")}
    assert set(scheduled) == {
        "scans.fail_stuck", "scans.schedule_production_rescans",
        "scans.reopen_expired_acceptances",
    }
    assert scheduled["scans.fail_stuck"].interval.every == 5
    assert scheduled["scans.schedule_production_rescans"].crontab.hour == "3"
    assert all(task.enabled for task in scheduled.values())
    registered = set(celery_app.tasks)
    assert set(scheduled) <= registered


def test_hard_time_limit_must_stay_below_the_visibility_timeout(settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 100
    settings.CELERY_TASK_TIME_LIMIT = 200
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
    assert check_time_limits() == []
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 150}
    assert [m.id for m in check_time_limits()] == ["scans.E001"]
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 250
    assert {m.id for m in check_time_limits()} == {"scans.E001", "scans.W001"}


def test_shipped_time_limits_pass_the_check():
    assert [m for m in check_time_limits() if m.level >= checks.WARNING] == []


def test_registered_scanners_are_well_formed(monkeypatch):
    assert check_scanners() == []

    class Broken(SCANNERS[0]):
        name = SCANNERS[0].name
        atlas_techniques = ("T1059",)
        targets = frozenset()

    monkeypatch.setattr("apps.scans.scanners.SCANNERS", (*SCANNERS, Broken))
    assert {m.id for m in check_scanners()} == {"scans.E002", "scans.E003", "scans.E004"}
