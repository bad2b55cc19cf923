"""Forms of the scan pages: they parse and validate input; services decide and write."""

from datetime import UTC, datetime, time

from django import forms

from apps.registry.forms import ANY, SearchForm
from apps.scans.choices import FindingStatus, ScanStatus, ScanTrigger, Severity, TriageDecision
from apps.scans.scanners.base import ScannerInput

PARAM_PREFIX = "param_"


def _optional(choice_class) -> list[tuple[str, str]]:
    return ANY + list(choice_class.choices)


class ScanFilterForm(SearchForm):
    status = forms.ChoiceField(choices=_optional(ScanStatus), required=False)
    trigger = forms.ChoiceField(label="Started by", choices=_optional(ScanTrigger),
                                required=False)


class FindingFilterForm(SearchForm):
    severity = forms.ChoiceField(choices=_optional(Severity), required=False)
    status = forms.ChoiceField(choices=_optional(FindingStatus), required=False)
    scanner = forms.ChoiceField(choices=ANY, required=False)

    def __init__(self, *args, scanner_names=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scanner"].choices = ANY + [(name, name) for name in scanner_names]


def _input_field(spec: ScannerInput) -> forms.Field:
    if spec.kind == "url_list":
        return forms.CharField(
            label=spec.name.replace("_", " ").capitalize(), required=spec.required,
            help_text=f"{spec.help} One URL per line.",
            widget=forms.Textarea(attrs={"rows": 2}), max_length=25_000,
        )
    if spec.kind == "dataset_version":
        return forms.IntegerField(
            label=spec.name.replace("_", " ").capitalize(), required=spec.required,
            min_value=1, help_text=f"{spec.help} (dataset version id)",
        )
    return forms.CharField(label=spec.name.replace("_", " ").capitalize(),
                           required=spec.required, help_text=spec.help, max_length=200)


class ScanStartForm(forms.Form):
    """Which scanners to run over a target, and the inputs they read."""

    scanners = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, scanners: dict, **kwargs):
        """`scanners`: the applicable scanner classes by name."""
        super().__init__(*args, **kwargs)
        self.fields["scanners"].choices = [(name, cls.title) for name, cls in scanners.items()]
        self.fields["scanners"].initial = list(scanners)
        seen = set()
        for scanner in scanners.values():
            for spec in scanner.inputs:
                if spec.name not in seen:
                    seen.add(spec.name)
                    self.fields[PARAM_PREFIX + spec.name] = _input_field(spec)

    def params(self) -> dict:
        """The inputs given, by input name (empty ones left out)."""
        return {
            name.removeprefix(PARAM_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(PARAM_PREFIX) and value not in (None, "")
        }


class TriageForm(forms.Form):
    status = forms.ChoiceField(label="Decision", choices=TriageDecision.choices)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000,
        help_text="Why: required to accept a risk or mark a false positive.",
    )
    expires_at = forms.DateField(
        label="Acceptance expires on", required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Required to accept a risk; the finding reopens at the end of that day (UTC).",
    )

    def expiry(self) -> datetime | None:
        """The end (UTC) of the chosen day: an acceptance lasts through the day it names."""
        day = self.cleaned_data.get("expires_at")
        return datetime.combine(day, time.max, tzinfo=UTC) if day else None
