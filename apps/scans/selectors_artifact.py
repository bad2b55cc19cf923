"""Reads of the unsafe-artifact scanner's outcome: the verdict shown on a model version's page.

The scanner leaves its summary (verdict, formats seen, what was not read) in the scan's
`results["artifact"]`; this reads the newest finished scan that holds one, in one query.
"""

from dataclasses import dataclass, field
from datetime import datetime

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.scans.choices import FINISHED_STATUSES
from apps.scans.models import ScanRun
from apps.scans.scanners.artifact import ArtifactScanner

SCANNER = ArtifactScanner.name

# Badge severity of each verdict (the library's names), for pages that colour it.
VERDICT_SEVERITY = {"malicious": "critical", "unsafe": "high", "review": "medium", "clean": "info"}


@dataclass(frozen=True)
class ArtifactVerdict:
    """The artifact scanner's outcome in one finished scan of a model version.

    `verdict` is the library's (malicious, unsafe, review, clean) or "failed" when the scanner
    itself did not finish (then `error` says why and there is no summary).
    """

    scan: ScanRun
    verdict: str
    findings: int
    finished_at: datetime | None
    formats_seen: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    library_version: str = ""
    error: str = ""

    @property
    def severity(self) -> str:
        return VERDICT_SEVERITY.get(self.verdict, "medium")


def artifact_verdict_latest(*, user: User, model_version_id: int) -> ArtifactVerdict | None:
    """The newest finished scan of this model version in which the artifact scanner ran, as
    the user may see it; None when there is none (never scanned, or still running).

    One query whatever the number of scans: filtered on the JSON key in SQL.
    """
    run = (
        perms.scope(ScanRun.objects.all(), user, perms.VIEW)
        .filter(
            model_version_id=model_version_id,
            status__in=FINISHED_STATUSES,
            results__has_key=SCANNER,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is None:
        return None
    entry = run.results.get(SCANNER) or {}
    summary = entry.get("summary") or {}
    if entry.get("status") != "succeeded" or not summary:
        return ArtifactVerdict(
            scan=run, verdict="failed", findings=int(entry.get("findings") or 0),
            finished_at=run.finished_at, error=str(entry.get("error") or run.error),
        )
    return ArtifactVerdict(
        scan=run,
        verdict=str(summary.get("verdict", "review")),
        findings=int(entry.get("findings") or 0),
        finished_at=run.finished_at,
        formats_seen=list(summary.get("formats_seen") or []),
        unreadable_count=int(summary.get("unreadable_count") or 0),
        library_version=str(summary.get("library_version") or ""),
    )
