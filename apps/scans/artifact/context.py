"""Per-scan state shared by every walker: limits, budget and the findings collected so far."""

from __future__ import annotations

from collections import Counter

from .limits import Budget, Limits
from .report import (
    ATLAS_COMPROMISED_MODEL,
    ATLAS_UNSAFE_ARTIFACT,
    Finding,
    Where,
    fingerprint,
    severity_rank,
)

__all__ = ["ScanContext", "printable"]

MAX_ALSO_AT = 10


def printable(text: str, limit: int = 200) -> str:
    """Show untrusted text (member names, global names) safely: escaped and bounded.

    Archive member names are data, never paths: control characters, separators that could
    fool a log reader, and overlong names are escaped or cut here before display.
    """
    shown = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


class ScanContext:
    """Collects findings (merged by fingerprint), formats seen and unreadable parts."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.budget = Budget(limits)
        self._findings: dict[str, Finding] = {}
        self.formats: list[str] = []
        self.unreadable: list[str] = []
        self.stats: Counter = Counter()
        self._dropped = 0

    # ------------------------------------------------------------------ recording

    def saw(self, fmt: str) -> None:
        if fmt not in self.formats:
            self.formats.append(fmt)

    def add(
        self,
        *,
        severity: str,
        kind: str,
        title: str,
        detail: str,
        where: Where,
        subject: str,
        evidence: dict | None = None,
        technique: str | None = None,
    ) -> None:
        """Record a finding; the same fingerprint seen again only counts an occurrence."""
        key = fingerprint(where.key, kind, subject)
        evidence = dict(evidence or {})
        existing = self._findings.get(key)
        if existing is not None:
            merged = existing.evidence
            merged["occurrences"] = merged.get("occurrences", 1) + 1
            also = merged.setdefault("also_at", [])
            if len(also) < MAX_ALSO_AT and str(where) != existing.location:
                also.append(str(where))
            return
        if len(self._findings) >= self.limits.max_findings:
            self._dropped += 1
            return
        if technique is None:
            technique = ATLAS_COMPROMISED_MODEL if severity == "critical" else ATLAS_UNSAFE_ARTIFACT
        self._findings[key] = Finding(
            severity=severity,
            atlas_technique=technique,
            title=title,
            detail=detail,
            location=str(where),
            kind=kind,
            evidence=evidence,
            fingerprint=key,
        )

    def not_scanned(
        self,
        where: Where,
        what: str,
        why: str,
        *,
        subject: str | None = None,
        severity: str = "medium",
        evidence: dict | None = None,
        kind: str = "not-scanned",
    ) -> None:
        """Record that part of the artifact was not (fully) scanned, and why.

        Anything not parsed to the end is at least medium: we cannot vouch for bytes we did
        not read. ``what`` and ``why`` are shown; ``subject`` (default ``why``) must not
        contain offsets because it feeds the fingerprint.
        """
        if severity_rank(severity) < severity_rank("medium") and kind == "not-scanned":
            severity = "medium"
        self.unreadable.append(f"{where}: {what} ({why})")
        self.add(
            severity=severity,
            kind=kind,
            title=f"Not fully scanned: {what}",
            detail=f"{what} was not scanned to the end: {why}. Nothing in the unscanned part "
            "can be vouched for.",
            where=where,
            subject=subject or kind,
            evidence=evidence,
            technique=ATLAS_UNSAFE_ARTIFACT,
        )

    # ------------------------------------------------------------------ results

    def findings(self) -> list[Finding]:
        found = sorted(self._findings.values(), key=lambda f: -severity_rank(f.severity))
        if self._dropped:
            found.append(
                Finding(
                    severity="medium",
                    atlas_technique=ATLAS_UNSAFE_ARTIFACT,
                    title="Too many findings",
                    detail=f"{self._dropped} further findings were not recorded "
                    f"(limit {self.limits.max_findings}).",
                    location="(file)",
                    kind="findings-truncated",
                    evidence={"dropped": self._dropped},
                    fingerprint=fingerprint("", "findings-truncated", ""),
                )
            )
        return found
