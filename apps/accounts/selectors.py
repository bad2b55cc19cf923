"""Reads about accounts: who must use a second factor, their devices, and API tokens."""

from django.conf import settings
from django.db.models import QuerySet
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import permissions as perms
from apps.accounts.models import ApiTokenInfo, User


def user_requires_two_factor(user) -> bool:
    """Whether the user must sign in with a second factor: their role is listed in
    `MLGOV_REQUIRE_2FA_ROLES`, or they are a superuser (who passes every permission check)."""
    return bool(user.is_superuser or user.role in settings.MLGOV_REQUIRE_2FA_ROLES)


def totp_device_get(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they have set one up."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("pk").first()


def user_has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count()


def api_token_list(*, user: User) -> QuerySet[ApiTokenInfo]:
    """The API tokens `user` may see: their own, or everyone's for administrators. Newest first,
    with knox's row and the owner joined (one query per page, however many tokens)."""
    queryset = ApiTokenInfo.objects.select_related("token", "token__user").order_by(
        "-created_at", "-pk"
    )
    return perms.scope_api_tokens(queryset, user)


def api_token_get(*, user: User, pk: int) -> ApiTokenInfo:
    """One token `user` may see (DoesNotExist otherwise, answered as 404)."""
    return api_token_list(user=user).get(pk=pk)
