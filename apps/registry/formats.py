"""Detect the serialization format of an uploaded ML model artifact from its bytes.

The artifact is untrusted, so this module only ever *looks* at bytes:

* nothing is unpickled, imported or executed (``pickletools.genops`` merely decodes opcodes);
* at most ``HEAD_BYTES`` of the file are read, plus the central directory of a zip archive;
* compressed wrappers are inflated to at most ``DECOMPRESSED_BYTES`` of output, so a
  decompression bomb costs a few milliseconds;
* file names are never consulted (a ``model.pkl`` can hold anything), and zip member names
  are treated as plain strings, never as filesystem paths;
* garbage never raises: every parser failure simply falls through to the next rule and,
  ultimately, to ``"unknown"``.

Pure Python, no Django imports, so it can be reused by workers and management commands.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import json
import lzma
import pickletools
import struct
import warnings
import zipfile
import zlib

__all__ = ["FORMATS", "detect_format"]

FORMATS = (
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

UNKNOWN = "unknown"

IO_ERRORS = (OSError, ValueError, TypeError, AttributeError)
"""What a closed, broken or not-quite-file object raises; detection answers "unknown"."""

HEAD_BYTES = 1 << 20
"""How much of the file is read for sniffing; big enough for any header we care about."""

DECOMPRESSED_BYTES = 64 << 10
"""Maximum output taken from a compressed wrapper: enough to see the start of a pickle."""

MAX_PICKLE_OPCODES = 200_000
"""Cap on opcodes decoded; that many valid opcodes in a row is conclusive (and still fast)."""

MIN_OPCODES_WITHOUT_MAGIC = 16
"""Protocol 0/1 pickles cut off by the read bound need this many valid opcodes to count."""

MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_CENTRAL_DIRECTORY = 16 << 20
"""Bounds on what ``zipfile`` may load when listing members (it reads the whole directory)."""

MAX_SAFETENSORS_HEADER = 100 << 20
"""The safetensors reference implementation refuses headers above 100 MB."""

NUMPY_MAGIC = b"\x93NUMPY"
ZIP_LOCAL_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF5_USERBLOCK_OFFSETS = (512, 1024, 2048)
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
LZMA_ALONE_MAGIC = b"\x5d\x00\x00"
ZLIB_FLAG_BYTES = frozenset((0x01, 0x5E, 0x9C, 0xDA))

JOBLIB_MODULE = "joblib.numpy_pickle"
KERAS_HDF5_MARKERS = (b"model_config", b"keras_version")
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_ZIP_MARKERS = frozenset(("version", "byteorder"))

# Pickle opcodes that only manage framing/memo and say nothing about the pickled value.
PICKLE_BOOKKEEPING = frozenset(
    ("PROTO", "FRAME", "STOP", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT")
)
PICKLE_INT_OPCODES = frozenset(("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"))
# Substrings of pickletools' ValueError messages that mean "ran out of bytes", as opposed
# to "this byte is not an opcode" (see Lib/pickletools.py).
PICKLE_EXHAUSTED_MESSAGES = (
    "not enough data",
    "but only",
    "no newline found",
    "exhausted before seeing STOP",
)

# ONNX ModelProto / GraphProto field numbers (onnx/onnx.proto) and their wire types.
PB_VARINT, PB_FIXED64, PB_LEN, PB_FIXED32 = 0, 1, 2, 5
ONNX_MODEL_WIRE_TYPES = {
    1: PB_VARINT,
    5: PB_VARINT,
    2: PB_LEN,
    3: PB_LEN,
    4: PB_LEN,
    6: PB_LEN,
    7: PB_LEN,
    8: PB_LEN,
    14: PB_LEN,
    20: PB_LEN,
    21: PB_LEN,
    25: PB_LEN,
    26: PB_LEN,
}
ONNX_GRAPH_FIELDS = frozenset((1, 2, 5, 10, 11, 12, 13, 14, 15, 16))
ONNX_IR_VERSIONS = range(1, 21)
ONNX_GRAPH, ONNX_PRODUCER_NAME, ONNX_OPSET_IMPORT = 7, 2, 8
MAX_PROTOBUF_FIELDS = 4096
"""A ModelProto has a handful of top-level fields; thousands of tiny ones is not ONNX."""


# --------------------------------------------------------------------------- public API


def detect_format(fileobj) -> str:
    """Return one of ``FORMATS`` for the binary, seekable ``fileobj``.

    The whole artifact is examined from offset 0 regardless of the current position, and
    the position is restored afterwards so callers can keep streaming the upload.
    Never raises: an unreadable or unrecognised object is ``"unknown"``.
    """
    try:
        start = fileobj.tell()
    except IO_ERRORS:
        return UNKNOWN
    try:
        return _detect(fileobj)
    except IO_ERRORS:
        return UNKNOWN
    finally:
        with contextlib.suppress(*IO_ERRORS):
            fileobj.seek(start)


# --------------------------------------------------------------------------- dispatch


def _detect(fileobj) -> str:
    """Apply the rules from the most to the least specific signature; first match wins.

    Strong magics at offset 0 come first; pickle (protocols 0/1 have no magic) and the
    looser checks (HDF5 user block, ONNX's protobuf heuristic) come last so they cannot
    shadow a format with a real signature. A rule that trips over garbage is skipped.
    """
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    head = _read_at(fileobj, 0, HEAD_BYTES)
    if not head:
        return UNKNOWN
    sample = _Sample(fileobj, head, size)
    for rule in RULES:
        found = _apply(rule, sample)
        if found:
            return found
    return UNKNOWN


def _apply(rule, sample: _Sample) -> str | None:
    """Run one rule; whatever it trips over on hostile bytes just means "not this format".

    The catch is deliberately broad: zipfile, lzma, json, struct and pickletools each raise
    their own exception types on garbage, and detection must never fail an upload.
    """
    try:
        return rule(sample)
    except Exception:  # noqa: BLE001 - see docstring
        return None


class _Sample:
    """The bounded view of the artifact every rule works from."""

    def __init__(self, fileobj, head: bytes, size: int) -> None:
        self.fileobj = fileobj
        self.head = head
        self.size = size
        self.complete = size <= len(head)


def _rule_numpy(sample: _Sample) -> str | None:
    """``.npy`` files open with ``\\x93NUMPY`` (format version follows)."""
    return "numpy" if sample.head.startswith(NUMPY_MAGIC) else None


def _rule_zip(sample: _Sample) -> str | None:
    """Zip containers: PyTorch, Keras 3 and ``.npz`` are all zips told apart by members."""
    if not sample.head.startswith((ZIP_LOCAL_MAGIC, ZIP_EMPTY_MAGIC)):
        return None
    return _detect_zip(sample.fileobj, sample.size)


def _rule_hdf5(sample: _Sample) -> str | None:
    """HDF5 superblock signature at offset 0 (Keras 2 ``.h5`` or generic HDF5)."""
    return _hdf5_flavour(sample.head) if sample.head.startswith(HDF5_MAGIC) else None


def _rule_safetensors(sample: _Sample) -> str | None:
    """See ``_detect_safetensors``."""
    return _detect_safetensors(sample.fileobj, sample.head, sample.size)


def _rule_compressed(sample: _Sample) -> str | None:
    """See ``_detect_compressed``."""
    return _detect_compressed(sample.head)


def _rule_pickle(sample: _Sample) -> str | None:
    """See ``_classify_pickle``; the head is cut off whenever the file is bigger than it."""
    return _classify_pickle(sample.head, truncated=not sample.complete)


def _rule_hdf5_userblock(sample: _Sample) -> str | None:
    """See ``_detect_hdf5_userblock``."""
    return _detect_hdf5_userblock(sample.head)


def _rule_onnx(sample: _Sample) -> str | None:
    """See ``_detect_onnx``."""
    return _detect_onnx(sample.head, complete=sample.complete)


def _read_at(fileobj, offset: int, length: int) -> bytes:
    """Read up to ``length`` bytes at ``offset``, looping because raw streams may short-read."""
    fileobj.seek(offset)
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = fileobj.read(remaining)
        if not chunk:
            break
        chunks.append(bytes(chunk))
        remaining -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- zip family


def _detect_zip(fileobj, size: int) -> str | None:
    """Classify a zip by its member list only; members are never extracted.

    Returns ``None`` if the archive cannot be listed, so a broken "zip" falls through.
    """
    if not _zip_directory_is_bounded(fileobj, size):
        return "zip"
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error):
        return None
    if _is_pytorch_zip(names):
        return "pytorch-zip"
    if _is_keras_zip(names):
        return "keras"
    if names and all(name.endswith(".npy") for name in names):
        return "numpy-npz"
    return "zip"


def _zip_directory_is_bounded(fileobj, size: int) -> bool:
    """Check the end-of-central-directory record before ``zipfile`` loads the directory.

    ``zipfile`` reads the entire central directory into memory and builds an object per
    member, so a hostile archive declaring millions of entries is refused up front. A
    missing record is left to ``zipfile`` to reject.
    """
    tail_len = min(size, 22 + 0xFFFF)
    tail = _read_at(fileobj, size - tail_len, tail_len)
    at = tail.rfind(ZIP_EMPTY_MAGIC)
    if at < 0 or len(tail) - at < 22:
        return True
    _, _, _, _, count, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    if count == 0xFFFF or cd_size == 0xFFFFFFFF:
        zip64 = _zip64_directory_size(fileobj, size - tail_len + at)
        if zip64 is None:
            return False
        count, cd_size = zip64
    return count <= MAX_ZIP_MEMBERS and cd_size <= MAX_ZIP_CENTRAL_DIRECTORY


def _zip64_directory_size(fileobj, eocd_offset: int) -> tuple[int, int] | None:
    """Return (member count, directory size) from the zip64 end record, if present.

    Like ``zipfile`` itself, the record is expected right before its 20-byte locator,
    which sits right before the classic end record.
    """
    locator = _read_at(fileobj, max(eocd_offset - 20, 0), 20)
    if len(locator) < 20 or not locator.startswith(b"PK\x06\x07"):
        return None
    record = _read_at(fileobj, max(eocd_offset - 20 - 56, 0), 56)
    if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
        return None
    count, cd_size = struct.unpack("<2Q", record[32:48])
    return count, cd_size


def _is_pytorch_zip(names: list[str]) -> bool:
    """``torch.save`` zips hold ``<archive>/data.pkl`` next to ``version``/``byteorder``/``data/N``.

    Deliberately generous (any ``*.pkl`` plus one of the markers): a false positive only
    flags an archive as pickle-bearing, which is the cautious direction.
    """
    has_pickle = any(name.endswith(".pkl") for name in names)
    has_marker = any(
        name.rsplit("/", 1)[-1] in TORCH_ZIP_MARKERS or "/data/" in "/" + name for name in names
    )
    return has_pickle and has_marker


def _is_keras_zip(names: list[str]) -> bool:
    """Keras 3 ``.keras`` files are zips with ``config.json`` plus weights/metadata at root."""
    root = set(names)
    return "config.json" in root and bool(root & {"model.weights.h5", "metadata.json"})


# --------------------------------------------------------------------------- HDF5


def _hdf5_flavour(head: bytes) -> str:
    """Keras 2 ``.h5`` models store ``model_config``/``keras_version`` root attributes early."""
    if any(marker in head for marker in KERAS_HDF5_MARKERS):
        return "keras"
    return "hdf5"


def _detect_hdf5_userblock(head: bytes) -> str | None:
    """HDF5 allows a user block, moving the superblock signature to 512, 1024 or 2048."""
    for offset in HDF5_USERBLOCK_OFFSETS:
        if head[offset : offset + len(HDF5_MAGIC)] == HDF5_MAGIC:
            return _hdf5_flavour(head)
    return None


# --------------------------------------------------------------------------- safetensors


def _detect_safetensors(fileobj, head: bytes, size: int) -> str | None:
    """safetensors = little-endian u64 header length N, then N bytes of JSON object.

    Small headers are parsed; headers too big to parse within the read bound are accepted
    on their structure (sane N that fits in the file and a JSON object that starts a key).
    """
    if len(head) < 10 or head[8:9] != b"{":
        return None
    (length,) = struct.unpack("<Q", head[:8])
    if not 2 <= length <= MAX_SAFETENSORS_HEADER or 8 + length > size:
        return None
    if length > HEAD_BYTES:
        return "safetensors" if head[9:].lstrip()[:1] in (b'"', b"}") else None
    raw = head[8 : 8 + length]
    if len(raw) < length:
        raw = _read_at(fileobj, 8, length)
    try:
        header = json.loads(raw)
    except ValueError:
        return None
    if isinstance(header, dict) and all(isinstance(value, dict) for value in header.values()):
        return "safetensors"
    return None


# --------------------------------------------------------------------------- compressed


def _detect_compressed(head: bytes) -> str | None:
    """Peek inside gzip/bz2/xz/lzma/zlib wrappers, which is how joblib compresses dumps.

    joblib's ``zlib`` and ``lzma`` compressors emit bare streams nothing else produces for
    models, so any pickle inside them is a joblib dump; a bare stream without a pickle is
    not a recognised artifact. gzip/bz2/xz are generic and keep their own name.
    """
    wrapper = _compression_wrapper(head)
    if wrapper is None:
        return None
    name, decompressor = wrapper
    try:
        inner = decompressor.decompress(head, DECOMPRESSED_BYTES)
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
        return None
    kind = _classify_pickle(inner, truncated=not decompressor.eof)
    if kind == "joblib":
        return "joblib"
    if name in ("zlib", "lzma"):
        return "joblib" if kind else None
    return name


def _compression_wrapper(head: bytes) -> tuple[str, object] | None:
    """Map a compression magic to (format name, fresh bounded decompressor)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip", zlib.decompressobj(16 + zlib.MAX_WBITS)
    if _is_bz2_magic(head):
        return "bz2", bz2.BZ2Decompressor()
    if head.startswith(XZ_MAGIC):
        return "xz", lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if head.startswith(LZMA_ALONE_MAGIC):
        return "lzma", lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    if _is_zlib_header(head):
        return "zlib", zlib.decompressobj()
    return None


def _is_bz2_magic(head: bytes) -> bool:
    """``BZh`` + block size digit + the block magic (pi digits) ``1AY&SY``."""
    return head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] == b"1AY&SY"


def _is_zlib_header(head: bytes) -> bool:
    """RFC 1950 header: deflate with 32 KiB window and a CMF/FLG pair divisible by 31."""
    return (
        len(head) >= 2
        and head[0] == 0x78
        and head[1] in ZLIB_FLAG_BYTES
        and (head[0] << 8 | head[1]) % 31 == 0
    )


# --------------------------------------------------------------------------- pickle


def _classify_pickle(data: bytes, truncated: bool) -> str | None:
    """Decide whether ``data`` starts a pickle stream, and which flavour.

    Only the first pickle is decoded (``genops`` stops at STOP). ``truncated`` says the
    bytes were cut by our read bound, in which case running out of data mid-stream is
    expected rather than a sign of garbage. Returns joblib / pytorch-legacy / pickle / None.
    """
    scan = _scan_pickle(data)
    if scan.opcodes < 2:
        return None
    if scan.mentions_joblib:
        # joblib writes raw array bytes between opcodes, so decoding legitimately derails.
        return "joblib"
    if scan.saw_stop and scan.values == [TORCH_LEGACY_MAGIC]:
        return "pytorch-legacy"
    if scan.saw_stop or scan.capped:
        return "pickle"
    if scan.exhausted and (scan.has_magic or truncated):
        needed = 2 if scan.has_magic else MIN_OPCODES_WITHOUT_MAGIC
        return "pickle" if scan.opcodes >= needed else None
    return None


class _PickleScan:
    """What one bounded pass of ``pickletools.genops`` learned about a byte string."""

    def __init__(self, data: bytes) -> None:
        self.has_magic = len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5
        self.opcodes = 0
        self.saw_stop = False
        self.capped = False
        self.exhausted = False
        self.mentions_joblib = False
        self.values: list[object] = []


def _scan_pickle(data: bytes) -> _PickleScan:
    """Decode opcodes (never execute them) and record the evidence ``_classify_pickle`` needs.

    ``values`` keeps the first few value-carrying opcodes; it is exactly ``[magic]`` for the
    leading pickle of a legacy ``torch.save`` file (an int pickled as LONG1).

    Warnings are silenced: decoding a protocol 0 STRING argument goes through
    ``codecs.escape_decode``, which emits a DeprecationWarning for every invalid escape in
    hostile or random bytes; they say nothing about our code and would flood the logs.
    """
    scan = _PickleScan(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
                scan.opcodes += 1
                _note_opcode(scan, opcode.name, arg)
                if scan.opcodes >= MAX_PICKLE_OPCODES:
                    scan.capped = True
                    break
        except Exception as exc:  # noqa: BLE001 - decoders of hostile args may raise anything
            scan.exhausted = any(text in str(exc) for text in PICKLE_EXHAUSTED_MESSAGES)
    return scan


def _note_opcode(scan: _PickleScan, name: str, arg: object) -> None:
    """Update ``scan`` with one decoded opcode."""
    if name == "STOP":
        scan.saw_stop = True
    if isinstance(arg, str) and JOBLIB_MODULE in arg:
        scan.mentions_joblib = True
    if name not in PICKLE_BOOKKEEPING and len(scan.values) < 2:
        scan.values.append(arg if name in PICKLE_INT_OPCODES else name)


# --------------------------------------------------------------------------- ONNX


def _detect_onnx(head: bytes, complete: bool) -> str | None:
    """Recognise a serialized ONNX ``ModelProto`` by walking its top-level protobuf fields.

    Protobuf has no magic, so demand a consistent structure: the message opens with
    ``ir_version`` (tag 0x08, a small varint), every field has the wire type ONNX declares,
    lengths fit the file, a graph or producer name is present, and there is ONNX-specific
    evidence (an opset_import, the bytes ``onnx``, or a graph that parses as a GraphProto).
    """
    if head[:1] != b"\x08":
        return None
    fields = _protobuf_fields(head, complete)
    if not fields or fields[0][0] != 1 or fields[0][2] not in ONNX_IR_VERSIONS:
        return None
    if any(ONNX_MODEL_WIRE_TYPES.get(number, wire) != wire for number, wire, _ in fields):
        return None
    numbers = {number for number, _, _ in fields}
    if not numbers & {ONNX_GRAPH, ONNX_PRODUCER_NAME}:
        return None
    graphs = [value for number, _, value in fields if number == ONNX_GRAPH]
    if ONNX_OPSET_IMPORT in numbers or b"onnx" in head or any(map(_looks_like_graph, graphs)):
        return "onnx"
    return None


def _looks_like_graph(payload: object) -> bool:
    """A (possibly cut) GraphProto: only known GraphProto fields, all length-delimited."""
    if not isinstance(payload, bytes) or not payload:
        return False
    fields = _protobuf_fields(payload, complete=False)
    return bool(fields) and all(
        number in ONNX_GRAPH_FIELDS and wire == PB_LEN for number, wire, _ in fields
    )


def _protobuf_fields(buf: bytes, complete: bool) -> list[tuple[int, int, object]] | None:
    """Walk top-level protobuf fields: (number, wire type, int value or payload bytes).

    Returns ``None`` on malformed input. When ``complete`` is false the buffer is only a
    prefix of the message, so a field running past its end ends the walk instead of
    invalidating it (its payload is the clipped prefix).
    """
    fields: list[tuple[int, int, object]] = []
    pos = 0
    while pos < len(buf):
        if len(fields) >= MAX_PROTOBUF_FIELDS:
            return None
        tag = _read_varint(buf, pos)
        if tag is None:
            cut_off = not complete and len(buf) - pos < 10
            return fields if cut_off else None
        key, pos = tag
        number, wire = key >> 3, key & 7
        if number == 0:
            return None
        step = _protobuf_value(buf, pos, wire)
        if step is None:
            return None
        value, end = step
        if end > len(buf):
            if complete:
                return None
            fields.append((number, wire, value))  # a LEN payload is the clipped prefix
            return fields
        fields.append((number, wire, value))
        pos = end
    return fields


def _protobuf_value(buf: bytes, pos: int, wire: int) -> tuple[object, int] | None:
    """Decode one field value: returns (value, end offset); ``end`` may exceed ``buf``."""
    if wire == PB_VARINT:
        return _read_varint(buf, pos) or (None, len(buf) + 1)
    if wire == PB_FIXED64:
        return None, pos + 8
    if wire == PB_FIXED32:
        return None, pos + 4
    if wire == PB_LEN:
        length = _read_varint(buf, pos)
        if length is None:
            return None, len(buf) + 1
        size, start = length
        return buf[start : start + size], start + size
    return None  # groups (3, 4) are unused by ONNX; 6 and 7 are invalid


def _read_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """Decode a base-128 varint (at most 10 bytes); ``None`` if cut off or overlong."""
    result = 0
    for index in range(10):
        if pos + index >= len(buf):
            return None
        byte = buf[pos + index]
        result |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return result, pos + index + 1
    return None


RULES = (
    _rule_numpy,
    _rule_zip,
    _rule_hdf5,
    _rule_safetensors,
    _rule_compressed,
    _rule_pickle,
    _rule_hdf5_userblock,
    _rule_onnx,
)
"""Detection order; see ``_detect`` for why it runs from strict to loose."""
