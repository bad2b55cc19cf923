"""Glue between django-axes (sign-in throttling and lock-out) and mlgov.

Axes counts failed sign-ins per (username, client address) pair and refuses further attempts
for `AXES_COOLOFF_TIME` once `AXES_FAILURE_LIMIT` is reached. Every password check goes through
`django.contrib.auth.authenticate(request=...)` (the web form and the API token endpoint), where
`AxesStandaloneBackend` stops locked-out callers; a wrong second factor is reported as a failed
sign-in too (`second_factor_failed`), so guessing one-time codes also ends in a lock-out.
"""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_lockout_message
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from apps.audit.middleware import client_ip as _audit_client_ip
from apps.core.exceptions import ApplicationError

LOCKED_OUT_TEMPLATE = "accounts/locked_out.html"


class TooManyAttempts(ApplicationError):
    """Refused for now after too many failures (429): wait and try again."""

    status = 429


class LockedOut(TooManyAttempts):
    """Sign-ins of this user from this address are refused until the cool-off ends (axes)."""


def client_ip(request) -> str | None:
    """`AXES_CLIENT_IP_CALLABLE`: the same proxy-aware address the audit trail records
    (`MLGOV_TRUSTED_PROXY_COUNT`), so a lock-out and the audit entries name the same client.
    None when unknown (a request built in code, such as the test client's `force_login`)."""
    return _audit_client_ip(request) or None


def _credentials(username: str) -> dict:
    return {"username": username}


def is_locked_out(request, username: str) -> bool:
    """Whether axes refuses sign-ins of `username` from this request's address right now."""
    if not settings.AXES_ENABLED:
        return False
    return not AxesProxyHandler.is_allowed(request, _credentials(username))


def was_locked_out(request) -> bool:
    """Whether the last failed attempt on this request reached the limit (set by axes)."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_error() -> LockedOut:
    cool_off = get_cool_off()
    message = str(get_lockout_message())
    if cool_off:
        minutes = max(1, round(cool_off.total_seconds() / 60))
        message = (
            "Too many failed sign-in attempts for this account from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
    extra = {"retry_after": int(cool_off.total_seconds())} if cool_off else None
    return LockedOut(message, extra=extra)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """`AXES_LOCKOUT_CALLABLE`: what a locked-out web sign-in gets instead of the form, a page
    that says why and for how long (JSON for scripts that ask for it), with status 429."""
    error = lockout_error()
    accept = request.headers.get("Accept", "")
    if "application/json" in accept or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"detail": error.message, **error.extra}, status=error.status)
    return render(request, LOCKED_OUT_TEMPLATE, {"message": error.message}, status=error.status)


def second_factor_failed(request, username: str) -> None:
    """Report a wrong one-time code as a failed sign-in: axes counts it towards the lock-out and
    the audit trail records it (both listen to Django's `user_login_failed`)."""
    user_login_failed.send(sender=__name__, credentials=_credentials(username), request=request)


def attempts_reset(request, username: str) -> None:
    """After a complete sign-in that did not call `login()` (an API token): forget the earlier
    failures of this user from this address, as axes does for web sign-ins."""
    if settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS:
        AxesProxyHandler.update_request(request)
        AxesProxyHandler.get_implementation().reset_user_attempts(
            request, _credentials(username)
        )
