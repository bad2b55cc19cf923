"""The scanner registry: every scanner this installation runs, one line each.

Adding a scanner means one new module in this package and one line in `SCANNERS`.
"""

from django.conf import settings

from apps.scans.scanners.artifact import ArtifactScanner
from apps.scans.scanners.base import Scanner
from apps.scans.scanners.integrity import IntegrityScanner
from apps.scans.scanners.policy_review import PolicyReviewScanner
from apps.scans.scanners.supply_chain import SupplyChainScanner

SCANNERS: tuple[type[Scanner], ...] = (
    IntegrityScanner,
    ArtifactScanner,
    SupplyChainScanner,
    PolicyReviewScanner,
)


def registered() -> dict[str, type[Scanner]]:
    """Scanner classes by name. The test-only scanners join when MLGOV_TEST_SCANNERS is on
    (the fault-injection tests start workers with it); they never run in a real installation."""
    classes = list(SCANNERS)
    if settings.MLGOV_TEST_SCANNERS:
        from apps.scans.scanners.testing import TEST_SCANNERS

        classes.extend(TEST_SCANNERS)
    return {scanner.name: scanner for scanner in classes}


def get_scanner(name: str) -> Scanner | None:
    """An instance of the scanner called `name`, or None if there is no such scanner."""
    scanner = registered().get(name)
    return scanner() if scanner else None


def scanners_for(target_type: str) -> list[str]:
    """Names of the scanners that accept a target type: what "all that apply" means."""
    return [name for name, scanner in registered().items() if target_type in scanner.targets]
