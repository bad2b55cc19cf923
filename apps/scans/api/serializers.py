"""Shapes of the scans API (CONTRACT.md "Scans and findings").

Input serializers only shape and validate: target ids resolve through the caller's scope (an id
the caller cannot see is a 404), everything else (which scanners apply, what their inputs mean,
who may start a scan) is decided by apps.scans.services.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.registry import selectors as registry_selectors
from apps.registry.api.serializers import ScopedIdField, StrictInputSerializer
from apps.scans.choices import TriageDecision
from apps.scans.models import Finding, ScanRun


def _model_version(*, user, pk):
    return registry_selectors.model_version_list(user=user).get(pk=pk)


def _dataset_version(*, user, pk):
    return registry_selectors.dataset_version_list(user=user).get(pk=pk)


def _target_label(obj) -> str:
    target = obj.target
    return str(target) if target is not None else ""


class ScanOutputSerializer(serializers.ModelSerializer):
    """A scan run: CONTRACT.md's id, status, progress, findings_count and error, and more."""

    target_type = serializers.CharField(read_only=True)
    target_label = serializers.SerializerMethodField()
    team = serializers.IntegerField(source="team_id", read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    scanners = serializers.ListField(child=serializers.CharField(), read_only=True)
    params = serializers.DictField(read_only=True)
    results = serializers.DictField(read_only=True, help_text="Per scanner: status, findings.")

    class Meta:
        model = ScanRun
        fields = [
            "id", "status", "progress", "findings_count", "error", "target_type",
            "target_label", "model_version", "dataset_version", "deployment", "team",
            "scanners", "params", "results", "trigger", "attempts", "worker", "created_by",
            "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_target_label(self, obj) -> str:
        return _target_label(obj)


class ScanInputSerializer(StrictInputSerializer):
    """`{"model_version": id}` or `{"dataset_version": id}` or `{"deployment": id}`, with
    optional `scanners` (names) and `params` (scanner inputs)."""

    output_serializer = ScanOutputSerializer

    model_version = ScopedIdField(lookup=_model_version, noun="Model version", required=False)
    dataset_version = ScopedIdField(
        lookup=_dataset_version, noun="Dataset version", required=False
    )
    deployment = ScopedIdField(
        lookup=registry_selectors.deployment_get, noun="Deployment", required=False
    )
    scanners = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=50,
        help_text="Scanner names (GET /api/v1/scanners/); default: every scanner that applies.",
    )
    params = serializers.DictField(
        required=False, help_text="Scanner inputs, e.g. {\"expected_sha256\": \"...\"}."
    )


class FindingOutputSerializer(serializers.ModelSerializer):
    """A finding: CONTRACT.md's id, scan, scanner, severity, atlas_technique, title, detail,
    plus where it is, its evidence and its triage state."""

    target_type = serializers.CharField(read_only=True)
    target_label = serializers.SerializerMethodField()
    team = serializers.IntegerField(source="team_id", read_only=True)
    triaged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    evidence = serializers.DictField(read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id", "scan", "scanner", "severity", "atlas_technique", "title", "detail",
            "location", "evidence", "fingerprint", "status", "target_type", "target_label",
            "model_version", "dataset_version", "deployment", "team", "first_scan",
            "first_seen_at", "last_seen_at", "fixed_at", "triage_reason", "triage_expires_at",
            "triaged_by", "triaged_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_target_label(self, obj) -> str:
        return _target_label(obj)


class FindingTriageInputSerializer(StrictInputSerializer):
    """A compliance officer's decision on a finding."""

    output_serializer = FindingOutputSerializer

    status = serializers.ChoiceField(choices=TriageDecision.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required when accepting the risk."
    )


class ScannerInputOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    required = serializers.BooleanField()
    help = serializers.CharField()


class ScannerOutputSerializer(serializers.Serializer):
    """A scanner plug-in of this installation."""

    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    version = serializers.CharField()
    targets = serializers.ListField(child=serializers.CharField())
    inputs = ScannerInputOutputSerializer(many=True)
    atlas_techniques = serializers.ListField(child=serializers.CharField())
