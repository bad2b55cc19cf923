"""Reading an ATLAS data file into checked records, before anything touches the database.

Two inputs share this parser:
- an official `ATLAS.yaml` from mitre-atlas/atlas-data (`manage.py import_atlas PATH`);
- the catalogue mlgov ships, `fixtures/threats_atlas_<version>.json`, which has the same layout
  but facts only (ids, names, tactic membership, parents, maturity, ATT&CK ids, mitigation
  categories and links) and no MITRE description or `use` text.

The file layout is described in docs of atlas-data (`dist/schemas/atlas_output_schema.json`):
`{version, matrices: [{tactics: [...], techniques: [...], mitigations: [...]}]}` where
techniques and sub-techniques share one list and a sub-technique names its parent in
`subtechnique-of` and has no `tactics` of its own (it takes its parent's).

Every problem is collected and reported at once (`AtlasFormatError`), so an import is either
checked in full or refused with the reasons; the importer then writes in one transaction.
This module does no database access, so the fixture builder script can use it without Django
being configured.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from apps.core.exceptions import ApplicationError
from apps.threats.choices import Maturity

# The official 5.6.0 file is 0.45 MB; a bound keeps a wrong or hostile file from eating memory.
MAX_ATLAS_FILE_BYTES = 16 * 1024 * 1024
# How many problems a refusal lists before it says "and N more".
MAX_REPORTED_PROBLEMS = 20

SHIPPED_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "threats_atlas_5.6.0.json"

# Id patterns from atlas_output_schema.json (mitigations are not in the schema: same form, "M").
TACTIC_ID = re.compile(r"^(?:[A-Z]+\d*\.)+TA\d{4}$")
TECHNIQUE_ID = re.compile(r"^(?:[A-Z]+\d*\.)+T\d{4}$")
SUBTECHNIQUE_ID = re.compile(r"^(?:[A-Z]+\d*\.)+T\d{4}\.\d{3}$")
MITIGATION_ID = re.compile(r"^(?:[A-Z]+\d*\.)+M\d{4}$")

MAX_ID = 32
MAX_NAME = 255
MAX_URL = 500
MAX_VERSION = 32
MAX_LIST_ITEM = 100


class AtlasFormatError(ApplicationError):
    """The file is not an ATLAS catalogue this importer can trust; `problems` lists why."""

    def __init__(self, problems: list[str]):
        shown = problems[:MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        lines = "\n".join(f"- {problem}" for problem in shown)
        if more:
            lines += f"\n- and {more} more problem(s)"
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"ATLAS data refused ({len(problems)} {noun}):\n{lines}")
        self.problems = problems


@dataclass(frozen=True)
class AttackReference:
    """An object's counterpart in MITRE ATT&CK (`ATT&CK-reference`), e.g. TA0043."""

    id: str = ""
    url: str = ""


@dataclass(frozen=True)
class TacticRecord:
    atlas_id: str
    name: str
    matrix_order: int
    attack: AttackReference
    # None when the file carries no description (the shipped fixture): keep what is stored.
    description: str | None


@dataclass(frozen=True)
class TechniqueRecord:
    atlas_id: str
    name: str
    parent_id: str | None
    tactic_ids: tuple[str, ...]
    maturity: str
    attack: AttackReference
    description: str | None

    @property
    def is_subtechnique(self) -> bool:
        return self.parent_id is not None


@dataclass(frozen=True)
class LinkRecord:
    technique_id: str
    use: str | None


@dataclass(frozen=True)
class MitigationRecord:
    atlas_id: str
    name: str
    category: tuple[str, ...]
    ml_lifecycle: tuple[str, ...]
    attack: AttackReference
    description: str | None
    links: tuple[LinkRecord, ...]


@dataclass
class AtlasCatalogue:
    """A checked ATLAS catalogue: every reference resolves, every id is unique and well formed."""

    version: str
    tactics: list[TacticRecord] = field(default_factory=list)
    techniques: list[TechniqueRecord] = field(default_factory=list)
    mitigations: list[MitigationRecord] = field(default_factory=list)
    # Link entries that repeated a (mitigation, technique) pair and were merged into one link.
    repeated_links: int = 0

    def counts(self) -> dict[str, int]:
        subtechniques = sum(1 for t in self.techniques if t.is_subtechnique)
        return {
            "tactics": len(self.tactics),
            "techniques": len(self.techniques) - subtechniques,
            "sub-techniques": subtechniques,
            "mitigations": len(self.mitigations),
            "links": sum(len(m.links) for m in self.mitigations),
        }


# --- Reading files ------------------------------------------------------------------------------


def read_bounded(path: Path, max_bytes: int | None = None) -> bytes:
    """The file's bytes, refused when it is missing or larger than `max_bytes`."""
    max_bytes = max_bytes or MAX_ATLAS_FILE_BYTES
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise AtlasFormatError(
                [f"{path.name} is {size} bytes; the limit is {max_bytes} bytes."]
            )
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise AtlasFormatError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    if len(data) > max_bytes:
        raise AtlasFormatError([f"{path.name} is larger than the limit of {max_bytes} bytes."])
    return data


def load_yaml_document(data: bytes) -> Any:
    """Parse YAML with the safe loader only (no Python objects can be built from the file)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AtlasFormatError(
            [f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})."]
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AtlasFormatError([f"the file is not valid YAML{where}: {problem}."]) from exc


def load_atlas_file(path: Path) -> tuple[AtlasCatalogue, str]:
    """Read, parse and check an ATLAS.yaml file; returns the catalogue and the file's sha256."""
    data = read_bounded(path)
    return parse_atlas(load_yaml_document(data)), hashlib.sha256(data).hexdigest()


def load_shipped_catalogue(path: Path = SHIPPED_FIXTURE) -> AtlasCatalogue:
    """The catalogue mlgov ships (JSON written by scripts/build_atlas_fixture.py)."""
    try:
        document = json.loads(read_bounded(path))
    except ValueError as exc:
        raise AtlasFormatError([f"{path.name} is not valid JSON: {exc}."]) from exc
    return parse_atlas(document)


# --- Checking the document ----------------------------------------------------------------------


class _Checker:
    """Collects problems while turning the raw document into records."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def text(self, where: str, obj: dict, key: str, *, max_length: int, required: bool) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"{where}: `{key}` is missing.")
            return ""
        if not isinstance(value, str):
            self.fail(f"{where}: `{key}` must be text, not {type(value).__name__}.")
            return ""
        value = value.strip()
        if required and not value:
            self.fail(f"{where}: `{key}` is empty.")
        if len(value) > max_length:
            self.fail(f"{where}: `{key}` is longer than {max_length} characters.")
        return value

    def description(self, where: str, obj: dict) -> str | None:
        value = obj.get("description")
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{where}: `description` must be text.")
            return None
        return value.strip()

    def object_id(self, where: str, obj: dict, *patterns: re.Pattern) -> str:
        value = obj.get("id")
        if not isinstance(value, str) or not value:
            self.fail(f"{where}: `id` is missing or not text.")
            return ""
        if not any(pattern.match(value) for pattern in patterns):
            self.fail(f"{where}: id {value!r} does not have the form of an ATLAS id here.")
            return ""
        return value

    def attack(self, where: str, obj: dict) -> AttackReference:
        ref = obj.get("ATT&CK-reference")
        if ref is None:
            return AttackReference()
        if not isinstance(ref, dict):
            self.fail(f"{where}: `ATT&CK-reference` must be a mapping with `id` and `url`.")
            return AttackReference()
        ref_id = self.text(where, ref, "id", max_length=MAX_ID, required=False)
        url = self.text(where, ref, "url", max_length=MAX_URL, required=False)
        # The URL becomes a link on our pages: only web addresses, never javascript: and the like.
        if url and not url.startswith(("https://", "http://")):
            self.fail(f"{where}: ATT&CK url {url[:80]!r} is not an http(s) address.")
            url = ""
        return AttackReference(id=ref_id, url=url)

    def string_list(self, where: str, obj: dict, key: str) -> list:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{where}: `{key}` must be a list.")
            return []
        return value

    def items(self, where: str, container: dict, key: str) -> list[tuple[str, dict]]:
        """The mappings in `container[key]`, each with a label for messages."""
        value = container.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{where}: `{key}` must be a list.")
            return []
        found = []
        for index, item in enumerate(value):
            label = f"{key}[{index}]"
            if not isinstance(item, dict):
                self.fail(f"{where}: {label} is not a mapping.")
                continue
            if isinstance(item.get("id"), str):
                label = f"{label} {item['id']}"
            found.append((f"{where} {label}", item))
        return found


def parse_atlas(document: Any) -> AtlasCatalogue:
    """Check a parsed ATLAS document and turn it into records, or raise AtlasFormatError.

    Refused: a document that is not a mapping, lacks `version` or `matrices`, has malformed or
    duplicate ids, a technique naming an unknown tactic, a sub-technique naming an unknown or
    non-top-level parent, a mitigation linking an unknown technique, an unknown maturity.
    """
    check = _Checker()
    if not isinstance(document, dict):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise AtlasFormatError([f"the file must hold a mapping (ATLAS document), not {kind}."])
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        check.fail("the document lacks a `version` (text or number).")
        version = ""
    version = str(version).strip()
    if len(version) > MAX_VERSION:
        check.fail(f"`version` is longer than {MAX_VERSION} characters.")
    matrices = document.get("matrices")
    if not isinstance(matrices, list) or not matrices:
        check.fail("the document lacks `matrices` (a non-empty list of matrices).")
        raise AtlasFormatError(check.problems)
    raw_tactics, raw_techniques, raw_mitigations = [], [], []
    for index, matrix in enumerate(matrices):
        where = f"matrices[{index}]"
        if not isinstance(matrix, dict):
            check.fail(f"{where} is not a mapping.")
            continue
        if not isinstance(matrix.get("tactics"), list):
            check.fail(f"{where}: `tactics` is missing or not a list.")
        if not isinstance(matrix.get("techniques"), list):
            check.fail(f"{where}: `techniques` is missing or not a list.")
        raw_tactics += check.items(where, matrix, "tactics")
        raw_techniques += check.items(where, matrix, "techniques")
        raw_mitigations += check.items(where, matrix, "mitigations")

    catalogue = AtlasCatalogue(version=version)
    catalogue.tactics = _parse_tactics(check, raw_tactics)
    catalogue.techniques = _parse_techniques(
        check, raw_techniques, {t.atlas_id for t in catalogue.tactics}
    )
    catalogue.mitigations, catalogue.repeated_links = _parse_mitigations(
        check, raw_mitigations, {t.atlas_id for t in catalogue.techniques}
    )
    if check.problems:
        raise AtlasFormatError(check.problems)
    return catalogue


def _unique(check: _Checker, kind: str, atlas_id: str, seen: set[str]) -> bool:
    if atlas_id in seen:
        check.fail(f"duplicate {kind} id {atlas_id}.")
        return False
    seen.add(atlas_id)
    return True


def _parse_tactics(check: _Checker, raw: list[tuple[str, dict]]) -> list[TacticRecord]:
    records, seen = [], set()
    for order, (where, obj) in enumerate(raw, start=1):
        atlas_id = check.object_id(where, obj, TACTIC_ID)
        name = check.text(where, obj, "name", max_length=MAX_NAME, required=True)
        if not atlas_id or not _unique(check, "tactic", atlas_id, seen):
            continue
        records.append(
            TacticRecord(
                atlas_id=atlas_id,
                name=name,
                matrix_order=order,
                attack=check.attack(where, obj),
                description=check.description(where, obj),
            )
        )
    return records


def _parse_techniques(
    check: _Checker, raw: list[tuple[str, dict]], tactic_ids: set[str]
) -> list[TechniqueRecord]:
    """Techniques first, then sub-techniques, which take their parent's tactics."""
    seen: set[str] = set()
    parsed: list[tuple[str, dict, str]] = []
    for where, obj in raw:
        atlas_id = check.object_id(where, obj, TECHNIQUE_ID, SUBTECHNIQUE_ID)
        if atlas_id and _unique(check, "technique", atlas_id, seen):
            parsed.append((where, obj, atlas_id))

    top: dict[str, TechniqueRecord] = {}
    subs: list[tuple[str, dict, str]] = []
    for where, obj, atlas_id in parsed:
        if "subtechnique-of" in obj or SUBTECHNIQUE_ID.match(atlas_id):
            subs.append((where, obj, atlas_id))
            continue
        tactics = []
        raw_tactics = check.string_list(where, obj, "tactics")
        if not raw_tactics:
            check.fail(f"{where}: a technique needs at least one tactic in `tactics`.")
        for tactic_id in raw_tactics:
            if not isinstance(tactic_id, str) or tactic_id not in tactic_ids:
                check.fail(f"{where}: tactic {tactic_id!r} is not a tactic of this file.")
            elif tactic_id not in tactics:
                tactics.append(tactic_id)
        top[atlas_id] = _technique(check, where, obj, atlas_id, None, tuple(tactics))

    records = list(top.values())
    for where, obj, atlas_id in subs:
        parent_id = obj.get("subtechnique-of")
        if not SUBTECHNIQUE_ID.match(atlas_id):
            check.fail(f"{where}: a sub-technique id has the form AML.T0000.000.")
            continue
        if not isinstance(parent_id, str) or parent_id not in top:
            check.fail(
                f"{where}: `subtechnique-of` {parent_id!r} is not a top-level technique of this "
                "file."
            )
            continue
        if not atlas_id.startswith(parent_id + "."):
            check.fail(f"{where}: a sub-technique of {parent_id} has an id {parent_id}.NNN.")
            continue
        parent = top[parent_id]
        records.append(_technique(check, where, obj, atlas_id, parent_id, parent.tactic_ids))
    return records


def _technique(
    check: _Checker, where: str, obj: dict, atlas_id: str, parent_id, tactics: tuple
) -> TechniqueRecord:
    maturity = obj.get("maturity") or ""
    if maturity not in Maturity.values and maturity != "":
        check.fail(f"{where}: maturity {maturity!r} is not one of {', '.join(Maturity.values)}.")
        maturity = ""
    return TechniqueRecord(
        atlas_id=atlas_id,
        name=check.text(where, obj, "name", max_length=MAX_NAME, required=True),
        parent_id=parent_id,
        tactic_ids=tactics,
        maturity=maturity,
        attack=check.attack(where, obj),
        description=check.description(where, obj),
    )


def _parse_mitigations(
    check: _Checker, raw: list[tuple[str, dict]], technique_ids: set[str]
) -> tuple[list[MitigationRecord], int]:
    """The mitigations, and how many link entries repeated a pair already linked."""
    records, seen, repeated = [], set(), 0
    for where, obj in raw:
        atlas_id = check.object_id(where, obj, MITIGATION_ID)
        name = check.text(where, obj, "name", max_length=MAX_NAME, required=True)
        if not atlas_id or not _unique(check, "mitigation", atlas_id, seen):
            continue
        category = _labels(check, where, obj, "category")
        lifecycle: list[str] = []
        misplaced: list[tuple[str, dict]] = []
        for value in check.string_list(where, obj, "ml-lifecycle"):
            # ATLAS 5.6.0 quirk: in AML.M0018 and AML.M0034 a technique link {id, use} sits in
            # `ml-lifecycle` instead of `techniques`. Recover it as the link it is.
            if isinstance(value, dict) and "id" in value:
                misplaced.append((f"{where} ml-lifecycle", value))
            elif isinstance(value, str) and value.strip():
                if len(value) > MAX_LIST_ITEM:
                    check.fail(f"{where}: an `ml-lifecycle` entry is too long.")
                lifecycle.append(value.strip())
            else:
                check.fail(f"{where}: `ml-lifecycle` entries must be text.")
        links: dict[str, LinkRecord] = {}
        for label, link in check.items(where, obj, "techniques") + misplaced:
            if not _add_link(check, label, link, technique_ids, links):
                repeated += 1
        records.append(
            MitigationRecord(
                atlas_id=atlas_id,
                name=name,
                category=tuple(category),
                ml_lifecycle=tuple(lifecycle),
                attack=check.attack(where, obj),
                description=check.description(where, obj),
                links=tuple(links.values()),
            )
        )
    return records, repeated


def _labels(check: _Checker, where: str, obj: dict, key: str) -> list[str]:
    labels = []
    for value in check.string_list(where, obj, key):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_LIST_ITEM:
            check.fail(f"{where}: `{key}` entries must be short text.")
        elif value.strip() not in labels:
            labels.append(value.strip())
    return labels


def _add_link(
    check: _Checker, where: str, link: dict, technique_ids: set[str], links: dict[str, LinkRecord]
) -> bool:
    """Add one mitigation-technique link; returns False when it repeats a pair already linked.

    ATLAS 5.6.0 links AML.M0002 and AML.M0004 to AML.T0043.001 twice, each time with its own
    `use` text. A pair is one link, so the texts are merged rather than the file refused.
    """
    technique_id = link.get("id")
    if not isinstance(technique_id, str) or technique_id not in technique_ids:
        check.fail(f"{where}: links technique {technique_id!r}, which is not in this file.")
        return True
    use = link.get("use")
    if use is not None and not isinstance(use, str):
        check.fail(f"{where}: `use` must be text.")
        return True
    use = use.strip() if use is not None else None
    known = links.get(technique_id)
    if known is None:
        links[technique_id] = LinkRecord(technique_id=technique_id, use=use)
        return True
    if use and known.use and use != known.use:
        use = f"{known.use}\n\n{use}"
    links[technique_id] = LinkRecord(technique_id=technique_id, use=use or known.use)
    return False
