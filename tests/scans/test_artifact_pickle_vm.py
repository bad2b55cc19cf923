"""Unit tests of the symbolic pickle machine: CPython semantics the bypasses rely on."""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np

from apps.scans.artifact import analyse
from apps.scans.artifact.blob import Blob
from apps.scans.artifact.limits import Budget, Limits
from apps.scans.artifact.pickle_values import CONST, LIST, REF, opcode_path
from apps.scans.artifact.pickle_vm import PickleVM
from tests.scans.artifact_corpus import A


def run(data: bytes, **kwargs):
    limits = Limits()
    return PickleVM(Blob(data), 0, limits, Budget(limits), **kwargs).run()


def test_pop_on_an_empty_frame_discards_the_mark_like_cpython():
    result = run(A.proto(2) + A.MARK + A.POP + A.NONE + A.STOP)

    assert result.complete
    assert result.anomalies == []
    assert result.value.kind == CONST and result.value.data is None


def test_memoize_uses_the_number_of_distinct_keys():
    data = A.proto(4) + A.unicode("a") + A.binput(3) + A.unicode("b") + A.MEMOIZE + A.POP
    data += A.POP + A.binget(1) + A.STOP

    result = run(data)

    assert result.value.data == "b"


def test_get_of_a_missing_memo_entry_is_an_anomaly_not_a_crash():
    result = run(A.proto(2) + A.binget(9) + A.STOP)

    assert result.complete
    assert "read before it was written" in result.anomalies[0][1]


def test_list_mutations_through_memo_reads_reach_the_original():
    data = A.proto(2) + A.EMPTY_LIST + A.binput(0) + A.binget(0) + A.int_(7) + b"a" + A.POP
    data += A.STOP

    result = run(data)

    assert result.value.kind == LIST
    assert [item.data for item in result.value.data] == [7]


def test_stack_global_names_from_memo_keep_their_opcode_path():
    data = A.proto(4) + A.unicode("os") + A.binput(0) + A.POP + A.binget(0)
    data += A.unicode("system") + A.STACK_GLOBAL + A.STOP

    result = run(data)

    assert result.value.kind == REF and result.value.data == ("os", "system")
    path = opcode_path(result.value)
    assert any("BINGET" in step for step in path)
    assert any("BINPUT" not in step and "'os'" in step for step in path)


def test_speculative_probe_respects_a_small_opcode_budget():
    result = run(A.proto(2) + A.NONE * 10_000 + A.STOP, max_opcodes=8)

    assert result.status == "limit"
    assert result.opcodes == 8


def test_protocol_5_out_of_band_buffers_are_clean():
    array = np.arange(10)
    buffers: list = []
    data = pickle.dumps(array, protocol=5, buffer_callback=buffers.append)

    assert analyse(data).verdict == "clean"


def test_joblib_padding_hiding_a_payload_for_pickle_load_is_found():
    buffer = io.BytesIO()
    joblib.dump({"a": np.arange(4, dtype="int64")}, buffer)
    data = buffer.getvalue()
    build = data.find(b"K\x10ub") + 4  # after the wrapper's BUILD: padding length, padding
    payload = b"cos\nsystem\n(S'true'\ntR."
    filler = payload + b"\xff" * (0x28 - len(payload))
    # joblib skips 0x28 padding bytes; pickle.load reads 0x28 as MARK and runs the payload.
    padded = data[:build] + b"\x28" + filler + data[build + 1 + data[build] :]

    report = analyse(padded)

    assert report.verdict == "malicious", [f.title for f in report.findings]
    assert any("inline array data" in f.location for f in report.findings)


def test_joblib_array_bytes_are_skipped_not_decoded():
    buffer = io.BytesIO()
    # int8 values that are all valid opcodes: decoding them would derail a naive scanner.
    joblib.dump([np.frombuffer(b"(N0" * 1000, dtype="int8"), {"after": 1}], buffer)

    report = analyse(buffer.getvalue())

    assert report.verdict == "clean"
    assert "joblib" in report.formats_seen


def test_build_installing_a_dunder_attribute_is_high_even_with_allowlisted_values():
    data = A.proto(2) + A.global_("collections", "OrderedDict") + A.EMPTY_TUPLE + A.NEWOBJ
    data += A.EMPTY_DICT + A.unicode("__setstate__") + A.global_("numpy", "mean") + A.SETITEM
    data += A.BUILD + A.STOP

    report = analyse(data)

    assert report.max_severity == "high"
    assert report.findings[0].kind == "dunder-state"
