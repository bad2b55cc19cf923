"""The integrity scanner: the stored bytes are re-hashed and compared with the registration."""

import hashlib
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services as registry_services
from apps.scans import services
from apps.scans.choices import FindingStatus, ScanStatus, Severity, TargetType
from apps.scans.models import Finding
from apps.scans.scanners.base import ScanContext
from apps.scans.scanners.integrity import IntegrityScanner
from tests.registry.factories import DatasetFactory

pytestmark = pytest.mark.django_db

ORIGINAL = b"\x80\x04original model weights" * 1000


def replace_stored_bytes(name: str, content: bytes) -> None:
    """Change a stored file behind mlgov's back (an attacker with write access to the storage)."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(content)) == name


def integrity_scan(actor, **target):
    run = services.scan_request(actor=actor, scanners=["integrity"], **target)
    return services.scan_execute(scan_id=run.pk, worker="w@host")


def test_untouched_artifact_gives_no_finding(register, data_scientist):
    version = register(ORIGINAL)
    run = integrity_scan(data_scientist, model_version=version)
    assert run.status == ScanStatus.SUCCEEDED
    assert run.findings_count == 0
    assert run.results["integrity"] == {"status": "succeeded", "version": "1", "findings": 0}


def test_bytes_changed_behind_mlgovs_back_are_a_critical_finding(register, data_scientist):
    version = register(ORIGINAL)
    replace_stored_bytes(version.artifact, ORIGINAL.replace(b"weights", b"backdoor"))
    run = integrity_scan(data_scientist, model_version=version)
    assert run.status == ScanStatus.SUCCEEDED
    finding = Finding.objects.get(model_version=version, scanner="integrity")
    assert finding.severity == Severity.CRITICAL
    assert finding.atlas_technique == "AML.T0018"
    assert finding.evidence["related_techniques"] == ["AML.T0010.003"]
    assert finding.evidence["recorded_sha256"] == version.sha256
    assert finding.evidence["actual_sha256"] != version.sha256
    assert finding.location == version.artifact
    assert "changed outside mlgov" in finding.detail

    # The operator restores the registered bytes: the next scan marks the finding fixed.
    replace_stored_bytes(version.artifact, ORIGINAL)
    integrity_scan(data_scientist, model_version=version)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.FIXED


def test_missing_artifact_is_a_critical_finding_not_a_clean_scan(register, data_scientist):
    version = register(ORIGINAL)
    default_storage.delete(version.artifact)
    run = integrity_scan(data_scientist, model_version=version)
    finding = Finding.objects.get(model_version=version)
    assert run.status == ScanStatus.SUCCEEDED
    assert finding.severity == Severity.CRITICAL
    assert "cannot be read" in finding.title


def test_expected_digest_from_the_pipeline_is_compared(register, data_scientist):
    version = register(ORIGINAL)
    run = services.scan_request(actor=data_scientist, model_version=version,
                                scanners=["integrity"], params={"expected_sha256": "ab" * 32})
    services.scan_execute(scan_id=run.pk)
    finding = Finding.objects.get(model_version=version)
    assert finding.severity == Severity.CRITICAL
    assert finding.atlas_technique == "AML.T0010.003"
    assert finding.evidence["expected_sha256"] == "ab" * 32

    # The same digest as the stored bytes: nothing to report.
    run = services.scan_request(actor=data_scientist, model_version=version,
                                scanners=["integrity"], params={"expected_sha256": version.sha256})
    assert services.scan_execute(scan_id=run.pk).findings_count == 0


def test_dataset_file_tampering_maps_to_data_poisoning(data_scientist, team):
    dataset = DatasetFactory(team=team)
    version = registry_services.dataset_version_register(
        actor=data_scientist, dataset=dataset, version="1",
        file=SimpleUploadedFile("d.csv", b"a,b\n1,2\n"),
    )
    replace_stored_bytes(version.file, b"a,b\n1,3\n")
    integrity_scan(data_scientist, dataset_version=version)
    finding = Finding.objects.get(dataset_version=version)
    assert finding.atlas_technique == "AML.T0020"
    assert "dataset file" in finding.title


class Recorder:
    def __init__(self):
        self.progress = []
        self.emitted = []


def test_scanner_reports_progress_while_hashing():
    """The scanner alone, without the engine: progress grows to 1.0 chunk by chunk."""
    content = b"x" * (3 * 1024 * 1024 + 10)

    class Version:
        artifact = "artifacts/xx/abc"
        sha256 = hashlib.sha256(content).hexdigest()
        size = len(content)

    recorder = Recorder()
    context = ScanContext(
        target=Version(), target_type=TargetType.MODEL_VERSION, params={},
        open_file=lambda name: io.BytesIO(content), progress=recorder.progress.append,
        emit=recorder.emitted.append,
    )
    assert IntegrityScanner().scan(context) == []
    assert len(recorder.progress) == 4
    assert recorder.progress == sorted(recorder.progress)
    assert recorder.progress[-1] == 1.0
