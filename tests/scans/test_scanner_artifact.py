"""The unsafe-artifact scanner plug-in: the library wired into the scan engine.

Hostile files go through registration, the engine and eager Celery like real uploads do, and
must give a finished scan with findings, never a crashed worker. Payloads are harmless
(`os.system("true")`) and nothing here is ever loaded: the scanner only reads bytes.
"""

import hashlib
import io
import pickle
import zipfile

import joblib
import numpy as np
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from sklearn.linear_model import LogisticRegression

from apps.registry import services as registry_services
from apps.scans import scanners as scanner_registry
from apps.scans import services
from apps.scans.artifact import analyse
from apps.scans.choices import SEVERITY_RANK, ScanStatus, Severity, TargetType
from apps.scans.models import Finding, ScanRun
from apps.scans.scanners import artifact as artifact_module
from apps.scans.scanners.artifact import ArtifactScanner, _plain, limits_from_settings
from apps.scans.scanners.base import ScanContext
from apps.scans.selectors_artifact import artifact_verdict_latest
from tests.scans.artifact_corpus import A, zip_of
from tests.scans.factories import ScanRunFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
TECHNIQUES = {"AML.T0011.000", "AML.T0010.003"}


# --- Artifacts ------------------------------------------------------------------------------


def joblib_of(value, compress=0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer, compress=compress)
    return buffer.getvalue()


def malicious_joblib() -> bytes:
    """A real joblib dump (inline array data) with one more dict entry built by hand:
    "step": os.system("true"), a REDUCE that would run on load."""
    body = joblib_of({"weights": np.arange(64, dtype="float64"), "bias": 0.5})
    assert body.endswith(b"u.")  # SETITEMS, STOP
    payload = A.unicode("step") + A.global_("os", "system") + A.args("true") + A.REDUCE
    return body[:-1] + payload + A.SETITEM + A.STOP


def benign_sklearn_joblib() -> bytes:
    rng = np.random.default_rng(0)
    features = rng.random((40, 3))
    model = LogisticRegression().fit(features, features[:, 0] > 0.5)
    return joblib_of(model, compress=3)


def zip_bomb() -> bytes:
    """200 MB of zeros deflated to ~200 KB (ratio over 1000)."""
    return zip_of({"model.pkl": b"\x00" * (200 << 20)}, zipfile.ZIP_DEFLATED)


def truncated_pickle() -> bytes:
    data = pickle.dumps({"weights": list(range(500)), "name": "model"}, protocol=4)
    return data[: len(data) // 2]


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def upload(model, data_scientist, settings, django_capture_on_commit_callbacks):
    """Register bytes as a model version through the registry's service, with the automatic
    registration scan on: its task runs eagerly once the registration commits. Returns the
    version and its registration scan."""
    settings.MLGOV_AUTO_SCAN_ON_REGISTER = True

    def make(content: bytes, *, version: str = "1.0", name: str = "model.joblib"):
        with django_capture_on_commit_callbacks(execute=True):
            registered = registry_services.model_version_register(
                actor=data_scientist, model=model, version=version,
                artifact=SimpleUploadedFile(name, content),
            )
        run = ScanRun.objects.get(model_version=registered)
        return registered, run

    return make


@pytest.fixture
def web():
    """A browser-like client signed in (session) as the given user: pages, not the API."""

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


def artifact_scan(actor, version) -> ScanRun:
    run = services.scan_request(actor=actor, model_version=version, scanners=["artifact"])
    return services.scan_execute(scan_id=run.pk, worker="w@host")


def rank(severity: str) -> int:
    return SEVERITY_RANK[severity]


class Recorder:
    def __init__(self) -> None:
        self.progress: list[float] = []
        self.emitted: list = []


def direct_context(content_stream, *, size: int, recorder: Recorder) -> ScanContext:
    class Version:
        artifact = "artifacts/xx/abc"
        sha256 = "0" * 64

    Version.size = size
    return ScanContext(
        target=Version(), target_type=TargetType.MODEL_VERSION, params={},
        open_file=lambda name: content_stream, progress=recorder.progress.append,
        emit=recorder.emitted.append,
    )


class NonSeekableStream(io.RawIOBase):
    """What a remote storage may return: read() only, no fileno, no seek."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# --- Through registration, the engine and eager Celery ----------------------------------------


def test_malicious_joblib_gives_a_critical_finding_through_the_api(upload, client_for,
                                                                   data_scientist):
    version, run = upload(malicious_joblib())
    assert version.format == "joblib"
    assert run.status == ScanStatus.SUCCEEDED, run.error
    assert "artifact" in run.scanners

    response = client_for(data_scientist).get(f"{API}/findings/", {"scan": run.pk,
                                                                     "page_size": 200})
    assert response.status_code == 200
    artifact = [item for item in response.json()["results"] if item["scanner"] == "artifact"]
    critical = [item for item in artifact if item["severity"] == Severity.CRITICAL]
    assert critical, artifact
    assert critical[0]["atlas_technique"] in TECHNIQUES
    assert "os.system" in critical[0]["title"]

    summary = run.results["artifact"]["summary"]
    assert summary["verdict"] == "malicious"
    assert "joblib" in summary["formats_seen"]
    assert summary["unreadable"] == []
    assert summary["library_version"].startswith("sha256:")
    scan = client_for(data_scientist).get(f"{API}/scans/{run.pk}/").json()
    assert scan["results"]["artifact"]["summary"]["verdict"] == "malicious"


def test_benign_sklearn_joblib_gives_nothing_above_low(upload, client_for, data_scientist):
    version, run = upload(benign_sklearn_joblib())
    assert run.status == ScanStatus.SUCCEEDED, run.error
    results = client_for(data_scientist).get(
        f"{API}/findings/", {"scan": run.pk, "page_size": 200}
    ).json()["results"]
    artifact = [item for item in results if item["scanner"] == "artifact"]
    assert all(rank(item["severity"]) <= rank(Severity.LOW) for item in artifact), artifact
    assert run.results["artifact"]["summary"]["verdict"] == "clean"
    assert run.results["artifact"]["status"] == "succeeded"


def test_zip_bomb_gives_a_succeeded_scan_with_a_not_scanned_finding(upload):
    version, run = upload(zip_bomb(), name="model.zip")
    assert run.status == ScanStatus.SUCCEEDED, run.error
    findings = Finding.objects.filter(model_version=version, scanner="artifact")
    not_scanned = [f for f in findings if f.title.startswith("Not fully scanned")]
    assert not_scanned
    assert all(rank(f.severity) >= rank(Severity.MEDIUM) for f in not_scanned)
    assert not_scanned[0].atlas_technique == "AML.T0011.000"
    summary = run.results["artifact"]["summary"]
    assert summary["verdict"] == "review"
    assert any("ratio" in entry for entry in summary["unreadable"])


def test_truncated_pickle_gives_a_succeeded_scan_with_a_medium_finding(upload):
    version, run = upload(truncated_pickle(), name="model.pkl")
    assert run.status == ScanStatus.SUCCEEDED, run.error
    worst = max(
        Finding.objects.filter(model_version=version, scanner="artifact")
        .values_list("severity", flat=True),
        key=rank,
    )
    assert rank(worst) >= rank(Severity.MEDIUM)
    assert run.results["artifact"]["summary"]["unreadable"]


def test_configured_limits_reach_the_library(register, data_scientist, settings):
    settings.MLGOV_ARTIFACT_SCAN_MAX_DECOMPRESSED_BYTES = 1 << 20
    settings.MLGOV_ARTIFACT_SCAN_MAX_RATIO = 7
    settings.MLGOV_ARTIFACT_SCAN_MAX_NESTING = 3
    settings.MLGOV_ARTIFACT_SCAN_TIME_LIMIT_SECONDS = 42
    limits = limits_from_settings()
    assert (limits.max_decompressed_bytes, limits.max_compression_ratio, limits.max_depth,
            limits.time_limit_seconds) == (1 << 20, 7, 3, 42.0)

    # 4 MB of zeros in a zip: fine by default, over the 1 MB decompression budget here.
    run = artifact_scan(data_scientist, register(
        zip_of({"weights.bin": b"\x00" * (4 << 20)}, zipfile.ZIP_DEFLATED)
    ))
    assert run.status == ScanStatus.SUCCEEDED
    summary = run.results["artifact"]["summary"]
    assert summary["limits"]["max_decompressed_bytes"] == 1 << 20
    assert summary["verdict"] == "review"
    assert summary["unreadable"]


def test_rescans_keep_one_row_per_finding(register, data_scientist):
    version = register(malicious_joblib())
    first = artifact_scan(data_scientist, version)
    rows = {f.fingerprint: f.pk for f in Finding.objects.filter(model_version=version)}
    second = artifact_scan(data_scientist, version)
    assert second.status == ScanStatus.SUCCEEDED
    again = {f.fingerprint: f.pk for f in Finding.objects.filter(model_version=version)}
    assert again == rows
    library = analyse(malicious_joblib())
    expected = {hashlib.sha256(f.fingerprint.encode()).hexdigest() for f in library.findings}
    assert set(rows) == expected
    critical = Finding.objects.get(model_version=version, severity=Severity.CRITICAL)
    assert critical.evidence["library_fingerprint"] in {f.fingerprint for f in library.findings}
    assert critical.evidence["finding_kind"]
    assert set(critical.observations.values_list("scan", flat=True)) == {first.pk, second.pk}


def test_library_findings_map_field_for_field(register, data_scientist):
    content = malicious_joblib()
    version = register(content)
    artifact_scan(data_scientist, version)
    library = {f.fingerprint: f for f in analyse(content).findings}
    stored = Finding.objects.filter(model_version=version, scanner="artifact")
    assert stored.count() == len(library)
    for row in stored:
        source = library[row.evidence["library_fingerprint"]]
        assert (row.severity, row.atlas_technique, row.title, row.detail, row.location) == (
            source.severity, source.atlas_technique, source.title, source.detail,
            source.location,
        )


# --- Failures stay in their scan --------------------------------------------------------------


def test_library_crash_fails_the_scan_not_the_worker(register, data_scientist, monkeypatch):
    def explode(*args, **kwargs):
        raise MemoryError("hostile file")

    monkeypatch.setattr(artifact_module, "analyse", explode)
    run = artifact_scan(data_scientist, register(malicious_joblib()))
    assert run.status == ScanStatus.FAILED
    assert "internal error" in run.error and "MemoryError" in run.error
    assert run.results["artifact"]["status"] == "failed"


def test_task_time_limit_inside_the_library_still_stops_the_scan(register, data_scientist,
                                                                  monkeypatch):
    """The library reports every exception as "not scanned"; Celery's soft time limit must
    still reach the engine, which fails the scan with its time-limit message."""

    class OutOfTime(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            raise SoftTimeLimitExceeded()

    real_analyse = artifact_module.analyse
    monkeypatch.setattr(artifact_module, "analyse",
                        lambda fileobj, limits=None: real_analyse(OutOfTime(), limits=limits))
    run = artifact_scan(data_scientist, register(malicious_joblib()))
    assert run.status == ScanStatus.FAILED
    assert "time limit" in run.error
    assert not Finding.objects.filter(scanner="artifact").exists()


def test_missing_stored_artifact_fails_with_a_readable_error(register, data_scientist):
    version = register(malicious_joblib())
    default_storage.delete(version.artifact)
    run = artifact_scan(data_scientist, version)
    assert run.status == ScanStatus.FAILED
    assert "cannot be read" in run.error and "not scanned" in run.error


def test_failed_artifact_scan_is_a_failed_verdict(register, data_scientist):
    version = register(malicious_joblib())
    default_storage.delete(version.artifact)
    artifact_scan(data_scientist, version)
    verdict = artifact_verdict_latest(user=data_scientist, model_version_id=version.pk)
    assert verdict.verdict == "failed"
    assert "cannot be read" in verdict.error


# --- Streams the library cannot map -------------------------------------------------------------


def test_non_seekable_stream_is_spooled_and_scanned_the_same():
    content = malicious_joblib()
    recorder = Recorder()
    scanner = ArtifactScanner()
    context = direct_context(NonSeekableStream(content), size=len(content), recorder=recorder)
    findings = scanner.scan(context)
    assert {f.key for f in findings} == {f.fingerprint for f in analyse(content).findings}
    assert any(f.severity == Severity.CRITICAL for f in findings)
    assert context.summary["verdict"] == "malicious"
    assert recorder.progress == sorted(recorder.progress)
    assert recorder.progress[0] == 0.0 and recorder.progress[-1] == 0.95


def test_stream_longer_than_any_artifact_is_cut_and_said_so(settings):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 1000
    content = pickle.dumps(list(range(10)), protocol=4) + b"\x00" * 5000
    recorder = Recorder()
    context = direct_context(NonSeekableStream(content), size=1000, recorder=recorder)
    findings = ArtifactScanner().scan(context)
    cut = [f for f in findings if f.key == "artifact:not-scanned:size-bound"]
    assert cut and cut[0].severity == Severity.MEDIUM
    assert "beyond byte 1000" in cut[0].title
    assert context.summary["verdict"] != "clean"
    assert any("beyond 1000" in entry for entry in context.summary["unreadable"])


def test_unreadable_parts_are_never_left_below_medium(monkeypatch):
    """Whatever the library returns, a report naming unread parts gives a medium finding."""
    from apps.scans.artifact import Report

    monkeypatch.setattr(
        artifact_module, "analyse",
        lambda fileobj, limits=None: Report(findings=[], unreadable=["(file): lz4 (unsupported)"]),
    )
    context = direct_context(io.BytesIO(b"x"), size=1, recorder=Recorder())
    findings = ArtifactScanner().scan(context)
    assert [f.severity for f in findings] == [Severity.MEDIUM]
    assert "lz4" in findings[0].detail
    assert context.summary["verdict"] == "review"


def test_evidence_from_hostile_names_is_made_json_safe():
    assert _plain({"name": "a\x00b\udc80", 1: (b"\xff", {2})}) == {
        "name": "a\\x00b\\udc80", "1": ["\xff", [2]]
    }


# --- Registry of scanners ----------------------------------------------------------------------


def test_scanner_is_registered_for_model_versions_with_its_techniques(client_for, auditor):
    assert "artifact" in scanner_registry.scanners_for(TargetType.MODEL_VERSION)
    assert "artifact" not in scanner_registry.scanners_for(TargetType.DATASET_VERSION)
    body = client_for(auditor).get(f"{API}/scanners/", {"page_size": 200}).json()
    described = {item["name"]: item for item in body["results"]}["artifact"]
    assert described["targets"] == ["model_version"]
    assert set(described["atlas_techniques"]) == TECHNIQUES


# --- The verdict on the version page -----------------------------------------------------------


def test_version_page_shows_format_and_verdict(register, data_scientist, web):
    version = register(malicious_joblib())
    page = web(data_scientist).get(version.get_absolute_url()).content.decode()
    assert "Detected format: <code>joblib</code> · Artifact scan:" in page
    assert "no finished scan yet" in page

    run = artifact_scan(data_scientist, version)
    page = web(data_scientist).get(version.get_absolute_url()).content.decode()
    findings = run.results["artifact"]["findings"]
    assert 'data-testid="artifact-verdict"' in page
    assert ">Malicious</span>" in page
    assert f"{run.finished_at:%Y-%m-%d %H:%M}</time></a>, {findings} finding" in page
    assert run.get_absolute_url() in page


def test_version_page_access_is_unchanged(register, web, outsider, auditor):
    version = register(malicious_joblib())
    anonymous = Client().get(version.get_absolute_url())
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert web(outsider).get(version.get_absolute_url()).status_code == 404
    assert web(auditor).get(version.get_absolute_url()).status_code == 200


def test_verdict_is_the_newest_finished_scan_the_user_may_see(register, data_scientist,
                                                             outsider):
    version = register(benign_sklearn_joblib())
    first = artifact_scan(data_scientist, version)
    assert artifact_verdict_latest(user=data_scientist, model_version_id=version.pk).scan == first
    second = artifact_scan(data_scientist, version)
    ScanRunFactory(model_version=version, scanners=["artifact"], status=ScanStatus.RUNNING,
                   results={})
    verdict = artifact_verdict_latest(user=data_scientist, model_version_id=version.pk)
    assert verdict.scan == second and verdict.verdict == "clean"
    assert verdict.formats_seen and verdict.library_version
    assert artifact_verdict_latest(user=outsider, model_version_id=version.pk) is None


def _page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_version_page_query_count_does_not_grow_with_scans(register, data_scientist, web):
    version = register(malicious_joblib())
    client = web(data_scientist)
    artifact_scan(data_scientist, version)
    small = _page_queries(client, version.get_absolute_url())
    for _ in range(4):
        artifact_scan(data_scientist, version)
    for _ in range(20):
        ScanRunFactory(model_version=version, scanners=["integrity"], results={})
    large = _page_queries(client, version.get_absolute_url())
    assert small == large
