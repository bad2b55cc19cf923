"""Query-string filters of the threat-model API lists, one explicit FilterSet per resource.

Ids filter as plain integers on already-scoped querysets (an id outside the caller's scope
simply matches nothing); techniques and mitigations filter by ATLAS id.
"""

from django.db.models import Q
from django_filters import rest_framework as filters

from apps.registry.api.filters import IdFilter
from apps.threats.choices import (
    AcceptanceStatus,
    AssessmentOrigin,
    AssessmentStatus,
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


class AssetFilterSet(filters.FilterSet):
    """Filters every record about an asset shares."""

    model = IdFilter(field_name="model_id")
    dataset = IdFilter(field_name="dataset_id")
    deployment = IdFilter(field_name="deployment_id")
    team = IdFilter(field_name="team_id")
    technique = filters.CharFilter(
        method="filter_technique",
        help_text="ATLAS id; a technique also matches its sub-techniques.",
    )

    def filter_technique(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(technique__atlas_id=value) | Q(technique__parent__atlas_id=value)
        )


class ThreatAssessmentFilterSet(AssetFilterSet):
    status = filters.ChoiceFilter(
        field_name="effective_status", choices=AssessmentStatus.choices,
        help_text="The effective status (an expired acceptance reads open).",
    )
    residual_band = filters.ChoiceFilter(choices=RiskBand.choices)
    inherent_band = filters.ChoiceFilter(choices=RiskBand.choices)
    origin = filters.ChoiceFilter(choices=AssessmentOrigin.choices)
    is_scored = filters.BooleanFilter(method="filter_is_scored")

    class Meta:
        model = ThreatAssessment
        fields = ["model", "dataset", "deployment", "team", "technique", "status",
                  "residual_band", "inherent_band", "origin", "is_scored"]

    def filter_is_scored(self, queryset, name, value):
        scored = queryset.filter(likelihood__isnull=False, impact__isnull=False)
        return scored if value else queryset.exclude(pk__in=scored.values("pk"))


class ThreatSuggestionFilterSet(AssetFilterSet):
    status = filters.ChoiceFilter(choices=SuggestionStatus.choices)

    class Meta:
        model = ThreatSuggestion
        fields = ["model", "dataset", "deployment", "team", "technique", "status"]


class AppliedMitigationFilterSet(filters.FilterSet):
    assessment = IdFilter(field_name="assessment_id")
    team = IdFilter(field_name="team_id")
    status = filters.ChoiceFilter(choices=MitigationStatus.choices)
    mitigation = filters.CharFilter(field_name="mitigation__atlas_id",
                                    help_text="ATLAS id, e.g. AML.M0004.")
    owner = filters.CharFilter(field_name="owner__username", help_text="Username.")

    class Meta:
        model = AppliedMitigation
        fields = ["assessment", "team", "status", "mitigation", "owner"]


class EvidenceFilterSet(filters.FilterSet):
    applied_mitigation = IdFilter(field_name="applied_mitigation_id")
    assessment = IdFilter(field_name="applied_mitigation__assessment_id")
    team = IdFilter(field_name="team_id")

    class Meta:
        model = Evidence
        fields = ["applied_mitigation", "assessment", "team"]


class RiskAcceptanceFilterSet(filters.FilterSet):
    assessment = IdFilter(field_name="assessment_id")
    team = IdFilter(field_name="team_id")
    status = filters.ChoiceFilter(choices=AcceptanceStatus.choices)

    class Meta:
        model = RiskAcceptance
        fields = ["assessment", "team", "status"]
