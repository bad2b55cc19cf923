"""Writes about users, their roles and their API tokens."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from knox.models import AuthToken

from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.core.exceptions import ApplicationError


def token_issue(*, request, username: str, password: str) -> tuple[AuthToken, str]:
    """Check credentials and issue an expiring API token; only its hash is stored."""
    user = authenticate(request=request, username=username, password=password)
    if user is None or not user.is_active:
        raise ApplicationError("Unable to log in with the provided credentials.",
                               field="non_field_errors")
    ttl = timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    return AuthToken.objects.create(user=user, expiry=ttl)


def token_revoke(*, token: AuthToken) -> None:
    token.delete()


@transaction.atomic
def user_create(
    *, actor: User | None, username: str, password: str, role: str = Role.DATA_SCIENTIST,
    email: str = "", first_name: str = "", last_name: str = "", is_superuser: bool = False,
) -> User:
    """Create a user (administrators; `actor=None` only for management commands)."""
    if actor is not None:
        perms.require_create(actor, User)
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError("A user with this name already exists.", field="username")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name,
                role=role, is_superuser=is_superuser, is_staff=is_superuser)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Change a user's organisation-wide role (administrators)."""
    perms.require(actor, perms.CHANGE, user)
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    user.role = role
    user.save(update_fields=["role"])
    return user
