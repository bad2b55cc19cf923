"""The registry: teams own models and datasets; versions are immutable; deployments serve versions.

Each model names `scope_team_path`, the path to its owning team that apps.accounts.permissions
uses to scope every query.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse

from apps.accounts.choices import TeamRole
from apps.registry import choices


class Team(models.Model):
    """A group that owns models and datasets; its members are the data scientists who edit them."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "pk"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry:team-detail", args=[self.pk])


class TeamMembership(models.Model):
    """A user's membership of a team, with their role inside it."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "team"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_team_membership"),
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class MLModel(models.Model):
    """A machine-learning model the organisation builds or runs, owned by one team."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    task = models.CharField(
        max_length=32, choices=choices.ModelTask.choices, default=choices.ModelTask.CLASSIFICATION
    )
    intended_use = models.TextField(blank=True)
    risk_tier = models.CharField(
        max_length=16, choices=choices.RiskTier.choices, default=choices.RiskTier.MINIMAL
    )
    lifecycle_status = models.CharField(
        max_length=16,
        choices=choices.LifecycleStatus.choices,
        default=choices.LifecycleStatus.DEVELOPMENT,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_team_path = "team"

    class Meta:
        verbose_name = "ML model"
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_model_name_per_team"),
        ]
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["risk_tier", "lifecycle_status"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry:model-detail", args=[self.pk])


class ModelVersion(models.Model):
    """One registered artifact of a model. Its bytes never change once registered.

    The file is stored by content (SHA-256) through the storage API; `format` is detected from
    the bytes, not the file name.
    """

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    artifact = models.CharField(max_length=255, help_text="Storage name of the artifact.")
    artifact_name = models.CharField(max_length=200, help_text="The uploaded file's name.")
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    format = models.CharField(max_length=32, choices=choices.ArtifactFormat.choices)
    framework = models.CharField(
        max_length=32, choices=choices.Framework.choices, default=choices.Framework.OTHER
    )
    dependencies = models.TextField(
        blank=True, help_text="requirements.txt, pip freeze output or a CycloneDX SBOM (JSON)."
    )
    notes = models.TextField(blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    registered_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "model__team"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="unique_version_per_model"),
        ]
        ordering = ["-registered_at", "-id"]
        # Keyset pages of the versions list (newest first) read the index, not a sort of all.
        indexes = [models.Index(fields=["registered_at", "id"], name="modelversion_registered_idx")]

    def __str__(self) -> str:
        return f"{self.model.name} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("registry:version-detail", args=[self.pk])


class Dataset(models.Model):
    """A dataset used to train or evaluate models, with its provenance and sensitivity."""

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.CharField(
        max_length=16, choices=choices.DatasetSource.choices, default=choices.DatasetSource.INTERNAL
    )
    provenance = models.TextField(blank=True, help_text="Where the data came from and how.")
    licence = models.CharField(max_length=200, blank=True)
    has_personal_data = models.BooleanField(default=False)
    has_health_data = models.BooleanField(default=False)
    has_financial_data = models.BooleanField(default=False)
    label_column = models.CharField(max_length=200, blank=True)
    key_column = models.CharField(max_length=200, blank=True)
    sensitive_columns = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_team_path = "team"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="unique_dataset_name_per_team"),
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry:dataset-detail", args=[self.pk])


class DatasetVersion(models.Model):
    """One uploaded CSV of a dataset, stored by content, with its row count and inferred schema."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=64)
    file = models.CharField(max_length=255, help_text="Storage name of the CSV file.")
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    row_count = models.BigIntegerField()
    columns = models.JSONField(default=list, help_text='[{"name": ..., "type": ...}, ...]')
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    registered_at = models.DateTimeField(auto_now_add=True)

    scope_team_path = "dataset__team"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "version"], name="unique_version_per_dataset"
            ),
        ]
        ordering = ["-registered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dataset.name} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("registry:dataset-version-detail", args=[self.pk])


class LineageLink(models.Model):
    """A model version's relation to a dataset version, with the role the data played."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="lineage"
    )
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.PROTECT, related_name="lineage"
    )
    role = models.CharField(max_length=16, choices=choices.LineageRole.choices)

    scope_team_path = "model_version__model__team"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "dataset_version", "role"], name="unique_lineage_link"
            ),
        ]
        ordering = ["role", "id"]

    def __str__(self) -> str:
        return f"{self.model_version} <- {self.dataset_version} ({self.role})"


class Deployment(models.Model):
    """A model version serving in an environment, with the endpoint controls that shape its risk."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    environment = models.CharField(max_length=16, choices=choices.Environment.choices)
    endpoint_url = models.URLField(blank=True)
    exposure = models.CharField(
        max_length=16, choices=choices.Exposure.choices, default=choices.Exposure.INTERNAL
    )
    requires_authentication = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Queries a client may make per minute; empty means no limit.",
    )
    output_granularity = models.CharField(
        max_length=16,
        choices=choices.OutputGranularity.choices,
        default=choices.OutputGranularity.LABEL,
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    scope_team_path = "model_version__model__team"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["environment", "is_active"])]

    def __str__(self) -> str:
        return f"{self.model_version} in {self.environment}"

    def get_absolute_url(self) -> str:
        return reverse("registry:deployment-detail", args=[self.pk])
