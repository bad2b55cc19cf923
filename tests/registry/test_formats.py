"""Tests for ``apps.registry.formats.detect_format``.

Every artifact is built for real (``pickle``, ``joblib``, ``numpy``, ``zipfile``) or, where
the producing library is not installed (torch, onnx, h5py, safetensors), byte by byte from
the published format. Plain pytest: no database, no Django.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import json
import lzma
import pickle
import random
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from apps.registry import formats
from apps.registry.formats import FORMATS, detect_format

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
FAST_SECONDS = 2.0


# --------------------------------------------------------------------------- helpers


def detect_bytes(data: bytes) -> str:
    return detect_format(io.BytesIO(data))


def detect_path(path: Path) -> str:
    with path.open("rb") as handle:
        return detect_format(handle)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def random_bytes(size: int, seed: int = 1234) -> bytes:
    return random.Random(seed).randbytes(size)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def pb_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def make_onnx(
    *,
    ir_version: int = 8,
    opset_domain: bytes | None = b"ai.onnx",
    initializer_bytes: int = 0,
) -> bytes:
    """A minimal ONNX ModelProto (Relu graph), fields in the order protobuf serializes them."""
    node = pb_bytes(1, b"X") + pb_bytes(2, b"Y") + pb_bytes(3, b"relu_0") + pb_bytes(4, b"Relu")
    value_x = pb_bytes(1, b"X")
    value_y = pb_bytes(1, b"Y")
    graph = pb_bytes(1, node) + pb_bytes(2, b"main_graph")
    if initializer_bytes:
        tensor = pb_varint(1, initializer_bytes // 4) + pb_varint(2, 1) + pb_bytes(8, b"W")
        graph += pb_bytes(5, tensor + pb_bytes(9, b"\x00" * initializer_bytes))
    graph += pb_bytes(11, value_x) + pb_bytes(12, value_y)
    model = pb_varint(1, ir_version) + pb_bytes(2, b"pytorch") + pb_bytes(3, b"2.1.0")
    model += pb_bytes(7, graph)
    if opset_domain is not None:
        model += pb_bytes(8, pb_bytes(1, opset_domain) + pb_varint(2, 17))
    return model


def make_safetensors(tensors: dict[str, np.ndarray], metadata: dict | None = None) -> bytes:
    """safetensors layout: u64 LE header length, JSON header padded to 8 bytes, raw data."""
    header: dict[str, object] = {}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        raw = array.astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return path


def torch_zip_members(prefix: str = "archive") -> dict[str, bytes]:
    """What ``torch.save`` (zip format) writes, with a plain pickle standing in for data.pkl."""
    state = OrderedDict(weight=[0.0, 1.0], bias=[0.5])
    return {
        f"{prefix}/data.pkl": pickle.dumps(state, protocol=2),
        f"{prefix}/byteorder": b"little",
        f"{prefix}/data/0": np.zeros(4, dtype=np.float32).tobytes(),
        f"{prefix}/version": b"3\n",
        f"{prefix}/.data/serialization_id": b"1234567890",
    }


def torch_legacy_bytes() -> bytes:
    """Legacy ``torch.save``: magic int, protocol version, sys info, then the object pickle."""
    return b"".join(
        (
            pickle.dumps(TORCH_LEGACY_MAGIC, protocol=2),
            pickle.dumps(1001, protocol=2),
            pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
            pickle.dumps(OrderedDict(weight=[1.0, 2.0]), protocol=2),
            pickle.dumps(["0"], protocol=2),
            np.arange(8, dtype=np.float32).tobytes(),
        )
    )


def compress_stream(compressor, chunk: bytes, repeat: int) -> bytes:
    out = [compressor.compress(chunk) for _ in range(repeat)]
    out.append(compressor.flush())
    return b"".join(out)


PLAIN_DATA = {"name": "model", "weights": [0.25, -1.5, 3.0], "layers": (1, 2, 3), "ok": True}


@pytest.fixture(scope="module")
def fitted_model() -> LogisticRegression:
    features = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    labels = np.array([0, 0, 1, 1])
    return LogisticRegression().fit(features, labels)


# --------------------------------------------------------------------------- API shape


def test_formats_tuple_is_the_documented_vocabulary():
    assert FORMATS == (
        "pickle",
        "joblib",
        "pytorch-zip",
        "pytorch-legacy",
        "numpy",
        "numpy-npz",
        "safetensors",
        "onnx",
        "keras",
        "hdf5",
        "zip",
        "gzip",
        "bz2",
        "xz",
        "unknown",
    )


# --------------------------------------------------------------------------- pickle


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_pickle_every_protocol(tmp_path, protocol):
    path = write(tmp_path, f"p{protocol}.bin", pickle.dumps(PLAIN_DATA, protocol=protocol))
    assert detect_path(path) == "pickle"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_of_a_scalar(protocol):
    assert detect_bytes(pickle.dumps(42, protocol=protocol)) == "pickle"


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_pickle_larger_than_the_read_bound(tmp_path, protocol):
    payload = list(range(400_000)) if protocol == 0 else [b"\x01" * (3 << 20)]
    data = pickle.dumps(payload, protocol=protocol)
    assert len(data) > formats.HEAD_BYTES
    assert detect_path(write(tmp_path, "big.bin", data)) == "pickle"


def test_pickle_with_huge_opcode_count_is_capped_and_fast():
    shared: list = []
    data = pickle.dumps([shared] * 2_000_000, protocol=2)  # ~2 bytes per opcode
    started = time.perf_counter()
    assert detect_bytes(data) == "pickle"
    assert time.perf_counter() - started < FAST_SECONDS


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_truncated_pickle_with_magic_is_still_a_pickle(protocol):
    data = pickle.dumps({"k": list(range(5000)), "s": "x" * 5000}, protocol=protocol)
    started = time.perf_counter()
    assert detect_bytes(data[: len(data) // 2]) == "pickle"
    assert time.perf_counter() - started < FAST_SECONDS


def test_truncated_small_protocol0_pickle_is_not_guessed():
    """Without magic or STOP a short cut-off stream is indistinguishable from text."""
    data = pickle.dumps({"k": [1, 2, 3]}, protocol=0)
    assert detect_bytes(data[:-3]) == "unknown"


def test_pickle_detection_never_unpickles(monkeypatch, fitted_model, tmp_path):
    def forbidden(*_args, **_kwargs):
        raise AssertionError("detection must not load the artifact")

    for name in ("load", "loads", "Unpickler", "_Unpickler", "_load", "_loads"):
        monkeypatch.setattr(pickle, name, forbidden, raising=False)
    monkeypatch.setattr(joblib, "load", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    joblib.dump(fitted_model, tmp_path / "m.joblib")
    np.save(tmp_path / "a.npy", np.arange(3))
    assert detect_path(tmp_path / "m.joblib") == "joblib"
    assert detect_path(tmp_path / "a.npy") == "numpy"
    assert detect_bytes(torch_legacy_bytes()) == "pytorch-legacy"
    assert detect_bytes(pickle.dumps(PLAIN_DATA, protocol=0)) == "pickle"


def test_module_imports_only_the_standard_library():
    tree = ast.parse(Path(formats.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    allowed = set(
        "__future__ bz2 collections contextlib io json lzma pickletools struct typing warnings"
        " zipfile zlib".split()
    )
    assert imported <= allowed
    source = Path(formats.__file__).read_text()
    for call in ("pickle.load", "np.load", "numpy.load", "joblib.load", "torch.load", "eval("):
        assert call not in source


# --------------------------------------------------------------------------- joblib


@pytest.mark.parametrize(
    ("compress", "magic"),
    [
        (0, b"\x80"),
        (("zlib", 3), b"\x78"),
        (("gzip", 3), b"\x1f\x8b"),
        (("bz2", 3), b"BZh"),
        (("lzma", 3), b"\x5d\x00\x00"),
        (("xz", 3), b"\xfd7zXZ\x00"),
    ],
)
def test_joblib_dump_of_sklearn_model(tmp_path, fitted_model, compress, magic):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_model, path, compress=compress)
    assert path.read_bytes().startswith(magic)  # sanity: we exercise the intended wrapper
    assert detect_path(path) == "joblib"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_joblib_dump_at_every_pickle_protocol(tmp_path, fitted_model, protocol):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted_model, path, protocol=protocol)
    assert detect_path(path) == "joblib"


def test_joblib_dump_without_arrays_is_a_plain_pickle(tmp_path):
    path = tmp_path / "plain.joblib"
    joblib.dump(PLAIN_DATA, path)
    assert detect_path(path) == "pickle"


@pytest.mark.parametrize("compress", [("zlib", 3), ("lzma", 3)])
def test_joblib_only_wrappers_holding_any_pickle_are_joblib(tmp_path, compress):
    path = tmp_path / "plain.joblib"
    joblib.dump(PLAIN_DATA, path, compress=compress)
    assert detect_path(path) == "joblib"


@pytest.mark.parametrize(
    ("compress", "expected"), [(("gzip", 3), "gzip"), (("bz2", 3), "bz2"), (("xz", 3), "xz")]
)
def test_generic_wrapper_around_non_joblib_pickle_keeps_wrapper_name(tmp_path, compress, expected):
    path = tmp_path / "plain.joblib"
    joblib.dump(PLAIN_DATA, path, compress=compress)
    assert detect_path(path) == expected


def test_raw_zlib_of_plain_pickle_is_joblib():
    assert detect_bytes(zlib.compress(pickle.dumps(PLAIN_DATA, protocol=4))) == "joblib"


# --------------------------------------------------------------------------- numpy


def test_numpy_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(12, dtype=np.float64).reshape(3, 4))
    assert detect_path(tmp_path / "a.npy") == "numpy"


def test_numpy_npy_with_object_dtype_is_still_numpy(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert detect_path(tmp_path / "o.npy") == "numpy"


@pytest.mark.parametrize("saver", [np.savez, np.savez_compressed])
def test_numpy_npz(tmp_path, saver):
    saver(tmp_path / "a.npz", weights=np.ones((2, 2)), bias=np.zeros(2))
    assert detect_path(tmp_path / "a.npz") == "numpy-npz"


def test_zip_mixing_npy_and_other_members_is_plain_zip(tmp_path):
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    path = make_zip(tmp_path / "m.zip", {"a.npy": buffer.getvalue(), "README.txt": b"hi"})
    assert detect_path(path) == "zip"


# --------------------------------------------------------------------------- PyTorch


def test_pytorch_zip_checkpoint(tmp_path):
    assert detect_path(make_zip(tmp_path / "model.pt", torch_zip_members())) == "pytorch-zip"


@pytest.mark.parametrize(
    "kept",
    [
        ("model/data.pkl", "model/version"),
        ("model/data.pkl", "model/data/0"),
        ("model/data.pkl", "model/byteorder"),
        ("model/data.pkl", "model/.data/version"),
        ("weights.pkl", "data/0"),
    ],
)
def test_pytorch_zip_variants(tmp_path, kept):
    members = {name: b"\x80\x02K\x01." for name in kept}
    assert detect_path(make_zip(tmp_path / "model.pt", members)) == "pytorch-zip"


def test_zip_with_pickle_but_no_torch_markers_is_plain_zip(tmp_path):
    members = {"model.pkl": pickle.dumps(PLAIN_DATA), "notes.txt": b"x"}
    assert detect_path(make_zip(tmp_path / "bundle.zip", members)) == "zip"


def test_pytorch_legacy_checkpoint(tmp_path):
    assert detect_path(write(tmp_path, "model.pth", torch_legacy_bytes())) == "pytorch-legacy"


def test_other_big_int_pickle_is_not_pytorch_legacy():
    assert detect_bytes(pickle.dumps(TORCH_LEGACY_MAGIC + 1, protocol=2)) == "pickle"


def test_magic_int_inside_a_container_is_not_pytorch_legacy():
    assert detect_bytes(pickle.dumps([TORCH_LEGACY_MAGIC], protocol=2)) == "pickle"


# --------------------------------------------------------------------------- safetensors


def test_safetensors(tmp_path):
    data = make_safetensors({"w": np.ones((2, 3)), "b": np.zeros(3)}, metadata={"format": "pt"})
    assert detect_path(write(tmp_path, "model.safetensors", data)) == "safetensors"


def test_safetensors_with_empty_header():
    assert detect_bytes(struct.pack("<Q", 2) + b"{}") == "safetensors"


def test_safetensors_header_larger_than_read_bound(tmp_path):
    tensors = {f"layer.{index}.weight": np.zeros(1) for index in range(20_000)}
    data = make_safetensors(tensors)
    assert struct.unpack("<Q", data[:8])[0] > formats.HEAD_BYTES
    assert detect_path(write(tmp_path, "big.safetensors", data)) == "safetensors"


def test_safetensors_header_just_under_read_bound_is_parsed(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * (formats.HEAD_BYTES - len(header))  # header ends past the 1 MiB head
    data = struct.pack("<Q", len(header)) + header + b"\x00" * 4
    assert detect_path(write(tmp_path, "edge.safetensors", data)) == "safetensors"


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<Q", 20) + b"{not json at all!!}" + b"\x00" * 8,
        struct.pack("<Q", 10_000) + b'{"w": {}}',  # header longer than the file
        struct.pack("<Q", 8) + b'["list"]' + b"\x00" * 8,  # JSON but not an object
        struct.pack("<Q", 12) + b'{"w": [1,2]}',  # entries must be objects
    ],
)
def test_safetensors_lookalikes_are_rejected(data):
    assert detect_bytes(data) == "unknown"


# --------------------------------------------------------------------------- Keras / HDF5


def test_keras_v3_zip(tmp_path):
    members = {
        "metadata.json": json.dumps({"keras_version": "3.3.3"}).encode(),
        "config.json": json.dumps({"class_name": "Sequential"}).encode(),
        "model.weights.h5": HDF5_MAGIC + b"\x00" * 64,
    }
    assert detect_path(make_zip(tmp_path / "model.keras", members)) == "keras"


def test_keras_v3_zip_without_metadata(tmp_path):
    members = {"config.json": b"{}", "model.weights.h5": HDF5_MAGIC}
    assert detect_path(make_zip(tmp_path / "model.keras", members)) == "keras"


@pytest.mark.parametrize(
    "members",
    [
        {"config.json": b"{}"},
        {"sub/config.json": b"{}", "sub/metadata.json": b"{}", "sub/model.weights.h5": b""},
    ],
)
def test_keras_like_zip_without_root_layout_is_plain_zip(tmp_path, members):
    assert detect_path(make_zip(tmp_path / "x.zip", members)) == "zip"


@pytest.mark.parametrize("marker", [b"model_config", b"keras_version"])
def test_hdf5_keras_model(tmp_path, marker):
    data = HDF5_MAGIC + b"\x00" * 300 + marker + b'{"class_name": "Sequential"}' + b"\x00" * 300
    assert detect_path(write(tmp_path, "model.h5", data)) == "keras"


def test_hdf5_generic(tmp_path):
    data = HDF5_MAGIC + random_bytes(4096)
    assert detect_path(write(tmp_path, "data.h5", data)) == "hdf5"


@pytest.mark.parametrize("offset", [512, 1024, 2048])
def test_hdf5_with_user_block(offset):
    assert detect_bytes(b"\x00" * offset + HDF5_MAGIC + b"\x00" * 128) == "hdf5"
    keras = b"\x00" * offset + HDF5_MAGIC + b"model_config" + b"\x00" * 128
    assert detect_bytes(keras) == "keras"


def test_hdf5_signature_at_other_offsets_is_ignored():
    assert detect_bytes(b"\x00" * 100 + HDF5_MAGIC + b"\x00" * 128) == "unknown"


# --------------------------------------------------------------------------- ONNX


def test_onnx_model(tmp_path):
    assert detect_path(write(tmp_path, "model.onnx", make_onnx())) == "onnx"


def test_onnx_with_default_domain_relies_on_opset_import_field():
    data = make_onnx(opset_domain=b"")
    assert b"onnx" not in data
    assert detect_bytes(data) == "onnx"


def test_onnx_graph_larger_than_read_bound(tmp_path):
    data = make_onnx(opset_domain=b"", initializer_bytes=3 << 20)
    assert detect_path(write(tmp_path, "big.onnx", data)) == "onnx"


@pytest.mark.parametrize(
    "data",
    [
        pb_varint(1, 3) + pb_bytes(2, b"abc"),  # valid protobuf, nothing ONNX about it
        pb_varint(1, 99) + pb_bytes(2, b"pytorch") + pb_bytes(8, b""),  # ir_version out of range
        pb_varint(1, 8) + pb_varint(2, 5) + pb_bytes(8, b""),  # producer_name with wrong wire type
        make_onnx()[:-5],  # truncated message that claims to be complete
        b"\x08" + b"The quick brown fox jumps over the lazy dog, onnx onnx.",
    ],
)
def test_onnx_lookalikes_are_rejected(data):
    assert detect_bytes(data) == "unknown"


def test_protobuf_with_thousands_of_fields_is_rejected_quickly():
    data = pb_varint(1, 8) + pb_varint(5, 1) * 500_000
    started = time.perf_counter()
    assert detect_bytes(data) == "unknown"
    assert time.perf_counter() - started < FAST_SECONDS


# --------------------------------------------------------------------------- zip / compressed


def test_plain_zip(tmp_path):
    path = make_zip(tmp_path / "docs.zip", {"a.txt": b"hello", "b/c.csv": b"x,y\n1,2\n"})
    assert detect_path(path) == "zip"


def test_empty_zip(tmp_path):
    path = make_zip(tmp_path / "empty.zip", {})
    assert path.read_bytes().startswith(b"PK\x05\x06")
    assert detect_path(path) == "zip"


def test_zip_member_names_are_never_used_as_paths(tmp_path, monkeypatch):
    path = make_zip(tmp_path / "evil.zip", {"../../escape.txt": b"x", "/abs/evil.txt": b"y"})
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert detect_path(path) == "zip"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_zip_with_forged_huge_central_directory_is_not_listed(tmp_path):
    data = bytearray(make_zip(tmp_path / "a.zip", {"a.pkl": b"x", "version": b"3"}).read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 12 : eocd + 16] = struct.pack("<L", 0x7FFFFFF0)  # central directory size
    assert detect_bytes(bytes(data)) == "zip"


def test_corrupt_zip_does_not_raise():
    assert detect_bytes(b"PK\x03\x04" + random_bytes(2000)) in FORMATS


@pytest.mark.parametrize(
    ("compress", "expected"),
    [(gzip.compress, "gzip"), (bz2.compress, "bz2"), (lzma.compress, "xz")],
)
def test_compressed_random_bytes(tmp_path, compress, expected):
    path = write(tmp_path, "blob", compress(random_bytes(50_000)))
    assert detect_path(path) == expected


def test_raw_zlib_without_pickle_is_unknown():
    assert detect_bytes(zlib.compress(random_bytes(5000))) == "unknown"


def test_lzma_alone_without_pickle_is_unknown():
    data = lzma.compress(random_bytes(5000), format=lzma.FORMAT_ALONE)
    assert data.startswith(b"\x5d\x00\x00")
    assert detect_bytes(data) == "unknown"


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros, about 200 KB compressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compress_stream(compressor, b"\x00" * (1 << 20), 200)


def test_gzip_bomb_is_handled_quickly_and_in_bounded_memory(gzip_bomb):
    assert len(gzip_bomb) < 1 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = detect_bytes(gzip_bomb)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == "gzip"
    assert elapsed < FAST_SECONDS
    assert peak < 16 << 20


@pytest.mark.parametrize(
    ("compressor", "expected"),
    [(lambda: bz2.BZ2Compressor(9), "bz2"), (lambda: lzma.LZMACompressor(preset=0), "xz")],
)
def test_other_compression_bombs(compressor, expected):
    bomb = compress_stream(compressor(), b"\x00" * (1 << 20), 64)
    started = time.perf_counter()
    assert detect_bytes(bomb) == expected
    assert time.perf_counter() - started < FAST_SECONDS


def test_gzip_wrapped_pickle_bomb_is_bounded():
    """A gzip of a pickle of a huge bytes object: decompression stops at the bound."""
    data = gzip.compress(pickle.dumps(b"\x00" * (50 << 20), protocol=4), compresslevel=1)
    started = time.perf_counter()
    assert detect_bytes(data) == "gzip"
    assert time.perf_counter() - started < FAST_SECONDS


# --------------------------------------------------------------------------- unknown


@pytest.mark.parametrize(
    "data",
    [
        b"",
        random_bytes(4096),
        random_bytes(3 << 20, seed=7),
        b"The quick brown fox jumps over the lazy dog.\n" * 50,
        b"sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,3.0,setosa\n",
        b'{"model": "resnet", "layers": 50}\n',
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        b"\x80",
        b"\x00" * 4096,
    ],
    ids=["empty", "random", "random-large", "text", "csv", "json", "png", "lone-0x80", "zeros"],
)
def test_unrecognised_input_is_unknown(data):
    assert detect_bytes(data) == "unknown"


def test_csv_file_on_disk_is_unknown(tmp_path):
    path = write(tmp_path, "data.csv", b"a,b,c\n1,2,3\n4,5,6\n" * 1000)
    assert detect_path(path) == "unknown"


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b"\x93NUMPY",
        b"PK\x03\x04",
        b"PK\x05\x06",
        HDF5_MAGIC,
        b"\x1f\x8b\x08",
        b"BZh91AY&SY",
        b"\xfd7zXZ\x00",
        b"\x5d\x00\x00",
        b"\x78\x9c",
        b"\x80\x04",
        b"\x08\x08",
        struct.pack("<Q", 64) + b"{",
    ],
)
def test_garbage_after_any_magic_never_raises(prefix):
    for seed in range(25):
        size = random.Random(seed).randrange(0, 3000)
        assert detect_bytes(prefix + random_bytes(size, seed=seed)) in FORMATS


class BrokenFile(io.BytesIO):
    def read(self, *_args):
        raise OSError("disk on fire")


def test_unreadable_file_object_is_unknown():
    assert detect_format(BrokenFile(b"\x80\x04K\x01.")) == "unknown"


def test_closed_file_is_unknown(tmp_path):
    handle = write(tmp_path, "x.pkl", pickle.dumps(1)).open("rb")
    handle.close()
    assert detect_format(handle) == "unknown"


# --------------------------------------------------------------------------- names, position


def test_file_name_is_ignored_safetensors_named_pkl(tmp_path):
    data = make_safetensors({"w": np.ones(4)})
    assert detect_path(write(tmp_path, "model.pkl", data)) == "safetensors"


def test_file_name_is_ignored_pickle_named_safetensors(tmp_path):
    data = pickle.dumps(PLAIN_DATA, protocol=4)
    assert detect_path(write(tmp_path, "model.safetensors", data)) == "pickle"


def test_file_name_is_ignored_npz_named_onnx(tmp_path):
    np.savez(tmp_path / "weights.npz", a=np.ones(2))
    renamed = (tmp_path / "weights.npz").rename(tmp_path / "model.onnx")
    assert detect_path(renamed) == "numpy-npz"


@pytest.mark.parametrize(
    "data",
    [
        pickle.dumps(PLAIN_DATA, protocol=2),
        make_safetensors({"w": np.ones(4)}),
        make_onnx(),
        gzip.compress(b"payload"),
        b"",
        b"just text",
    ],
    ids=["pickle", "safetensors", "onnx", "gzip", "empty", "text"],
)
def test_position_is_restored_and_irrelevant(data):
    stream = io.BytesIO(data)
    stream.seek(min(3, len(data)))
    expected = detect_bytes(data)
    assert detect_format(stream) == expected
    assert stream.tell() == min(3, len(data))


def test_position_is_restored_for_zip_on_disk(tmp_path):
    path = make_zip(tmp_path / "model.pt", torch_zip_members())
    with path.open("rb") as handle:
        handle.seek(10)
        assert detect_format(handle) == "pytorch-zip"
        assert handle.tell() == 10
        handle.seek(0)
        assert zipfile.ZipFile(handle).namelist()  # still usable afterwards
