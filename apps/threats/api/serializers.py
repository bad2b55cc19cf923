"""Shapes of the ATLAS catalogue in the API. Output only: the catalogue is read-only here."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.threats.choices import Maturity
from apps.threats.models import Mitigation, Tactic, Technique

ATLAS_IDS = serializers.ListField(child=serializers.CharField())


class CatalogueObjectOutputSerializer(serializers.ModelSerializer):
    """Fields every catalogue object has; `url` is its page on atlas.mitre.org."""

    url = serializers.URLField(read_only=True, help_text="This object's page on the ATLAS site.")
    # Blank for objects with no ATT&CK counterpart: a string, not a URI, in the schema.
    attack_url = serializers.CharField(
        read_only=True, help_text="The related ATT&CK page, or \"\" when there is none."
    )

    common_fields = [
        "id",
        "atlas_id",
        "name",
        "description",
        "attack_id",
        "attack_url",
        "is_retired",
        "url",
    ]


class TacticOutputSerializer(CatalogueObjectOutputSerializer):
    """A tactic; `matrix_order` is its column in the ATLAS matrix (1 = leftmost)."""

    class Meta:
        model = Tactic
        fields = [*CatalogueObjectOutputSerializer.common_fields, "matrix_order"]
        read_only_fields = fields


class TechniqueOutputSerializer(CatalogueObjectOutputSerializer):
    """A technique or sub-technique (`parent` set) with its tactics and mitigations."""

    parent = serializers.SlugRelatedField(
        slug_field="atlas_id",
        read_only=True,
        allow_null=True,
        help_text="ATLAS id of the parent technique; null for a top-level technique.",
    )
    maturity = serializers.ChoiceField(
        choices=Maturity.choices,
        allow_blank=True,
        read_only=True,
        help_text="feasible, demonstrated or realized; blank when ATLAS gives none.",
    )
    is_subtechnique = serializers.BooleanField(read_only=True)
    tactics = serializers.SlugRelatedField(
        slug_field="atlas_id",
        many=True,
        read_only=True,
        help_text="ATLAS ids of the tactics (a sub-technique has its parent's).",
    )
    subtechniques = serializers.SerializerMethodField(
        help_text="ATLAS ids of the current sub-techniques."
    )
    mitigations = serializers.SerializerMethodField(
        help_text="ATLAS ids of the mitigations that address this technique."
    )

    class Meta:
        model = Technique
        fields = [
            *CatalogueObjectOutputSerializer.common_fields,
            "parent",
            "is_subtechnique",
            "tactics",
            "maturity",
            "subtechniques",
            "mitigations",
        ]
        read_only_fields = fields

    @extend_schema_field(ATLAS_IDS)
    def get_subtechniques(self, technique: Technique) -> list[str]:
        return [sub.atlas_id for sub in technique.current_subtechniques]

    @extend_schema_field(ATLAS_IDS)
    def get_mitigations(self, technique: Technique) -> list[str]:
        return [link.mitigation.atlas_id for link in technique.current_mitigation_links]


class MitigationOutputSerializer(CatalogueObjectOutputSerializer):
    """A mitigation with the techniques it addresses."""

    category = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="e.g. Policy, Technical - ML."
    )
    ml_lifecycle = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="ML lifecycle phases."
    )
    techniques = serializers.SerializerMethodField(
        help_text="ATLAS ids of the techniques and sub-techniques this mitigation addresses."
    )

    class Meta:
        model = Mitigation
        fields = [
            *CatalogueObjectOutputSerializer.common_fields,
            "category",
            "ml_lifecycle",
            "techniques",
        ]
        read_only_fields = fields

    @extend_schema_field(ATLAS_IDS)
    def get_techniques(self, mitigation: Mitigation) -> list[str]:
        return [link.technique.atlas_id for link in mitigation.current_technique_links]
