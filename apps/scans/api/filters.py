"""Query-string filters of the scans API lists (explicit, one FilterSet per resource)."""

from django_filters import rest_framework as filters

from apps.registry.api.filters import IdFilter
from apps.scans.choices import FindingStatus, ScanStatus, ScanTrigger, Severity
from apps.scans.models import Finding, ScanRun


class ScanFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ScanStatus.choices)
    trigger = filters.ChoiceFilter(choices=ScanTrigger.choices)
    model_version = IdFilter(field_name="model_version_id")
    dataset_version = IdFilter(field_name="dataset_version_id")
    deployment = IdFilter(field_name="deployment_id")
    team = IdFilter(field_name="team_id")

    class Meta:
        model = ScanRun
        fields = ["status", "trigger", "model_version", "dataset_version", "deployment", "team"]


class FindingFilterSet(filters.FilterSet):
    scan = IdFilter(method="filter_scan", help_text="Findings this scan reported.")
    severity = filters.ChoiceFilter(choices=Severity.choices)
    status = filters.ChoiceFilter(choices=FindingStatus.choices)
    scanner = filters.CharFilter()
    atlas_technique = filters.CharFilter()
    model_version = IdFilter(field_name="model_version_id")
    dataset_version = IdFilter(field_name="dataset_version_id")
    deployment = IdFilter(field_name="deployment_id")
    team = IdFilter(field_name="team_id")

    class Meta:
        model = Finding
        fields = [
            "scan", "severity", "status", "scanner", "atlas_technique", "model_version",
            "dataset_version", "deployment", "team",
        ]

    def filter_scan(self, queryset, name, value):
        # A finding is one row across rescans; each scan that reported it left an observation.
        return queryset.filter(observations__scan_id=value)
