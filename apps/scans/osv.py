"""Read OSV vulnerability records (https://ossf.github.io/osv-schema/) and decide whether a
package version is affected. Pure functions: the import service stores what `parse_record`
returns, the supply-chain scanner calls `is_affected`.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime
from packaging.version import InvalidVersion, Version

from apps.scans.choices import Severity
from apps.scans.dependencies import normalise_name

SUPPORTED_ECOSYSTEMS = frozenset({"PyPI"})
# GitHub advisories say MODERATE where CONTRACT.md says medium.
_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
}


class InvalidRecord(ValueError):
    """An OSV record this importer cannot use; the message says why."""


@dataclass(frozen=True)
class AffectedPackage:
    ecosystem: str
    name: str
    ranges: list
    versions: list


@dataclass(frozen=True)
class ParsedRecord:
    osv_id: str
    aliases: list[str]
    summary: str
    details: str
    severity: str
    severity_known: bool
    published_at: datetime | None
    modified_at: datetime | None
    withdrawn: bool
    references: list[str]
    packages: list[AffectedPackage]


def _severity(record: dict) -> tuple[str, bool]:
    """The record's severity in our words; (HIGH, False) when the record does not say."""
    candidates = [(record.get("database_specific") or {}).get("severity")]
    for affected in record.get("affected") or []:
        if isinstance(affected, dict):
            candidates.append((affected.get("ecosystem_specific") or {}).get("severity"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.lower() in _SEVERITY_WORDS:
            return _SEVERITY_WORDS[candidate.lower()], True
    return Severity.HIGH, False


def _datetime(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def parse_record(record) -> ParsedRecord:
    """Validate one OSV record and extract what the scanner needs."""
    if not isinstance(record, dict):
        raise InvalidRecord("an OSV record must be a JSON object")
    osv_id = record.get("id")
    if not isinstance(osv_id, str) or not osv_id.strip() or len(osv_id) > 100:
        raise InvalidRecord("the record has no valid 'id'")
    affected = record.get("affected", [])
    if not isinstance(affected, list):
        raise InvalidRecord(f"{osv_id}: 'affected' must be a list")
    packages = []
    for entry in affected:
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise InvalidRecord(f"{osv_id}: every 'affected' entry needs a package name")
        ranges = entry.get("ranges") or []
        versions = entry.get("versions") or []
        if not isinstance(ranges, list) or not isinstance(versions, list):
            raise InvalidRecord(f"{osv_id}: 'ranges' and 'versions' must be lists")
        for version_range in ranges:
            if not isinstance(version_range, dict) or not isinstance(
                version_range.get("events"), list
            ):
                raise InvalidRecord(f"{osv_id}: every range needs a list of events")
        ecosystem = str(package.get("ecosystem", ""))
        name = package["name"]
        packages.append(
            AffectedPackage(
                ecosystem=ecosystem,
                name=normalise_name(name) if ecosystem == "PyPI" else name,
                ranges=ranges,
                versions=[str(v) for v in versions],
            )
        )
    severity, known = _severity(record)
    references = [
        ref["url"] for ref in record.get("references") or []
        if isinstance(ref, dict) and isinstance(ref.get("url"), str)
    ]
    aliases = [a for a in record.get("aliases") or [] if isinstance(a, str)]
    return ParsedRecord(
        osv_id=osv_id.strip(),
        aliases=aliases,
        summary=str(record.get("summary") or "")[:500],
        details=str(record.get("details") or ""),
        severity=severity,
        severity_known=known,
        published_at=_datetime(record.get("published")),
        modified_at=_datetime(record.get("modified")),
        withdrawn=bool(record.get("withdrawn")),
        references=references,
        packages=packages,
    )


def _version(value: str) -> Version | None:
    try:
        return Version(value)
    except (InvalidVersion, TypeError):
        return None


def _in_range(version: Version, events: list) -> bool:
    """The OSV evaluation of one ECOSYSTEM range: walk the events in version order."""
    ordered = []
    for event in events:
        if not isinstance(event, dict) or len(event) != 1:
            continue
        (kind, value), = event.items()
        parsed = Version("0") if value == "0" else _version(str(value))
        if parsed is not None and kind in ("introduced", "fixed", "last_affected"):
            ordered.append((parsed, kind))
    ordered.sort(key=lambda item: item[0])
    affected = False
    for boundary, kind in ordered:
        if kind == "introduced" and version >= boundary:
            affected = True
        elif kind == "fixed" and version >= boundary:
            affected = False
        elif kind == "last_affected" and version > boundary:
            affected = False
    return affected


def is_affected(version: str, *, ranges: list, versions: list) -> bool:
    """Whether `version` of a package falls in an advisory's affected versions or ranges.

    Only ECOSYSTEM ranges (and explicit versions) are evaluated: GIT ranges name commits, which
    a pinned package version cannot be compared with.
    """
    if version in versions:
        return True
    parsed = _version(version)
    if parsed is None:
        return False
    if any(_version(v) == parsed for v in versions):
        return True
    return any(
        _in_range(parsed, r.get("events") or [])
        for r in ranges
        if isinstance(r, dict) and r.get("type") in ("ECOSYSTEM", "SEMVER")
    )


def fixed_versions(ranges: list) -> list[str]:
    """The versions an advisory names as fixing it, for the finding's advice."""
    found = []
    for version_range in ranges:
        for event in version_range.get("events") or []:
            if isinstance(event, dict) and "fixed" in event and event["fixed"] not in found:
                found.append(str(event["fixed"]))
    return found
