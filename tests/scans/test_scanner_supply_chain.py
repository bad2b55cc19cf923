"""The supply-chain scanner, its dependency-list parser, OSV matching and advisory import."""

import json

import pytest
from django.core.management import CommandError, call_command

from apps.scans import services
from apps.scans.choices import ScanStatus, Severity
from apps.scans.dependencies import parse_dependencies
from apps.scans.models import Advisory, AdvisoryPackage, Finding
from apps.scans.osv import fixed_versions, is_affected
from tests.scans.conftest import ADVISORIES

CVE_TORCH_LOAD = "CVE-2025-32434"


def supply_chain_scan(register, actor, dependencies, **kwargs):
    version = register(dependencies=dependencies)
    run = services.scan_request(actor=actor, model_version=version, scanners=["supply-chain"],
                                **kwargs)
    run = services.scan_execute(scan_id=run.pk)
    assert run.status == ScanStatus.SUCCEEDED, run.error
    return {f.evidence.get("package", f.fingerprint): f
            for f in Finding.objects.filter(model_version=version)}, version


def titles(findings) -> str:
    return " | ".join(sorted(f.title for f in findings.values()))


# --- Dependency lists ---------------------------------------------------------------------------


class TestParseDependencies:
    def test_requirements_file(self):
        parsed = parse_dependencies(
            "# pinned for the release\n"
            "torch==2.5.1  # the model's runtime\n"
            "numpy>=1.26,<3\n"
            "scikit_learn == 1.4.1.post1 \\\n"
            "    --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
            'pandas==2.2.2; python_version >= "3.9"\n'
            "requests\n"
            "tqdm==4.*\n"
        )
        by_name = {d.normalised: d for d in parsed.dependencies}
        assert parsed.format == "requirements"
        assert parsed.unparsed == []
        assert by_name["torch"].version == "2.5.1" and by_name["torch"].line == 2
        assert by_name["scikit-learn"].version == "1.4.1.post1"
        assert by_name["pandas"].version == "2.2.2"
        assert by_name["numpy"].version is None and by_name["numpy"].specifier == "<3,>=1.26"
        assert by_name["requests"].version is None
        assert by_name["tqdm"].version is None  # a wildcard is not a pin

    def test_pip_freeze_with_sources_and_options(self):
        parsed = parse_dependencies(
            "--index-url https://pypi.org/simple\n"
            "--extra-index-url=https://user:secret@pkgs.example.com/simple/\n"
            "--trusted-host pkgs.example.com\n"
            "-e git+https://github.com/acme/featurizer.git@abc123#egg=featurizer\n"
            "tokenizer @ https://files.example.com/tokenizer-1.0-py3-none-any.whl\n"
            "./vendor/helper\n"
            "-r other-requirements.txt\n"
            "this is not a requirement\n"
        )
        assert [(i.option, i.line) for i in parsed.indexes] == [
            ("--index-url", 1), ("--extra-index-url", 2)]
        assert parsed.trusted_hosts == [("pkgs.example.com", 3)]
        sources = {d.name: d.source for d in parsed.dependencies}
        assert sources["featurizer"].startswith("git+https://github.com/acme/")
        assert sources["tokenizer"].endswith(".whl")
        assert sources["helper"] == "./vendor/helper"
        assert [u.line for u in parsed.unparsed] == [7, 8]
        assert "another file" in parsed.unparsed[0].reason

    def test_cyclonedx_sbom(self):
        sbom = {
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [
                {"type": "library", "name": "torch", "version": "2.5.1",
                 "purl": "pkg:pypi/torch@2.5.1"},
                {"type": "library", "name": "private-lib", "version": "0.1",
                 "purl": "pkg:pypi/private-lib@0.1?repository_url=https://pkgs.example.com/simple",
                 "components": [{"type": "library", "name": "left-pad", "version": "1.3.0",
                                 "purl": "pkg:npm/left-pad@1.3.0"}]},
                {"type": "library", "name": "mystery"},
            ],
        }
        parsed = parse_dependencies(json.dumps(sbom))
        assert parsed.format == "cyclonedx"
        assert [(d.name, d.version) for d in parsed.dependencies] == [
            ("torch", "2.5.1"), ("private-lib", "0.1")]
        assert [i.url for i in parsed.indexes] == ["https://pkgs.example.com/simple"]
        assert parsed.unchecked_components == ["left-pad 1.3.0 (npm)", "mystery (no package URL)"]

    def test_json_that_is_not_an_sbom_is_reported_not_ignored(self):
        assert parse_dependencies('{"dependencies": []}').unparsed
        assert parse_dependencies("{not json").unparsed

    def test_empty(self):
        assert parse_dependencies("  \n").format == "empty"


# --- OSV matching -------------------------------------------------------------------------------


class TestOsvMatching:
    RANGES = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.6.0"}]}]

    @pytest.mark.parametrize(
        ("version", "affected"),
        [("2.5.1", True), ("1.0", True), ("2.6.0", False), ("2.7.1", False),
         ("2.6.0rc1", True), ("not-a-version", False)],
    )
    def test_introduced_and_fixed(self, version, affected):
        assert is_affected(version, ranges=self.RANGES, versions=[]) is affected

    def test_last_affected_and_several_ranges(self):
        ranges = [
            {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"last_affected": "1.2"}]},
            {"type": "ECOSYSTEM", "events": [{"fixed": "3.1"}, {"introduced": "3.0"}]},
        ]
        assert is_affected("1.2", ranges=ranges, versions=[])
        assert not is_affected("1.2.1", ranges=ranges, versions=[])
        assert not is_affected("0.9", ranges=ranges, versions=[])
        assert is_affected("3.0.5", ranges=ranges, versions=[])  # events in any order
        assert not is_affected("3.1", ranges=ranges, versions=[])

    def test_explicit_versions_and_git_ranges(self):
        git = [{"type": "GIT", "repo": "https://github.com/x/y", "events": [{"introduced": "0"}]}]
        assert not is_affected("1.0", ranges=git, versions=[])
        assert is_affected("1.0.0", ranges=git, versions=["1.0"])  # 1.0 == 1.0.0 (PEP 440)

    def test_fixed_versions(self):
        assert fixed_versions(self.RANGES) == ["2.6.0"]


# --- Advisory import ----------------------------------------------------------------------------


@pytest.mark.django_db
class TestImportAdvisories:
    def test_imports_the_shipped_sample(self, capsys):
        call_command("import_advisories", str(ADVISORIES))
        assert "3 created" in capsys.readouterr().out
        torch_load = Advisory.objects.get(osv_id="GHSA-53q9-r3pm-6pq6")
        assert torch_load.aliases == [CVE_TORCH_LOAD]
        assert torch_load.severity == Severity.CRITICAL
        assert Advisory.objects.get(osv_id="GHSA-jw8x-6495-233v").severity == Severity.MEDIUM
        assert set(AdvisoryPackage.objects.values_list("name", flat=True)) == {
            "torch", "scikit-learn"}

    def test_importing_again_updates_in_place(self, capsys):
        call_command("import_advisories", str(ADVISORIES))
        call_command("import_advisories", str(ADVISORIES))
        assert "0 created, 3 updated" in capsys.readouterr().out
        assert Advisory.objects.count() == 3
        assert AdvisoryPackage.objects.count() == 3

    def test_withdrawn_record_is_removed(self, tmp_path):
        call_command("import_advisories", str(ADVISORIES))
        record = json.loads((ADVISORIES / "GHSA-jw8x-6495-233v.json").read_text())
        record["withdrawn"] = "2026-01-01T00:00:00Z"
        (tmp_path / "w.json").write_text(json.dumps(record))
        call_command("import_advisories", str(tmp_path / "w.json"))
        assert not Advisory.objects.filter(osv_id="GHSA-jw8x-6495-233v").exists()

    def test_a_bad_record_imports_nothing(self, tmp_path):
        good = json.loads((ADVISORIES / "GHSA-53q9-r3pm-6pq6.json").read_text())
        (tmp_path / "records.json").write_text(json.dumps([good, {"affected": []}]))
        with pytest.raises(CommandError, match=r"records.json\[1\]: the record has no valid 'id'"):
            call_command("import_advisories", str(tmp_path))
        assert not Advisory.objects.exists()

    def test_unreadable_json_is_refused(self, tmp_path):
        (tmp_path / "broken.json").write_text("{")
        with pytest.raises(CommandError, match="broken.json: not readable JSON"):
            call_command("import_advisories", str(tmp_path))

    def test_missing_path_is_refused(self, tmp_path):
        with pytest.raises(CommandError, match="no such file"):
            call_command("import_advisories", str(tmp_path / "nope"))

    def test_other_ecosystems_are_skipped(self, tmp_path):
        record = {"id": "GHSA-xxxx-npm", "modified": "2024-01-01T00:00:00Z",
                  "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"}}]}
        (tmp_path / "npm.json").write_text(json.dumps(record))
        call_command("import_advisories", str(tmp_path))
        assert not Advisory.objects.exists()


# --- The scanner --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestSupplyChainScanner:
    def test_vulnerable_torch_is_found_from_the_shipped_sample(
        self, register, data_scientist, advisories
    ):
        findings, _ = supply_chain_scan(register, data_scientist, "torch==2.5.1\n")
        vulnerable = [f for f in findings.values() if f.evidence.get("advisory")]
        assert len(vulnerable) == 1
        finding = vulnerable[0]
        assert finding.severity == Severity.CRITICAL
        assert finding.atlas_technique == "AML.T0010.001"
        assert CVE_TORCH_LOAD in finding.title
        assert finding.evidence["advisory"] == "GHSA-53q9-r3pm-6pq6"
        assert finding.evidence["fixed_versions"] == ["2.6.0"]
        assert "Upgrade to 2.6.0" in finding.detail
        assert finding.location == "line 1"

    def test_patched_torch_is_clean(self, register, data_scientist, advisories):
        findings, _ = supply_chain_scan(register, data_scientist, "torch==2.6.0\n")
        assert findings == {}

    def test_old_torch_matches_both_torch_advisories(
        self, register, data_scientist, advisories
    ):
        version = register(dependencies="torch==1.13.0\nscikit-learn==1.4.2\n")
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["supply-chain"])
        services.scan_execute(scan_id=run.pk)
        found = sorted(Finding.objects.filter(model_version=version)
                       .values_list("evidence__advisory", "severity"))
        assert found == [("GHSA-47fc-vmwq-366v", "critical"), ("GHSA-53q9-r3pm-6pq6", "critical"),
                         ("GHSA-jw8x-6495-233v", "medium")]

    def test_unpinned_requirement(self, register, data_scientist, advisories):
        findings, _ = supply_chain_scan(register, data_scientist, "numpy>=1.26\nrequests\n")
        assert findings["numpy"].severity == Severity.MEDIUM
        assert findings["numpy"].title == "numpy is not pinned to one version (>=1.26)"
        assert "any version" in findings["requests"].title
        assert findings["numpy"].atlas_technique == "AML.T0010.001"

    def test_extra_index_url_outside_the_allowed_list(self, register, data_scientist, advisories):
        findings, _ = supply_chain_scan(
            register, data_scientist,
            "--extra-index-url https://deploy:hunter2@pkgs.example.com/simple\ntorch==2.6.0\n",
        )
        (index,) = findings.values()
        assert index.severity == Severity.HIGH
        assert "dependency-confusion" in index.detail
        assert index.evidence["url"] == "https://***@pkgs.example.com/simple"
        assert "hunter2" not in json.dumps(index.evidence) + index.title + index.detail

    def test_allowed_indexes_input_accepts_a_private_index(
        self, register, data_scientist, advisories
    ):
        findings, _ = supply_chain_scan(
            register, data_scientist, "--index-url https://pkgs.example.com/simple/\n",
            params={"allowed_indexes": ["https://PKGS.example.com/simple"]},
        )
        assert findings == {}

    def test_cyclonedx_input(self, register, data_scientist, advisories):
        sbom = json.dumps({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [
                {"type": "library", "name": "torch", "version": "2.5.1",
                 "purl": "pkg:pypi/torch@2.5.1"},
                {"type": "library", "name": "lodash", "version": "4.17.20",
                 "purl": "pkg:npm/lodash@4.17.20"},
            ],
        })
        findings, _ = supply_chain_scan(register, data_scientist, sbom)
        assert findings["torch"].evidence["advisory"] == "GHSA-53q9-r3pm-6pq6"
        not_checked = [f for f in findings.values() if "not checked" in f.title]
        assert len(not_checked) == 1
        assert not_checked[0].severity == Severity.MEDIUM
        assert "lodash 4.17.20 (npm)" in not_checked[0].detail

    def test_direct_sources_and_unparsed_lines_are_reported(
        self, register, data_scientist, advisories
    ):
        findings, _ = supply_chain_scan(
            register, data_scientist,
            "-e git+https://github.com/acme/featurizer.git#egg=featurizer\n-r base.txt\n",
        )
        assert findings["featurizer"].severity == Severity.HIGH
        assert "not from an allowed index" in findings["featurizer"].title
        unparsed = [f for f in findings.values() if "not understood" in f.title]
        assert unparsed[0].severity == Severity.MEDIUM
        assert "base.txt" in unparsed[0].detail

    def test_no_dependency_list_is_never_silently_clean(self, register, data_scientist):
        findings, _ = supply_chain_scan(register, data_scientist, "")
        (finding,) = findings.values()
        assert finding.severity == Severity.MEDIUM
        assert "not checked" in finding.title

    def test_empty_advisory_database_is_said(self, register, data_scientist):
        findings, _ = supply_chain_scan(register, data_scientist, "torch==2.5.1\n")
        (finding,) = findings.values()
        assert finding.severity == Severity.MEDIUM
        assert "advisory database is empty" in finding.title

    def test_upgrading_marks_the_vulnerability_fixed(
        self, register, data_scientist, compliance_officer, advisories
    ):
        version = register(dependencies="torch==2.5.1\nnumpy>=1\n")
        services.scan_execute(scan_id=services.scan_request(
            actor=data_scientist, model_version=version, scanners=["supply-chain"]).pk)
        vulnerable = Finding.objects.get(model_version=version, evidence__advisory__isnull=False)
        unpinned = Finding.objects.get(model_version=version, evidence__package="numpy")
        services.finding_triage(actor=compliance_officer, finding=unpinned,
                                status="false_positive", reason="numpy is vendored")
        # The team fixes the pin (the version's dependency list is editable metadata).
        version.dependencies = "torch==2.6.0\nnumpy>=1\n"
        version.save(update_fields=["dependencies"])
        services.scan_execute(scan_id=services.scan_request(
            actor=data_scientist, model_version=version, scanners=["supply-chain"]).pk)
        vulnerable.refresh_from_db()
        unpinned.refresh_from_db()
        assert vulnerable.status == "fixed"
        assert unpinned.status == "false_positive"
        assert unpinned.triage_reason == "numpy is vendored"
