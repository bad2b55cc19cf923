from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Connects the receiver that marks password-only sessions (apps.accounts.twofactor).
        from apps.accounts import twofactor  # noqa: F401
        from apps.accounts.checks import check_two_factor_roles

        checks.register(check_two_factor_roles)
