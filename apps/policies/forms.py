"""Forms of the policy pages: they parse input; apps.policies.services validates and writes.

The grant form offers one "who" list grouped into teams, roles and users, each drawn from the
selectors (what the caller may name); the service checks the choice again.
"""

from django import forms

from apps.accounts.choices import Role
from apps.policies.choices import PERMISSIONS_BY_KIND, AssetKind, GrantPermission


class PolicySettingsForm(forms.Form):
    notes = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why these grants: who needs what, and what was decided.",
    )
    query_logging_enabled = forms.BooleanField(
        label="Queries to this endpoint are logged", required=False,
        help_text="Every query is logged with its caller, so extraction or inference attempts "
        "can be detected and investigated.",
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        if kind != AssetKind.DEPLOYMENT:
            del self.fields["query_logging_enabled"]


class PolicyCreateForm(PolicySettingsForm):
    start_with_team = forms.BooleanField(
        label="Start by granting the owning team what the default rule gives it", required=False,
        initial=True,
        help_text="Without a policy, members of the owning team may download; a new policy "
        "replaces that rule with its grants.",
    )


def default_team_permissions(kind: str) -> list[str]:
    """What "start with the owning team" grants: view, plus download (models, datasets) or
    query (deployments)."""
    second = GrantPermission.QUERY if kind == AssetKind.DEPLOYMENT else GrantPermission.DOWNLOAD
    return [GrantPermission.VIEW, second]


class GrantForm(forms.Form):
    permission = forms.ChoiceField()
    principal = forms.ChoiceField(label="Granted to")

    def __init__(self, *args, kind: str, teams, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permission"].choices = [
            (value, GrantPermission(value).label) for value in PERMISSIONS_BY_KIND[kind]
        ]
        self.fields["principal"].choices = [
            ("", "Choose a team, role or user"),
            ("Teams", [(f"team:{t.pk}", t.name) for t in teams]),
            ("Roles", [(f"role:{value}", f"Every {label.lower()}")
                       for value, label in Role.choices]),
            ("Users", [(f"user:{u.pk}", f"{u.display_name} ({u.username})") for u in users]),
        ]

    def grant(self) -> dict:
        """The cleaned grant in the services' shape: {"permission", "team"|"role"|"user"}."""
        key, _, value = self.cleaned_data["principal"].partition(":")
        return {"permission": self.cleaned_data["permission"], key: value}
