"""`manage.py import_advisories PATH...`: load OSV vulnerability records into the local advisory
database the supply-chain scanner reads (it never reaches the network itself)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.exceptions import ApplicationError
from apps.scans.services import advisories_import

MAX_FILE_BYTES = 50 * 1024 * 1024


def _records(paths: list[Path]):
    """(file name, record) for every OSV record in the given files and folders (*.json,
    searched recursively). A file holds one record or a list of records."""
    files = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.json")))
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{path}: no such file or folder.")
    if not files:
        raise CommandError("No .json files found.")
    for file in files:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(f"{file}: larger than {MAX_FILE_BYTES} bytes.")
        try:
            content = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{file}: not readable JSON ({exc}). Nothing was imported.") from exc
        for index, record in enumerate(content if isinstance(content, list) else [content]):
            yield (f"{file}[{index}]" if isinstance(content, list) else str(file)), record


class Command(BaseCommand):
    help = (
        "Import OSV vulnerability records (https://ossf.github.io/osv-schema/) from JSON files "
        "or folders, e.g. fixtures/advisories/. All or nothing; importing again updates the "
        "records in place and removes withdrawn ones. Only PyPI packages are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="OSV .json files or folders")

    def handle(self, *args, paths: list[Path], **options) -> None:
        try:
            report = advisories_import(records=list(_records(paths)))
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} Nothing was imported.") from exc
        self.stdout.write(f"Advisories: {report}.")
