"""`manage.py import_atlas`: counts, idempotency, retirement, and refusal of malformed files."""

import copy
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.threats import atlas_import, services
from apps.threats.models import (
    CatalogueVersion,
    Mitigation,
    MitigationTechnique,
    Tactic,
    Technique,
)

pytestmark = pytest.mark.django_db

KINDS = ("tactics", "techniques", "sub-techniques", "mitigations", "links")
COLUMNS = ("added", "changed", "retired", "restored", "unchanged")
OFFICIAL_TOTALS = {
    "tactics": 16,
    "techniques": 101,
    "sub-techniques": 69,
    "mitigations": 35,
    "links": 246,
}


def run_import(path, *args) -> tuple[str, dict[str, dict[str, int]]]:
    """Run the command; returns its output and the table it printed, as numbers."""
    out = StringIO()
    call_command("import_atlas", str(path), *args, stdout=out)
    text = out.getvalue()
    table = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] in KINDS:
            table[parts[0]] = dict(zip(COLUMNS, map(int, parts[1:]), strict=True))
    assert set(table) == set(KINDS), text
    return text, table


def column(table, name: str) -> dict[str, int]:
    return {kind: row[name] for kind, row in table.items()}


def totals(table) -> dict[str, int]:
    return {
        kind: row["added"] + row["changed"] + row["restored"] + row["unchanged"]
        for kind, row in table.items()
    }


def empty_catalogue() -> None:
    MitigationTechnique.objects.all().delete()
    Mitigation.objects.all().delete()
    Technique.objects.filter(parent__isnull=False).delete()
    Technique.objects.all().delete()
    Tactic.objects.all().delete()
    CatalogueVersion.objects.all().delete()


# --- The official file --------------------------------------------------------------------------


def test_import_into_an_empty_catalogue_adds_everything(atlas_reference):
    empty_catalogue()
    text, table = run_import(atlas_reference)
    assert column(table, "added") == OFFICIAL_TOTALS
    assert "Imported MITRE ATLAS 5.6.0" in text
    assert "2 link entries repeated" in text
    assert Technique.objects.count() == 170
    assert MitigationTechnique.objects.count() == 246


def test_import_over_the_shipped_catalogue_adds_descriptions_then_changes_nothing(
    atlas_reference,
):
    text, table = run_import(atlas_reference)
    assert totals(table) == OFFICIAL_TOTALS
    assert column(table, "added") == dict.fromkeys(KINDS, 0)
    assert column(table, "retired") == dict.fromkeys(KINDS, 0)
    # The shipped catalogue has no prose; the official file brings descriptions and `use` text.
    assert column(table, "changed") == OFFICIAL_TOTALS
    assert Technique.objects.exclude(description="").count() == 170
    assert not MitigationTechnique.objects.filter(use="").exists()
    version = CatalogueVersion.objects.get(
        source=atlas_import.hashlib.sha256(atlas_reference.read_bytes()).hexdigest()
    )
    assert (version.version, version.source_name, version.link_count) == (
        "5.6.0",
        "ATLAS.yaml",
        246,
    )
    imported_at = version.imported_at

    text, table = run_import(atlas_reference)
    for name in ("added", "changed", "retired", "restored"):
        assert column(table, name) == dict.fromkeys(KINDS, 0)
    assert column(table, "unchanged") == OFFICIAL_TOTALS
    assert "Nothing changed" in text
    version.refresh_from_db()
    assert version.imported_at == imported_at
    assert CatalogueVersion.objects.count() == 2  # shipped + this file, not one per run


def _modified(document: dict) -> tuple[dict, str, str]:
    """A copy with AML.T0000 renamed, one unlinked leaf technique removed, AML.T0999 added."""
    modified = copy.deepcopy(document)
    matrix = modified["matrices"][0]
    parents = {t.get("subtechnique-of") for t in matrix["techniques"]}
    linked = {
        link["id"]
        for m in matrix["mitigations"]
        for link in m["techniques"] + [p for p in m["ml-lifecycle"] if isinstance(p, dict)]
    }
    removed = next(
        t["id"]
        for t in matrix["techniques"]
        if "subtechnique-of" not in t and t["id"] not in parents and t["id"] not in linked
    )
    matrix["techniques"] = [t for t in matrix["techniques"] if t["id"] != removed]
    renamed = next(t for t in matrix["techniques"] if t["id"] == "AML.T0000")
    renamed["name"] = "Search Open Technical Databases (renamed)"
    matrix["techniques"].append(
        {
            "id": "AML.T0999",
            "name": "A technique from the future",
            "description": "Our own test text.",
            "object-type": "technique",
            "tactics": ["AML.TA0002"],
            "maturity": "feasible",
        }
    )
    return modified, removed, renamed["id"]


def test_modified_file_reports_one_added_one_changed_one_retired(
    atlas_reference, atlas_reference_document, write_yaml
):
    run_import(atlas_reference)
    modified, removed_id, renamed_id = _modified(atlas_reference_document)
    removed_pk = Technique.objects.get(atlas_id=removed_id).pk

    text, table = run_import(write_yaml(modified))
    assert table["techniques"] == {
        "added": 1,
        "changed": 1,
        "retired": 1,
        "restored": 0,
        "unchanged": 99,
    }
    for kind in ("tactics", "sub-techniques", "mitigations", "links"):
        assert table[kind]["added"] == table[kind]["changed"] == table[kind]["retired"] == 0
    removed = Technique.objects.get(atlas_id=removed_id)
    assert removed.is_retired and removed.pk == removed_pk  # still there, same row
    assert removed.tactics.exists()  # still shows where it belonged
    assert Technique.objects.get(atlas_id=renamed_id).name.endswith("(renamed)")
    added = Technique.objects.get(atlas_id="AML.T0999")
    assert [t.atlas_id for t in added.tactics.all()] == ["AML.TA0002"]
    assert added.maturity == "feasible" and not added.is_retired

    # Back to the official file: the removed id reappears (restored), the new one retires.
    _, table = run_import(atlas_reference)
    assert table["techniques"] == {
        "added": 0,
        "changed": 1,
        "retired": 1,
        "restored": 1,
        "unchanged": 99,
    }
    removed.refresh_from_db()
    assert not removed.is_retired and removed.pk == removed_pk
    assert Technique.objects.get(atlas_id="AML.T0999").is_retired


# --- A small document (runs without the reference file) -----------------------------------------


def test_import_is_idempotent(mini_atlas, write_yaml):
    path = write_yaml(mini_atlas)
    _, first = run_import(path)
    assert first["techniques"]["added"] == 0  # AML.T0000 and AML.T0002 are in the shipped set
    assert first["techniques"]["retired"] == 99
    assert first["sub-techniques"]["retired"] == 68
    text, second = run_import(path)
    assert "Nothing changed" in text
    for name in ("added", "changed", "retired", "restored"):
        assert column(second, name) == dict.fromkeys(KINDS, 0)
    assert column(second, "unchanged") == {
        "tactics": 2,
        "techniques": 2,
        "sub-techniques": 1,
        "mitigations": 1,
        "links": 1,
    }


def test_tactic_membership_and_parent_changes_count_as_changes(mini_atlas, write_yaml):
    run_import(write_yaml(mini_atlas))
    matrix = mini_atlas["matrices"][0]
    matrix["techniques"][1]["tactics"] = ["AML.TA0003"]  # AML.T0002 leaves Reconnaissance
    _, table = run_import(write_yaml(mini_atlas, "changed.yaml"))
    assert table["techniques"]["changed"] == 1
    assert table["sub-techniques"]["changed"] == 1  # AML.T0002.000 follows its parent
    sub = Technique.objects.get(atlas_id="AML.T0002.000")
    assert [t.atlas_id for t in sub.tactics.all()] == ["AML.TA0003"]


def test_retired_link_is_kept_and_restored(mini_atlas, write_yaml):
    run_import(write_yaml(mini_atlas))
    mitigation = mini_atlas["matrices"][0]["mitigations"][0]
    original_links = mitigation["techniques"]
    mitigation["techniques"] = [{"id": "AML.T0002.000"}]
    _, table = run_import(write_yaml(mini_atlas, "relinked.yaml"))
    assert (table["links"]["added"], table["links"]["retired"]) == (1, 1)
    old = MitigationTechnique.objects.get(
        mitigation__atlas_id="AML.M0000", technique__atlas_id="AML.T0000"
    )
    assert old.is_retired and old.use == "How it applies."
    mitigation["techniques"] = original_links
    _, table = run_import(write_yaml(mini_atlas, "back.yaml"))
    assert (table["links"]["restored"], table["links"]["retired"]) == (1, 1)


def test_dry_run_writes_nothing(mini_atlas, write_yaml, snapshot):
    before = snapshot()
    text, table = run_import(write_yaml(mini_atlas), "--dry-run")
    assert "Would import" in text and "Dry run: nothing was written." in text
    assert table["techniques"]["retired"] == 99
    assert snapshot() == before


def test_a_failure_while_writing_rolls_everything_back(
    mini_atlas, write_yaml, snapshot, monkeypatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_record_version", explode)
    before = snapshot()
    with pytest.raises(RuntimeError, match="disk full"):
        run_import(write_yaml(mini_atlas))
    assert snapshot() == before


# --- Refused files ------------------------------------------------------------------------------


def _matrix(doc):
    return doc["matrices"][0]


def _technique(doc, atlas_id):
    return next(t for t in _matrix(doc)["techniques"] if t["id"] == atlas_id)


def _set(doc, path, value):
    def apply():
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


MALFORMED = {
    "unknown tactic": (
        lambda d: _technique(d, "AML.T0000").update(tactics=["AML.TA0999"]),
        "tactic 'AML.TA0999' is not a tactic of this file",
    ),
    "unknown parent": (
        lambda d: _technique(d, "AML.T0002.000").update({"subtechnique-of": "AML.T0999"}),
        "`subtechnique-of` 'AML.T0999' is not a top-level technique",
    ),
    "sub-technique of a sub-technique": (
        lambda d: _matrix(d)["techniques"].append(
            {"id": "AML.T0002.001", "name": "x", "subtechnique-of": "AML.T0002.000"}
        ),
        "is not a top-level technique",
    ),
    "sub-technique id not under its parent": (
        lambda d: _technique(d, "AML.T0002.000").update({"subtechnique-of": "AML.T0000"}),
        "a sub-technique of AML.T0000 has an id AML.T0000.NNN",
    ),
    "mitigation links an unknown technique": (
        lambda d: _matrix(d)["mitigations"][0]["techniques"].append({"id": "AML.T0998"}),
        "links technique 'AML.T0998', which is not in this file",
    ),
    "misplaced link to an unknown technique": (
        lambda d: _matrix(d)["mitigations"][0]["ml-lifecycle"].append({"id": "AML.T0997"}),
        "links technique 'AML.T0997'",
    ),
    "duplicate technique id": (
        lambda d: _matrix(d)["techniques"].append(copy.deepcopy(_technique(d, "AML.T0000"))),
        "duplicate technique id AML.T0000",
    ),
    "duplicate tactic id": (
        lambda d: _matrix(d)["tactics"].append({"id": "AML.TA0002", "name": "Again"}),
        "duplicate tactic id AML.TA0002",
    ),
    "duplicate mitigation id": (
        lambda d: _matrix(d)["mitigations"].append(copy.deepcopy(_matrix(d)["mitigations"][0])),
        "duplicate mitigation id AML.M0000",
    ),
    "bad technique id": (
        lambda d: _technique(d, "AML.T0000").update(id="T0000"),
        "id 'T0000' does not have the form of an ATLAS id",
    ),
    "bad tactic id": (
        lambda d: _matrix(d)["tactics"][1].update(id="AML.TA03"),
        "id 'AML.TA03' does not have the form",
    ),
    "bad mitigation id": (
        lambda d: _matrix(d)["mitigations"][0].update(id="AML.X0000"),
        "id 'AML.X0000' does not have the form",
    ),
    "unknown maturity": (
        lambda d: _technique(d, "AML.T0000").update(maturity="likely"),
        "maturity 'likely' is not one of",
    ),
    "missing name": (
        lambda d: _technique(d, "AML.T0000").pop("name"),
        "`name` is missing",
    ),
    "technique without tactics": (
        lambda d: _technique(d, "AML.T0000").pop("tactics"),
        "a technique needs at least one tactic",
    ),
    "tactics not a list": (
        lambda d: _matrix(d).update(tactics={"id": "AML.TA0002"}),
        "`tactics` is missing or not a list",
    ),
    "lacks matrices": (lambda d: d.pop("matrices"), "lacks `matrices`"),
    "lacks version": (lambda d: d.pop("version"), "lacks a `version`"),
    "non-web ATT&CK url": (
        lambda d: _technique(d, "AML.T0000")["ATT&CK-reference"].update(url="javascript:x()"),
        "is not an http(s) address",
    ),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_document_is_refused_and_nothing_written(case, mini_atlas, write_yaml, snapshot):
    mutate, message = MALFORMED[case]
    mutate(mini_atlas)
    before = snapshot()
    with pytest.raises(CommandError) as caught:
        run_import(write_yaml(mini_atlas))
    assert message in str(caught.value)
    assert "Nothing was imported." in str(caught.value)
    assert snapshot() == before


RAW_FILES = {
    "not yaml": ("matrices: [unclosed\n  - {\n", "is not valid YAML at line"),
    "a list, not a mapping": (
        "- just\n- a list\n",
        "must hold a mapping (ATLAS document), not a list",
    ),
    "empty file": ("", "must hold a mapping (ATLAS document), not empty"),
    "a scalar": ("hello\n", "not a str"),
    "python object tag": (
        "!!python/object/apply:os.system ['echo pwned']\n",
        "is not valid YAML",
    ),
    "not utf-8": (b"version: \xff\xfe\n", "is not UTF-8 text"),
    "matrices empty": ("version: 1\nmatrices: []\n", "lacks `matrices`"),
}


@pytest.mark.parametrize("case", RAW_FILES, ids=list(RAW_FILES))
def test_unreadable_file_is_refused_and_nothing_written(case, write_yaml, snapshot):
    content, message = RAW_FILES[case]
    before = snapshot()
    with pytest.raises(CommandError) as caught:
        run_import(write_yaml(content))
    assert message in str(caught.value)
    assert snapshot() == before


def test_file_over_the_size_bound_is_refused(mini_atlas, write_yaml, snapshot, monkeypatch):
    monkeypatch.setattr(atlas_import, "MAX_ATLAS_FILE_BYTES", 100)
    before = snapshot()
    with pytest.raises(CommandError, match="the limit is 100 bytes"):
        run_import(write_yaml(mini_atlas))
    assert snapshot() == before


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run_import(tmp_path / "nope.yaml")
