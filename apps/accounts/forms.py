"""Forms of the account pages: sign-in, and user management for administrators."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)

from apps.accounts.choices import Role
from apps.accounts.models import User


class LoginForm(AuthenticationForm):
    """Django's sign-in form with the attributes password managers and browsers expect."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label="Organisation role", choices=Role.choices)


class UserSearchForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=150)
    role = forms.ChoiceField(choices=[("", "Any")] + list(Role.choices), required=False)

    def filters(self) -> dict:
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}


class UserCreateForm(forms.Form):
    """A new account; the password is checked by the configured password validators."""

    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(label="Organisation role", choices=Role.choices,
                             initial=Role.DATA_SCIENTIST)
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password_confirm = forms.CharField(
        label="Password (again)", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password and password != cleaned.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        elif password:
            candidate = User(username=cleaned.get("username", ""), email=cleaned.get("email", ""),
                             first_name=cleaned.get("first_name", ""),
                             last_name=cleaned.get("last_name", ""))
            try:
                validate_password(password, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class OneTimeCodeForm(forms.Form):
    """The second sign-in step: the authenticator app's current code, or a backup code."""

    otp = forms.CharField(
        label="Code", max_length=32, strip=True,
        help_text="The 6-digit code your authenticator app shows now, or one of your backup "
                  "codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "autocapitalize": "none", "spellcheck": "false"}),
    )


class TotpSetupForm(forms.Form):
    """Confirms a new authenticator app with the code it shows."""

    otp = forms.CharField(
        label="Code from the app", max_length=32, strip=True,
        help_text="The 6-digit code the app shows for mlgov after you added it.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True}),
    )


class ConfirmWithCodeForm(forms.Form):
    """A change to one's own second factor, confirmed with a current code."""

    otp = forms.CharField(
        label="Current code", max_length=32, strip=True,
        help_text="A code from your authenticator app (or a backup code).",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. \u201ccredit-scorer CI pipeline\u201d.",
    )
    read_only = forms.BooleanField(
        label="Read-only (may only read: GET requests)", required=False,
    )
