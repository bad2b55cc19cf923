from django.contrib.auth.models import AbstractUser
from django.db import models

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
