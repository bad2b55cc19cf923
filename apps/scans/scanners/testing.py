"""Scanners for fault-injection tests only; registered when settings.MLGOV_TEST_SCANNERS is on.

`SlowScanner` writes a finding, reports progress and then holds the worker for a while, so a
test can kill the worker at a known point: after progress is above 0 and a finding is stored.
"""

import os
import time

from apps.scans.choices import Severity, TargetType
from apps.scans.scanners.base import FindingData, ScanContext, Scanner

DEFAULT_HOLD_SECONDS = 5.0


class SlowScanner(Scanner):
    """Emits one finding (carrying its process id), reports 50 %, sleeps, then reports another.

    Params (free-form, not validated: this scanner never runs in a real installation):
    `hold_seconds` (how long to sleep) and `hold_attempts` (the attempt numbers during which to
    sleep; other attempts finish at once).
    """

    name = "test-slow"
    title = "Test-only slow scanner"
    description = "Holds the worker so that fault-injection tests can kill it mid-scan."
    targets = frozenset(TargetType.values)

    def scan(self, context: ScanContext) -> list[FindingData]:
        context.emit(
            FindingData(
                severity=Severity.LOW, key="slow:first", title="Written before the pause",
                evidence={"pid": os.getpid(), "attempt": context.attempt},
            )
        )
        context.progress(0.5)
        holds = context.params.get("hold_attempts")
        if holds is None or context.attempt in holds:
            deadline = time.monotonic() + float(
                context.params.get("hold_seconds", DEFAULT_HOLD_SECONDS)
            )
            while time.monotonic() < deadline:
                time.sleep(0.1)
        context.progress(0.9)
        return [
            FindingData(severity=Severity.INFO, key="slow:second", title="Written after the pause")
        ]


TEST_SCANNERS: tuple[type[Scanner], ...] = (SlowScanner,)
