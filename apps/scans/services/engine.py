"""The scan engine: what the Celery task runs, one *attempt* per delivery of the task.

A worker killed mid-scan makes the broker deliver the task again. Each delivery claims the run
for a new attempt, counted in the database (after MAX_ATTEMPTS the run is failed instead), first
undoes what an unfinished earlier attempt wrote, then writes findings as it goes, upserted by
fingerprint so a finding is one row across attempts and rescans. Every write of an attempt is
fenced by its number: once the run is cancelled, failed or taken over by a newer attempt, the
old one can change nothing. Findings a rescan no longer reports are marked fixed only when the
whole run succeeded.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from apps.scans import scanners as registry
from apps.scans.choices import FINISHED_STATUSES, FindingStatus, ScanStatus
from apps.scans.constants import ATLAS_TECHNIQUE_RE, MAX_ATTEMPTS
from apps.scans.models import Finding, FindingObservation, ScanRun
from apps.scans.scanners.base import FindingData, ScanAborted, ScanContext, ScannerError

logger = logging.getLogger(__name__)

# A running attempt older than the hard time limit (or the broker's visibility timeout, after
# which the broker would have redelivered it) plus this margin has no worker left.
STUCK_GRACE_SECONDS = 60


def _known_techniques() -> frozenset[str] | None:
    """ATLAS technique ids of the installed catalogue, or None where none is installed."""
    try:
        from apps.threats.models import Technique
    except ImportError:
        return None
    try:
        with transaction.atomic():
            ids = frozenset(Technique.objects.values_list("atlas_id", flat=True))
    except DatabaseError:
        return None
    return ids or None


def atlas_technique_is_valid(atlas_id: str, known: frozenset[str] | None = None) -> bool:
    """Whether `atlas_id` is a well-formed ATLAS technique id present in the catalogue (any
    well-formed id is accepted where no catalogue is installed)."""
    if not isinstance(atlas_id, str) or not ATLAS_TECHNIQUE_RE.match(atlas_id):
        return False
    return known is None or atlas_id in known


def _open_stored(name: str):
    """Open a stored file for reading through the storage API; missing is FileNotFoundError."""
    if not name or not default_storage.exists(name):
        raise FileNotFoundError(f"{name or 'the file'} is not in the storage")
    return default_storage.open(name, "rb")


def _start_attempt(scan_id: int, worker: str) -> ScanRun | None:
    """Claim the scan for a new attempt; None when there is nothing (more) to run."""
    with transaction.atomic():
        run = ScanRun.objects.select_for_update().filter(pk=scan_id).first()
        if run is None:
            logger.warning("Scan %s does not exist; nothing to run.", scan_id)
            return None
        if run.status in FINISHED_STATUSES:
            # Cancelled before it started, or a duplicate delivery of a finished scan.
            return None
        now = timezone.now()
        if run.attempts >= MAX_ATTEMPTS:
            run.status = ScanStatus.FAILED
            run.finished_at = now
            run.error = (
                f"The worker running this scan was lost {run.attempts} times (killed, out of "
                f"memory or restarted; last on {run.worker or 'an unknown host'}), so it was "
                f"not tried again. Findings written before were kept."
            )
            run.save(update_fields=["status", "finished_at", "error"])
            logger.error("Scan %s failed: worker lost %s times.", run.pk, run.attempts)
            return None
        run.attempts += 1
        run.status = ScanStatus.RUNNING
        run.worker = worker[:255]
        run.started_at = run.started_at or now
        run.attempt_started_at = now
        run.heartbeat_at = now
        run.progress = 0
        run.error = ""
        run.results = {}
        run.findings_count = 0
        run.save()
        if run.attempts > 1:
            _discard_partial_attempt(run)
    return run


def _discard_partial_attempt(run: ScanRun) -> None:
    """Undo what an unfinished attempt of this run wrote, so the new attempt starts clean.

    Findings it created are removed (unless someone already triaged them); findings it saw
    again point back at the scan that saw them before.
    """
    FindingObservation.objects.filter(scan=run).delete()
    Finding.objects.filter(first_scan=run, status=FindingStatus.OPEN, triaged_at=None).delete()
    previous = (
        FindingObservation.objects.filter(finding=OuterRef("pk"))
        .order_by("-observed_at", "-id")
        .values("scan")[:1]
    )
    Finding.objects.filter(scan=run).exclude(first_scan=run).update(scan=Subquery(previous))


@dataclass
class _Attempt:
    """One attempt of a scan run: reports progress and persists findings, fenced by number."""

    run: ScanRun
    known_techniques: frozenset[str] | None
    index: int = 0
    last_progress: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.run.attempts

    def touch(self, **fields) -> None:
        """Heartbeat (and any field updates) of this attempt; ScanAborted if it lost the scan."""
        updated = ScanRun.objects.filter(
            pk=self.run.pk, status=ScanStatus.RUNNING, attempts=self.number
        ).update(heartbeat_at=timezone.now(), **fields)
        if not updated:
            raise ScanAborted(f"scan {self.run.pk} attempt {self.number} no longer owns the run")

    def progress(self, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        total = max(len(self.run.scanners), 1)
        value = min(max(int((self.index + fraction) / total * 100), 1), 99)
        if value > self.last_progress:
            self.touch(progress=value)
            self.last_progress = value

    def emit(self, scanner: str, data: FindingData) -> None:
        if not isinstance(data, FindingData):
            raise TypeError(f"{scanner} returned {type(data).__name__}, not FindingData")
        self.touch()
        evidence = dict(data.evidence)
        technique = data.atlas_technique
        if technique is not None and not atlas_technique_is_valid(
            technique, self.known_techniques
        ):
            logger.warning("Scanner %s reported unknown ATLAS id %r", scanner, technique)
            evidence["unrecognised_atlas_technique"] = technique
            technique = None
        if _finding_upsert(self.run, scanner, data, technique, evidence):
            self.counts[scanner] = self.counts.get(scanner, 0) + 1


def _finding_upsert(
    run: ScanRun, scanner: str, data: FindingData, technique: str | None, evidence: dict
) -> bool:
    """Record that `run` reported this finding; True if the run had not reported it before."""
    now = timezone.now()
    key = {**run.target_filter, "scanner": scanner, "fingerprint": data.fingerprint}
    values = {
        "severity": data.severity,
        "atlas_technique": technique,
        "title": data.title[:300],
        "detail": data.detail,
        "location": data.location[:500],
        "evidence": evidence,
        "last_seen_at": now,
        "scan": run,
        "team_id": run.team_id,
    }
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(**key).first()
        is_new = False
        if finding is None:
            try:
                with transaction.atomic():
                    finding = Finding.objects.create(**key, **values, first_scan=run)
                    is_new = True
            except IntegrityError:
                # Another scan of the same target created it a moment ago.
                finding = Finding.objects.select_for_update().get(**key)
        if not is_new:
            if finding.status == FindingStatus.FIXED:
                # Reported again after it was fixed: a regression, open again.
                finding.status = FindingStatus.OPEN
                finding.fixed_at = None
            for name, value in values.items():
                setattr(finding, name, value)
            finding.save()
        _, created = FindingObservation.objects.get_or_create(
            scan=run, finding=finding, defaults={"severity": data.severity}
        )
        if created:
            ScanRun.objects.filter(pk=run.pk).update(findings_count=F("findings_count") + 1)
    return created


def _finish(run: ScanRun, attempt: int, *, status: str, error: str = "", **fields) -> bool:
    """Close the attempt if it still owns the run; False if it was cancelled or superseded."""
    return bool(
        ScanRun.objects.filter(pk=run.pk, status=ScanStatus.RUNNING, attempts=attempt).update(
            status=status, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now(),
            **fields,
        )
    )


def _reconcile_fixed(run: ScanRun, scanners: list[str]) -> int:
    """Mark fixed the findings of these scanners on this target that the run did not report."""
    now = timezone.now()
    return (
        Finding.objects.filter(**run.target_filter, scanner__in=scanners)
        .exclude(status=FindingStatus.FIXED)
        .exclude(observations__scan=run)
        .update(status=FindingStatus.FIXED, fixed_at=now)
    )


def _run_scanner(attempt: _Attempt, name: str, target) -> tuple[dict, str | None]:
    """Run one scanner; (its result entry, an error message or None)."""
    scanner = registry.get_scanner(name)
    if scanner is None:
        message = f"{name}: this installation has no such scanner"
        return {"status": "failed", "error": message}, message
    run = attempt.run
    context = ScanContext(
        target=target,
        target_type=run.target_type,
        params=run.params or {},
        open_file=_open_stored,
        progress=attempt.progress,
        emit=partial(attempt.emit, name),
        run_id=run.pk,
        attempt=attempt.number,
    )
    try:
        for data in scanner.scan(context) or []:
            attempt.emit(name, data)
    except (ScanAborted, SoftTimeLimitExceeded):
        raise
    except ScannerError as exc:
        message = f"{scanner.title}: {exc}"
        return {"status": "failed", "version": scanner.version, "error": str(exc)}, message
    except Exception as exc:  # noqa: BLE001 - a broken plug-in fails its scan, not the worker
        logger.exception("Scanner %s failed on scan %s", name, run.pk)
        message = f"{scanner.title} stopped with an internal error ({type(exc).__name__}: {exc})"
        return {"status": "failed", "version": scanner.version, "error": message}, message
    entry = {"status": "succeeded", "version": scanner.version,
             "findings": attempt.counts.get(name, 0)}
    if context.summary:
        entry["summary"] = context.summary
    return entry, None


def scan_execute(*, scan_id: int, worker: str = "") -> ScanRun | None:
    """Run (one attempt of) a scan: the body of the Celery task.

    Marks the scan running and records the attempt and the worker, runs each scanner with
    progress reports, writes findings idempotently, and finishes the scan: succeeded (and
    findings no longer reported marked fixed) only if every scanner completed, failed with a
    readable error otherwise. Returns the scan as it is afterwards (None if it does not exist).
    """
    run = _start_attempt(scan_id, worker)
    if run is None:
        return ScanRun.objects.filter(pk=scan_id).first()
    attempt = _Attempt(run=run, known_techniques=_known_techniques())
    number = run.attempts
    try:
        target = type(run).objects.select_related(
            "model_version", "model_version__model", "dataset_version",
            "dataset_version__dataset", "deployment", "deployment__model_version",
        ).get(pk=run.pk).target
        results: dict[str, dict] = {}
        errors: list[str] = []
        for index, name in enumerate(run.scanners):
            attempt.index = index
            results[name], error = _run_scanner(attempt, name, target)
            if error:
                errors.append(error)
            attempt.progress(1.0)  # this scanner's share is done, whatever it reported
            attempt.touch(results=results)
        if errors:
            _finish(run, number, status=ScanStatus.FAILED, error="; ".join(errors),
                    results=results)
        else:
            with transaction.atomic():
                if _finish(run, number, status=ScanStatus.SUCCEEDED, progress=100,
                           results=results):
                    _reconcile_fixed(run, list(results))
    except ScanAborted:
        logger.info("Scan %s attempt %s stopped: cancelled or superseded.", run.pk, number)
    except SoftTimeLimitExceeded:
        _finish(
            run, number, status=ScanStatus.FAILED,
            error=f"The scan took longer than the time limit "
            f"({settings.CELERY_TASK_SOFT_TIME_LIMIT} s) and was stopped; findings written "
            f"so far were kept.",
        )
    except Exception as exc:
        logger.exception("Scan %s attempt %s crashed", run.pk, number)
        _finish(run, number, status=ScanStatus.FAILED,
                error=f"The scan engine stopped with an internal error ({type(exc).__name__}).")
        raise
    run.refresh_from_db()
    return run


def _stuck_after_seconds() -> int:
    visibility = (getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}).get(
        "visibility_timeout", 0
    )
    return max(settings.CELERY_TASK_TIME_LIMIT, int(visibility or 0)) + STUCK_GRACE_SECONDS


def scans_fail_stuck(*, now: datetime | None = None) -> int:
    """Mark failed the scans no worker is running any more (periodic). Returns how many.

    - running, with the current attempt started longer ago than the hard time limit (and the
      broker's visibility timeout, after which the broker would have redelivered it): its
      worker is gone and no redelivery came;
    - queued for longer than MLGOV_SCAN_QUEUE_TIMEOUT_HOURS: no worker took it.
    """
    now = now or timezone.now()
    stuck_after = _stuck_after_seconds()
    running = ScanRun.objects.filter(
        status=ScanStatus.RUNNING, attempt_started_at__lt=now - timedelta(seconds=stuck_after)
    ).update(
        status=ScanStatus.FAILED,
        finished_at=now,
        error=f"The scan stopped responding: its attempt ran past the time limit "
        f"({stuck_after} s) without finishing, so its worker was lost. Start it again.",
    )
    queue_hours = settings.MLGOV_SCAN_QUEUE_TIMEOUT_HOURS
    queued = ScanRun.objects.filter(
        status=ScanStatus.QUEUED, created_at__lt=now - timedelta(hours=queue_hours)
    ).update(
        status=ScanStatus.FAILED,
        finished_at=now,
        error=f"No worker picked this scan up within {queue_hours} hours. Check that a worker "
        f"is running, then start it again.",
    )
    if running or queued:
        logger.warning("Marked %s stuck and %s never-started scans failed.", running, queued)
    return running + queued
