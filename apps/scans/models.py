"""Scans: runs of scanner plug-ins over a registry object, the findings they report, and the
local advisory database the supply-chain scanner reads.

A finding is one row per (target, scanner, fingerprint) across every rescan, so its triage status
survives rescans; `FindingObservation` records which runs saw it (the history, and what
`?scan=` filters on). Scan runs and findings carry their owning `team` (denormalised from the
target by the services) so that apps.accounts.permissions scopes them with one join-free filter.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.urls import reverse

from apps.scans.choices import (
    FINISHED_STATUSES,
    SEVERITY_RANK,
    FindingStatus,
    ScanStatus,
    ScanTrigger,
    Severity,
    TargetType,
)

_TARGETS = tuple(TargetType.values)

# A finding's severity as a number, worst highest: what finding lists sort by. The index below
# is on this exact expression, so that a list sorted by it reads one page from the index
# instead of sorting every finding (apps.scans.selectors.SEVERITY_ORDER must stay equal to it).
SEVERITY_RANK_ORDER = Case(
    *(When(severity=value, then=Value(rank)) for value, rank in SEVERITY_RANK.items()),
    default=Value(-1),
    output_field=IntegerField(),
)


def _exactly_one_target() -> Q:
    """SQL check that exactly one of the target foreign keys is set."""
    options = []
    for chosen in _TARGETS:
        options.append(
            Q(**{f"{chosen}__isnull": False})
            & Q(**{f"{other}__isnull": True for other in _TARGETS if other != chosen})
        )
    check = options[0]
    for option in options[1:]:
        check |= option
    return check


class TargetMixin(models.Model):
    """The object a scan looks at: exactly one of a model version, dataset version, deployment."""

    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dataset_version = models.ForeignKey(
        "registry.DatasetVersion", on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )
    deployment = models.ForeignKey(
        "registry.Deployment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def target_type(self) -> str:
        for name in _TARGETS:
            if getattr(self, f"{name}_id") is not None:
                return name
        return ""

    @property
    def target(self):
        return getattr(self, self.target_type) if self.target_type else None

    @property
    def target_filter(self) -> dict:
        """Keyword arguments selecting rows about the same target."""
        return {f"{self.target_type}_id": getattr(self, f"{self.target_type}_id")}


class ScanRun(TargetMixin):
    """One run of a set of scanners over a target: queued, then run (possibly more than once,
    if a worker is lost mid-scan) by a Celery worker, with its progress and outcome.

    `attempts` counts deliveries to a worker; it also fences writes, so that an attempt that was
    superseded (its worker presumed lost) can no longer change the run.
    """

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    scanners = models.JSONField(default=list, help_text="Names of the scanners to run.")
    params = models.JSONField(default=dict, blank=True, help_text="Scanner inputs.")
    status = models.CharField(
        max_length=16, choices=ScanStatus.choices, default=ScanStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, help_text="Host name of the worker.")
    error = models.TextField(blank=True)
    results = models.JSONField(
        default=dict, blank=True, help_text="Per scanner: status, findings and version."
    )
    findings_count = models.PositiveIntegerField(default=0)
    trigger = models.CharField(
        max_length=16, choices=ScanTrigger.choices, default=ScanTrigger.MANUAL
    )
    task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the first attempt."
    )
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the running attempt."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    scope_team_path = "team"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=_exactly_one_target(), name="scanrun_one_target"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="scanrun_progress_max"),
        ]
        indexes = [
            models.Index(fields=["model_version", "-created_at"]),
            models.Index(fields=["dataset_version", "-created_at"]),
            models.Index(fields=["deployment", "-created_at"]),
            models.Index(fields=["status", "attempt_started_at"]),
        ]

    def __str__(self) -> str:
        return f"Scan {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("scans:scan-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Finding(TargetMixin):
    """Something a scanner reported about a target, identified across rescans by its
    fingerprint. Its status is a triage decision that rescans keep; a rescan that no longer
    reports it marks it fixed, and a rescan that reports a fixed one again reopens it.
    """

    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    scan = models.ForeignKey(
        ScanRun, on_delete=models.CASCADE, related_name="latest_findings",
        help_text="The latest scan that reported this finding.",
    )
    first_scan = models.ForeignKey(
        ScanRun, on_delete=models.CASCADE, related_name="new_findings",
        help_text="The scan that reported it first.",
    )
    scans = models.ManyToManyField(
        ScanRun, through="FindingObservation", related_name="observed_findings"
    )
    scanner = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    atlas_technique = models.CharField(
        max_length=32, null=True, blank=True, help_text="MITRE ATLAS id, e.g. AML.T0010.003."
    )
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    location = models.CharField(max_length=500, blank=True, help_text="Where in the target.")
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True
    )
    triage_reason = models.TextField(blank=True)
    triage_expires_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    fixed_at = models.DateTimeField(null=True, blank=True)

    scope_team_path = "team"

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=_exactly_one_target(), name="finding_one_target"),
            *(
                models.UniqueConstraint(
                    fields=[target, "scanner", "fingerprint"],
                    condition=Q(**{f"{target}__isnull": False}),
                    name=f"unique_finding_per_{target}",
                )
                for target in _TARGETS
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity"]),
            # Keyset pages of the findings list (most severe, then latest, first): a page is a
            # short walk of this index, whichever page it is (docs/performance.md).
            models.Index(
                SEVERITY_RANK_ORDER, F("last_seen_at"), F("id"), name="finding_severity_order_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("scans:finding-detail", args=[self.pk])


class FindingObservation(models.Model):
    """That a scan run reported a finding: the finding's history, one row per run."""

    scan = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="observations")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="observations")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    observed_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "finding__team"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scan", "finding"], name="unique_observation"),
        ]
        ordering = ["-observed_at", "-id"]

    def __str__(self) -> str:
        return f"scan {self.scan_id} saw finding {self.finding_id}"


class Advisory(models.Model):
    """A published vulnerability (an OSV record), imported by `manage.py import_advisories`.

    Reference data: every user reads it, only the import command writes it. The scanner never
    reaches the network; what it knows is what was imported.
    """

    osv_id = models.CharField(max_length=100, unique=True)
    aliases = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    details = models.TextField(blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    published_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField(null=True, blank=True)
    references = models.JSONField(default=list, blank=True)
    record = models.JSONField(default=dict, help_text="The OSV record as imported.")
    imported_at = models.DateTimeField(auto_now=True)

    scope_team_path = None
    is_reference_data = True

    class Meta:
        verbose_name_plural = "advisories"
        ordering = ["osv_id"]

    def __str__(self) -> str:
        return self.osv_id


class AdvisoryPackage(models.Model):
    """One package an advisory affects, with the OSV version ranges and versions it names."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="packages")
    ecosystem = models.CharField(max_length=32)
    name = models.CharField(max_length=200, help_text="Normalised (PEP 503) package name.")
    ranges = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)

    scope_team_path = None
    is_reference_data = True

    class Meta:
        indexes = [models.Index(fields=["ecosystem", "name"])]
        ordering = ["ecosystem", "name", "id"]

    def __str__(self) -> str:
        return f"{self.advisory_id}: {self.ecosystem}/{self.name}"
