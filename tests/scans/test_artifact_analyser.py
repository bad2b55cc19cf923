"""The unsafe-artifact scanner against the frozen corpus, plus its reporting contract.

Plain pytest: no database. The corpus (tests/scans/artifact_corpus.py) was frozen before the
scanner was tuned; these tests only read bytes, nothing is ever unpickled.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from apps.scans.artifact import SEVERITIES, Finding, Limits, Report, analyse
from tests.scans.artifact_corpus import (
    CALL_TARGETS,
    DENSE,
    A,
    benign_samples,
    fake_hdf5,
    malicious_samples,
    torch_zip,
)

MALICIOUS = malicious_samples()
BENIGN = benign_samples()
ROOT = Path(__file__).resolve().parents[2]


def _summary(report: Report) -> str:
    return "; ".join(f"{f.severity}: {f.title} @ {f.location}" for f in report.findings)


@pytest.mark.parametrize("sample", MALICIOUS, ids=[s.name for s in MALICIOUS])
def test_malicious_sample_is_flagged_high_or_critical(sample):
    report = analyse(sample.data)

    assert report.max_severity in ("high", "critical"), _summary(report)
    assert report.verdict in ("unsafe", "malicious")


@pytest.mark.parametrize("sample", BENIGN, ids=[s.name for s in BENIGN])
def test_benign_sample_is_not_reported_above_low(sample):
    report = analyse(sample.data)

    assert report.max_severity in ("info", "low"), _summary(report)
    assert report.verdict == "clean"


def test_corpus_covers_every_container_and_both_classes():
    containers = {s.container for s in MALICIOUS}
    assert {
        "pickle",
        "joblib",
        "pytorch-zip",
        "pytorch-legacy",
        "numpy",
        "numpy-npz",
        "zip",
        "tar",
        "gzip",
        "bz2",
        "xz",
        "keras",
        "hdf5",
        "onnx",
        "safetensors",
    } <= containers
    assert len(BENIGN) >= 100


@pytest.mark.parametrize(
    "module,name,args", [t for t in CALL_TARGETS if not t[0].startswith("some_unknown")]
)
def test_known_dangerous_callables_are_critical(module, name, args):
    report = analyse(A.call(module, name, *args))

    dangerous = [f for f in report.findings if f.kind == "dangerous-global"]
    assert dangerous and dangerous[0].severity == "critical", _summary(report)
    assert any(f.evidence["global"] == f"{module}.{name}" for f in dangerous)


def test_unlisted_global_is_high_not_critical():
    report = analyse(A.call("some_unknown_package.module", "Thing", "x"))

    (finding,) = report.findings
    assert finding.severity == "high"
    assert finding.kind == "unlisted-global"
    assert finding.atlas_technique == "AML.T0011.000"


def test_finding_shows_the_opcode_path_location_and_technique():
    report = analyse(A.stack_call("os", "system", "true"))

    (finding,) = report.findings
    assert isinstance(finding, Finding)
    assert finding.severity in SEVERITIES
    assert finding.atlas_technique == "AML.T0010.003"
    assert finding.location == "pickle #1 @ offset 0"
    path = finding.evidence["opcode_path"]
    assert [step.split()[1] for step in path] == [
        "SHORT_BINUNICODE",
        "SHORT_BINUNICODE",
        "STACK_GLOBAL",
        "REDUCE",
    ]
    assert "'true'" in path[-1]


def test_memoize_index_follows_cpython_not_a_counter():
    sample = next(s for s in MALICIOUS if s.name == "memo-memoize-confusion")

    report = analyse(sample.data)

    names = {f.evidence.get("global") for f in report.findings}
    assert "os.system" in names
    assert "os.datetime" not in names


def test_names_built_with_rot13_are_resolved():
    sample = next(s for s in MALICIOUS if s.name == "stack-built-names-rot13")

    report = analyse(sample.data)

    assert report.findings[0].evidence["global"] == "os.system"
    assert report.findings[0].severity == "critical"


def test_getattr_chain_resolves_to_the_final_callable():
    sample = next(s for s in MALICIOUS if s.name == "getattr-chain")

    report = analyse(sample.data)

    reached = {f.evidence.get("global"): f for f in report.findings}
    assert reached["os.system"].evidence["how"] == "getattr"
    assert reached["os.system"].evidence["calls"]


def test_nested_pickle_payload_is_scanned_with_its_own_location():
    sample = next(s for s in MALICIOUS if s.name == "nested-pickle-loads")

    report = analyse(sample.data)

    nested = [f for f in report.findings if "nested pickle" in f.location]
    assert nested and nested[0].evidence["global"] == "os.system"


def test_payload_after_invalid_opcode_is_carved_and_gap_reported():
    sample = next(s for s in MALICIOUS if s.name == "after-invalid-opcode")

    report = analyse(sample.data)

    kinds = {f.kind for f in report.findings}
    assert {"dangerous-global", "not-scanned"} <= kinds
    assert any("invalid opcode" in entry for entry in report.unreadable)


def test_joblib_payload_after_inline_array_data_is_found_at_every_compression():
    for sample in (s for s in MALICIOUS if s.container == "joblib"):
        report = analyse(sample.data)
        assert "joblib" in report.formats_seen, sample.name
        assert any(f.evidence.get("global") == "builtins.eval" for f in report.findings)


def test_hidden_pickle_in_torch_zip_is_located_by_member_name():
    sample = next(s for s in MALICIOUS if s.name == "torch-zip-odd-member")

    report = analyse(sample.data)

    assert "pytorch-zip" in report.formats_seen
    assert report.findings[0].location.startswith("archive/data/.cache/7f3a > pickle #1")


def test_fingerprint_ignores_offsets_but_not_the_global():
    payload = A.stack_call("os", "system", "true")
    shifted = pickle.dumps(list(range(50)), protocol=4) + payload
    other = A.stack_call("os", "popen", "true")

    first = analyse(payload).findings[0]
    second = next(f for f in analyse(shifted).findings if f.kind == "dangerous-global")
    third = analyse(other).findings[0]

    assert first.location != second.location
    assert first.fingerprint == second.fingerprint
    assert first.fingerprint != third.fingerprint
    assert len(first.fingerprint) == 64


def test_repeated_global_is_one_finding_with_occurrences():
    first = A.call("os", "system", "true")
    twice = first + A.call("os", "system", "false")

    report = analyse(twice)

    (finding,) = report.findings
    assert finding.evidence["occurrences"] == 2
    assert finding.evidence["also_at"] == [f"pickle #2 @ offset {len(first)}"]


@pytest.mark.parametrize("form", ["bytes", "bytesio", "path", "file"])
def test_accepts_bytes_file_objects_and_paths(form, tmp_path):
    data = A.call("os", "system", "true")
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    if form == "bytes":
        source = data
    elif form == "bytesio":
        source = io.BytesIO(data)
    elif form == "path":
        source = path
    else:
        source = path.open("rb")

    report = analyse(source)

    assert report.verdict == "malicious"
    assert report.size_bytes == len(data)


def test_stream_position_is_restored_for_non_mappable_input():
    class Stream(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def read(self, n=-1):
            return self._inner.read(n)

        def seek(self, *args):
            return self._inner.seek(*args)

        def tell(self):
            return self._inner.tell()

    stream = Stream(A.call("os", "system", "true"))
    stream.seek(5)

    report = analyse(stream)

    assert report.verdict == "malicious"
    assert stream.tell() == 5


def test_input_over_the_read_limit_is_reported_not_silently_cut():
    data = pickle.dumps(list(range(1000)), protocol=4)

    report = analyse(io.BufferedReader(io.BytesIO(data)), limits=Limits(max_read_bytes=100))

    assert report.max_severity == "medium"
    assert any("read limit" in entry for entry in report.unreadable)


def test_analysis_never_executes_the_payload(tmp_path):
    marker = tmp_path / "pwned"
    payload = A.call("builtins", "open", str(marker), "w")
    joblib_like = torch_zip({}, data_pkl=payload)

    for data in (payload, joblib_like):
        assert analyse(data).verdict == "malicious"
    assert not marker.exists()


def test_unsupported_formats_are_named_in_unreadable():
    for data, what in (
        (b"\x04\x22\x4d\x18" + b"\x00" * 32, "LZ4"),
        (b"7z\xbc\xaf\x27\x1c" + b"\x00" * 32, "7-Zip"),
        (bytes(range(256)) * 4, "unrecognised"),
    ):
        report = analyse(data)
        assert report.max_severity == "medium", what
        assert any(what in entry for entry in report.unreadable), report.unreadable


def test_report_serialises_to_plain_data():
    report = analyse(A.call("os", "system", "true"))

    as_dict = report.to_dict()

    assert as_dict["verdict"] == "malicious"
    assert as_dict["findings"][0]["evidence"]["global"] == "os.system"
    assert as_dict["formats_seen"] == ["pickle"]


def test_library_imports_without_django():
    code = (
        "import sys; import apps.scans.artifact as a; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('django'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_keras_hdf5_config_is_found_whatever_key_comes_first():
    """Keras >= 2.13 writes {"module": ..., "class_name": ...}; older ones start with class_name."""
    lambda_layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {"code": "x"}}},
    }
    clean = {"module": "keras", "class_name": "Sequential", "config": {"layers": [DENSE]}}
    evil = {"module": "keras", "class_name": "Sequential", "config": {"layers": [lambda_layer]}}

    assert analyse(fake_hdf5(clean)).verdict == "clean"
    report = analyse(fake_hdf5(evil))
    assert report.verdict == "malicious"
    assert report.findings[0].kind == "keras-lambda"
