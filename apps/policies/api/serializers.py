"""Shapes of the access-policy API. Input serializers shape and validate; they never write.

Grants are passed to apps.policies.services as sent (after a list check), because the service
is where a grant is validated for both the pages and the API: an unknown permission or
principal, or a team or user that does not exist, is a 400 naming the grant.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.choices import Role
from apps.policies.assets import asset_label
from apps.policies.choices import AssetKind, GrantPermission
from apps.policies.models import AccessPolicy, PolicyGrant
from apps.policies.services import MAX_GRANTS
from apps.registry import selectors as registry
from apps.registry.api.serializers import ScopedIdField, StrictInputSerializer
from apps.scans.choices import Severity

# --- Output -------------------------------------------------------------------------------------


class PolicyGrantOutputSerializer(serializers.ModelSerializer):
    team = serializers.IntegerField(source="principal_team_id", allow_null=True, read_only=True)
    team_name = serializers.CharField(source="principal_team.name", allow_null=True,
                                      read_only=True, default=None)
    role = serializers.CharField(source="principal_role", read_only=True)
    user = serializers.IntegerField(source="principal_user_id", allow_null=True, read_only=True)
    username = serializers.CharField(source="principal_user.username", allow_null=True,
                                     read_only=True, default=None)
    principal = serializers.CharField(source="principal_label", read_only=True)

    class Meta:
        model = PolicyGrant
        fields = ["id", "permission", "principal_type", "team", "team_name", "role", "user",
                  "username", "principal", "created_at"]
        read_only_fields = fields


class AccessPolicyOutputSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=AssetKind.choices, read_only=True)
    asset_name = serializers.SerializerMethodField()
    team_name = serializers.CharField(source="team.name", read_only=True)
    grants = PolicyGrantOutputSerializer(many=True, read_only=True)
    reviewed_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = AccessPolicy
        fields = ["id", "kind", "model", "dataset", "deployment", "asset_name", "team",
                  "team_name", "query_logging_enabled", "notes", "grants", "reviewed_by",
                  "reviewed_at", "created_by", "created_at", "updated_by", "updated_at"]
        read_only_fields = fields

    def get_asset_name(self, policy: AccessPolicy) -> str:
        return asset_label(policy.asset)


class GapOutputSerializer(serializers.Serializer):
    rule = serializers.CharField()
    key = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    technique = serializers.CharField(help_text="The ATLAS technique id, e.g. AML.T0024.002.")
    technique_name = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    fix = serializers.CharField()


class AssetReviewOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AssetKind.choices)
    asset = serializers.IntegerField()
    asset_name = serializers.CharField()
    team = serializers.IntegerField()
    policy = serializers.IntegerField(allow_null=True)
    gaps = GapOutputSerializer(many=True)


# --- Input --------------------------------------------------------------------------------------


class GrantInputSerializer(serializers.Serializer):
    """One grant: a permission and exactly one principal (documentation of the shape)."""

    permission = serializers.ChoiceField(choices=GrantPermission.choices)
    team = serializers.IntegerField(required=False, help_text="A team id: its members.")
    role = serializers.ChoiceField(choices=Role.choices, required=False,
                                   help_text="Everyone with this organisation role.")
    user = serializers.IntegerField(required=False, help_text="One user's id.")


@extend_schema_field(GrantInputSerializer(many=True))
class GrantListField(serializers.Field):
    """`[{"permission": ..., "team"|"role"|"user": ...}]`, validated by the service."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError(
                "Expected a list of {permission, team|role|user} objects."
            )
        if len(data) > MAX_GRANTS:
            raise serializers.ValidationError(f"At most {MAX_GRANTS} grants per policy.")
        return data

    def to_representation(self, value):
        return value


class AccessPolicyUpdateInputSerializer(StrictInputSerializer):
    output_serializer = AccessPolicyOutputSerializer

    query_logging_enabled = serializers.BooleanField(
        required=False, help_text="Deployments only: every query is logged with its caller."
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    grants = GrantListField(required=False, help_text="Replaces every grant of the policy.")


class AccessPolicyInputSerializer(AccessPolicyUpdateInputSerializer):
    """Create a policy for exactly one asset: `model`, `dataset` or `deployment`."""

    model = ScopedIdField(lookup=registry.model_get, noun="Model", required=False)
    dataset = ScopedIdField(lookup=registry.dataset_get, noun="Dataset", required=False)
    deployment = ScopedIdField(lookup=registry.deployment_get, noun="Deployment",
                               required=False)
    grants = GrantListField(required=False, help_text="Who may do what; none means nobody "
                            "but superusers may download.")

    def validate(self, attrs):
        named = [kind for kind in AssetKind.values if attrs.get(kind) is not None]
        if len(named) != 1:
            raise serializers.ValidationError(
                {"model": ["Name exactly one asset: model, dataset or deployment."]}
            )
        attrs["asset"] = attrs.pop(named[0])
        return attrs


class AssetQuerySerializer(StrictInputSerializer):
    """`?model=` or `?dataset=` or `?deployment=`: the asset to review."""

    model = ScopedIdField(lookup=registry.model_get, noun="Model", required=False)
    dataset = ScopedIdField(lookup=registry.dataset_get, noun="Dataset", required=False)
    deployment = ScopedIdField(lookup=registry.deployment_get, noun="Deployment",
                               required=False)

    def validate(self, attrs):
        named = [kind for kind in AssetKind.values if attrs.get(kind) is not None]
        if len(named) != 1:
            raise serializers.ValidationError(
                {"model": ["Name exactly one asset: model, dataset or deployment."]}
            )
        return {"asset": attrs[named[0]]}

