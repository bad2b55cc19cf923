"""Forms of the registry pages: they parse and validate input; services do the writing.

Choices that depend on the user (teams, dataset versions, users) are passed in by the view from
selectors, so a form never offers, nor accepts, an object outside the caller's scope.
"""

from django import forms

from apps.accounts.choices import TeamRole
from apps.registry import choices

ANY = [("", "Any")]


def _optional(choice_class) -> list[tuple[str, str]]:
    return ANY + list(choice_class.choices)


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.name


# --- List filters -------------------------------------------------------------------------------


class SearchForm(forms.Form):
    """Free-text search shared by every list page."""

    q = forms.CharField(label="Search", required=False, max_length=200)

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "team" in self.fields:
            self.fields["team"].queryset = teams

    def filters(self) -> dict:
        """The valid filter values; an invalid one is ignored rather than failing the page."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in ("", None)}


class ModelFilterForm(SearchForm):
    team = TeamChoiceField(queryset=None, required=False, empty_label="Any")
    risk_tier = forms.ChoiceField(choices=_optional(choices.RiskTier), required=False)
    lifecycle_status = forms.ChoiceField(
        label="Lifecycle", choices=_optional(choices.LifecycleStatus), required=False
    )
    task = forms.ChoiceField(choices=_optional(choices.ModelTask), required=False)


SENSITIVITY_CHOICES = ANY + [
    ("personal", "Personal data"),
    ("health", "Health data"),
    ("financial", "Financial data"),
    ("any", "Any sensitive data"),
    ("none", "No sensitive data"),
]


class DatasetFilterForm(SearchForm):
    team = TeamChoiceField(queryset=None, required=False, empty_label="Any")
    source = forms.ChoiceField(choices=_optional(choices.DatasetSource), required=False)
    sensitivity = forms.ChoiceField(choices=SENSITIVITY_CHOICES, required=False)


class DeploymentFilterForm(SearchForm):
    environment = forms.ChoiceField(choices=_optional(choices.Environment), required=False)
    active = forms.ChoiceField(
        choices=ANY + [("yes", "Active"), ("no", "Retired")], required=False
    )


# --- Teams --------------------------------------------------------------------------------------


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class TeamMemberForm(forms.Form):
    """Add a user to a team or change their team role (the service does both)."""

    user = forms.ModelChoiceField(queryset=None)
    role = forms.ChoiceField(label="Team role", choices=TeamRole.choices, initial=TeamRole.MEMBER)

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = users
        self.fields["user"].label_from_instance = lambda u: (
            f"{u.display_name} ({u.username})" if u.get_full_name() else u.username
        )


# --- Models and versions ------------------------------------------------------------------------


class ModelForm(forms.Form):
    """Fields of an ML model; `team` only when creating (a model never changes team)."""

    team = TeamChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    task = forms.ChoiceField(choices=choices.ModelTask.choices)
    intended_use = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="What the model is for, who relies on its output, and what it must not do.",
    )
    risk_tier = forms.ChoiceField(
        choices=choices.RiskTier.choices, help_text="EU AI Act risk tier."
    )
    lifecycle_status = forms.ChoiceField(label="Lifecycle", choices=choices.LifecycleStatus.choices)

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams


class ModelVersionUploadForm(forms.Form):
    version = forms.CharField(max_length=64, help_text="For example 1.4.0 or 2026-11-22.")
    artifact = forms.FileField(
        help_text="The serialized model. Its format is detected from the bytes, not the name."
    )
    expected_sha256 = forms.CharField(
        label="Expected SHA-256", required=False, max_length=80,
        help_text="Optional: the upload is refused unless the file has this digest.",
    )
    framework = forms.ChoiceField(choices=choices.Framework.choices,
                                  initial=choices.Framework.SCIKIT_LEARN)
    dependencies = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}), required=False,
        help_text="requirements.txt, pip freeze output or a CycloneDX SBOM (JSON).",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class DatasetVersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.dataset.name} {obj.version} ({obj.dataset.team.name})"


class LineageLinkForm(forms.Form):
    dataset_version = DatasetVersionChoiceField(
        queryset=None, label="Dataset version", empty_label="Choose a dataset version"
    )
    role = forms.ChoiceField(choices=choices.LineageRole.choices)

    def __init__(self, *args, dataset_versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = dataset_versions


# --- Datasets -----------------------------------------------------------------------------------


class DatasetForm(forms.Form):
    team = TeamChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    source = forms.ChoiceField(choices=choices.DatasetSource.choices)
    provenance = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="Where the data came from and how it was collected.",
    )
    licence = forms.CharField(max_length=200, required=False)
    has_personal_data = forms.BooleanField(label="Contains personal data", required=False)
    has_health_data = forms.BooleanField(label="Contains health data", required=False)
    has_financial_data = forms.BooleanField(label="Contains financial data", required=False)
    label_column = forms.CharField(max_length=200, required=False)
    key_column = forms.CharField(max_length=200, required=False)
    sensitive_columns = forms.CharField(
        required=False, max_length=2000, help_text="Column names, separated by commas."
    )

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        if teams is None:
            del self.fields["team"]
        else:
            self.fields["team"].queryset = teams

    def clean_sensitive_columns(self) -> list[str]:
        value = self.cleaned_data["sensitive_columns"]
        return [part.strip() for part in value.split(",") if part.strip()]


class DatasetVersionUploadForm(forms.Form):
    version = forms.CharField(max_length=64, help_text="For example 2026-11 or v3.")
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with a header row. Rows are counted and column types inferred.",
    )


# --- Deployments --------------------------------------------------------------------------------


class DeploymentForm(forms.Form):
    """Endpoint controls of a deployment; `environment` only when creating."""

    environment = forms.ChoiceField(choices=choices.Environment.choices)
    endpoint_url = forms.URLField(label="Endpoint URL", required=False, assume_scheme="https")
    exposure = forms.ChoiceField(choices=choices.Exposure.choices)
    requires_authentication = forms.BooleanField(required=False, initial=True)
    rate_limit_per_minute = forms.IntegerField(
        required=False, min_value=1, help_text="Queries a client may make per minute; empty: none."
    )
    output_granularity = forms.ChoiceField(choices=choices.OutputGranularity.choices)

    def __init__(self, *args, creating: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not creating:
            del self.fields["environment"]
