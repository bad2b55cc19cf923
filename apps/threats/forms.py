"""Forms of the threat-model pages: they parse and validate input; services do the writing.

Choices that depend on the user (assets, owners) come from selectors through the view, so a
form never offers, nor accepts, an object outside the caller's scope. Levels are offered with
the configured labels (MLGOV_RISK_LIKELIHOOD_LABELS / _IMPACT_LABELS).
"""

from datetime import datetime, time

from django import forms
from django.utils import timezone

from apps.registry.forms import SearchForm
from apps.threats import risk
from apps.threats.choices import AssessmentStatus, AssetKind, MitigationStatus, RiskBand
from apps.threats.models import Mitigation, Technique

NOT_SCORED = [("", "Not scored")]
ANY = [("", "Any")]


def level_field(kind: str, label: str, *, required: bool = False) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, coerce=int, empty_value=None, required=required,
        choices=([] if required else NOT_SCORED) + risk.level_choices(kind),
    )


def technique_choices() -> list[tuple[str, str]]:
    """Current techniques, sub-techniques under their parent (one query, at form build)."""
    rows = Technique.objects.filter(is_retired=False).order_by("atlas_id").values_list(
        "atlas_id", "name", "parent__name"
    )
    return [("", "Choose a technique")] + [
        (atlas_id, f"{atlas_id} {parent + ': ' if parent else ''}{name}")
        for atlas_id, name, parent in rows
    ]


def mitigation_choices(first: list[Mitigation] | None = None) -> list:
    """ATLAS mitigations, those addressing the threat first (grouped), then all others."""
    first = list(first or [])
    first_ids = {m.atlas_id for m in first}
    others = Mitigation.objects.filter(is_retired=False).exclude(atlas_id__in=first_ids)
    choices: list = [("", "Custom measure (give a title)")]
    if first:
        choices.append(("Addresses this technique",
                        [(m.atlas_id, f"{m.atlas_id} {m.name}") for m in first]))
    choices.append(("Other ATLAS mitigations",
                    [(m.atlas_id, f"{m.atlas_id} {m.name}") for m in others.order_by("atlas_id")]))
    return choices


class DateInput(forms.DateInput):
    input_type = "date"


# --- Assessments --------------------------------------------------------------------------------


class AssessmentCreateForm(forms.Form):
    technique = forms.ChoiceField(label="ATLAS technique")
    likelihood = level_field("likelihood", "Likelihood")
    impact = level_field("impact", "Impact")
    rationale = forms.CharField(label="Rationale", required=False, max_length=20_000,
                                widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technique"].choices = technique_choices()


class ScoreForm(forms.Form):
    """The inline likelihood x impact form of each row of an asset's threat list."""

    likelihood = level_field("likelihood", "Likelihood")
    impact = level_field("impact", "Impact")


class AssessmentEditForm(forms.Form):
    likelihood = level_field("likelihood", "Likelihood")
    impact = level_field("impact", "Impact")
    residual_likelihood = level_field("likelihood", "Residual likelihood")
    residual_impact = level_field("impact", "Residual impact")
    status = forms.ChoiceField(
        label="Status", required=False,
        choices=[("", "Keep as it is")] + [
            c for c in AssessmentStatus.choices if c[0] != AssessmentStatus.ACCEPTED
        ],
        help_text="A threat becomes accepted through an approved risk acceptance.",
    )
    rationale = forms.CharField(required=False, max_length=20_000,
                                widget=forms.Textarea(attrs={"rows": 3}))
    not_applicable_reason = forms.CharField(
        label="Why it does not apply", required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("status"):
            data.pop("status", None)
        return data


class DismissForm(forms.Form):
    reason = forms.CharField(label="Why it needs no assessment", max_length=20_000)


# --- Mitigations, evidence, acceptances ---------------------------------------------------------


class MitigationForm(forms.Form):
    mitigation = forms.ChoiceField(label="ATLAS mitigation", required=False)
    title = forms.CharField(label="Custom measure", required=False, max_length=200,
                            help_text="Only when no ATLAS mitigation fits.")
    status = forms.ChoiceField(
        choices=[c for c in MitigationStatus.choices if c[0] != MitigationStatus.VERIFIED],
        initial=MitigationStatus.PLANNED,
        help_text="Verified once evidence is attached.",
    )
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Nobody yet")
    due_date = forms.DateField(required=False, widget=DateInput)
    notes = forms.CharField(required=False, max_length=20_000,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, owners=None, first_mitigations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = lambda user: user.username
        self.fields["mitigation"].choices = mitigation_choices(first_mitigations)


class MitigationStatusForm(forms.Form):
    status = forms.ChoiceField(choices=MitigationStatus.choices)


class EvidenceForm(forms.Form):
    file = forms.FileField(required=False, allow_empty_file=True)
    url = forms.CharField(label="or a link", required=False, max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://"}))
    description = forms.CharField(required=False, max_length=20_000)


class AcceptanceRequestForm(forms.Form):
    reason = forms.CharField(label="Why the risk is acceptable", max_length=20_000,
                             widget=forms.Textarea(attrs={"rows": 2}))
    expires_on = forms.DateField(label="Accepted until", widget=DateInput, required=False,
                                 help_text="Required. The threat re-opens after this day.")

    def clean_expires_on(self):
        """The end of the chosen day (UTC), so "until 31 March" includes 31 March."""
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59)),
                                   timezone.get_default_timezone())


class DecisionForm(forms.Form):
    note = forms.CharField(label="Note", required=False, max_length=20_000)


# --- Lists, bulk operations, matrix -------------------------------------------------------------


class AssessmentFilterForm(SearchForm):
    technique = forms.CharField(required=False, max_length=32)
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any")
    status = forms.ChoiceField(choices=ANY + list(AssessmentStatus.choices), required=False)
    residual_band = forms.ChoiceField(label="Residual risk", choices=ANY + list(RiskBand.choices),
                                      required=False)
    kind = forms.ChoiceField(label="Asset", choices=ANY + list(AssetKind.choices),
                             required=False)


class BulkTechniqueForm(forms.Form):
    technique = forms.ChoiceField(label="ATLAS technique")
    likelihood = level_field("likelihood", "Likelihood")
    impact = level_field("impact", "Impact")
    rationale = forms.CharField(required=False, max_length=20_000,
                                widget=forms.Textarea(attrs={"rows": 2}))
    models = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    datasets = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                              widget=forms.CheckboxSelectMultiple)
    deployments = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                                 widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, models=None, datasets=None, deployments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technique"].choices = technique_choices()
        self.fields["models"].queryset = models
        self.fields["datasets"].queryset = datasets
        self.fields["deployments"].queryset = deployments

    def clean(self):
        data = super().clean()
        if not any(data.get(key) for key in ("models", "datasets", "deployments")):
            raise forms.ValidationError("Choose at least one asset.")
        return data

    def assets(self) -> list:
        return [*self.cleaned_data["models"], *self.cleaned_data["datasets"],
                *self.cleaned_data["deployments"]]


class BulkMitigationForm(forms.Form):
    assessments = forms.ModelMultipleChoiceField(queryset=None, required=False)
    mitigation = forms.ChoiceField(label="ATLAS mitigation", required=False)
    title = forms.CharField(label="Custom measure", required=False, max_length=200)
    status = forms.ChoiceField(
        choices=[c for c in MitigationStatus.choices if c[0] != MitigationStatus.VERIFIED],
        initial=MitigationStatus.PLANNED,
    )
    due_date = forms.DateField(required=False, widget=DateInput)

    def __init__(self, *args, assessments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assessments"].queryset = assessments
        self.fields["mitigation"].choices = mitigation_choices()

    def clean_assessments(self):
        chosen = self.cleaned_data.get("assessments")
        if not chosen:
            raise forms.ValidationError("Tick at least one threat in the list.")
        return chosen


class MatrixFilterForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="All teams")

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
