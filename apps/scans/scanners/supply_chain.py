"""Supply-chain scanner: what a model version depends on, and whether that can be trusted.

Reads the version's dependency list (requirements file, `pip freeze` output or a CycloneDX SBOM)
and reports unpinned requirements, packages that may come from outside the allowed package
indexes, and pinned versions that a locally imported OSV advisory says are vulnerable. It never
reaches the network: advisories come from `manage.py import_advisories`.
"""

import hashlib

from django.conf import settings

from apps.scans import selectors
from apps.scans.choices import Severity, TargetType
from apps.scans.dependencies import (
    EMPTY,
    Dependency,
    DependencyList,
    normalise_url,
    parse_dependencies,
    redact_url,
)
from apps.scans.osv import fixed_versions, is_affected
from apps.scans.scanners.base import FindingData, ScanContext, Scanner, ScannerInput

AI_SOFTWARE_SUPPLY_CHAIN = "AML.T0010.001"  # AI Supply Chain Compromise: AI Software
MAX_LISTED = 20


def _line(number: int | None) -> str:
    return f"line {number}" if number else ""


class SupplyChainScanner(Scanner):
    name = "supply-chain"
    title = "Software supply chain"
    description = (
        "Checks the model version's dependency list for unpinned requirements, packages from "
        "outside the allowed indexes and versions with known vulnerabilities (local OSV "
        "advisory database)."
    )
    version = "1"
    targets = frozenset({TargetType.MODEL_VERSION})
    inputs = (
        ScannerInput(
            name="allowed_indexes",
            kind="url_list",
            help="Package index URLs packages may come from (default: the installation's "
            "MLGOV_ALLOWED_PACKAGE_INDEXES).",
        ),
    )
    atlas_techniques = (AI_SOFTWARE_SUPPLY_CHAIN,)

    def scan(self, context: ScanContext) -> list[FindingData]:
        parsed = parse_dependencies(context.target.dependencies)
        if parsed.format == EMPTY:
            return [self._finding(
                Severity.MEDIUM, "no-dependency-list",
                "No dependency list was registered, so the software supply chain was not checked",
                "Register the version with its requirements file, `pip freeze` output or a "
                "CycloneDX SBOM so that pinning, package sources and known vulnerabilities can "
                "be checked.",
            )]
        context.progress(0.2)
        allowed = params_or_default(context.params.get("allowed_indexes"))
        findings = [
            *self._not_understood(parsed),
            *self._sources(parsed, allowed),
            *self._pinning(parsed.dependencies),
        ]
        context.progress(0.5)
        findings.extend(self._vulnerabilities(parsed.dependencies))
        context.progress(1.0)
        return findings

    # --- checks ---------------------------------------------------------------------------------

    def _finding(self, severity, key, title, detail="", location="", **evidence) -> FindingData:
        return FindingData(
            severity=severity, key=key, title=title, detail=detail, location=location,
            atlas_technique=AI_SOFTWARE_SUPPLY_CHAIN, evidence=evidence,
        )

    def _not_understood(self, parsed: DependencyList):
        for item in parsed.unparsed:
            digest = hashlib.sha256(item.text.encode()).hexdigest()[:16]
            yield self._finding(
                Severity.MEDIUM, f"unparsed:{digest}",
                "Part of the dependency list was not understood and not checked",
                f"{item.text!r}: {item.reason}.", _line(item.line), text=item.text[:500],
                reason=item.reason,
            )
        if parsed.unchecked_components:
            listed = parsed.unchecked_components[:MAX_LISTED]
            yield self._finding(
                Severity.MEDIUM, "components-not-checked",
                f"{len(parsed.unchecked_components)} SBOM component(s) were not checked",
                "Only PyPI packages are checked; these were not: " + ", ".join(listed)
                + (" ..." if len(parsed.unchecked_components) > MAX_LISTED else "") + ".",
                components=parsed.unchecked_components[:200],
            )

    def _sources(self, parsed: DependencyList, allowed: set[str]):
        for index in parsed.indexes:
            if normalise_url(index.url) in allowed:
                continue
            shown = redact_url(index.url)
            severity = Severity.HIGH
            yield self._finding(
                severity, f"index:{normalise_url(index.url)}",
                f"Packages may be installed from {shown}, which is not an allowed index",
                f"{index.option} {shown} lets pip take packages from outside the allowed "
                f"indexes; with --extra-index-url pip picks the highest version from any "
                f"index, the classic dependency-confusion attack.",
                _line(index.line), option=index.option, url=shown,
                allowed_indexes=sorted(allowed),
            )
        for host, number in parsed.trusted_hosts:
            yield self._finding(
                Severity.MEDIUM, f"trusted-host:{host.lower()}",
                f"TLS verification is turned off for {host}",
                "--trusted-host lets pip accept packages from this host over plain HTTP or an "
                "invalid certificate, so they can be replaced in transit.",
                _line(number), host=host,
            )
        for dependency in parsed.dependencies:
            if dependency.source:
                shown = redact_url(dependency.source)
                yield self._finding(
                    Severity.HIGH, f"direct-source:{dependency.normalised}",
                    f"{dependency.name} is installed from {shown}, not from an allowed index",
                    "A URL, VCS checkout or local path bypasses the package index, its "
                    "release history and the vulnerability check below.",
                    _line(dependency.line), package=dependency.name, source=shown,
                )

    def _pinning(self, dependencies: list[Dependency]):
        for dependency in dependencies:
            if dependency.source or dependency.is_pinned:
                continue
            constraint = dependency.specifier or "any version"
            yield self._finding(
                Severity.MEDIUM, f"unpinned:{dependency.normalised}",
                f"{dependency.name} is not pinned to one version ({constraint})",
                "An unpinned requirement installs whatever the index serves on the day of the "
                "build, so the deployed code can differ from what was tested, and known "
                "vulnerable versions cannot be ruled out. Pin it with ==.",
                _line(dependency.line), package=dependency.name, specifier=dependency.specifier,
            )

    def _vulnerabilities(self, dependencies: list[Dependency]):
        if not selectors.advisories_exist():
            yield self._finding(
                Severity.MEDIUM, "advisories-empty",
                "The advisory database is empty, so known vulnerabilities were not checked",
                "Load OSV advisories with `manage.py import_advisories DIR` "
                "(fixtures/advisories/ holds a sample for ML libraries).",
            )
            return
        pinned = [d for d in dependencies if d.is_pinned and not d.source]
        packages = selectors.advisory_packages_for(
            ecosystem="PyPI", names={d.normalised for d in pinned}
        )
        by_name: dict[str, list] = {}
        for package in packages:
            by_name.setdefault(package.name, []).append(package)
        for dependency in pinned:
            for package in by_name.get(dependency.normalised, []):
                if not is_affected(
                    dependency.version, ranges=package.ranges, versions=package.versions
                ):
                    continue
                advisory = package.advisory
                fixes = fixed_versions(package.ranges)
                names = ", ".join([advisory.osv_id, *advisory.aliases])
                advice = f"Upgrade to {' or '.join(fixes)} or later." if fixes else (
                    "No fixed version is known; replace the package or accept the risk."
                )
                yield self._finding(
                    advisory.severity, f"advisory:{advisory.osv_id}:{dependency.normalised}",
                    f"{dependency.name} {dependency.version} has a known vulnerability "
                    f"({advisory.aliases[0] if advisory.aliases else advisory.osv_id})",
                    f"{advisory.summary or advisory.osv_id} [{names}]. {advice}",
                    _line(dependency.line), package=dependency.name,
                    version=dependency.version, advisory=advisory.osv_id,
                    aliases=advisory.aliases, fixed_versions=fixes,
                    references=advisory.references[:5],
                )


def params_or_default(value) -> set[str]:
    """The allowed index URLs, normalised: the scan's input, else the installation's setting."""
    urls = value if value else settings.MLGOV_ALLOWED_PACKAGE_INDEXES
    return {normalise_url(url) for url in urls}
