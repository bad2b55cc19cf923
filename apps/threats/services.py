"""Writes of the threats app.

Catalogue: `catalogue_import` brings the stored ATLAS catalogue in line with a checked
`AtlasCatalogue` (from an official ATLAS.yaml or the shipped fixture) in one transaction.
It never deletes: ids missing from the new data are retired, ids that come back are restored,
so user records that point at catalogue rows keep their links across ATLAS versions.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models, transaction
from django.utils import timezone

from apps.threats.atlas_import import (
    AtlasCatalogue,
    load_atlas_file,
    load_shipped_catalogue,
)
from apps.threats.choices import CatalogueKind
from apps.threats.models import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)

# --- Catalogue import ---------------------------------------------------------------------------

CHANGE_COLUMNS = ("added", "changed", "retired", "restored", "unchanged")


@dataclass
class ImportReport:
    """What an import did, per kind of object: added, changed, retired, restored, unchanged.

    `restored` counts retired ids that came back (they are also not counted as changed).
    """

    version: str = ""
    source: str = ""
    repeated_links: int = 0
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            kind: dict.fromkeys(CHANGE_COLUMNS, 0) for kind in CatalogueKind.values
        }
    )

    def add(self, kind: str, column: str, amount: int = 1) -> None:
        self.counts[kind][column] += amount

    @property
    def changed_anything(self) -> bool:
        return any(
            row[column]
            for row in self.counts.values()
            for column in ("added", "changed", "retired", "restored")
        )

    def totals(self) -> dict[str, int]:
        """How many objects of each kind the imported data holds."""
        return {
            kind: row["added"] + row["changed"] + row["restored"] + row["unchanged"]
            for kind, row in self.counts.items()
        }


class _DryRun(Exception):
    """Raised inside the import transaction to roll a dry run back."""


def catalogue_import_file(*, path: Path, dry_run: bool = False) -> ImportReport:
    """Import an official ATLAS.yaml (`manage.py import_atlas`); refused files write nothing.

    With `dry_run`, the report says what would change and the transaction is rolled back.
    """
    catalogue, sha256 = load_atlas_file(path)
    arguments = {"catalogue": catalogue, "source": sha256, "source_name": path.name}
    if not dry_run:
        return catalogue_import(**arguments)
    try:
        with transaction.atomic():
            report = catalogue_import(**arguments)
            raise _DryRun
    except _DryRun:
        return report


def catalogue_install_shipped() -> ImportReport | None:
    """Install the catalogue mlgov ships, unless this or a newer ATLAS version is already in.

    Runs after every `migrate` (apps.threats.apps), so a fresh installation always has a
    catalogue, and an upgrade that ships a newer one brings it in, while a catalogue an
    administrator imported from a newer ATLAS.yaml is never rolled back.
    """
    catalogue = load_shipped_catalogue()
    installed = CatalogueVersion.objects.values_list("version", flat=True)
    if any(_version_key(v) >= _version_key(catalogue.version) for v in installed):
        return None
    return catalogue_import(
        catalogue=catalogue, source=CatalogueVersion.SHIPPED, source_name="mlgov"
    )


def _version_key(version: str) -> tuple:
    """A sort key for ATLAS versions: 5.10.0 after 5.6.0; text parts after numeric ones."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.split("."))


@transaction.atomic
def catalogue_import(
    *, catalogue: AtlasCatalogue, source: str, source_name: str = ""
) -> ImportReport:
    """Bring the stored catalogue in line with `catalogue` and record the CatalogueVersion.

    Idempotent: importing the same data again changes no row and reports only "unchanged".
    A description or `use` text absent from the data (the shipped fixture has none) leaves the
    stored text alone; present text replaces it.
    """
    report = ImportReport(
        version=catalogue.version, source=source, repeated_links=catalogue.repeated_links
    )
    tactics = _sync_tactics(catalogue, report)
    techniques = _sync_techniques(catalogue, tactics, report)
    mitigations = _sync_mitigations(catalogue, report)
    _sync_links(catalogue, mitigations, techniques, report)
    _record_version(catalogue, report, source=source, source_name=source_name)
    return report


@dataclass
class _Sync:
    rows: dict[str, models.Model]
    added: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    retired: set[str] = field(default_factory=set)
    restored: set[str] = field(default_factory=set)


def _sync_rows(
    model: type[models.Model],
    wanted: dict,
    *,
    key: Callable[[models.Model], object] = lambda row: row.atlas_id,
    queryset=None,
) -> _Sync:
    """Create, update, retire and restore rows of `model` so they match `wanted`.

    `wanted` maps a key to the field values the row should have. A value of None means "keep
    what is stored" (texts the data does not carry). Rows whose key is absent get retired.
    """
    queryset = queryset if queryset is not None else model.objects.all()
    existing = {key(row): row for row in queryset}
    result = _Sync(rows=existing)
    to_create, to_update, update_fields = [], [], set()
    for item_key, values in wanted.items():
        values = {name: value for name, value in values.items() if value is not None}
        row = existing.get(item_key)
        if row is None:
            to_create.append(model(**values, is_retired=False))
            result.added.add(item_key)
            continue
        differing = [name for name, value in values.items() if getattr(row, name) != value]
        if row.is_retired:
            row.is_retired = False
            differing.append("is_retired")
            result.restored.add(item_key)
        elif differing:
            result.changed.add(item_key)
        for name in differing:
            if name != "is_retired":
                setattr(row, name, values[name])
        if differing:
            to_update.append(row)
            update_fields.update(differing)
    for item_key, row in existing.items():
        if item_key not in wanted and not row.is_retired:
            row.is_retired = True
            to_update.append(row)
            update_fields.add("is_retired")
            result.retired.add(item_key)
    if to_create:
        model.objects.bulk_create(to_create)
    if to_update:
        model.objects.bulk_update(to_update, sorted(update_fields))
    if to_create:
        # Re-read so every row has its primary key whatever the database backend returns.
        result.rows = {key(row): row for row in queryset.all()}
    return result


def _tally(report: ImportReport, kind_of: Callable[[object], str], sync: _Sync) -> None:
    for column in ("added", "changed", "retired", "restored"):
        for item_key in getattr(sync, column):
            report.add(kind_of(item_key), column)


def _attack_fields(record) -> dict:
    return {"attack_id": record.attack.id, "attack_url": record.attack.url}


def _sync_tactics(catalogue: AtlasCatalogue, report: ImportReport) -> dict[str, Tactic]:
    wanted = {
        t.atlas_id: {
            "atlas_id": t.atlas_id,
            "name": t.name,
            "matrix_order": t.matrix_order,
            "description": t.description,
            **_attack_fields(t),
        }
        for t in catalogue.tactics
    }
    sync = _sync_rows(Tactic, wanted)
    _tally(report, lambda _: CatalogueKind.TACTICS, sync)
    _count_unchanged(report, {CatalogueKind.TACTICS: len(wanted)})
    return sync.rows


def _sync_techniques(
    catalogue: AtlasCatalogue, tactics: dict[str, Tactic], report: ImportReport
) -> dict[str, Technique]:
    """Techniques in two passes (parents before sub-techniques), then their tactic sets."""
    existing_kind = dict(
        (atlas_id, parent_id is not None)
        for atlas_id, parent_id in Technique.objects.values_list("atlas_id", "parent_id")
    )
    incoming_kind = {t.atlas_id: t.is_subtechnique for t in catalogue.techniques}

    def kind_of(atlas_id: str) -> str:
        is_sub = incoming_kind.get(atlas_id, existing_kind.get(atlas_id, False))
        return CatalogueKind.SUBTECHNIQUES if is_sub else CatalogueKind.TECHNIQUES

    def fields(record, parent_pk) -> dict:
        return {
            "atlas_id": record.atlas_id,
            "name": record.name,
            "maturity": record.maturity,
            "description": record.description,
            "parent_id": parent_pk,
            **_attack_fields(record),
        }

    # Pass 1 upserts every technique with parent_id untouched (None = keep); pass 2 sets parents
    # once every parent row exists. Retirement happens in pass 1, over the full id set.
    first = _sync_rows(Technique, {t.atlas_id: {**fields(t, None)} for t in catalogue.techniques})
    rows = first.rows
    parent_changes = []
    for record in catalogue.techniques:
        row = rows[record.atlas_id]
        parent_pk = rows[record.parent_id].pk if record.parent_id else None
        if row.parent_id != parent_pk:
            row.parent_id = parent_pk
            parent_changes.append(row)
            if record.atlas_id not in first.added | first.restored:
                first.changed.add(record.atlas_id)
    if parent_changes:
        Technique.objects.bulk_update(parent_changes, ["parent"])

    tactic_changed = _sync_technique_tactics(catalogue, rows, tactics)
    first.changed |= tactic_changed - first.added - first.restored
    _tally(report, kind_of, first)
    counts = catalogue.counts()
    _count_unchanged(
        report,
        {
            CatalogueKind.TECHNIQUES: counts["techniques"],
            CatalogueKind.SUBTECHNIQUES: counts["sub-techniques"],
        },
    )
    return rows


def _sync_technique_tactics(
    catalogue: AtlasCatalogue, rows: dict[str, Technique], tactics: dict[str, Tactic]
) -> set[str]:
    """Make each imported technique's tactic set match the data; returns the ids that changed.

    Membership rows of retired techniques are kept, so they still show where they belonged.
    """
    through = Technique.tactics.through
    current: dict[int, set[int]] = {}
    for technique_id, tactic_id in through.objects.values_list("technique_id", "tactic_id"):
        current.setdefault(technique_id, set()).add(tactic_id)
    to_add, to_remove, changed = [], [], set()
    for record in catalogue.techniques:
        technique = rows[record.atlas_id]
        wanted = {tactics[tactic_id].pk for tactic_id in record.tactic_ids}
        have = current.get(technique.pk, set())
        if wanted != have:
            changed.add(record.atlas_id)
            to_add += [through(technique_id=technique.pk, tactic_id=pk) for pk in wanted - have]
            to_remove += [(technique.pk, pk) for pk in have - wanted]
    if to_add:
        through.objects.bulk_create(to_add)
    for technique_pk, tactic_pk in to_remove:
        through.objects.filter(technique_id=technique_pk, tactic_id=tactic_pk).delete()
    return changed


def _sync_mitigations(catalogue: AtlasCatalogue, report: ImportReport) -> dict[str, Mitigation]:
    wanted = {
        m.atlas_id: {
            "atlas_id": m.atlas_id,
            "name": m.name,
            "category": list(m.category),
            "ml_lifecycle": list(m.ml_lifecycle),
            "description": m.description,
            **_attack_fields(m),
        }
        for m in catalogue.mitigations
    }
    sync = _sync_rows(Mitigation, wanted)
    _tally(report, lambda _: CatalogueKind.MITIGATIONS, sync)
    _count_unchanged(report, {CatalogueKind.MITIGATIONS: len(wanted)})
    return sync.rows


def _sync_links(
    catalogue: AtlasCatalogue,
    mitigations: dict[str, Mitigation],
    techniques: dict[str, Technique],
    report: ImportReport,
) -> None:
    wanted = {}
    for mitigation in catalogue.mitigations:
        for link in mitigation.links:
            wanted[(mitigation.atlas_id, link.technique_id)] = {
                "mitigation_id": mitigations[mitigation.atlas_id].pk,
                "technique_id": techniques[link.technique_id].pk,
                "use": link.use,
            }
    sync = _sync_rows(
        MitigationTechnique,
        wanted,
        key=lambda row: (row.mitigation.atlas_id, row.technique.atlas_id),
        queryset=MitigationTechnique.objects.select_related("mitigation", "technique"),
    )
    _tally(report, lambda _: CatalogueKind.LINKS, sync)
    _count_unchanged(report, {CatalogueKind.LINKS: len(wanted)})


def _count_unchanged(report: ImportReport, totals: dict[str, int]) -> None:
    """Unchanged = objects in the data that were neither added, changed nor restored."""
    for kind, total in totals.items():
        row = report.counts[kind]
        row["unchanged"] = total - row["added"] - row["changed"] - row["restored"]


def _record_version(
    catalogue: AtlasCatalogue, report: ImportReport, *, source: str, source_name: str
) -> CatalogueVersion:
    """One CatalogueVersion per (version, source); refreshed when an import changed anything."""
    counts = catalogue.counts()
    values = {
        "source_name": source_name[:255],
        "imported_at": timezone.now(),
        "tactic_count": counts["tactics"],
        "technique_count": counts["techniques"],
        "subtechnique_count": counts["sub-techniques"],
        "mitigation_count": counts["mitigations"],
        "link_count": counts["links"],
        "changes": report.counts,
    }
    version, created = CatalogueVersion.objects.get_or_create(
        version=catalogue.version, source=source, defaults=values
    )
    if not created and report.changed_anything:
        for name, value in values.items():
            setattr(version, name, value)
        version.save()
    return version
