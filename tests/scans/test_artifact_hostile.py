"""Hostile inputs: each must give a clean finding quickly and never raise.

Bombs, deep nesting, truncation, traversal names, lying size fields, hostile pickle
machine states and plain fuzzing. "Quickly" is loose (under 10 s) so slow CI still passes;
the point is that nothing is unbounded.
"""

from __future__ import annotations

import io
import os
import pickle
import random
import struct
import tarfile
import time
import zipfile

import numpy as np
import pytest

from apps.scans.artifact import Limits, analyse
from apps.scans.artifact.report import severity_rank
from tests.scans.artifact_corpus import (
    A,
    benign_samples,
    malicious_samples,
    npy_bytes,
    safetensors_bytes,
    zip_of,
)

QUICK = 10.0


def _timed(data, **kwargs):
    started = time.monotonic()
    report = analyse(data, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < QUICK, f"took {elapsed:.1f} s"
    return report


def _kinds(report) -> set[str]:
    return {f.kind for f in report.findings}


def test_zip_bomb_is_stopped_by_the_ratio_check():
    bomb = zip_of({"model.pkl": b"\x00" * (200 << 20)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 1 << 20

    report = _timed(bomb)

    assert report.max_severity == "medium"
    assert any("ratio" in entry for entry in report.unreadable), report.unreadable


def test_nested_zip_bomb_is_stopped_by_the_total_budget():
    layer = zip_of({"zeros.bin": b"\x00" * (40 << 20)}, zipfile.ZIP_DEFLATED)
    for _ in range(2):
        layer = zip_of({f"{i}.zip": layer for i in range(8)}, zipfile.ZIP_DEFLATED)

    report = _timed(layer, limits=Limits(max_decompressed_bytes=256 << 20))

    assert severity_rank(report.max_severity) >= severity_rank("medium")
    assert any("limit" in entry or "ratio" in entry for entry in report.unreadable)


def test_gzip_bomb_is_stopped():
    import gzip

    report = _timed(gzip.compress(b"\x00" * (100 << 20)))

    assert report.max_severity == "medium"


def test_deeply_nested_archives_stop_at_the_depth_limit():
    data = A.call("os", "system", "true")
    for level in range(40):
        data = zip_of({f"level{level}.zip": data})

    report = _timed(data)

    assert "depth-limit" in {f.evidence.get("kind", f.kind) for f in report.findings} or any(
        "nesting deeper" in entry for entry in report.unreadable
    )
    assert report.max_severity == "medium"


@pytest.mark.parametrize(
    "sample", [s for s in malicious_samples() if s.container == "pickle"][:40], ids=lambda s: s.name
)
def test_truncated_pickles_are_reported_not_scanned(sample):
    for cut in sorted({1, 2, 3, len(sample.data) // 2, len(sample.data) - 1}):
        if not 0 < cut < len(sample.data):
            continue
        report = _timed(sample.data[:cut])
        assert severity_rank(report.max_severity) >= severity_rank("medium"), (cut, report)


def test_truncated_benign_joblib_is_medium_and_says_what():
    data = next(s for s in benign_samples() if s.name == "joblib-arrays").data

    report = _timed(data[: len(data) // 2])

    assert report.max_severity == "medium"
    assert any("pickle stream" in entry for entry in report.unreadable)


def test_traversal_member_names_are_data_and_flagged():
    archive = zip_of(
        {
            "../../etc/cron.d/model.pkl": pickle.dumps([1, 2]),
            "/abs/model.pkl": pickle.dumps({"a": 1}),
            "evil\nname\x1b[2J.pkl": A.call("os", "system", "true"),
        }
    )

    report = _timed(archive)

    assert "unsafe-member-name" in _kinds(report)
    dangerous = [f for f in report.findings if f.kind == "dangerous-global"]
    assert dangerous and "\\n" in dangerous[0].location and "\n" not in dangerous[0].location


def test_duplicate_member_names_are_flagged_and_both_scanned():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("data.pkl", pickle.dumps([1]))
        archive.writestr("data.pkl", A.call("os", "system", "true"))

    report = _timed(buffer.getvalue())

    assert {"duplicate-member", "dangerous-global"} <= _kinds(report)


def _patch_zip_sizes(data: bytes, size: int) -> bytes:
    """Make the central directory claim ``size`` bytes for every member."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<LL", out, at + 20, size, size)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_zip_member_marked_encrypted_is_still_scanned():
    """CVE-2025-1945 class: PyTorch ignores the flag, zipfile-based scanners skip the member."""
    archive = bytearray(
        zip_of({"archive/data.pkl": A.call("os", "system", "true"), "archive/version": b"3\n"})
    )
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = archive.find(signature)
        while at >= 0:
            flags = struct.unpack_from("<H", archive, at + flag_offset)[0]
            struct.pack_into("<H", archive, at + flag_offset, flags | 1)
            at = archive.find(signature, at + 4)

    report = _timed(bytes(archive))

    assert report.verdict == "malicious"
    assert any("marked encrypted" in entry for entry in report.unreadable)


def test_zip_with_huge_declared_sizes():
    archive = _patch_zip_sizes(zip_of({"model.pkl": A.call("os", "system", "true")}), 0xFFFFFFF0)

    report = _timed(archive)

    assert report.max_severity in ("medium", "high", "critical")
    assert any("declares" in entry or "directory" in entry for entry in report.unreadable)


@pytest.mark.parametrize(
    "data",
    [
        A.proto(4) + b"\x8e" + struct.pack("<Q", 1 << 62) + b"abc",  # BINBYTES8
        A.proto(4) + b"\x8d" + struct.pack("<Q", 1 << 62) + b"abc",  # BINUNICODE8
        A.proto(2) + b"\x8b" + struct.pack("<i", 1 << 30) + b"\x01",  # LONG4
        A.proto(4) + b"\x95" + struct.pack("<Q", 1 << 62) + b"N.",  # FRAME
        A.proto(2) + b"T" + struct.pack("<i", -5) + b"x.",  # negative BINSTRING
        A.proto(2) + b"S'" + b"a" * 100 + b".",  # unterminated STRING
        A.proto(2) + b"cos\n" + b"x" * 200_000 + b"\n.",  # absurd GLOBAL line
        A.proto(7) + b"N.",  # unknown protocol
    ],
    ids=["binbytes8", "binunicode8", "long4", "frame", "binstring", "string", "global", "proto"],
)
def test_pickles_with_lying_lengths(data):
    report = _timed(data)

    assert severity_rank(report.max_severity) >= severity_rank("medium")


def test_text_is_carved_for_protocol_0_payloads_without_noise():
    readme = b"Model card\ncat\ndog\nVersion\nitem\n" * 50
    hidden = readme + b"(S'true'\nios\nsystem\n." + readme

    assert analyse(readme).verdict == "clean"
    assert analyse(hidden).verdict == "malicious"


def test_text_that_decodes_as_opcodes_is_searched_in_linear_time():
    vocabulary = b"".join(b"cat%d\nitem%d\n" % (i, i) for i in range(60_000))

    report = _timed(vocabulary)

    assert report.verdict == "clean"
    assert report.formats_seen == ["text"]


def test_npy_with_huge_shape_is_truncated_not_allocated():
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 64

    report = _timed(data)

    assert report.max_severity == "medium"


def test_npy_with_hostile_header_literal():
    header = b"(" * 5000 + b")" * 5000
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header

    report = _timed(data)

    assert report.max_severity == "medium"


def test_safetensors_with_lying_offsets():
    good = safetensors_bytes({"w": np.ones(4, "float32")})
    length = struct.unpack_from("<Q", good)[0]
    header = good[8 : 8 + length].replace(b"[0, 16]", b"[0, 99999]")

    report = _timed(good[:8] + header + good[8 + length :])

    assert report.max_severity == "medium"
    assert "safetensors-header" in _kinds(report)


def test_safetensors_with_huge_header_length():
    report = _timed(struct.pack("<Q", 1 << 60) + b'{"a": 1}')

    assert report.max_severity == "medium"


def test_tar_with_lying_size():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("model.pkl")
        payload = A.call("os", "system", "true")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    data = bytearray(buffer.getvalue())
    data[124:136] = b"77777777777\x00"  # 8 GiB size field; checksum now wrong too

    report = _timed(bytes(data))

    assert severity_rank(report.max_severity) >= severity_rank("medium")


def test_joblib_wrapper_with_huge_shape():
    data = bytearray(next(s for s in benign_samples() if s.name == "joblib-arrays").data)
    at = data.find(b"\x8c\x05shape")
    assert at > 0
    # Replace the first shape tuple's BININT2/BININT1 dims by a huge BININT.
    shape_at = at + 8
    data[shape_at : shape_at + 2] = b"J\xff"

    report = _timed(bytes(data))

    assert severity_rank(report.max_severity) >= severity_rank("medium")


def test_mark_and_memo_floods_hit_limits_not_memory():
    marks = A.proto(2) + b"(" * 2_000_000 + b"."
    memo = A.proto(4) + b"N" + b"\x94" * 3_000_000 + b"."

    for data in (marks, memo):
        report = _timed(data, limits=Limits(max_pickle_values=500_000))
        assert severity_rank(report.max_severity) >= severity_rank("medium")
        assert any("limit" in entry for entry in report.unreadable)


def test_deeply_nested_values_do_not_recurse():
    data = A.proto(2) + b"K\x01" + b"\x85" * 200_000 + A.global_("os", "system") + b"\x86R."

    report = _timed(data)

    assert report.max_severity == "critical"


def test_time_limit_fails_only_this_scan():
    data = pickle.dumps(list(range(300_000)), protocol=2)

    report = analyse(data, limits=Limits(time_limit_seconds=0.0))

    assert report.max_severity == "medium"
    assert any("time limit" in entry for entry in report.unreadable)


def test_closed_and_broken_file_objects_do_not_raise(tmp_path):
    handle = (tmp_path / "x").open("wb")
    handle.close()

    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise OSError("disk on fire")

    for source in (handle, Broken(), object()):
        report = analyse(source)
        assert report.max_severity == "medium"


def test_empty_file_is_not_an_error(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")

    report = analyse(path)

    assert report.formats_seen == ["empty"]


def test_random_bytes_never_raise():
    rng = random.Random(1234)
    prefixes = [
        b"",
        b"\x80\x04",
        b"PK\x03\x04",
        b"\x1f\x8b",
        b"\x93NUMPY\x01\x00",
        b"(",
        b"\x89HDF\r\n\x1a\n",
        b"\x08\x07",
        b"ZF0x10",
        b"BZh91AY&SY",
    ]
    for index in range(400):
        data = rng.choice(prefixes) + os.urandom(rng.randrange(0, 3000))
        report = _timed(data)
        assert report.verdict in ("clean", "review", "unsafe", "malicious"), index


def test_mutated_corpus_files_never_raise():
    rng = random.Random(99)
    samples = [s for s in malicious_samples() + benign_samples() if len(s.data) < 200_000]
    for sample in rng.sample(samples, 60):
        for _ in range(8):
            data = bytearray(sample.data)
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            _timed(bytes(data), limits=Limits(time_limit_seconds=5))


def test_npy_helpers_reject_odd_descriptions():
    assert analyse(npy_bytes(np.zeros(3, dtype=[("a", "<f8", (2,))]))).verdict == "clean"
