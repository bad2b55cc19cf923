"""Celery entry points of the scans app. Each is a thin wrapper around one service.

`scan_execute_task` is acknowledged late and rejected (requeued) when its worker process is
lost, so a worker killed mid-scan leads to the scan being run again; the service counts the
attempts in the database and gives up, marking the scan failed, after MAX_ATTEMPTS.
"""

from celery import shared_task

from apps.scans import services


@shared_task(name="scans.execute", bind=True, acks_late=True, reject_on_worker_lost=True)
def scan_execute_task(self, scan_id: int) -> dict:
    """Run one attempt of a scan; the result is a summary for the task log."""
    run = services.scan_execute(scan_id=scan_id, worker=self.request.hostname or "")
    if run is None:
        return {"scan": scan_id, "status": None}
    return {"scan": run.pk, "status": run.status, "attempts": run.attempts}


@shared_task(name="scans.fail_stuck")
def scans_fail_stuck_task() -> int:
    """Periodic: fail scans whose worker is gone or that no worker took."""
    return services.scans_fail_stuck()


@shared_task(name="scans.schedule_production_rescans")
def scans_schedule_production_rescans_task() -> list[int]:
    """Periodic: rescan every model version serving in production."""
    return [run.pk for run in services.scans_schedule_production_rescans()]


@shared_task(name="scans.reopen_expired_acceptances")
def findings_reopen_expired_task() -> int:
    """Periodic: reopen findings whose accepted risk has expired."""
    return services.findings_reopen_expired()
