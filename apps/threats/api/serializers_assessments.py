"""Shapes of the threat-model API: input serializers validate what clients send (unknown keys
are a 400 naming them; ids resolve within the caller's scope, else 404), output serializers say
what they get back. None of them writes: the views call apps.threats services.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.registry import selectors as registry_selectors
from apps.registry.api.serializers import ScopedIdField, StrictInputSerializer, parse_id
from apps.threats import selectors_assessments as selectors
from apps.threats.assets import asset_label
from apps.threats.choices import (
    AcceptanceStatus,
    AssessmentStatus,
    AssetKind,
    MitigationStatus,
    RiskBand,
    SuggestionStatus,
)
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)

MAX_BULK = 500
TEXT = 20_000


def _level(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=5, **kwargs)


def _text(**kwargs) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=TEXT, **kwargs)


# --- Assets -------------------------------------------------------------------------------------


class AssetOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AssetKind.choices)
    id = serializers.IntegerField()
    name = serializers.CharField()


class AssetRecordOutputMixin(serializers.Serializer):
    """`asset` ({kind, id, name}) and the three asset keys of a record about an asset."""

    asset = serializers.SerializerMethodField()

    @extend_schema_field(AssetOutputSerializer)
    def get_asset(self, record) -> dict:
        return {"kind": record.asset_kind, "id": record.asset_id, "name": asset_label(record.asset)}


class AssetInputMixin(StrictInputSerializer):
    """Exactly one of `model`, `dataset`, `deployment` (an id within the caller's scope)."""

    model = ScopedIdField(lookup=registry_selectors.model_get, noun="Model", required=False)
    dataset = ScopedIdField(lookup=registry_selectors.dataset_get, noun="Dataset", required=False)
    deployment = ScopedIdField(
        lookup=registry_selectors.deployment_get, noun="Deployment", required=False
    )

    def validate(self, attrs):
        given = [kind for kind in AssetKind.values if attrs.get(kind) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"asset": ["Give exactly one of model, dataset or deployment."]}
            )
        attrs["asset"] = attrs.pop(given[0])
        return attrs


# --- Assessments --------------------------------------------------------------------------------


class ThreatAssessmentOutputSerializer(AssetRecordOutputMixin, serializers.ModelSerializer):
    technique = serializers.SlugRelatedField(slug_field="atlas_id", read_only=True)
    technique_name = serializers.CharField(source="technique.name", read_only=True)
    effective_status = serializers.ChoiceField(
        choices=AssessmentStatus.choices, read_only=True,
        help_text="The status as it stands now: an accepted threat whose acceptance expired "
        "reads open.",
    )
    acceptance_expired = serializers.BooleanField(read_only=True)
    has_mitigation_in_place = serializers.BooleanField(read_only=True)
    inherent_band = serializers.ChoiceField(choices=RiskBand.choices, allow_blank=True,
                                            read_only=True)
    residual_band = serializers.ChoiceField(choices=RiskBand.choices, allow_blank=True,
                                            read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    suggestion_rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ThreatAssessment
        fields = [
            "id", "asset", "model", "dataset", "deployment", "team", "technique",
            "technique_name", "likelihood", "impact", "inherent_score", "inherent_band",
            "residual_likelihood", "residual_impact", "residual_score", "residual_band",
            "status", "effective_status", "acceptance_expired", "has_mitigation_in_place",
            "origin", "suggestion_rule_ids", "suggestion_reason", "rationale",
            "not_applicable_reason", "created_by", "updated_by", "created_at", "updated_at",
        ]
        read_only_fields = fields


class ThreatAssessmentUpdateInputSerializer(StrictInputSerializer):
    output_serializer = ThreatAssessmentOutputSerializer

    likelihood = _level(required=False, allow_null=True)
    impact = _level(required=False, allow_null=True)
    residual_likelihood = _level(required=False, allow_null=True)
    residual_impact = _level(required=False, allow_null=True)
    status = serializers.ChoiceField(
        choices=AssessmentStatus.choices,
        required=False,
        help_text="open, mitigated (needs a mitigation in place) or not_applicable (needs "
        "not_applicable_reason). `accepted` comes from an approved risk acceptance.",
    )
    rationale = _text()
    not_applicable_reason = _text()


class ThreatAssessmentInputSerializer(AssetInputMixin):
    output_serializer = ThreatAssessmentOutputSerializer

    technique = serializers.CharField(max_length=32, help_text="ATLAS id, e.g. AML.T0024.002.")
    likelihood = _level(required=False, allow_null=True)
    impact = _level(required=False, allow_null=True)
    residual_likelihood = _level(required=False, allow_null=True)
    residual_impact = _level(required=False, allow_null=True)
    rationale = _text()


class IdListField(serializers.ListField):
    """A list of object ids (at most MAX_BULK)."""

    child = serializers.IntegerField(min_value=1)

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_BULK)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list):
            try:
                data = [parse_id(item) for item in data]
            except serializers.ValidationError as exc:
                raise serializers.ValidationError(exc.detail) from None
        values = super().to_internal_value(data)
        return list(dict.fromkeys(values))


class AssessmentBulkInputSerializer(StrictInputSerializer):
    """One technique, the same scores, many assets (ids per kind)."""

    technique = serializers.CharField(max_length=32, help_text="ATLAS id, e.g. AML.T0011.000.")
    likelihood = _level(required=False, allow_null=True)
    impact = _level(required=False, allow_null=True)
    rationale = _text()
    models = IdListField()
    datasets = IdListField()
    deployments = IdListField()

    def validate(self, attrs):
        if not any(attrs.get(key) for key in ("models", "datasets", "deployments")):
            raise serializers.ValidationError(
                {"assets": ["Give at least one id in models, datasets or deployments."]}
            )
        return attrs


class CompletenessOutputSerializer(serializers.Serializer):
    complete = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    assessed = serializers.IntegerField()
    pending_suggestions = serializers.ListField(child=serializers.CharField())
    unscored = serializers.ListField(child=serializers.CharField())
    unaddressed = serializers.ListField(child=serializers.CharField())


# --- Applied mitigations and evidence -----------------------------------------------------------


class EvidenceOutputSerializer(serializers.ModelSerializer):
    added_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Blank when the evidence is a file: a string, not a URI, in the schema.
    url = serializers.CharField(read_only=True, help_text="Link to the evidence, or \"\" (a file).")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id", "applied_mitigation", "team", "file_name", "sha256", "size", "url",
            "description", "added_by", "added_at", "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True, help_text="Null for a link."))
    def get_download_url(self, evidence: Evidence) -> str | None:
        if not evidence.is_file:
            return None
        request = self.context.get("request")
        path = f"/api/v1/evidence/{evidence.pk}/download/"
        return request.build_absolute_uri(path) if request else path


class EvidenceInputSerializer(StrictInputSerializer):
    output_serializer = EvidenceOutputSerializer

    applied_mitigation = ScopedIdField(
        lookup=selectors.applied_mitigation_get, noun="Applied mitigation"
    )
    file = serializers.FileField(required=False, allow_empty_file=True, use_url=False)
    url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    description = _text()


class AppliedMitigationOutputSerializer(serializers.ModelSerializer):
    mitigation = serializers.SlugRelatedField(slug_field="atlas_id", read_only=True,
                                              allow_null=True)
    name = serializers.CharField(source="display_name", read_only=True)
    technique = serializers.CharField(source="assessment.technique.atlas_id", read_only=True)
    owner = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    evidence_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = AppliedMitigation
        fields = [
            "id", "assessment", "technique", "team", "mitigation", "title", "name", "status",
            "owner", "due_date", "notes", "evidence_count", "updated_by", "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AppliedMitigationUpdateInputSerializer(StrictInputSerializer):
    output_serializer = AppliedMitigationOutputSerializer

    status = serializers.ChoiceField(choices=MitigationStatus.choices, required=False)
    owner = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                  max_length=150, help_text="Username of the owner.")
    due_date = serializers.DateField(required=False, allow_null=True)
    notes = _text()
    title = serializers.CharField(required=False, max_length=200)


class AppliedMitigationInputSerializer(AppliedMitigationUpdateInputSerializer):
    assessment = ScopedIdField(lookup=selectors.assessment_get, noun="Threat assessment")
    mitigation = serializers.CharField(required=False, allow_blank=True, max_length=32,
                                       help_text="ATLAS id, e.g. AML.M0004; or give a title.")
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)


class MitigationBulkInputSerializer(StrictInputSerializer):
    """One mitigation for many assessed threats."""

    assessments = IdListField(required=True, min_length=1)
    mitigation = serializers.CharField(required=False, allow_blank=True, max_length=32)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    status = serializers.ChoiceField(choices=MitigationStatus.choices, required=False)
    owner = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                  max_length=150)
    due_date = serializers.DateField(required=False, allow_null=True)
    notes = _text()


# --- Risk acceptances ---------------------------------------------------------------------------


class RiskAcceptanceOutputSerializer(serializers.ModelSerializer):
    technique = serializers.CharField(source="assessment.technique.atlas_id", read_only=True)
    requested_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    approved_by = serializers.SerializerMethodField(
        help_text="Who approved it (null while pending and for rejected requests)."
    )
    is_expired = serializers.BooleanField(read_only=True)
    status = serializers.ChoiceField(choices=AcceptanceStatus.choices, read_only=True)

    class Meta:
        model = RiskAcceptance
        fields = [
            "id", "assessment", "technique", "team", "status", "is_expired", "reason",
            "expires_at", "residual_score", "residual_band", "requested_by", "requested_at",
            "decided_by", "decided_at", "approved_by", "decision_note",
        ]
        read_only_fields = fields


    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_approved_by(self, acceptance: RiskAcceptance) -> str | None:
        approver = acceptance.approved_by
        return approver.username if approver else None


class RiskAcceptanceInputSerializer(StrictInputSerializer):
    output_serializer = RiskAcceptanceOutputSerializer

    assessment = ScopedIdField(lookup=selectors.assessment_get, noun="Threat assessment")
    reason = serializers.CharField(max_length=TEXT)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required: when the acceptance lapses."
    )


class DecisionInputSerializer(StrictInputSerializer):
    note = _text()


# --- Suggestions --------------------------------------------------------------------------------


class ThreatSuggestionOutputSerializer(AssetRecordOutputMixin, serializers.ModelSerializer):
    technique = serializers.SlugRelatedField(slug_field="atlas_id", read_only=True)
    technique_name = serializers.CharField(source="technique.name", read_only=True)
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    status = serializers.ChoiceField(choices=SuggestionStatus.choices, read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = ThreatSuggestion
        fields = [
            "id", "asset", "model", "dataset", "deployment", "team", "technique",
            "technique_name", "rule_ids", "reason", "likelihood_hint", "facts_hash", "status",
            "dismissal_reason", "decided_by", "decided_at", "assessment", "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SuggestionAcceptInputSerializer(StrictInputSerializer):
    likelihood = _level(required=False, allow_null=True)
    impact = _level(required=False, allow_null=True)


class SuggestionDismissInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=TEXT)


class SuggestionBulkAcceptInputSerializer(StrictInputSerializer):
    suggestions = IdListField(required=True, min_length=1)


class SuggestionRefreshInputSerializer(AssetInputMixin):
    pass


class RefreshOutputSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField())
    reopened = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())

