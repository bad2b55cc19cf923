"""Two-step sign-in: the session state between "password checked" and "second factor checked".

Who must use a second factor: users whose role is in `MLGOV_REQUIRE_2FA_ROLES` (administrators
and compliance officers by default) and superusers, plus anyone who has set up an authenticator
app on their own. The second factor is a TOTP code (django-otp's `TOTPDevice`) or one of ten
single-use backup codes (`StaticDevice`).

How it is enforced. A sign-in made by a real HTTP request (any login view: ours or the Django
admin's) marks the session "password only" (`PENDING_SESSION_KEY`) when the user needs a second
factor; `TwoFactorMiddleware` then lets such a session reach only the verify and set-up pages
(and sign-out), and answers API calls made with it 403. Entering a valid code clears the mark
and records the device in the session (`django_otp.login`).

Why the mark is set only for real HTTP requests: the mark is what enforcement keys on, and the
test client's `force_login()` and DRF's `force_authenticate()` build no request through the
middleware stack. Tests that act as a compliance officer or an administrator that way are
therefore not stopped at the second step, while every sign-in through a login page is. A session
without the mark can only come from code that logs a user in directly, never from a browser.
"""

import secrets
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.urls import reverse
from django_otp import login as otp_login

from apps.accounts import selectors

PENDING_SESSION_KEY = "mlgov_2fa_pending"
ENROLMENT_KEY_SESSION_KEY = "mlgov_2fa_enrolment_key"
# Set on every request by TwoFactorMiddleware; `login()` calls made outside a request (tests'
# force_login) never carry it.
INTERACTIVE_ATTR = "_mlgov_interactive_request"
TOTP_KEY_BYTES = 20  # 160 bits, the size RFC 4226 recommends and authenticator apps expect


def mark_interactive(request) -> None:
    setattr(request, INTERACTIVE_ATTR, True)


@receiver(user_logged_in, dispatch_uid="accounts_two_factor_pending")
def _mark_password_only(sender, request, user, **kwargs) -> None:
    if request is None or not getattr(request, INTERACTIVE_ATTR, False):
        return
    if selectors.user_requires_two_factor(user) or selectors.user_has_two_factor(user):
        request.session[PENDING_SESSION_KEY] = True


def is_pending(request) -> bool:
    """A signed-in session that has passed the password but not yet the second factor."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(PENDING_SESSION_KEY))


def complete(request, device) -> None:
    """The second factor was checked: a new session key (the session gained a privilege), the
    device remembered in the session, the "password only" mark gone."""
    request.session.cycle_key()
    otp_login(request, device)
    request.session.pop(PENDING_SESSION_KEY, None)
    request.session.pop(ENROLMENT_KEY_SESSION_KEY, None)


def next_step_url(request, next_url: str = "") -> str:
    """Where a "password only" session goes: the code prompt, or the set-up page for a user who
    must use a second factor and has none yet."""
    has_device = selectors.user_has_two_factor(request.user)
    name = "accounts:two-factor-verify" if has_device else "accounts:two-factor-setup"
    url = reverse(name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def enrolment_key(session) -> str:
    """The hex secret being set up, kept in the session (not the database) until a code proves
    the app has it, so reloading the page shows the same QR code and nothing is half-written."""
    key = session.get(ENROLMENT_KEY_SESSION_KEY)
    if not key:
        key = secrets.token_hex(TOTP_KEY_BYTES)
        session[ENROLMENT_KEY_SESSION_KEY] = key
    return key


def base32_secret(hex_key: str) -> str:
    """The secret as authenticator apps take it when typed in, in groups of four."""
    text = b32encode(unhexlify(hex_key)).decode("ascii").rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def otpauth_uri(user, hex_key: str) -> str:
    """The otpauth:// URI (Key URI format) for this user and secret, built by django-otp."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice(user=user, key=hex_key).config_url


def qr_svg(data: str) -> str:
    """`data` as a QR code, rendered here as an inline SVG path (no script, no external image,
    nothing a strict Content-Security-Policy blocks)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    return svg.replace("<svg ", '<svg class="qr__image" aria-hidden="true" focusable="false" ', 1)
