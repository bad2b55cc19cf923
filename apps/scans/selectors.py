"""Reads of scans and findings, scoped to what the user may see and joined for their pages.

Every list returns a queryset whose cost in queries does not grow with its length.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.scans.choices import (
    SEVERITY_RANK,
    FindingStatus,
    ScanStatus,
    Severity,
)
from apps.scans.models import Advisory, AdvisoryPackage, Finding, FindingObservation, ScanRun

_TARGET_JOINS = (
    "model_version", "model_version__model",
    "dataset_version", "dataset_version__dataset",
    "deployment", "deployment__model_version", "deployment__model_version__model",
)

SEVERITY_ORDER = Case(
    *(When(severity=value, then=Value(rank)) for value, rank in SEVERITY_RANK.items()),
    default=Value(-1),
    output_field=IntegerField(),
)


def scan_list(*, user: User, action: str = perms.VIEW) -> QuerySet[ScanRun]:
    """Scan runs the user may see (or act on), with their target and requester."""
    return perms.scope(ScanRun.objects.all(), user, action).select_related(
        "team", "created_by", *_TARGET_JOINS
    )


def scan_get(*, user: User, pk, action: str = perms.VIEW) -> ScanRun:
    return scan_list(user=user, action=action).get(pk=pk)


def finding_list(*, user: User, action: str = perms.VIEW) -> QuerySet[Finding]:
    """Findings the user may see, most severe first, with their target and triager."""
    return (
        perms.scope(Finding.objects.all(), user, action)
        .select_related("team", "triaged_by", *_TARGET_JOINS)
        .annotate(severity_rank=SEVERITY_ORDER)
        .order_by("-severity_rank", "-last_seen_at", "-id")
    )


def finding_get(*, user: User, pk, action: str = perms.VIEW) -> Finding:
    return finding_list(user=user, action=action).get(pk=pk)


def findings_of_scan(*, user: User, scan: ScanRun) -> QuerySet[Finding]:
    """The findings a scan run reported (whatever their status is now)."""
    return finding_list(user=user).filter(observations__scan=scan)


def finding_observations(*, finding: Finding) -> QuerySet[FindingObservation]:
    """The scans that reported a finding, newest first: its history."""
    return finding.observations.select_related("scan").order_by("-observed_at", "-id")


@dataclass
class LatestScan:
    """The newest run of one scanner over an asset."""

    scanner: str
    title: str
    scan: ScanRun | None


def latest_scans_for(*, user: User, target_type: str, target_id: int,
                     scanner_titles: dict[str, str], depth: int = 50) -> list[LatestScan]:
    """For each scanner that applies to an asset, its newest run over that asset (or None).

    Reads the asset's most recent runs in one query and picks per scanner in Python: a run
    lists its scanners in a JSON list, which SQLite cannot search.
    """
    runs = list(
        scan_list(user=user)
        .filter(**{f"{target_type}_id": target_id})
        .order_by("-created_at", "-id")[:depth]
    )
    latest = []
    for name, title in scanner_titles.items():
        run = next((r for r in runs if name in (r.scanners or [])), None)
        latest.append(LatestScan(scanner=name, title=title, scan=run))
    return latest


def open_finding_counts(*, user: User, target_type: str, target_id: int) -> dict[str, int]:
    """Open findings of an asset by severity (every severity present, zero when none)."""
    rows = (
        perms.scope(Finding.objects.all(), user)
        .filter(**{f"{target_type}_id": target_id}, status=FindingStatus.OPEN)
        .values("severity")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {value: 0 for value in reversed(Severity.values)}
    counts.update({row["severity"]: row["n"] for row in rows})
    return counts


def active_scan_exists(*, target_type: str, target_id: int) -> bool:
    return ScanRun.objects.filter(
        Q(status=ScanStatus.QUEUED) | Q(status=ScanStatus.RUNNING),
        **{f"{target_type}_id": target_id},
    ).exists()


# --- Advisories (reference data, read by the supply-chain scanner) --------------------------


def advisories_exist() -> bool:
    return Advisory.objects.exists()


def advisory_packages_for(*, ecosystem: str, names: Iterable[str]) -> QuerySet[AdvisoryPackage]:
    """Affected-package entries of the advisories naming any of these (normalised) packages."""
    return AdvisoryPackage.objects.filter(
        ecosystem=ecosystem, name__in=list(names)
    ).select_related("advisory")
