"""Parse a model version's dependency list: a requirements file, `pip freeze` output or a
CycloneDX SBOM (JSON). Pure functions, no database, no network.

What cannot be understood is kept (`unparsed`, `unchecked_components`) rather than dropped, so
the supply-chain scanner can say what it did not check instead of reporting a clean result.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement

REQUIREMENTS = "requirements"
CYCLONEDX = "cyclonedx"
EMPTY = "empty"

INDEX_OPTIONS = {
    "-i": "--index-url", "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links", "--find-links": "--find-links",
}
INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
EDITABLE_OPTIONS = {"-e", "--editable"}
# Options that may follow a requirement on its line (pip's per-requirement options).
_PER_REQUIREMENT_OPTION = re.compile(r"\s--?(hash|config-settings|global-option|install-option)\b")
_COMMENT = re.compile(r"(^|\s)#.*$")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise_name(name: str) -> str:
    """PEP 503 normalised project name (what package indexes and OSV records use)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalise_url(url: str) -> str:
    """An index URL reduced for comparison: lower-case scheme and host, no credentials, no
    trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


def redact_url(url: str) -> str:
    """The URL with any user name or password replaced, for evidence shown to users."""
    parts = urlsplit(url.strip())
    if "@" not in parts.netloc:
        return url.strip()
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Dependency:
    """One package the model needs. `source` is set when it does not come from an index
    (a URL, a VCS checkout or a local path)."""

    name: str
    version: str | None = None  # the exact version when pinned
    specifier: str = ""
    source: str | None = None
    line: int | None = None
    ecosystem: str = "PyPI"

    @property
    def normalised(self) -> str:
        return normalise_name(self.name)

    @property
    def is_pinned(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class IndexOption:
    option: str
    url: str
    line: int | None = None


@dataclass(frozen=True)
class Unparsed:
    text: str
    reason: str
    line: int | None = None


@dataclass
class DependencyList:
    format: str
    dependencies: list[Dependency] = field(default_factory=list)
    indexes: list[IndexOption] = field(default_factory=list)
    trusted_hosts: list[tuple[str, int | None]] = field(default_factory=list)
    unparsed: list[Unparsed] = field(default_factory=list)
    unchecked_components: list[str] = field(default_factory=list)


def parse_dependencies(text: str) -> DependencyList:
    """Recognise the format of `text` and parse it."""
    stripped = (text or "").strip()
    if not stripped:
        return DependencyList(format=EMPTY)
    if stripped.startswith("{"):
        return parse_cyclonedx(stripped)
    return parse_requirements(text)


# --- requirements.txt / pip freeze --------------------------------------------------------------


def _logical_lines(text: str):
    """(first physical line number, text) with backslash continuations joined."""
    buffer, start = "", None
    for number, raw in enumerate(text.splitlines(), start=1):
        if start is None:
            start = number
        if raw.endswith("\\"):
            buffer += raw[:-1] + " "
            continue
        yield start, buffer + raw
        buffer, start = "", None
    if buffer:
        yield start, buffer


def _exact_version(requirement: Requirement) -> str | None:
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _from_source(text: str, number: int) -> Dependency:
    """A requirement given as a URL, VCS reference or path instead of a name from an index."""
    egg = _EGG.search(text)
    name = egg.group(1) if egg else unquote(text.rstrip("/").rsplit("/", 1)[-1]) or text
    return Dependency(name=name, source=text, line=number)


def _parse_option(tokens: list[str], number: int, result: DependencyList, text: str) -> None:
    option, _, inline_value = tokens[0].partition("=")
    value = inline_value or (tokens[1] if len(tokens) > 1 else "")
    if option in INDEX_OPTIONS:
        if not value:
            result.unparsed.append(Unparsed(text, f"{option} without a URL", number))
        else:
            result.indexes.append(IndexOption(INDEX_OPTIONS[option], value, number))
    elif option == "--trusted-host":
        result.trusted_hosts.append((value, number))
    elif option in INCLUDE_OPTIONS:
        result.unparsed.append(
            Unparsed(text, "refers to another file, which is not part of this list", number)
        )
    elif option in EDITABLE_OPTIONS:
        if value:
            result.dependencies.append(_from_source(value, number))
        else:
            result.unparsed.append(Unparsed(text, f"{option} without a target", number))
    # Other options (--pre, --only-binary, --no-index ...) change nothing the scanner checks.


def parse_requirements(text: str) -> DependencyList:
    """Parse requirements.txt or `pip freeze` text (one requirement or option per line)."""
    result = DependencyList(format=REQUIREMENTS)
    for number, raw in _logical_lines(text):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            try:
                tokens = shlex.split(line)
            except ValueError:
                result.unparsed.append(Unparsed(line, "unbalanced quotes", number))
                continue
            _parse_option(tokens, number, result, line)
            continue
        requirement_text = _PER_REQUIREMENT_OPTION.split(line, maxsplit=1)[0].strip()
        if "://" in requirement_text.split("@", 1)[0] or requirement_text.startswith(
            (".", "/", "file:")
        ):
            result.dependencies.append(_from_source(requirement_text, number))
            continue
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as exc:
            result.unparsed.append(Unparsed(line, str(exc).splitlines()[0], number))
            continue
        if requirement.url:
            result.dependencies.append(
                Dependency(name=requirement.name, source=requirement.url, line=number)
            )
            continue
        result.dependencies.append(
            Dependency(
                name=requirement.name,
                version=_exact_version(requirement),
                specifier=str(requirement.specifier),
                line=number,
            )
        )
    return result


# --- CycloneDX ----------------------------------------------------------------------------------


def _parse_purl(purl: str) -> tuple[str, str, str | None, dict[str, str]]:
    """(type, name, version, qualifiers) of a package URL such as pkg:pypi/torch@2.5.1."""
    body = purl.removeprefix("pkg:").split("#", 1)[0]
    body, _, query = body.partition("?")
    qualifiers = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        qualifiers[key.lower()] = unquote(value)
    kind, _, rest = body.partition("/")
    rest, _, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
    name = unquote(rest.rsplit("/", 1)[-1])
    return kind.lower(), name, unquote(version) or None, qualifiers


def _components(items):
    for component in items or []:
        if isinstance(component, dict):
            yield component
            yield from _components(component.get("components"))


def parse_cyclonedx(text: str) -> DependencyList:
    """Parse a CycloneDX SBOM in JSON; PyPI components are checked, others are listed as not."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        return DependencyList(
            format=CYCLONEDX, unparsed=[Unparsed(text[:200], f"not valid JSON ({exc})")]
        )
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        return DependencyList(
            format=CYCLONEDX,
            unparsed=[Unparsed(text[:200], "JSON, but not a CycloneDX SBOM (no bomFormat)")],
        )
    result = DependencyList(format=CYCLONEDX)
    for component in _components(document.get("components")):
        purl = component.get("purl")
        label = f"{component.get('name', '?')} {component.get('version', '')}".strip()
        if not isinstance(purl, str) or not purl.startswith("pkg:"):
            result.unchecked_components.append(f"{label} (no package URL)")
            continue
        kind, name, version, qualifiers = _parse_purl(purl)
        if kind != "pypi":
            result.unchecked_components.append(f"{label} ({kind})")
            continue
        if repository := qualifiers.get("repository_url"):
            result.indexes.append(IndexOption("repository_url", repository))
        result.dependencies.append(
            Dependency(name=name, version=version, specifier=f"=={version}" if version else "")
        )
    return result
