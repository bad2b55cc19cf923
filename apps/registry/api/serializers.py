"""Shapes of the registry API: `<Model>InputSerializer` for what clients send, `...Output...` for
what they get back.

Input serializers only shape and validate; they never write. They refuse any key they do not
declare (a client setting `sha256`, `size` or `registered_by` gets a 400 naming it, instead of
the value being silently dropped), and they resolve ids through the caller's scope: an id the
caller cannot see is answered 404, exactly as if the object did not exist. Whether the caller may
*write* the object it named is decided by the service (403).
"""

import json
from collections.abc import Callable

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.exceptions import NotInScope
from apps.registry import choices, selectors
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
)

# The largest id a database row can have (signed 64-bit); larger numbers are refused as input
# instead of overflowing the database driver.
MAX_ID = 2**63 - 1
MAX_LINEAGE_ITEMS = 200
# Keys that browsers add to form posts (the browsable API): not data, so not refused.
IGNORED_KEYS = frozenset({"csrfmiddlewaretoken"})


# --- Building blocks ----------------------------------------------------------------------------


def parse_id(value) -> int:
    """An object id from JSON (int) or a form field (digits); anything else is a 400."""
    if isinstance(value, bool):
        raise serializers.ValidationError("A valid integer id is required.")
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only ("²" is a digit to str.isdigit), and short enough for int().
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
            raise serializers.ValidationError("A valid integer id is required.")
        value = int(text)
    if not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise serializers.ValidationError("A valid integer id is required.")
    return value


@extend_schema_field(OpenApiTypes.INT)
class ScopedIdField(serializers.Field):
    """An id resolved to an object through a selector, i.e. within what the caller may see.

    An id that does not resolve raises NotInScope (404, naming the field): an object outside the
    caller's scope and a missing one look the same, so the API does not reveal what exists.
    """

    def __init__(self, *, lookup: Callable, noun: str, **kwargs):
        self.lookup = lookup
        self.noun = noun
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        pk = parse_id(data)
        try:
            return self.lookup(user=self.context["request"].user, pk=pk)
        except ObjectDoesNotExist:
            raise NotInScope(f"{self.noun} {pk} not found.", field=self.field_name) from None

    def to_representation(self, value) -> int:
        return value.pk


def _model_version_in_scope(*, user, pk) -> ModelVersion:
    return selectors.model_version_list(user=user).get(pk=pk)


def _dataset_version_in_scope(*, user, pk) -> DatasetVersion:
    return selectors.dataset_version_list(user=user).get(pk=pk)


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that answers 400 for keys it does not accept, naming each of them.

    `output_serializer` names the matching output shape, so that a key which exists there (an
    id, a digest, who registered it...) is reported as read-only rather than unknown.
    """

    output_serializer: type[serializers.Serializer] | None = None

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - IGNORED_KEYS)
            if unknown:
                readable = set(self.output_serializer().fields) if self.output_serializer else set()
                raise serializers.ValidationError(
                    {
                        key: [
                            "This field is read-only."
                            if key in readable
                            else "Unknown field: it cannot be set here."
                        ]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


# --- Teams --------------------------------------------------------------------------------------


class TeamOutputSerializer(serializers.ModelSerializer):
    model_count = serializers.IntegerField(read_only=True)
    dataset_count = serializers.IntegerField(read_only=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "description",
            "created_at",
            "model_count",
            "dataset_count",
            "member_count",
        ]
        read_only_fields = fields


class TeamInputSerializer(StrictInputSerializer):
    output_serializer = TeamOutputSerializer

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


# --- Models -------------------------------------------------------------------------------------


class ModelOutputSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    version_count = serializers.IntegerField(read_only=True)
    latest_version_at = serializers.DateTimeField(read_only=True, allow_null=True)
    active_deployment_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = MLModel
        fields = [
            "id",
            "team",
            "team_name",
            "name",
            "description",
            "task",
            "intended_use",
            "risk_tier",
            "lifecycle_status",
            "created_by",
            "created_at",
            "updated_at",
            "version_count",
            "latest_version_at",
            "active_deployment_count",
        ]
        read_only_fields = fields


class ModelUpdateInputSerializer(StrictInputSerializer):
    """The fields of a model that its team may change (never its team)."""

    output_serializer = ModelOutputSerializer

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    task = serializers.ChoiceField(choices=choices.ModelTask.choices, required=False)
    intended_use = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    risk_tier = serializers.ChoiceField(choices=choices.RiskTier.choices, required=False)
    lifecycle_status = serializers.ChoiceField(
        choices=choices.LifecycleStatus.choices, required=False
    )


class ModelInputSerializer(ModelUpdateInputSerializer):
    team = ScopedIdField(lookup=selectors.team_get, noun="Team")


# --- Model versions -----------------------------------------------------------------------------


class LineageItemInputSerializer(StrictInputSerializer):
    dataset_version = ScopedIdField(lookup=_dataset_version_in_scope, noun="Dataset version")
    role = serializers.ChoiceField(choices=choices.LineageRole.choices)


@extend_schema_field(LineageItemInputSerializer(many=True))
class LineageListField(serializers.Field):
    """`[{"dataset_version": id, "role": ...}, ...]`; in multipart, the same list JSON-encoded.

    Multipart is how artifacts are uploaded, and it has no lists of objects: pipelines send the
    list as one JSON text field. Returns `[(DatasetVersion, role), ...]`.
    """

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else []
            except ValueError:
                raise serializers.ValidationError(
                    "Expected a JSON list of {dataset_version, role} objects."
                ) from None
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of {dataset_version, role} objects.")
        if len(data) > MAX_LINEAGE_ITEMS:
            raise serializers.ValidationError(f"At most {MAX_LINEAGE_ITEMS} lineage entries.")
        links = []
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise serializers.ValidationError(
                    f"Entry {index}: expected an object with dataset_version and role."
                )
            entry = LineageItemInputSerializer(data=item, context=self.context)
            try:
                valid = entry.is_valid()
            except NotInScope as exc:
                # Reported on `lineage`, the field the client sent, not on the nested key.
                raise NotInScope(f"Entry {index}: {exc.message}", field=self.field_name) from None
            if not valid:
                raise serializers.ValidationError({index: entry.errors})
            links.append((entry.validated_data["dataset_version"], entry.validated_data["role"]))
        return links

    def to_representation(self, value):
        return [{"dataset_version": link.pk, "role": role} for link, role in value]


class LineageEntryOutputSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", read_only=True)
    dataset_name = serializers.CharField(source="dataset_version.dataset.name", read_only=True)
    dataset_version_label = serializers.CharField(source="dataset_version.version", read_only=True)

    class Meta:
        model = LineageLink
        fields = [
            "id",
            "dataset_version",
            "dataset",
            "dataset_name",
            "dataset_version_label",
            "role",
        ]
        read_only_fields = fields


class ModelVersionOutputSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    team = serializers.IntegerField(source="model.team_id", read_only=True)
    registered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "model_name",
            "team",
            "version",
            "sha256",
            "size",
            "format",
            "framework",
            "artifact_name",
            "dependencies",
            "notes",
            "registered_by",
            "registered_at",
        ]
        read_only_fields = fields


class ModelVersionDetailOutputSerializer(ModelVersionOutputSerializer):
    """One version with the dataset versions it was trained, validated or evaluated on."""

    lineage = LineageEntryOutputSerializer(many=True, read_only=True)

    class Meta(ModelVersionOutputSerializer.Meta):
        fields = [*ModelVersionOutputSerializer.Meta.fields, "lineage"]
        read_only_fields = fields


class ModelVersionUpdateInputSerializer(StrictInputSerializer):
    """What may change on a registered version: its description, never its artifact."""

    output_serializer = ModelVersionDetailOutputSerializer

    framework = serializers.ChoiceField(choices=choices.Framework.choices, required=False)
    dependencies = serializers.CharField(
        required=False, allow_blank=True, max_length=2_000_000, trim_whitespace=False
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=100_000)


class ModelVersionInputSerializer(ModelVersionUpdateInputSerializer):
    """Multipart registration of a new version: the artifact plus what describes it."""

    model = ScopedIdField(lookup=selectors.model_get, noun="Model")
    version = serializers.CharField(max_length=64)
    artifact = serializers.FileField(
        help_text="The model file. Its format is detected from its bytes, not its name."
    )
    expected_sha256 = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=80,
        help_text="The SHA-256 the pipeline computed; the upload is refused if it differs.",
    )
    lineage = LineageListField(
        required=False,
        help_text='Dataset versions behind this version: [{"dataset_version": id, "role": '
        '"training"}]. In multipart, send the list JSON-encoded.',
    )


# --- Datasets -----------------------------------------------------------------------------------


class DatasetOutputSerializer(serializers.ModelSerializer):
    team_name = serializers.CharField(source="team.name", read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    version_count = serializers.IntegerField(read_only=True)
    latest_version_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sensitive_columns = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "team",
            "team_name",
            "name",
            "description",
            "source",
            "provenance",
            "licence",
            "has_personal_data",
            "has_health_data",
            "has_financial_data",
            "label_column",
            "key_column",
            "sensitive_columns",
            "created_by",
            "created_at",
            "updated_at",
            "version_count",
            "latest_version_at",
        ]
        read_only_fields = fields


class DatasetUpdateInputSerializer(StrictInputSerializer):
    output_serializer = DatasetOutputSerializer

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    source = serializers.ChoiceField(choices=choices.DatasetSource.choices, required=False)
    provenance = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    licence = serializers.CharField(required=False, allow_blank=True, max_length=200)
    has_personal_data = serializers.BooleanField(required=False)
    has_health_data = serializers.BooleanField(required=False)
    has_financial_data = serializers.BooleanField(required=False)
    label_column = serializers.CharField(required=False, allow_blank=True, max_length=200)
    key_column = serializers.CharField(required=False, allow_blank=True, max_length=200)
    sensitive_columns = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=1000
    )


class DatasetInputSerializer(DatasetUpdateInputSerializer):
    team = ScopedIdField(lookup=selectors.team_get, noun="Team")


class DatasetVersionOutputSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    team = serializers.IntegerField(source="dataset.team_id", read_only=True)
    registered_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    columns = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        read_only=True,
        help_text='Inferred schema: [{"name": ..., "type": ...}] in file order.',
    )

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "dataset",
            "dataset_name",
            "team",
            "version",
            "sha256",
            "size",
            "row_count",
            "columns",
            "file_name",
            "registered_by",
            "registered_at",
        ]
        read_only_fields = fields


class DatasetVersionInputSerializer(StrictInputSerializer):
    output_serializer = DatasetVersionOutputSerializer

    dataset = ScopedIdField(lookup=selectors.dataset_get, noun="Dataset")
    version = serializers.CharField(max_length=64)
    file = serializers.FileField(help_text="A UTF-8 CSV file with a header row.")


# --- Lineage links ------------------------------------------------------------------------------


class LineageLinkOutputSerializer(serializers.ModelSerializer):
    model = serializers.IntegerField(source="model_version.model_id", read_only=True)
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", read_only=True)

    class Meta:
        model = LineageLink
        fields = ["id", "model_version", "model", "dataset_version", "dataset", "role"]
        read_only_fields = fields


class LineageLinkInputSerializer(StrictInputSerializer):
    output_serializer = LineageLinkOutputSerializer

    model_version = ScopedIdField(lookup=_model_version_in_scope, noun="Model version")
    dataset_version = ScopedIdField(lookup=_dataset_version_in_scope, noun="Dataset version")
    role = serializers.ChoiceField(choices=choices.LineageRole.choices)


# --- Deployments --------------------------------------------------------------------------------


class DeploymentOutputSerializer(serializers.ModelSerializer):
    model = serializers.IntegerField(source="model_version.model_id", read_only=True)
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.CharField(source="model_version.version", read_only=True)
    # Blank when not recorded: a string, not a URI, in the schema.
    endpoint_url = serializers.CharField(
        read_only=True, help_text="Where the model is served, or \"\" when not recorded."
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model_version",
            "model",
            "model_name",
            "version",
            "environment",
            "endpoint_url",
            "exposure",
            "requires_authentication",
            "rate_limit_per_minute",
            "output_granularity",
            "is_active",
            "created_by",
            "created_at",
            "retired_at",
        ]
        read_only_fields = fields


class DeploymentUpdateInputSerializer(StrictInputSerializer):
    """The endpoint controls of a deployment; retiring it is a separate action."""

    output_serializer = DeploymentOutputSerializer

    endpoint_url = serializers.URLField(required=False, allow_blank=True, max_length=200)
    exposure = serializers.ChoiceField(choices=choices.Exposure.choices, required=False)
    requires_authentication = serializers.BooleanField(required=False)
    rate_limit_per_minute = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**31 - 1
    )
    output_granularity = serializers.ChoiceField(
        choices=choices.OutputGranularity.choices, required=False
    )


class DeploymentInputSerializer(DeploymentUpdateInputSerializer):
    model_version = ScopedIdField(lookup=_model_version_in_scope, noun="Model version")
    environment = serializers.ChoiceField(choices=choices.Environment.choices)
