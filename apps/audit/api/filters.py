"""Query parameters of /api/v1/audit-entries/: the same filters as the audit pages.

Validation is django-filter's (a bad value is a 400 naming the parameter); the filtering itself
is `selectors.entry_filter`, shared with the pages and the CSV export.
"""

from django_filters import rest_framework as filters

from apps.audit import selectors
from apps.audit.choices import AuditAction, Interface

MAX_ID = 2**63 - 1


class AuditEntryFilterSet(filters.FilterSet):
    actor = filters.CharFilter(max_length=150, help_text="Part of a user name, or a user id.")
    action = filters.ChoiceFilter(choices=AuditAction.choices)
    object_type = filters.CharFilter(max_length=100,
                                     help_text="app_label.model, e.g. registry.mlmodel")
    object_id = filters.CharFilter(max_length=64)
    team_id = filters.NumberFilter(min_value=1, max_value=MAX_ID)
    interface = filters.ChoiceFilter(choices=Interface.choices)
    since = filters.DateFilter(help_text="UTC date, included.")
    until = filters.DateFilter(help_text="UTC date, included.")

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        if data.get("team_id") is not None:
            data = {**data, "team_id": int(data["team_id"])}
        return selectors.entry_filter(queryset, data)
