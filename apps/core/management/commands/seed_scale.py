"""`manage.py seed_scale`: add production-sized fake data for load tests (see apps.core.scale)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from apps.core import scale
from apps.core.exceptions import ApplicationError

SIZE_OPTIONS = (
    ("teams", "teams"),
    ("users", "users (every 20th an auditor, the next a compliance officer)"),
    ("models", "models"),
    ("versions_per_model", "versions of each model"),
    ("datasets", "datasets (one version each)"),
    ("assessments", "threat assessments, spread over the models"),
    ("findings", "scan findings (one observation each)"),
    ("audit_entries", "audit entries, continuing the hash chain"),
    ("scans", "scan runs (default: one per 20 findings)"),
    ("deployments", "deployments (default: one per 10 models)"),
)


class Command(BaseCommand):
    help = (
        "Add fake teams, users, models, versions, datasets, assessments, scans, findings and "
        "audit entries at production size, deterministically from --seed (COPY on "
        "PostgreSQL). Seeded versions have no file: scanning them means nothing. For load "
        "tests and query tuning, never for a database with real data you care about."
    )

    def add_arguments(self, parser):
        defaults = scale.Sizes()
        for name, what in SIZE_OPTIONS:
            default = getattr(defaults, name)
            parser.add_argument(
                f"--{name.replace('_', '-')}", type=int, default=default, dest=name,
                help=f"How many {what}" + ("" if default is None else f" (default {default})."),
            )
        parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0).")
        parser.add_argument("--prefix", default="scale",
                            help="Prefix of team and user names (default 'scale').")
        parser.add_argument("--password", default=None,
                            help="Password of every seeded user (default: they cannot log in).")
        parser.add_argument("--epoch", default=None,
                            help="ISO time the seeded history ends at (default: now).")

    def handle(self, *args, seed, prefix, password, epoch, **options):
        if seed < 0:
            raise CommandError("--seed must not be negative.")
        try:
            when = datetime.fromisoformat(epoch) if epoch else None
        except ValueError:
            raise CommandError(f"--epoch {epoch!r} is not an ISO 8601 time.") from None
        if when is not None and when.tzinfo is None:
            raise CommandError("--epoch needs a time zone, e.g. 2026-01-01T00:00:00+00:00.")
        try:
            sizes = scale.Sizes(**{name: options[name] for name, _ in SIZE_OPTIONS})
            report = scale.seed_scale(sizes=sizes, seed=seed, prefix=prefix, password=password,
                                      epoch=when, progress=self.stdout.write)
        except ApplicationError as exc:
            raise CommandError(f"Nothing was seeded: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {report.total_rows:,} rows in {report.total_seconds:.1f} s."
        ))
