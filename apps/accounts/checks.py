"""System checks of the account settings (run by `manage.py check` and at start-up)."""

from django.conf import settings
from django.core.checks import Error

from apps.accounts.choices import Role


def check_two_factor_roles(app_configs, **kwargs) -> list[Error]:
    """A misspelt role in MLGOV_REQUIRE_2FA_ROLES would silently leave that role without a
    second factor: refuse to start instead."""
    unknown = [role for role in settings.MLGOV_REQUIRE_2FA_ROLES if role not in Role.values]
    if not unknown:
        return []
    return [Error(
        f"MLGOV_REQUIRE_2FA_ROLES names unknown roles: {', '.join(unknown)}.",
        hint=f"Use some of: {', '.join(Role.values)}.",
        id="accounts.E001",
    )]
