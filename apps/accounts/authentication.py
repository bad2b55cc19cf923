"""API token authentication: knox's hashed, expiring tokens, plus read-only tokens.

knox finds the token by its prefix, compares SHA-512 digests, drops expired tokens (401) and
refuses deactivated users (401). On top of that, a token issued as read-only (`ApiTokenInfo`)
is refused with 403 on anything but GET, HEAD and OPTIONS, and each token remembers roughly
when it was last used (written at most once a minute, not on every call).
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions, permissions

from apps.accounts.models import ApiTokenInfo

LAST_USED_RESOLUTION = timedelta(minutes=1)

READ_ONLY_MESSAGE = (
    "This API token is read-only: it may only read (GET, HEAD, OPTIONS), not {method}. "
    "Use a token without the read-only restriction to make changes."
)


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        info = ApiTokenInfo.objects.filter(token=token).first()
        if info is not None:
            if info.is_read_only and request.method not in permissions.SAFE_METHODS:
                raise exceptions.PermissionDenied(READ_ONLY_MESSAGE.format(method=request.method))
            now = timezone.now()
            if info.last_used_at is None or now - info.last_used_at >= LAST_USED_RESOLUTION:
                ApiTokenInfo.objects.filter(pk=info.pk).update(last_used_at=now)
        token.mlgov_info = info
        return user, token


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of our subclass: the same `Authorization: Token ...`."""

    target_class = "apps.accounts.authentication.TokenAuthentication"
