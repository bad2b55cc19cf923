"""List filters of the ATLAS catalogue API. Retired objects are left out unless asked for."""

from django_filters import rest_framework as filters

from apps.threats.choices import Maturity
from apps.threats.models import Mitigation, Tactic, Technique


class CatalogueFilterSet(filters.FilterSet):
    """`include_retired=true` also lists ids that left the catalogue in a later ATLAS version."""

    include_retired = filters.BooleanFilter(
        method="filter_include_retired",
        help_text="Also list objects retired from the catalogue (default false).",
    )

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(is_retired=False)
        return queryset

    def filter_include_retired(self, queryset, name, value):
        # Applied in filter_queryset, because the default (absent) must filter too.
        return queryset


class TacticFilterSet(CatalogueFilterSet):
    class Meta:
        model = Tactic
        fields = ["include_retired"]


class TechniqueFilterSet(CatalogueFilterSet):
    tactic = filters.CharFilter(
        field_name="tactics__atlas_id", help_text="ATLAS id of a tactic, e.g. AML.TA0002."
    )
    parent = filters.CharFilter(
        field_name="parent__atlas_id", help_text="ATLAS id of a parent technique."
    )
    maturity = filters.ChoiceFilter(choices=Maturity.choices)
    is_subtechnique = filters.BooleanFilter(
        method="filter_is_subtechnique", help_text="true: only sub-techniques; false: none."
    )

    class Meta:
        model = Technique
        fields = ["tactic", "parent", "maturity", "is_subtechnique", "include_retired"]

    def filter_is_subtechnique(self, queryset, name, value):
        return queryset.filter(parent__isnull=not value)


class MitigationFilterSet(CatalogueFilterSet):
    technique = filters.CharFilter(
        method="filter_technique",
        help_text="ATLAS id of a technique the mitigation addresses.",
    )

    class Meta:
        model = Mitigation
        fields = ["technique", "include_retired"]

    def filter_technique(self, queryset, name, value):
        # One filter() call, so both conditions apply to the same link row.
        return queryset.filter(
            technique_links__technique__atlas_id=value, technique_links__is_retired=False
        )
