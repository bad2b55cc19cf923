"""Writes about users, their roles, their second factors and their API tokens."""

import re
import time
from binascii import unhexlify
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from apps.accounts import lockout, selectors
from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.models import ApiTokenInfo, User
from apps.audit.choices import AuditAction
from apps.audit.services import (
    audit_created,
    audit_record,
    audit_snapshot,
    audit_updated,
)
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope

# The user fields the audit trail records (the password only as "set", masked).
USER_AUDITED = ("username", "email", "first_name", "last_name", "role", "is_active",
                "is_staff", "is_superuser")
BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
TOTP_TOLERANCE = 1  # one 30-second step either side, for clocks that drift a little
_CODE_SEPARATORS = re.compile(r"[\s-]+")


# --- Passwords and users --------------------------------------------------------------------------


def _check_password_strength(password: str, user: User) -> None:
    """The configured validators (AUTH_PASSWORD_VALIDATORS), as a 400 naming `password`."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), field="password") from None


@transaction.atomic
def user_create(
    *, actor: User | None, username: str, password: str, role: str = Role.DATA_SCIENTIST,
    email: str = "", first_name: str = "", last_name: str = "", is_superuser: bool = False,
) -> User:
    """Create a user (administrators; `actor=None` only for management commands). The password
    must pass the configured validators (at least 12 characters, not common, not all digits,
    not like the user's name)."""
    if actor is not None:
        perms.require_create(actor, User)
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError("A user with this name already exists.", field="username")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name,
                role=role, is_superuser=is_superuser, is_staff=is_superuser)
    _check_password_strength(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_created(obj=user, actor=actor, fields=USER_AUDITED + ("password",))
    return user


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Change a user's organisation-wide role (administrators)."""
    perms.require(actor, perms.CHANGE, user)
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    before = audit_snapshot(user, ["role"])
    user.role = role
    user.save(update_fields=["role"])
    audit_updated(obj=user, before=before, actor=actor)
    return user


# --- Second factor ----------------------------------------------------------------------------


def _normalised_code(code: str) -> str:
    return _CODE_SEPARATORS.sub("", code or "").lower()


def _is_totp_code(code: str) -> bool:
    return code.isdigit() and len(code) == 6


def second_factor_verify(*, request, user: User, code: str):
    """Check a one-time code of `user`: the current code of their authenticator app, or one of
    their unused backup codes (which is then used up). Returns the device that accepted it.

    A wrong code counts as a failed sign-in (axes lock-out, audit trail). django-otp also slows
    down guessing per device: after n wrong codes the device refuses for 2^(n-1) seconds.
    Raises LockedOut (429) while locked out, TooManyAttempts (429, field `otp`) while slowed
    down, ApplicationError (400, field `otp`) for a wrong code.
    """
    username = user.get_username()
    if lockout.is_locked_out(request, username):
        raise lockout.lockout_error()
    code = _normalised_code(code)
    # Each kind of device only ever sees its own kind of code, so that a TOTP code never counts
    # as a wrong backup code (and slows the backup codes down), nor the other way round.
    model = TOTPDevice if _is_totp_code(code) else StaticDevice
    slowed_until = None
    with transaction.atomic():
        devices = model.objects.filter(user_id=user.pk, confirmed=True).select_for_update()
        for device in devices:
            allowed, why = device.verify_is_allowed()
            if not allowed:
                slowed_until = (why or {}).get("locked_until")
                continue
            if code and device.verify_token(code):
                return device
    lockout.second_factor_failed(request, username)
    if lockout.was_locked_out(request):
        raise lockout.lockout_error()
    if slowed_until is not None:
        wait = max(1, int((slowed_until - timezone.now()).total_seconds()) + 1)
        raise lockout.TooManyAttempts(
            f"Too many wrong codes: wait {wait} seconds before trying again.", field="otp",
            extra={"retry_after": wait},
        )
    raise ApplicationError(
        "That code is not valid. Enter the 6-digit code your authenticator app shows now, "
        "or one of your unused backup codes.", field="otp",
    )


def _backup_codes_create(user: User) -> list[str]:
    """Replace the user's backup codes with ten new single-use ones, returned once."""
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def totp_device_confirm(*, user: User, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Finish setting up an authenticator app: `code` must be the app's current code for the
    secret `key` (hex) the user was shown. Creates the confirmed device and ten backup codes,
    which are returned once (django-otp keeps them for checking; nobody is shown them again).
    """
    if TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=True).exists():
        raise ApplicationError("Two-factor authentication is already set up for this account.")
    code = _normalised_code(code)
    totp = TOTP(unhexlify(key))
    totp.time = time.time()
    if not _is_totp_code(code) or not totp.verify(int(code), tolerance=TOTP_TOLERANCE):
        raise ApplicationError(
            "That code does not match. Check that the app was set up with this page's QR code "
            "or secret and that your phone's clock is right, then enter the code it shows now.",
            field="otp",
        )
    TOTPDevice.objects.filter(user_id=user.pk).delete()  # unconfirmed leftovers, if any
    # last_t: the code just used cannot be replayed to sign in.
    device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, key=key,
                                       confirmed=True, last_t=totp.t(), drift=totp.drift)
    codes = _backup_codes_create(user)
    audit_record(action=AuditAction.CREATE, obj=device, actor=user,
                 object_repr=f"Two-factor authentication of {user.get_username()}",
                 changes={"two_factor": [False, True], "backup_codes": [0, len(codes)]})
    return device, codes


def backup_codes_regenerate(*, request, user: User, code: str) -> list[str]:
    """New backup codes (the old ones stop working), confirmed with a current code."""
    second_factor_verify(request=request, user=user, code=code)
    with transaction.atomic():
        codes = _backup_codes_create(user)
        audit_record(action=AuditAction.UPDATE, obj=user, actor=user,
                     changes={"backup_codes": ["replaced", len(codes)]})
    return codes


def _devices_delete(user: User) -> int:
    totp_deleted, _ = TOTPDevice.objects.filter(user_id=user.pk).delete()
    static_deleted, _ = StaticDevice.objects.filter(user_id=user.pk).delete()
    return totp_deleted + static_deleted


def two_factor_disable(*, request, user: User, code: str) -> None:
    """Turn off one's own second factor, confirmed with a current code. Refused to those whose
    role requires it."""
    if selectors.user_requires_two_factor(user):
        raise Forbidden("Your role requires two-factor authentication: it stays on.")
    second_factor_verify(request=request, user=user, code=code)
    with transaction.atomic():
        _devices_delete(user)
        audit_record(action=AuditAction.DELETE, obj=user, actor=user,
                     object_repr=f"Two-factor authentication of {user.get_username()}",
                     changes={"two_factor": [True, False]})


@transaction.atomic
def two_factor_reset(*, actor: User, user: User) -> None:
    """An administrator removes a user's authenticator app and backup codes (a lost phone).
    The user sets up a new app at their next sign-in if their role requires one."""
    perms.require(actor, perms.CHANGE, user)
    if not _devices_delete(user):
        raise ApplicationError(f"{user.get_username()} has no two-factor authentication set up.")
    audit_record(action=AuditAction.UPDATE, obj=user, actor=actor,
                 changes={"two_factor": ["reset", False]})


# --- API tokens -------------------------------------------------------------------------------


def _api_token_create(*, user: User, name: str, read_only: bool) -> tuple[ApiTokenInfo, str]:
    """A new expiring token and its side row; knox stores only its digest."""
    ttl = timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    instance, raw = AuthToken.objects.create(user=user, expiry=ttl)
    info = ApiTokenInfo.objects.create(token=instance, name=name.strip(),
                                       is_read_only=read_only)
    return info, raw


def _api_second_factor_check(*, request, user: User, otp: str) -> None:
    if not selectors.user_has_two_factor(user):
        if selectors.user_requires_two_factor(user):
            raise ApplicationError(
                "Your role requires two-factor authentication, which is not set up for this "
                "account yet: sign in on the web once to set it up, then send its code as "
                "`otp`.", field="otp",
            )
        return
    if not _normalised_code(otp):
        raise ApplicationError(
            "This account uses two-factor authentication: send the code of your authenticator "
            "app (or a backup code) as `otp`.", field="otp",
        )
    second_factor_verify(request=request, user=user, code=otp)


def token_issue(
    *, request, username: str, password: str, otp: str = "", read_only: bool = False,
    name: str = "",
) -> tuple[AuthToken, str]:
    """Check credentials (and the second factor, for accounts that have one) and issue an
    expiring API token; only its hash is stored and the raw token is returned this once.

    Throttled by axes like the web sign-in: LockedOut (429) while locked out.
    """
    user = authenticate(request=request, username=username, password=password)
    if lockout.was_locked_out(request):
        raise lockout.lockout_error()
    if user is None or not user.is_active:
        raise ApplicationError("Unable to log in with the provided credentials.",
                               field="non_field_errors")
    _api_second_factor_check(request=request, user=user, otp=otp)
    with transaction.atomic():
        info, token = _api_token_create(user=user, name=name, read_only=read_only)
        # A token login never calls login(), so no user_logged_in signal: recorded here.
        audit_record(action=AuditAction.LOGIN_SUCCEEDED, obj=user, actor=user,
                     changes={"method": "api_token", "prefix": info.token.token_key})
    lockout.attempts_reset(request, username)
    return info.token, token


def token_create(*, user: User, name: str, read_only: bool) -> tuple[ApiTokenInfo, str]:
    """A token made on the tokens page by a signed-in user, for themselves."""
    if not perms.is_active_user(user):
        raise Forbidden("Sign in to create API tokens.")
    if not name.strip():
        raise ApplicationError("Give the token a name, e.g. the pipeline that will use it.",
                               field="name")
    with transaction.atomic():
        info, token = _api_token_create(user=user, name=name, read_only=read_only)
        audit_record(action=AuditAction.CREATE, obj=info, actor=user,
                     object_repr=f"API token {info.token.token_key} of {user.get_username()}",
                     changes={"name": [None, info.name], "read_only": [None, read_only],
                              "expiry": [None, str(info.token.expiry)]})
    return info, token


@transaction.atomic
def token_revoke(*, token: AuthToken, actor: User | None = None) -> None:
    """Revoke a token at once: knox's row (and its ApiTokenInfo) goes, and the token answers 401
    from the next call on. `actor` must be its owner or an administrator; None only for
    management code acting on its own."""
    if actor is not None and not perms.scope_api_tokens(
        ApiTokenInfo.objects.filter(token=token), actor
    ).exists():
        raise NotInScope("Not found.")
    info = ApiTokenInfo.objects.filter(token=token).first()
    # Named by its public prefix: the primary key is the digest that authenticates the token.
    audit_record(action=AuditAction.DELETE, obj=token, object_id=token.token_key,
                 object_repr=f"API token {token.token_key} of user {token.user_id}",
                 actor=actor,
                 changes={"user_id": [token.user_id, None],
                          "name": [info.name if info else "", None],
                          "expiry": [str(token.expiry), None]})
    token.delete()
