"""Recognise what a buffer holds (from its bytes, never its name) and hand it to its walker.

Each walker may find further buffers inside (archive members, decompressed content, data
after a pickle) and calls ``scan_blob`` on them again, one level deeper; the nesting
bound stops archive-in-archive recursion.
"""

from __future__ import annotations

import struct

from apps.registry.formats import (
    GZIP_MAGIC,
    HDF5_MAGIC,
    HDF5_USERBLOCK_OFFSETS,
    LZMA_ALONE_MAGIC,
    NUMPY_MAGIC,
    XZ_MAGIC,
    _detect_onnx,
    _is_bz2_magic,
    _is_zlib_header,
)

from . import archives, compression, keras, numpy_files, onnx, safetensors, torch_files
from .blob import Blob
from .context import ScanContext
from .pickle_scan import carve, looks_like_pickle
from .report import Where

__all__ = ["scan_blob", "sniff"]

SNIFF_BYTES = 1 << 16
TEXT_SAMPLE = 4096
UNSUPPORTED = {
    "lz4": "LZ4-compressed data (joblib's lz4 compressor)",
    "zstd": "Zstandard-compressed data",
    "7z": "7-Zip archive",
    "rar": "RAR archive",
}
"""Formats we recognise but cannot read: always reported as not scanned."""


def sniff(blob: Blob, ctx: ScanContext) -> str:
    """Name the format of ``blob`` from its leading bytes (strictest signatures first)."""
    head = blob.head(SNIFF_BYTES)
    if not head:
        return "empty"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(NUMPY_MAGIC):
        return "numpy"
    if head.startswith(HDF5_MAGIC) or any(
        head[offset : offset + len(HDF5_MAGIC)] == HDF5_MAGIC for offset in HDF5_USERBLOCK_OFFSETS
    ):
        return "hdf5"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if _is_bz2_magic(head):
        return "bz2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if compression.zfile_start(head) is not None:
        return "joblib-zfile"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head[257:262] == b"ustar":
        return "tar"
    if _looks_like_safetensors(head, len(blob)):
        return "safetensors"
    if head[0] == 0x80 and len(head) > 1 and head[1] <= 5:
        return "pickle"
    if head.startswith(LZMA_ALONE_MAGIC) and _inflates(ctx, blob, "lzma"):
        return "lzma"
    if _is_zlib_header(head) and _inflates(ctx, blob, "zlib"):
        return "zlib"
    sample = head[:TEXT_SAMPLE]
    text = _is_text(sample, cut=len(sample) < len(blob))
    if looks_like_pickle(blob, ctx, text=text):
        return "pickle"
    if _detect_onnx(head, complete=len(blob) <= len(head)):
        return "onnx"
    if text:
        return "json" if sample.lstrip()[:1] in (b"{", b"[") else "text"
    return "unknown"


def scan_blob(ctx: ScanContext, blob: Blob, where: Where, depth: int) -> None:
    """Scan one buffer at nesting ``depth``: sniff it and run the matching walker."""
    ctx.budget.check_time()
    ctx.stats["buffers"] += 1
    if depth > ctx.limits.max_depth:
        ctx.not_scanned(
            where,
            "nested content",
            f"nesting deeper than {ctx.limits.max_depth} levels",
            subject="depth-limit",
        )
        return
    fmt = sniff(blob, ctx)
    if fmt == "zip":
        archives.scan_zip(ctx, blob, where, depth, scan_blob)
    elif fmt == "tar":
        archives.scan_tar(ctx, blob, where, depth, scan_blob)
    elif fmt in compression.COMPRESSED or fmt == "joblib-zfile":
        compression.scan_compressed(ctx, blob, where, depth, fmt, scan_blob)
    elif fmt == "numpy":
        numpy_files.scan_npy(ctx, blob, where, depth)
    elif fmt == "hdf5":
        keras.scan_hdf5(ctx, blob, where)
    elif fmt == "safetensors":
        safetensors.scan_safetensors(ctx, blob, where)
    elif fmt == "pickle":
        torch_files.scan_pickle_file(ctx, blob, where, depth, scan_blob)
    elif fmt == "onnx":
        onnx.scan_onnx(ctx, blob, where)
    elif fmt == "json":
        keras.scan_json(ctx, blob, where)
    elif fmt == "text":
        ctx.saw("text")
        carve(ctx, blob, 0, len(blob), where, text=True)  # protocol 0 pickles are text too
    elif fmt == "empty":
        ctx.saw("empty")
    else:
        ctx.saw(fmt)
        what = UNSUPPORTED.get(fmt, "data in an unrecognised format")
        ctx.not_scanned(
            where,
            what,
            "this format cannot be read by the scanner",
            subject=f"unsupported:{fmt}",
            evidence={"format": fmt, "first_bytes": blob.head(16).hex()},
        )


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    """u64 little-endian header length N, then a JSON object of N bytes that fits the file."""
    if len(head) < 10:
        return False
    (length,) = struct.unpack_from("<Q", head)
    return 2 <= length <= size - 8 and head[8:9] == b"{"


def _inflates(ctx: ScanContext, blob: Blob, kind: str) -> bool:
    """A bare zlib/lzma stream has a weak magic: accept it only if it starts to inflate."""
    return (
        len(
            compression.decompress(ctx, blob.slice(0, 1 << 16), kind, max_out=64, charge=False).data
        )
        > 0
    )


def _is_text(sample: bytes, cut: bool) -> bool:
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return cut and exc.start >= len(sample) - 4  # a multi-byte character cut by the sample
    return True
