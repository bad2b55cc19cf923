from django import forms

from apps.dashboards.selectors import PortfolioFilters
from apps.registry.choices import LifecycleStatus, RiskTier
from apps.registry.forms import TeamChoiceField

ANY = [("", "Any")]


class PortfolioFilterForm(forms.Form):
    """The portfolio's filters, read from (and kept in) the query string so a view can be
    shared. The team choices are the teams the user may see: another team's id is invalid."""

    team = TeamChoiceField(queryset=None, required=False, empty_label="Any")
    risk_tier = forms.ChoiceField(choices=ANY + list(RiskTier.choices), required=False)
    lifecycle_status = forms.ChoiceField(
        label="Lifecycle", choices=ANY + list(LifecycleStatus.choices), required=False
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams

    def portfolio_filters(self) -> PortfolioFilters:
        """The validated filters (call after is_valid())."""
        data = self.cleaned_data
        team = data.get("team")
        return PortfolioFilters(
            team_id=team.pk if team else None,
            risk_tier=data.get("risk_tier") or "",
            lifecycle_status=data.get("lifecycle_status") or "",
        )

    def as_params(self) -> dict:
        """The filters as query-string values (for the links behind chart points)."""
        filters = self.portfolio_filters()
        return {"team": filters.team_id, "risk_tier": filters.risk_tier,
                "lifecycle_status": filters.lifecycle_status}
