from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from apps.accounts.choices import Role


class User(AbstractUser):
    """A person using mlgov, with one organisation-wide role (see apps.accounts.permissions)."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.DATA_SCIENTIST)

    # Users are not team-owned; what a user may see of other users is decided in permissions.py.
    scope_team_path = None

    class Meta:
        ordering = ["username"]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class ApiTokenInfo(models.Model):
    """What mlgov knows about one API token beyond knox's row: its name, whether it may only
    read, and when it was last used.

    knox keeps the token itself (only a SHA-512 digest and a short lookup prefix are stored; the
    raw token is shown once, when it is issued). This side table hangs off knox's row and goes
    with it: revoking or expiring a token deletes the knox row, which deletes this one. A side
    table rather than knox's swappable token model, because swapping a model that already has
    migrations and that other code imports by name (`knox.models.AuthToken`) is not safe.
    """

    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE, related_name="info")
    name = models.CharField(max_length=100, blank=True)
    is_read_only = models.BooleanField(
        default=False, help_text="Refused (403) on anything but GET, HEAD and OPTIONS."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    # Tokens belong to a person, not a team: who sees them is decided in permissions.py.
    scope_team_path = None

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"API token {self.name or self.pk}"

    @property
    def is_expired(self) -> bool:
        """knox refuses the token from its expiry on (and deletes it on the next attempt)."""
        expiry = self.token.expiry
        return expiry is not None and expiry <= timezone.now()
