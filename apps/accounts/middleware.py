"""Enforces the second sign-in step (see apps.accounts.twofactor for the whole design).

Placed after AuthenticationMiddleware and django-otp's OTPMiddleware. A "password only"
session reaches the sign-in, sign-out, verify and set-up pages and the health check only:
pages redirect to the code prompt (or the set-up page), and API calls made with the session
answer 403. API calls carrying `Authorization: Token ...` are left to the token
authentication (tokens are issued only after the second factor).
"""

from functools import cache

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts import selectors, twofactor

API_PREFIX = "/api/"
API_MESSAGE = (
    "Two-factor verification is required: finish signing in on the web (enter the code of your "
    "authenticator app), or call the API with a token."
)


@cache
def _open_paths() -> frozenset[str]:
    names = ("accounts:login", "accounts:logout", "accounts:two-factor-verify",
             "accounts:two-factor-setup", "api-token", "healthz")
    return frozenset(reverse(name) for name in names)


def _has_token_header(request) -> bool:
    from knox.settings import knox_settings

    prefix = f"{knox_settings.AUTH_HEADER_PREFIX} ".lower()
    return request.headers.get("Authorization", "").lower().startswith(prefix)


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        twofactor.mark_interactive(request)
        refusal = self._refusal(request)
        return refusal if refusal is not None else self.get_response(request)

    def _refusal(self, request):
        if not twofactor.is_pending(request) or not request.user.is_authenticated:
            return None
        path = request.path_info
        if path in _open_paths() or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        user = request.user
        if not selectors.user_requires_two_factor(user) and not selectors.user_has_two_factor(user):
            # Nothing left to ask for (an administrator reset the device of a user whose role
            # does not require one, or the role changed since the sign-in).
            request.session.pop(twofactor.PENDING_SESSION_KEY, None)
            return None
        if path.startswith(API_PREFIX):
            if _has_token_header(request):
                return None
            return JsonResponse({"detail": API_MESSAGE}, status=403)
        return redirect(twofactor.next_step_url(request, next_url=request.get_full_path()))
