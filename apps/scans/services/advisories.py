"""The local advisory database: OSV records imported for the supply-chain scanner."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from apps.core.exceptions import ApplicationError
from apps.scans import osv
from apps.scans.models import Advisory, AdvisoryPackage


@dataclass
class AdvisoryImportReport:
    created: int = 0
    updated: int = 0
    withdrawn: int = 0
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"{self.created} created, {self.updated} updated, {self.withdrawn} withdrawn, "
                f"{len(self.skipped)} skipped")
        return text + (f" ({', '.join(self.skipped[:10])})" if self.skipped else "")


@transaction.atomic
def advisories_import(*, records: Iterable[tuple[str, Any]]) -> AdvisoryImportReport:
    """Load OSV records, given as (where it came from, record) pairs, into the local advisory
    database: insert new ones, replace changed ones, remove withdrawn ones.

    All or nothing: an invalid record raises ApplicationError naming its source, and nothing of
    the batch is kept. Records that affect no supported ecosystem (PyPI) are skipped.
    """
    report = AdvisoryImportReport()
    for source, record in records:
        try:
            parsed = osv.parse_record(record)
        except osv.InvalidRecord as exc:
            raise ApplicationError(f"{source}: {exc}.", field="records") from None
        if parsed.withdrawn:
            deleted, _ = Advisory.objects.filter(osv_id=parsed.osv_id).delete()
            report.withdrawn += 1 if deleted else 0
            continue
        packages = [p for p in parsed.packages if p.ecosystem in osv.SUPPORTED_ECOSYSTEMS]
        if not packages:
            report.skipped.append(parsed.osv_id)
            continue
        advisory, created = Advisory.objects.update_or_create(
            osv_id=parsed.osv_id,
            defaults={
                "aliases": parsed.aliases,
                "summary": parsed.summary,
                "details": parsed.details,
                "severity": parsed.severity,
                "published_at": parsed.published_at,
                "modified_at": parsed.modified_at,
                "references": parsed.references,
                "record": record,
            },
        )
        if not created:
            advisory.packages.all().delete()
        AdvisoryPackage.objects.bulk_create(
            AdvisoryPackage(advisory=advisory, ecosystem=p.ecosystem, name=p.name,
                            ranges=p.ranges, versions=p.versions)
            for p in packages
        )
        if created:
            report.created += 1
        else:
            report.updated += 1
    return report
