"""Query-string filters of the registry API lists, one explicit FilterSet per resource.

Ids are filtered as plain integers (never as "choose from these objects"): the queryset is
already scoped, so filtering by an id the caller cannot see simply returns nothing, and no
extra query checks whether that id exists.
"""

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

from apps.registry import choices
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
)

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An exact match on an integer id (rejects 1.5, -1 and ids past 64 bits with a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` with the id as the last tie-breaker: rows that sort equal (same risk tier,
    same environment) keep one order from page to page, so paging never repeats or skips one."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if ordering and not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            ordering = [*ordering, "id"]
        return ordering


class TeamFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Team
        fields = ["name"]


class ModelFilterSet(filters.FilterSet):
    team = IdFilter(field_name="team_id")
    risk_tier = filters.ChoiceFilter(choices=choices.RiskTier.choices)
    lifecycle_status = filters.ChoiceFilter(choices=choices.LifecycleStatus.choices)
    task = filters.ChoiceFilter(choices=choices.ModelTask.choices)
    name = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = MLModel
        fields = ["team", "risk_tier", "lifecycle_status", "task", "name"]


class ModelVersionFilterSet(filters.FilterSet):
    model = IdFilter(field_name="model_id")
    team = IdFilter(field_name="model__team_id")
    format = filters.ChoiceFilter(choices=choices.ArtifactFormat.choices)
    framework = filters.ChoiceFilter(choices=choices.Framework.choices)
    version = filters.CharFilter()
    sha256 = filters.CharFilter(method="filter_sha256")

    class Meta:
        model = ModelVersion
        fields = ["model", "team", "format", "framework", "version", "sha256"]

    def filter_sha256(self, queryset, name, value):
        # Digests are stored lower-case; pipelines often print them upper-case.
        return queryset.filter(sha256=value.strip().lower())


class DatasetFilterSet(filters.FilterSet):
    team = IdFilter(field_name="team_id")
    source = filters.ChoiceFilter(choices=choices.DatasetSource.choices)
    name = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Dataset
        fields = ["team", "source", "name"]


class DatasetVersionFilterSet(filters.FilterSet):
    dataset = IdFilter(field_name="dataset_id")
    team = IdFilter(field_name="dataset__team_id")
    version = filters.CharFilter()

    class Meta:
        model = DatasetVersion
        fields = ["dataset", "team", "version"]


class LineageLinkFilterSet(filters.FilterSet):
    model_version = IdFilter(field_name="model_version_id")
    dataset_version = IdFilter(field_name="dataset_version_id")
    model = IdFilter(field_name="model_version__model_id")
    dataset = IdFilter(field_name="dataset_version__dataset_id")
    role = filters.ChoiceFilter(choices=choices.LineageRole.choices)

    class Meta:
        model = LineageLink
        fields = ["model_version", "dataset_version", "model", "dataset", "role"]


class DeploymentFilterSet(filters.FilterSet):
    environment = filters.ChoiceFilter(choices=choices.Environment.choices)
    is_active = filters.BooleanFilter()
    model_version = IdFilter(field_name="model_version_id")
    model = IdFilter(field_name="model_version__model_id")
    exposure = filters.ChoiceFilter(choices=choices.Exposure.choices)

    class Meta:
        model = Deployment
        fields = ["environment", "is_active", "model_version", "model", "exposure"]
