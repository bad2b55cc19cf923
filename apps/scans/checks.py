"""System checks: settings under which the scan engine would lose or double-run scans."""

from django.conf import settings
from django.core import checks

from apps.scans.constants import ATLAS_TECHNIQUE_RE


@checks.register(checks.Tags.compatibility)
def check_time_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Soft limit below hard limit below the broker's visibility timeout.

    A task still running when the visibility timeout passes is delivered to a second worker;
    the hard limit must end it before that can happen.
    """
    messages = []
    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    if soft and hard and soft >= hard:
        messages.append(checks.Warning(
            f"MLGOV_TASK_SOFT_TIME_LIMIT ({soft}) should be below MLGOV_TASK_HARD_TIME_LIMIT "
            f"({hard}), so a scan that runs too long fails with a readable reason.",
            id="scans.W001",
        ))
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    visibility = options.get("visibility_timeout")
    if visibility and hard and hard >= visibility:
        messages.append(checks.Error(
            f"MLGOV_TASK_HARD_TIME_LIMIT ({hard}) must be below CELERY_VISIBILITY_TIMEOUT "
            f"({visibility}): otherwise the broker hands a running scan to a second worker.",
            id="scans.E001",
        ))
    return messages


@checks.register()
def check_scanners(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every registered scanner has a unique name, targets and well-formed ATLAS ids."""
    from apps.scans.scanners import SCANNERS
    from apps.scans.scanners.base import INPUT_KINDS

    messages, seen = [], set()
    for scanner in SCANNERS:
        label = f"{scanner.__module__}.{scanner.__name__}"
        if scanner.name in seen:
            messages.append(checks.Error(f"Duplicate scanner name {scanner.name!r}.",
                                         obj=label, id="scans.E002"))
        seen.add(scanner.name)
        if not scanner.targets:
            messages.append(checks.Error("The scanner accepts no target.", obj=label,
                                         id="scans.E003"))
        for atlas_id in scanner.atlas_techniques:
            if not ATLAS_TECHNIQUE_RE.match(atlas_id):
                messages.append(checks.Error(f"{atlas_id!r} is not an ATLAS technique id.",
                                             obj=label, id="scans.E004"))
        for spec in scanner.inputs:
            if spec.kind not in INPUT_KINDS:
                messages.append(checks.Error(f"Input {spec.name} has unknown kind {spec.kind!r}.",
                                             obj=label, id="scans.E005"))
    return messages
