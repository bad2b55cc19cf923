"""Unsafe-artifact scanner: what would loading this model version execute?

A thin plug-in around the static analysis library `apps.scans.artifact`: it opens the stored
artifact through the storage API, runs `analyse()` with the installation's limits, maps each
library finding onto one engine finding (same severity, ATLAS technique, title, detail, location
and evidence; the library's fingerprint is the key, so a finding stays one row across rescans)
and leaves the report's summary (verdict, formats seen, what could not be read, library
version) in the scan's per-scanner results.

Nothing in the artifact is imported, unpickled or executed. A hostile file can fail its own
scan but never the worker: the library turns limits and its own errors into "not fully scanned"
findings of at least medium, and anything else a scan raises is the engine's per-scanner error.
"""

import hashlib
import os
import stat
from functools import cache
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from apps.scans.artifact import Limits, Report, analyse
from apps.scans.artifact.report import (
    ATLAS_COMPROMISED_MODEL,
    ATLAS_UNSAFE_ARTIFACT,
    SEVERITIES,
    VERDICTS,
    severity_rank,
)
from apps.scans.choices import Severity, TargetType
from apps.scans.scanners.base import FindingData, ScanContext, Scanner, ScannerError

CHUNK_BYTES = 1024 * 1024
# A stream that cannot be memory-mapped is copied to a spooled file: in memory up to this size,
# then on disk (which the library maps instead of reading it into memory).
SPOOL_MEMORY_BYTES = 32 * 1024 * 1024
# The summary keeps this many "not scanned" entries; the findings carry every one.
SUMMARY_MAX_UNREADABLE = 50
# Share of this scanner's progress spent copying a stream that cannot be mapped.
COPY_SHARE = 0.5


@cache
def library_version() -> str:
    """Identity of the analysis library: a digest of its source files.

    Its allow-list and parsers decide the verdict, so an auditor comparing two scans of the
    same bytes needs to know whether the analyser itself changed in between; a digest cannot
    be forgotten the way a hand-bumped number can.
    """
    package = Path(__file__).resolve().parents[1] / "artifact"
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:16]}"


def limits_from_settings() -> Limits:
    """The library's limits with this installation's bounds (MLGOV_ARTIFACT_SCAN_*)."""
    return Limits(
        time_limit_seconds=float(settings.MLGOV_ARTIFACT_SCAN_TIME_LIMIT_SECONDS),
        max_depth=settings.MLGOV_ARTIFACT_SCAN_MAX_NESTING,
        max_decompressed_bytes=settings.MLGOV_ARTIFACT_SCAN_MAX_DECOMPRESSED_BYTES,
        max_compression_ratio=settings.MLGOV_ARTIFACT_SCAN_MAX_RATIO,
    )


def _plain(value: Any) -> Any:
    """JSON-safe copy of library evidence: strings from a hostile file may hold NUL bytes or
    lone surrogates, which PostgreSQL's jsonb refuses; escape them instead of failing the
    write."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, bytes | bytearray):
        return _plain(bytes(value[:200]).decode("latin-1"))
    if isinstance(value, dict):
        return {_plain(str(key)): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return _plain(str(value))


def _is_mappable(stream: IO[bytes]) -> bool:
    """Whether the library can memory-map this stream (a regular, non-empty file)."""
    for candidate in (stream, getattr(stream, "file", None)):
        try:
            info = os.fstat(candidate.fileno())
        except (AttributeError, OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            return True
    return False


def _interrupted(report: Report) -> bool:
    """Whether the task's soft time limit fired inside the library.

    The library turns every exception into a "not scanned" finding naming its type (it knows
    nothing of Celery), which would swallow the signal the engine relies on to stop a scan
    over its time limit with a readable error; the scanner raises it again instead.
    """
    marker = f"({SoftTimeLimitExceeded.__name__}:"
    return any(f.kind == "not-scanned" and marker in f.detail for f in report.findings)


class ArtifactScanner(Scanner):
    name = "artifact"
    title = "Unsafe artifact"
    description = (
        "Reads the stored artifact statically (pickle, joblib, PyTorch, NumPy, Keras, ONNX, "
        "safetensors and the archives and compression around them) and reports every "
        "callable that loading it would import or run, without ever loading it. Parts it "
        "cannot read are reported as not scanned."
    )
    version = "1"
    targets = frozenset({TargetType.MODEL_VERSION})
    atlas_techniques = (ATLAS_UNSAFE_ARTIFACT, ATLAS_COMPROMISED_MODEL)

    def scan(self, context: ScanContext) -> list[FindingData]:
        version = context.target
        storage_name = version.artifact
        limits = limits_from_settings()
        context.progress(0.0)
        try:
            stream = context.open_file(storage_name)
        except OSError as exc:
            raise ScannerError(
                f"the stored artifact {storage_name} cannot be read ({type(exc).__name__}: "
                f"{exc}), so it was not scanned"
            ) from exc
        cut_at = None
        with stream:
            if _is_mappable(stream):
                report = analyse(stream, limits=limits)
            else:
                with SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
                    cut_at = self._copy(context, stream, spool, version.size)
                    report = analyse(spool, limits=limits)
        if _interrupted(report):
            raise SoftTimeLimitExceeded()
        context.progress(0.95)
        findings = [self._finding(item) for item in report.findings]
        findings.extend(self._unread_guard(report, storage_name, cut_at))
        context.summary = self._summary(report, findings, limits, cut_at)
        return findings

    @staticmethod
    def _copy(context: ScanContext, stream: IO[bytes], spool: IO[bytes], size: int) -> int | None:
        """Copy a stream the library cannot map, up to the largest artifact mlgov accepts.

        Returns the byte at which the copy was cut (the stored file is larger than any
        registered artifact can be), or None when it was copied whole.
        """
        bound = settings.MLGOV_MAX_ARTIFACT_BYTES
        copied = 0
        while chunk := stream.read(CHUNK_BYTES):
            room = bound - copied
            if len(chunk) > room:
                spool.write(chunk[:room])
                spool.seek(0)
                return bound
            spool.write(chunk)
            copied += len(chunk)
            context.progress(COPY_SHARE * min(copied / size, 1.0) if size else COPY_SHARE)
        spool.seek(0)
        return None

    @staticmethod
    def _finding(item) -> FindingData:
        """One library finding as engine finding data, field for field."""
        evidence = _plain(item.evidence)
        evidence["finding_kind"] = item.kind
        evidence["library_fingerprint"] = item.fingerprint
        return FindingData(
            severity=item.severity if item.severity in SEVERITIES else Severity.MEDIUM,
            title=_plain(item.title),
            key=item.fingerprint,
            detail=_plain(item.detail),
            atlas_technique=item.atlas_technique or ATLAS_UNSAFE_ARTIFACT,
            location=_plain(item.location),
            evidence=evidence,
        )

    @staticmethod
    def _unread_guard(report: Report, storage_name: str, cut_at: int | None) -> list[FindingData]:
        """Findings that make sure nothing unread passes as clean.

        The library already reports every part it could not read with a finding of at least
        medium; this is the scanner's own guarantee of the same, whatever the library returns,
        plus the one case only the scanner sees (a stream cut at the size bound).
        """
        extra = []
        if cut_at is not None:
            extra.append(FindingData(
                severity=Severity.MEDIUM,
                key="artifact:not-scanned:size-bound",
                title=f"Not fully scanned: the stored artifact beyond byte {cut_at}",
                detail=f"The stored file {storage_name} is larger than the largest artifact "
                f"mlgov accepts (MLGOV_MAX_ARTIFACT_BYTES = {cut_at}); only its first "
                f"{cut_at} bytes were scanned. Nothing after them can be vouched for.",
                atlas_technique=ATLAS_UNSAFE_ARTIFACT,
                location="(file)",
                evidence={"scanned_bytes": cut_at},
            ))
        if report.unreadable and not report.at_least(Severity.MEDIUM):
            extra.append(FindingData(
                severity=Severity.MEDIUM,
                key="artifact:not-scanned:unreported",
                title="Not fully scanned: parts of the artifact could not be read",
                detail="These parts were not scanned, so nothing in them can be vouched for: "
                + "; ".join(_plain(report.unreadable[:SUMMARY_MAX_UNREADABLE])),
                atlas_technique=ATLAS_UNSAFE_ARTIFACT,
                location="(file)",
                evidence={"unreadable": _plain(report.unreadable[:SUMMARY_MAX_UNREADABLE])},
            ))
        return extra

    @staticmethod
    def _summary(
        report: Report, findings: list[FindingData], limits: Limits, cut_at: int | None
    ) -> dict[str, Any]:
        """What the scan keeps about this run beside the findings (shown on the version page
        and in GET /api/v1/scans/{id}/ under results.artifact.summary).

        The verdict is the library's rule (malicious, unsafe, review, clean by worst
        severity) applied to the findings actually reported, the scanner's own included.
        """
        unreadable = list(report.unreadable)
        if cut_at is not None:
            unreadable.append(f"(file): bytes beyond {cut_at} (larger than any artifact)")
        worst = max((f.severity for f in findings), key=severity_rank, default=Severity.INFO)
        return _plain({
            "verdict": VERDICTS.get(worst, "clean"),
            "max_severity": worst,
            "formats_seen": report.formats_seen,
            "unreadable": unreadable[:SUMMARY_MAX_UNREADABLE],
            "unreadable_count": len(unreadable),
            "size_bytes": report.size_bytes,
            "duration_seconds": report.duration_seconds,
            "library_version": library_version(),
            "limits": {
                "time_limit_seconds": limits.time_limit_seconds,
                "max_depth": limits.max_depth,
                "max_decompressed_bytes": limits.max_decompressed_bytes,
                "max_compression_ratio": limits.max_compression_ratio,
            },
        })
