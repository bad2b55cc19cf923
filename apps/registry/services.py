"""Every write to the registry. Views and the API call these; nothing else writes registry rows.

Each service checks the caller's rights through apps.accounts.permissions, runs in one
transaction, and leaves nothing half-written: a failed registration removes the file it stored.
"""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.services import audit_created, audit_deleted, audit_snapshot, audit_updated
from apps.core.exceptions import ApplicationError, PayloadTooLarge
from apps.core.storage import discard_if_unreferenced, store_by_content
from apps.core.uploads import file_digest, safe_display_name
from apps.registry import formats
from apps.registry.choices import LineageRole
from apps.registry.csvprofile import profile_csv
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)

MODEL_EDITABLE = ("name", "description", "task", "intended_use", "risk_tier", "lifecycle_status")
DATASET_EDITABLE = (
    "name", "description", "source", "provenance", "licence", "has_personal_data",
    "has_health_data", "has_financial_data", "label_column", "key_column", "sensitive_columns",
)
DEPLOYMENT_EDITABLE = (
    "endpoint_url", "exposure", "requires_authentication", "rate_limit_per_minute",
    "output_granularity",
)


def _apply(instance, data: dict[str, Any], allowed: Iterable[str]) -> list[str]:
    """Copy the allowed keys of `data` onto `instance`; any other key is a mass-assignment try."""
    allowed = set(allowed)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApplicationError(
            f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0]
        )
    changed = []
    for key, value in data.items():
        if getattr(instance, key) != value:
            setattr(instance, key, value)
            changed.append(key)
    return changed


# Who created or registered a row is set by these services, never from input, and becomes empty
# when that user is deleted (SET_NULL without blank=True): validating it would make such rows
# impossible to edit, so full_clean leaves these fields out.
_SET_BY_SERVICES = frozenset({"created_by", "registered_by"})


def _full_clean(instance, **kwargs) -> None:
    exclude = [f.name for f in instance._meta.fields if f.name in _SET_BY_SERVICES]
    instance.full_clean(exclude=exclude, **kwargs)


def _save_unique(instance, *, field: str, message: str, update_fields=None) -> None:
    """Save, turning a unique-constraint race into a 400 on `field` instead of a 500."""
    try:
        _full_clean(instance, validate_unique=True, validate_constraints=True)
    except ValidationError as exc:
        # Django reports a multi-field UniqueConstraint (name per team, version per model) under
        # "__all__"; the caller must see a clash on the field they can change, in plain words.
        errors = getattr(exc, "error_dict", {})
        only_clashes = bool(errors) and all(
            key in (NON_FIELD_ERRORS, field)
            and all(error.code in ("unique", "unique_together") for error in key_errors)
            for key, key_errors in errors.items()
        )
        if only_clashes:
            raise ApplicationError(message, field=field) from None
        raise
    try:
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except IntegrityError:
        raise ApplicationError(message, field=field) from None


# --- Teams --------------------------------------------------------------------------------------


@transaction.atomic
def team_create(*, actor: User, name: str, description: str = "") -> Team:
    """Create a team (administrators)."""
    perms.require_create(actor, Team)
    team = Team(name=name.strip(), description=description)
    _save_unique(team, field="name", message="A team with this name already exists.")
    audit_created(obj=team, actor=actor)
    return team


@transaction.atomic
def team_update(*, actor: User, team: Team, data: dict[str, Any]) -> Team:
    perms.require(actor, perms.CHANGE, team)
    before = audit_snapshot(team, ("name", "description"))
    changed = _apply(team, data, ("name", "description"))
    if changed:
        _save_unique(team, field="name", message="A team with this name already exists.")
        audit_updated(obj=team, before=before, actor=actor)
    return team


@transaction.atomic
def team_member_set(*, actor: User, team: Team, user: User, role: str) -> TeamMembership:
    """Add a user to a team or change their role in it (administrators)."""
    perms.require(actor, perms.CHANGE, team)
    membership, created = TeamMembership.objects.get_or_create(
        team=team, user=user, defaults={"role": role}
    )
    if created:
        audit_created(obj=membership, actor=actor)
    if membership.role != role:
        before = audit_snapshot(membership, ["role"])
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
        audit_updated(obj=membership, before=before, actor=actor)
    return membership


@transaction.atomic
def team_member_remove(*, actor: User, team: Team, user: User) -> None:
    perms.require(actor, perms.CHANGE, team)
    for membership in TeamMembership.objects.filter(team=team, user=user).select_related(
        "team", "user"
    ):
        audit_deleted(obj=membership, actor=actor)
    TeamMembership.objects.filter(team=team, user=user).delete()


# --- Models -------------------------------------------------------------------------------------


@transaction.atomic
def model_create(*, actor: User, team: Team, **fields: Any) -> MLModel:
    """Register a new ML model for a team the actor writes to."""
    perms.require_create(actor, MLModel, team)
    model = MLModel(team=team, created_by=actor)
    _apply(model, fields, MODEL_EDITABLE)
    _save_unique(model, field="name", message="This team already has a model with this name.")
    audit_created(obj=model, actor=actor)
    return model


@transaction.atomic
def model_update(*, actor: User, model: MLModel, data: dict[str, Any]) -> MLModel:
    perms.require(actor, perms.CHANGE, model)
    before = audit_snapshot(model, MODEL_EDITABLE)
    if _apply(model, data, MODEL_EDITABLE):
        _save_unique(model, field="name", message="This team already has a model with this name.")
        audit_updated(obj=model, before=before, actor=actor)
    return model


# --- Model versions -----------------------------------------------------------------------------


def _check_size(fileobj, limit: int, what: str) -> tuple[str, int]:
    size = getattr(fileobj, "size", None)
    if size is not None and size > limit:
        raise PayloadTooLarge(
            f"The {what} is {size} bytes; the limit is {limit} bytes.", field="file"
        )
    sha256, size = file_digest(fileobj)
    if size == 0:
        raise ApplicationError(f"The {what} is empty.", field="file")
    if size > limit:
        raise PayloadTooLarge(
            f"The {what} is {size} bytes; the limit is {limit} bytes.", field="file"
        )
    return sha256, size


def _normalise_digest(value: str | None) -> str | None:
    if not value:
        return None
    digest = value.strip().lower().removeprefix("sha256:")
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ApplicationError(
            "expected_sha256 must be 64 hexadecimal characters.", field="expected_sha256"
        )
    return digest


def model_version_register(
    *,
    actor: User,
    model: MLModel,
    version: str,
    artifact,
    expected_sha256: str | None = None,
    framework: str = "other",
    dependencies: str = "",
    notes: str = "",
    lineage: Iterable[tuple[DatasetVersion, str]] = (),
) -> ModelVersion:
    """Register an artifact as a new, immutable version of `model`.

    The artifact is hashed while it streams in (or here, once, if it did not come through an
    upload), checked against the digest the pipeline expected, stored by content and its format
    detected from its bytes. If anything fails, no row remains and a newly stored file is removed.
    """
    perms.require(actor, perms.CHANGE, model)
    artifact_field = "artifact"
    try:
        sha256, size = _check_size(artifact, settings.MLGOV_MAX_ARTIFACT_BYTES, "artifact")
    except ApplicationError as exc:
        exc.field = artifact_field
        raise
    expected = _normalise_digest(expected_sha256)
    if expected and expected != sha256:
        raise ApplicationError(
            f"The artifact's SHA-256 is {sha256}, not the expected {expected}.",
            field="expected_sha256",
        )
    version = (version or "").strip()
    if not version:
        raise ApplicationError("A version label is required.", field="version")
    if ModelVersion.objects.filter(model=model, version=version).exists():
        raise ApplicationError(
            f"Version {version!r} already exists for this model.", field="version"
        )
    artifact.seek(0)
    detected = formats.detect_format(artifact)
    name, created = store_by_content(artifact, prefix="artifacts", sha256=sha256)
    try:
        with transaction.atomic():
            model_version = ModelVersion(
                model=model,
                version=version,
                artifact=name,
                artifact_name=safe_display_name(getattr(artifact, "name", None), "artifact"),
                sha256=sha256,
                size=size,
                format=detected,
                framework=framework,
                dependencies=dependencies,
                notes=notes,
                registered_by=actor,
            )
            _save_unique(
                model_version,
                field="version",
                message=f"Version {version!r} already exists for this model.",
            )
            audit_created(obj=model_version, actor=actor)
            for dataset_version, role in lineage:
                _lineage_add(actor=actor, model_version=model_version,
                             dataset_version=dataset_version, role=role)
            if settings.MLGOV_AUTO_SCAN_ON_REGISTER:
                # Queue the version's scans: the scan row commits with the version and its task
                # is sent after the commit. (Imported here: apps.scans depends on the registry.)
                from apps.scans.services import scan_request_on_register

                scan_request_on_register(model_version=model_version, actor=actor)
    except BaseException:
        if created:
            discard_if_unreferenced(
                name, still_referenced=ModelVersion.objects.filter(artifact=name).exists()
            )
        raise
    return model_version


@transaction.atomic
def model_version_update(*, actor: User, model_version: ModelVersion, data: dict) -> ModelVersion:
    """Change a version's descriptive fields; the artifact and its digest never change."""
    perms.require(actor, perms.CHANGE, model_version)
    before = audit_snapshot(model_version, ("framework", "dependencies", "notes"))
    if _apply(model_version, data, ("framework", "dependencies", "notes")):
        _full_clean(model_version)
        model_version.save()
        audit_updated(obj=model_version, before=before, actor=actor)
    return model_version


def _lineage_add(
    *, actor: User, model_version: ModelVersion, dataset_version: DatasetVersion, role: str
) -> LineageLink:
    perms.require(actor, perms.VIEW, dataset_version)
    if role not in LineageRole.values:
        raise ApplicationError(f"Unknown lineage role {role!r}.", field="role")
    link, created = LineageLink.objects.get_or_create(
        model_version=model_version, dataset_version=dataset_version, role=role
    )
    if created:
        audit_created(obj=link, actor=actor)
    return link


@transaction.atomic
def lineage_link_add(
    *, actor: User, model_version: ModelVersion, dataset_version: DatasetVersion, role: str
) -> LineageLink:
    """Record that a model version was trained/validated/evaluated on a dataset version."""
    perms.require(actor, perms.CHANGE, model_version)
    return _lineage_add(
        actor=actor, model_version=model_version, dataset_version=dataset_version, role=role
    )


@transaction.atomic
def lineage_link_remove(*, actor: User, link: LineageLink) -> None:
    perms.require(actor, perms.CHANGE, link.model_version)
    audit_deleted(obj=link, actor=actor)
    link.delete()


# --- Datasets -----------------------------------------------------------------------------------


def _clean_sensitive_columns(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ApplicationError(
            "sensitive_columns must be a list of column names.", field="sensitive_columns"
        )
    return value


@transaction.atomic
def dataset_create(*, actor: User, team: Team, **fields: Any) -> Dataset:
    """Register a dataset for a team the actor writes to."""
    perms.require_create(actor, Dataset, team)
    if "sensitive_columns" in fields:
        fields["sensitive_columns"] = _clean_sensitive_columns(fields["sensitive_columns"])
    dataset = Dataset(team=team, created_by=actor)
    _apply(dataset, fields, DATASET_EDITABLE)
    _save_unique(dataset, field="name", message="This team already has a dataset with this name.")
    audit_created(obj=dataset, actor=actor)
    return dataset


@transaction.atomic
def dataset_update(*, actor: User, dataset: Dataset, data: dict[str, Any]) -> Dataset:
    perms.require(actor, perms.CHANGE, dataset)
    before = audit_snapshot(dataset, DATASET_EDITABLE)
    if "sensitive_columns" in data:
        data = {**data, "sensitive_columns": _clean_sensitive_columns(data["sensitive_columns"])}
    if _apply(dataset, data, DATASET_EDITABLE):
        _save_unique(
            dataset, field="name", message="This team already has a dataset with this name."
        )
        audit_updated(obj=dataset, before=before, actor=actor)
    return dataset


def dataset_version_register(
    *, actor: User, dataset: Dataset, version: str, file
) -> DatasetVersion:
    """Register an uploaded CSV as a new version of `dataset`, profiled while streamed."""
    perms.require(actor, perms.CHANGE, dataset)
    sha256, size = _check_size(file, settings.MLGOV_MAX_DATASET_BYTES, "file")
    version = (version or "").strip()
    if not version:
        raise ApplicationError("A version label is required.", field="version")
    if DatasetVersion.objects.filter(dataset=dataset, version=version).exists():
        raise ApplicationError(
            f"Version {version!r} already exists for this dataset.", field="version"
        )
    profile = profile_csv(file, max_field_bytes=settings.MLGOV_MAX_CSV_FIELD_BYTES)
    name, created = store_by_content(file, prefix="datasets", sha256=sha256)
    try:
        with transaction.atomic():
            dataset_version = DatasetVersion(
                dataset=dataset,
                version=version,
                file=name,
                file_name=safe_display_name(getattr(file, "name", None), "data.csv"),
                sha256=sha256,
                size=size,
                row_count=profile.row_count,
                columns=profile.columns,
                registered_by=actor,
            )
            _save_unique(
                dataset_version,
                field="version",
                message=f"Version {version!r} already exists for this dataset.",
            )
            audit_created(obj=dataset_version, actor=actor)
    except BaseException:
        if created:
            discard_if_unreferenced(
                name, still_referenced=DatasetVersion.objects.filter(file=name).exists()
            )
        raise
    return dataset_version


# --- Deployments --------------------------------------------------------------------------------


@transaction.atomic
def deployment_create(
    *, actor: User, model_version: ModelVersion, environment: str, **fields: Any
) -> Deployment:
    """Record that a model version serves in an environment, with its endpoint controls."""
    perms.require(actor, perms.CHANGE, model_version)
    deployment = Deployment(model_version=model_version, environment=environment,
                            created_by=actor)
    _apply(deployment, fields, DEPLOYMENT_EDITABLE)
    _full_clean(deployment)
    deployment.save()
    audit_created(obj=deployment, actor=actor)
    return deployment


@transaction.atomic
def deployment_update(*, actor: User, deployment: Deployment, data: dict) -> Deployment:
    perms.require(actor, perms.CHANGE, deployment)
    before = audit_snapshot(deployment, DEPLOYMENT_EDITABLE)
    if _apply(deployment, data, DEPLOYMENT_EDITABLE):
        _full_clean(deployment)
        deployment.save()
        audit_updated(obj=deployment, before=before, actor=actor)
    return deployment


@transaction.atomic
def deployment_retire(*, actor: User, deployment: Deployment) -> Deployment:
    """Mark a deployment as no longer serving; the record stays for the history."""
    perms.require(actor, perms.CHANGE, deployment)
    if deployment.is_active:
        before = audit_snapshot(deployment, ["is_active", "retired_at"])
        deployment.is_active = False
        deployment.retired_at = timezone.now()
        deployment.save(update_fields=["is_active", "retired_at"])
        audit_updated(obj=deployment, before=before, actor=actor)
    return deployment
