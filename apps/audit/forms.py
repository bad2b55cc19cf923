"""The filter form of the audit pages and of the CSV export (the same filters for both)."""

from django import forms
from django.apps import apps

from apps.audit.choices import AuditAction, Interface

ANY = [("", "Any")]


def object_type_choices() -> list[tuple[str, str]]:
    """Every model of the project's apps (and Django's user tokens), by `app_label.model`."""
    labels = sorted(
        (model._meta.label_lower, f"{model._meta.verbose_name} ({model._meta.label_lower})")
        for model in apps.get_models()
        if model.__module__.startswith("apps.") or model._meta.label_lower == "knox.authtoken"
    )
    return ANY + labels


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150,
                            help_text="Part of a user name, or a user id.")
    action = forms.ChoiceField(choices=ANY + list(AuditAction.choices), required=False)
    object_type = forms.ChoiceField(label="Object type", required=False)
    object_id = forms.CharField(label="Object id", required=False, max_length=64)
    interface = forms.ChoiceField(choices=ANY + list(Interface.choices), required=False)
    since = forms.DateField(label="From (UTC)", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To (UTC)", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = object_type_choices()

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned

    def filters(self) -> dict:
        """The filters to apply (call after is_valid()); empty values left out."""
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in ("", None)}
