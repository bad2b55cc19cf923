"""The scanner plug-in interface: what every scanner declares and the one method it implements.

A scanner is a class in its own module under apps/scans/scanners/, listed once in
`apps.scans.scanners.SCANNERS`. It declares which targets it accepts, which inputs (scan
parameters) it reads, which MITRE ATLAS techniques its findings map to and its version, and
implements `scan(context) -> list[FindingData]`. It never touches the ORM for writing: the engine
(apps.scans.services) persists what it returns or emits, reports progress and enforces
cancellation. A scanner that cannot read part of its target says so with a finding of at least
medium severity (or raises `ScannerError` to fail the scan with a readable message); it never
returns an empty list for something it did not look at.
"""

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from apps.scans.choices import Severity, TargetType


class ScannerError(Exception):
    """A scanner could not do its job; the message is shown to users as the scan's error."""


class ScanAborted(Exception):
    """The run was cancelled, failed or taken over by a newer attempt: stop without writing."""


@dataclass(frozen=True)
class ScannerInput:
    """One parameter a scanner reads from the scan's `params`.

    `kind` says how the engine validates it before the scan is queued:
    "sha256" (64 hex digits), "url_list" (http(s) URLs) or "dataset_version" (an id the
    requesting user may see; the scanner receives the id).
    """

    name: str
    kind: str
    help: str
    required: bool = False


INPUT_KINDS = frozenset({"sha256", "url_list", "dataset_version"})


@dataclass
class FindingData:
    """What a scanner reports. `key` identifies the problem across rescans (the fingerprint is
    derived from it); keep changing details such as line numbers out of it."""

    severity: str
    title: str
    key: str
    detail: str = ""
    atlas_technique: str | None = None
    location: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in Severity.values:
            raise ValueError(f"Unknown severity {self.severity!r}.")
        if not self.key:
            raise ValueError("A finding needs a key.")

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()


@dataclass
class ScanContext:
    """What a scanner gets: the target, its inputs and the engine's callbacks.

    - `open_file(name)` opens a stored file (through Django's storage API) for binary reads;
    - `progress(fraction)` reports how far this scanner is (0.0 to 1.0); it raises
      `ScanAborted` when the run was cancelled, which the scanner lets propagate;
    - `emit(finding)` persists a finding at once (for long scans); `scan()` may also return them;
    - `summary` is what the scanner wants kept about this run (JSON-serialisable, small): the
      engine stores it in the scan's `results[<scanner>]["summary"]` when the scanner succeeds.
    """

    target: Any
    target_type: str
    params: dict[str, Any]
    open_file: Callable[[str], IO[bytes]]
    progress: Callable[[float], None]
    emit: Callable[[FindingData], None]
    run_id: int = 0
    attempt: int = 1
    summary: dict[str, Any] = field(default_factory=dict)


class Scanner(ABC):
    """Base class of every scanner plug-in."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    targets: ClassVar[frozenset[str]] = frozenset()
    inputs: ClassVar[tuple[ScannerInput, ...]] = ()
    atlas_techniques: ClassVar[tuple[str, ...]] = ()

    def accepts(self, target_type: str) -> bool:
        """Whether this scanner looks at targets of this type."""
        return target_type in self.targets

    @abstractmethod
    def scan(self, context: ScanContext) -> list[FindingData]:
        """Look at `context.target` and return what was found (possibly after emitting some)."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The public description of this scanner (GET /api/v1/scanners/)."""
        return {
            "name": cls.name,
            "title": cls.title,
            "description": cls.description,
            "version": cls.version,
            "targets": [t for t in TargetType.values if t in cls.targets],
            "inputs": [
                {"name": i.name, "kind": i.kind, "required": i.required, "help": i.help}
                for i in cls.inputs
            ],
            "atlas_techniques": list(cls.atlas_techniques),
        }
