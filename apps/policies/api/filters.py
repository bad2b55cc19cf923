"""Query-string filters of the access-policy list (explicit; ids as plain integers)."""

from django_filters import rest_framework as filters

from apps.policies.choices import AssetKind
from apps.policies.models import AccessPolicy
from apps.registry.api.filters import IdFilter


class AccessPolicyFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=AssetKind.choices, method="filter_kind",
                                help_text="Policies of models, datasets or deployments.")
    team = IdFilter(field_name="team_id")
    model = IdFilter(field_name="model_id")
    dataset = IdFilter(field_name="dataset_id")
    deployment = IdFilter(field_name="deployment_id")
    reviewed = filters.BooleanFilter(field_name="reviewed_at", lookup_expr="isnull",
                                     exclude=True, help_text="Signed off by a compliance officer.")

    class Meta:
        model = AccessPolicy
        fields = ["kind", "team", "model", "dataset", "deployment", "reviewed"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(**{f"{value}__isnull": False})
