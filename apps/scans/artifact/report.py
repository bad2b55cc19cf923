"""What a scan returns: findings with stable fingerprints, gathered into a report.

Pure data (dataclasses), no Django: the scanner plug-in maps these onto its own models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = [
    "ATLAS_COMPROMISED_MODEL",
    "ATLAS_UNSAFE_ARTIFACT",
    "SCANNER",
    "SEVERITIES",
    "Finding",
    "Report",
    "Where",
    "fingerprint",
    "severity_rank",
]

SCANNER = "artifact"

SEVERITIES = ("info", "low", "medium", "high", "critical")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

ATLAS_UNSAFE_ARTIFACT = "AML.T0011.000"
"""User execution: unsafe AI artifacts (anything that runs code or cannot be verified)."""

ATLAS_COMPROMISED_MODEL = "AML.T0010.003"
"""AI supply chain compromise: model (a payload that does something harmful on load)."""

VERDICTS = {"critical": "malicious", "high": "unsafe", "medium": "review"}
"""Verdict by worst severity; ``info``/``low`` only means ``clean``."""


def severity_rank(severity: str) -> int:
    """Order severities (info=0 ... critical=4); unknown names rank as medium."""
    return _RANK.get(severity, _RANK["medium"])


def fingerprint(location_kind: str, kind: str, subject: str) -> str:
    """Stable identity of a finding across re-scans of the same (or a re-saved) artifact.

    Built from the scanner, the *kind* of location (container chain and member names, never
    byte offsets or stream numbers, which shift when a file is re-saved), the finding kind
    and its subject (for example the global ``os.system``).
    """
    raw = "\x1f".join((SCANNER, location_kind, kind, subject))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Where:
    """A location inside the artifact: a chain of containers, members and streams.

    ``parts`` holds (shown text, stable key) pairs: the text may carry offsets for humans,
    the key must not (it feeds the fingerprint).
    """

    parts: tuple[tuple[str, str], ...] = ()

    def child(self, text: str, key: str | None = None) -> Where:
        return Where((*self.parts, (text, text if key is None else key)))

    def __str__(self) -> str:
        return " > ".join(text for text, _ in self.parts) or "(file)"

    @property
    def key(self) -> str:
        return " > ".join(key for _, key in self.parts)

    @property
    def depth(self) -> int:
        return len(self.parts)


@dataclass(frozen=True)
class Finding:
    """One observation about the artifact, with enough evidence to act on it."""

    severity: str
    atlas_technique: str
    title: str
    detail: str
    location: str
    kind: str
    evidence: dict = field(default_factory=dict)
    fingerprint: str = ""
    scanner: str = SCANNER

    def to_dict(self) -> dict:
        return {
            "scanner": self.scanner,
            "kind": self.kind,
            "severity": self.severity,
            "atlas_technique": self.atlas_technique,
            "title": self.title,
            "detail": self.detail,
            "location": self.location,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
        }


@dataclass
class Report:
    """The outcome of ``analyse``: findings plus what was and was not read."""

    findings: list[Finding] = field(default_factory=list)
    formats_seen: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    size_bytes: int = 0
    duration_seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    @property
    def max_severity(self) -> str:
        if not self.findings:
            return "info"
        return max((f.severity for f in self.findings), key=severity_rank)

    @property
    def verdict(self) -> str:
        """``malicious`` (critical), ``unsafe`` (high), ``review`` (medium) or ``clean``."""
        return VERDICTS.get(self.max_severity, "clean")

    def at_least(self, severity: str) -> list[Finding]:
        """Findings of ``severity`` or worse."""
        floor = severity_rank(severity)
        return [f for f in self.findings if severity_rank(f.severity) >= floor]

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "max_severity": self.max_severity,
            "findings": [f.to_dict() for f in self.findings],
            "formats_seen": list(self.formats_seen),
            "unreadable": list(self.unreadable),
            "size_bytes": self.size_bytes,
            "duration_seconds": self.duration_seconds,
            "stats": dict(self.stats),
        }
