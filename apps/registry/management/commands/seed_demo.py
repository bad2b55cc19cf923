"""`manage.py seed_demo`: load the demo users, teams and scikit-learn models (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ApplicationError
from apps.registry import demo


class Command(BaseCommand):
    help = (
        "Create demo users (one per role), teams, datasets and trained scikit-learn models. "
        "Safe to run again: what exists already is reported and left alone. New users' "
        f"passwords are random unless {demo.PASSWORD_ENV} is set, and shown once only where "
        "MLGOV_DEMO_PASSWORD_PRINTING is on."
    )

    def handle(self, *args, **options):
        try:
            report = demo.seed_demo()
        except ApplicationError as exc:
            raise CommandError(f"Demo data not loaded (nothing was kept): {exc}") from exc
        for line in report.lines:
            self.stdout.write(line)
        if not report.credentials:
            self.stdout.write("No new users; existing passwords are unchanged.")
        elif settings.MLGOV_DEMO_PASSWORD_PRINTING:
            self.stdout.write(self.style.SUCCESS("\nDemo logins (shown once, stored as hashes):"))
            self.stdout.write(demo.credentials_table(report.credentials))
        else:
            self.stdout.write(
                f"\nPasswords were set for {len(report.credentials)} new users but are not shown "
                "(MLGOV_DEMO_PASSWORD_PRINTING is off); set them with "
                "`manage.py changepassword <username>`."
            )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
