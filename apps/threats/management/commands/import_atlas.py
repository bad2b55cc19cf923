"""`manage.py import_atlas PATH`: bring the ATLAS catalogue up to an official ATLAS.yaml."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.threats.atlas_import import AtlasFormatError
from apps.threats.services import CHANGE_COLUMNS, ImportReport, catalogue_import_file


class Command(BaseCommand):
    help = (
        "Import a MITRE ATLAS data file (dist/ATLAS.yaml of mitre-atlas/atlas-data). "
        "All or nothing: a malformed file is refused and nothing is written. Ids missing from "
        "the file are retired, never deleted. Running it twice on one file changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="path to ATLAS.yaml")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change, write nothing"
        )

    def handle(self, *args, path: Path, dry_run: bool, **options) -> None:
        try:
            report = catalogue_import_file(path=path, dry_run=dry_run)
        except AtlasFormatError as exc:
            raise CommandError(f"{path}: {exc.message}\nNothing was imported.") from exc
        self.stdout.write(self.render(report, dry_run=dry_run))

    @staticmethod
    def render(report: ImportReport, *, dry_run: bool) -> str:
        """A table: one row per kind of object, one column per kind of change."""
        verb = "Would import" if dry_run else "Imported"
        lines = [f"{verb} MITRE ATLAS {report.version} (source {report.source[:16]}):"]
        header = f"  {'':16}" + "".join(f"{column:>11}" for column in CHANGE_COLUMNS)
        lines.append(header)
        for kind, row in report.counts.items():
            cells = "".join(f"{row[column]:>11}" for column in CHANGE_COLUMNS)
            lines.append(f"  {kind:16}{cells}")
        if report.repeated_links:
            lines.append(
                f"  ({report.repeated_links} link entries repeated a mitigation-technique pair "
                "and were merged into one link.)"
            )
        if not report.changed_anything:
            lines.append("Nothing changed: the catalogue already matches this file.")
        elif dry_run:
            lines.append("Dry run: nothing was written.")
        return "\n".join(lines)
