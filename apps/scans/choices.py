from django.db import models


class ScanStatus(models.TextChoices):
    """Where a scan run is (CONTRACT.md names). Succeeded, failed and cancelled are final."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = frozenset({ScanStatus.SUCCEEDED, ScanStatus.FAILED, ScanStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({ScanStatus.QUEUED, ScanStatus.RUNNING})


class ScanTrigger(models.TextChoices):
    """Why a scan run exists."""

    MANUAL = "manual", "Started by a person or pipeline"
    REGISTRATION = "registration", "Registration of the version"
    SCHEDULE = "schedule", "Periodic rescan"


class TargetType(models.TextChoices):
    """What a scan looks at; each is a foreign key of the same name on ScanRun and Finding."""

    MODEL_VERSION = "model_version", "Model version"
    DATASET_VERSION = "dataset_version", "Dataset version"
    DEPLOYMENT = "deployment", "Deployment"


class Severity(models.TextChoices):
    """How bad a finding is (CONTRACT.md names), from least to most severe."""

    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# Rank for sorting and thresholds ("at least medium"): higher is worse.
SEVERITY_RANK = {value: rank for rank, value in enumerate(Severity.values)}


class FindingStatus(models.TextChoices):
    """A finding's triage state. It survives rescans; a finding absent from a rescan is fixed."""

    OPEN = "open", "Open"
    FIXED = "fixed", "Fixed"
    ACCEPTED = "accepted", "Risk accepted"
    FALSE_POSITIVE = "false_positive", "False positive"


class TriageDecision(models.TextChoices):
    """What a compliance officer may set a finding to (fixed is decided by rescans only)."""

    OPEN = "open", "Reopen"
    ACCEPTED = "accepted", "Accept the risk"
    FALSE_POSITIVE = "false_positive", "Mark as false positive"
