"""The threat model of registry assets: assessed threats, mitigations, evidence, acceptances and
suggested threats.

An asset is an MLModel, a Dataset or a Deployment. Every record about an asset carries three
nullable keys (exactly one set, enforced by a check constraint) and a denormalised `team`, set by
the services from the asset, so that apps.accounts.permissions scopes every one of these models
through the same `scope_team_path = "team"`, in one query, whatever the asset kind.

Scores and bands are stored (computed by apps.threats.risk in the services) so that lists,
the matrix and the register sort, filter and aggregate them in the database.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from apps.threats.choices import (
    AcceptanceStatus,
    AssessmentOrigin,
    AssessmentStatus,
    AssetKind,
    MitigationStatus,
    RiskBand,
    SuggestionStatus,
)
from apps.threats.models.catalogue import Mitigation, Technique

LEVEL_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]
ASSET_FIELDS = ("model", "dataset", "deployment")


def _level(verbose_name: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(
        verbose_name, null=True, blank=True, validators=LEVEL_VALIDATORS
    )


def _one_asset(prefix: str) -> models.CheckConstraint:
    """Exactly one of model / dataset / deployment is set."""
    only = [
        Q(**{f"{name}__isnull": name != chosen for name in ASSET_FIELDS})
        for chosen in ASSET_FIELDS
    ]
    return models.CheckConstraint(
        condition=only[0] | only[1] | only[2], name=f"{prefix}_exactly_one_asset"
    )


class AssetRecord(models.Model):
    """Fields of every record about one asset (see the module docstring)."""

    model = models.ForeignKey(
        "registry.MLModel", on_delete=models.PROTECT, null=True, blank=True,
        related_name="%(class)ss",
    )
    dataset = models.ForeignKey(
        "registry.Dataset", on_delete=models.PROTECT, null=True, blank=True,
        related_name="%(class)ss",
    )
    deployment = models.ForeignKey(
        "registry.Deployment", on_delete=models.PROTECT, null=True, blank=True,
        related_name="%(class)ss",
    )
    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")

    scope_team_path = "team"

    class Meta:
        abstract = True

    @property
    def asset(self):
        """The model, dataset or deployment this record is about."""
        return self.model or self.dataset or self.deployment

    @property
    def asset_kind(self) -> str:
        if self.model_id:
            return AssetKind.MODEL
        if self.dataset_id:
            return AssetKind.DATASET
        return AssetKind.DEPLOYMENT

    @property
    def asset_id(self) -> int | None:
        return self.model_id or self.dataset_id or self.deployment_id


class ThreatAssessment(AssetRecord):
    """One ATLAS technique judged against one asset: how likely, how bad, and what is done.

    Inherent risk is the threat as it stands without safeguards (likelihood x impact). Residual
    risk is what remains once mitigations are in place: its levels are set when they are known,
    and until then the residual equals the inherent risk. `status` says how the threat is
    handled; `accepted` is only reached through an approved RiskAcceptance and falls back to
    open when that acceptance expires (apps.threats.selectors_assessments shows it as open at
    once; the beat task writes it).
    """

    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="assessments")
    likelihood = _level("likelihood")
    impact = _level("impact")
    inherent_score = models.PositiveSmallIntegerField(null=True, blank=True)
    inherent_band = models.CharField(max_length=16, choices=RiskBand.choices, blank=True)
    residual_likelihood = _level("residual likelihood")
    residual_impact = _level("residual impact")
    residual_score = models.PositiveSmallIntegerField(null=True, blank=True)
    residual_band = models.CharField(max_length=16, choices=RiskBand.choices, blank=True)
    status = models.CharField(
        max_length=16, choices=AssessmentStatus.choices, default=AssessmentStatus.OPEN
    )
    origin = models.CharField(
        max_length=16, choices=AssessmentOrigin.choices, default=AssessmentOrigin.MANUAL
    )
    suggestion_rule_ids = models.JSONField(default=list, blank=True)
    suggestion_reason = models.TextField(blank=True)
    rationale = models.TextField(blank=True, help_text="Why these scores: the threat in context.")
    not_applicable_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "threat assessment"
        constraints = [
            _one_asset("threatassessment"),
            models.UniqueConstraint(
                fields=["model", "technique"], name="unique_assessment_model_technique"
            ),
            models.UniqueConstraint(
                fields=["dataset", "technique"], name="unique_assessment_dataset_technique"
            ),
            models.UniqueConstraint(
                fields=["deployment", "technique"], name="unique_assessment_deployment_technique"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["technique", "status"]),
        ]
        ordering = ["-residual_score", "technique__atlas_id", "id"]

    def __str__(self) -> str:
        return f"{self.technique.atlas_id} on {self.asset}"

    def get_absolute_url(self) -> str:
        return reverse("threats:assessment-detail", args=[self.pk])

    @property
    def is_scored(self) -> bool:
        return self.likelihood is not None and self.impact is not None


class AppliedMitigation(models.Model):
    """A safeguard put against one assessed threat: an ATLAS mitigation or a custom measure.

    Only `implemented` and `verified` mitigations count towards a complete threat model.
    """

    assessment = models.ForeignKey(
        ThreatAssessment, on_delete=models.PROTECT, related_name="mitigations"
    )
    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    mitigation = models.ForeignKey(
        Mitigation, on_delete=models.PROTECT, null=True, blank=True, related_name="applications"
    )
    title = models.CharField(
        max_length=200, blank=True, help_text="Name of a custom measure (no ATLAS mitigation)."
    )
    status = models.CharField(
        max_length=16, choices=MitigationStatus.choices, default=MitigationStatus.PLANNED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    due_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_team_path = "team"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(mitigation__isnull=False) | ~Q(title=""),
                name="appliedmitigation_catalogue_or_title",
            ),
            models.UniqueConstraint(
                fields=["assessment", "mitigation"],
                condition=Q(mitigation__isnull=False),
                name="unique_applied_mitigation",
            ),
        ]
        ordering = ["assessment_id", "id"]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("threats:assessment-detail", args=[self.assessment_id]) + f"#m{self.pk}"

    @property
    def display_name(self) -> str:
        if self.mitigation_id:
            return f"{self.mitigation.atlas_id} {self.mitigation.name}"
        return self.title

    @property
    def is_in_place(self) -> bool:
        return self.status in (MitigationStatus.IMPLEMENTED, MitigationStatus.VERIFIED)


class Evidence(models.Model):
    """Proof that a mitigation is in place: a file stored by content, or a link."""

    applied_mitigation = models.ForeignKey(
        AppliedMitigation, on_delete=models.PROTECT, related_name="evidence"
    )
    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    file = models.CharField(max_length=255, blank=True, help_text="Storage name of the file.")
    file_name = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "team"

    class Meta:
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(
                condition=(Q(file="") & ~Q(url="")) | (~Q(file="") & Q(url="")),
                name="evidence_file_or_url",
            ),
        ]
        ordering = ["-added_at", "-id"]

    def __str__(self) -> str:
        return self.file_name or self.url

    @property
    def is_file(self) -> bool:
        return bool(self.file)


class RiskAcceptance(models.Model):
    """A request to accept a threat's risk as it is, until a date, and its decision.

    Segregation of duties: a compliance officer other than the requester approves it. Only an
    approved acceptance whose `expires_at` has not passed keeps its assessment "accepted".
    """

    assessment = models.ForeignKey(
        ThreatAssessment, on_delete=models.PROTECT, related_name="acceptances"
    )
    team = models.ForeignKey("registry.Team", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=16, choices=AcceptanceStatus.choices, default=AcceptanceStatus.PENDING
    )
    reason = models.TextField()
    expires_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # The residual risk as it was when the acceptance was requested: what was accepted.
    residual_score = models.PositiveSmallIntegerField(null=True, blank=True)
    residual_band = models.CharField(max_length=16, choices=RiskBand.choices, blank=True)

    scope_team_path = "team"

    class Meta:
        constraints = [
            # One live request or approval per threat at a time.
            models.UniqueConstraint(
                fields=["assessment"],
                condition=Q(status__in=[AcceptanceStatus.PENDING, AcceptanceStatus.APPROVED]),
                name="unique_live_acceptance",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Acceptance of {self.assessment} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("threats:assessment-detail", args=[self.assessment_id]) + f"#a{self.pk}"

    @property
    def approved_by(self):
        """Who approved it (None while pending, and for rejected requests)."""
        approved = (AcceptanceStatus.APPROVED, AcceptanceStatus.EXPIRED)
        return self.decided_by if self.status in approved else None


class ThreatSuggestion(AssetRecord):
    """A threat the suggestion rules (apps/threats/rules/suggestions.yaml) propose for an asset.

    `facts_hash` fingerprints the asset facts the proposing rules read: a dismissed suggestion
    stays dismissed while it is unchanged, and becomes pending again when the facts change (a
    new artifact format, a deployment made public...). Accepting one creates an open
    ThreatAssessment (origin "suggested"), scored afterwards.
    """

    technique = models.ForeignKey(Technique, on_delete=models.PROTECT, related_name="suggestions")
    rule_ids = models.JSONField(default=list)
    reason = models.TextField()
    facts_hash = models.CharField(max_length=64)
    likelihood_hint = _level("suggested likelihood")
    status = models.CharField(
        max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING
    )
    dismissal_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    assessment = models.ForeignKey(
        ThreatAssessment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            _one_asset("threatsuggestion"),
            models.UniqueConstraint(
                fields=["model", "technique"], name="unique_suggestion_model_technique"
            ),
            models.UniqueConstraint(
                fields=["dataset", "technique"], name="unique_suggestion_dataset_technique"
            ),
            models.UniqueConstraint(
                fields=["deployment", "technique"], name="unique_suggestion_deployment_technique"
            ),
        ]
        ordering = ["technique__atlas_id", "id"]

    def __str__(self) -> str:
        return f"Suggested {self.technique.atlas_id} on {self.asset}"
