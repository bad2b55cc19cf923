"""Bounded decompression: gzip, bz2, xz, lzma, zlib (joblib's compressors) and zip methods.

Every byte of output is charged to the scan's budget and the output/input ratio is
watched, so a decompression bomb stops after a few megabytes of work with a finding
instead of filling memory. Concatenated streams are followed the way ``gzip.GzipFile``,
``bz2.BZ2File``, ``lzma.LZMAFile`` and joblib's ``BinaryZlibFile`` read them: a second
member hidden after the first is part of what the loader sees, so it is part of what we scan.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from dataclasses import dataclass

from .blob import Blob
from .context import ScanContext
from .report import Where

__all__ = ["COMPRESSED", "Inflated", "decompress", "scan_compressed"]

CHUNK_IN = 1 << 20
CHUNK_OUT = 8 << 20
PADDING_CHECK = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
LZMA_ALONE_MAGIC = b"\x5d\x00\x00"
ZFILE_PREFIX = b"ZF"
ZFILE_HEADER = 2 + 19  # joblib < 0.10: b"ZF" + hex length padded to 19 characters


def _gzip():
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


def _zlib():
    return zlib.decompressobj()


def _raw_deflate():
    return zlib.decompressobj(-zlib.MAX_WBITS)


def _xz():
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


def _lzma_alone():
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)


COMPRESSED = {
    # name: (decompressor factory, magic a concatenated member starts with, multi-member)
    "gzip": (_gzip, GZIP_MAGIC, True),
    "bz2": (bz2.BZ2Decompressor, b"BZh", True),
    "xz": (_xz, XZ_MAGIC, True),
    "lzma": (_lzma_alone, LZMA_ALONE_MAGIC, True),
    "zlib": (_zlib, b"\x78", True),
    "deflate": (_raw_deflate, b"", False),
}
ERRORS = (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError)


@dataclass
class Inflated:
    """Decompressed bytes, how much input they came from, and why decoding stopped."""

    data: bytearray
    consumed: int
    status: str  # "complete", "truncated", "corrupt", "limit", "ratio", "trailing"
    detail: str = ""
    members: int = 0

    @property
    def complete(self) -> bool:
        return self.status == "complete"


def decompress(
    ctx: ScanContext,
    blob: Blob,
    kind: str,
    *,
    max_out: int | None = None,
    charge: bool = True,
) -> Inflated:
    """Decompress ``blob`` (all concatenated members for stream formats), within limits.

    ``max_out`` caps this call (a prefix is enough to sniff a member); without it the
    remaining per-file budget applies and reaching it is status ``limit``.
    """
    factory, magic, multi = COMPRESSED[kind]
    room = ctx.budget.decompression_room() if max_out is None else max_out
    if charge:
        room = min(room, ctx.budget.decompression_room())
    out = bytearray()
    pos = 0
    members = 0
    status, detail = "complete", ""
    while True:
        members += 1
        used, status, detail = _one_member(ctx, blob, pos, factory(), out, room, max_out)
        pos += used
        if status != "complete" or not multi or pos >= len(blob):
            break
        remaining = len(blob) - pos
        rest = blob.read(pos, min(remaining, PADDING_CHECK))
        if remaining <= PADDING_CHECK and not rest.strip(b"\x00"):
            pos = len(blob)  # zero padding after the last member is tolerated (gzip does)
            break
        if not rest.startswith(magic) or not magic:
            status, detail = "trailing", f"{len(blob) - pos} bytes after the compressed data"
            break
    if charge:
        ctx.budget.charge_decompressed(len(out))
    return Inflated(out, pos, status, detail, members)


def _one_member(ctx, blob: Blob, start: int, dec, out: bytearray, room: int, max_out):
    """Decompress one member from ``start`` into ``out``; returns (input used, status, why)."""
    is_zlib = hasattr(dec, "unconsumed_tail")
    pos = start
    pending = b""
    produced_before = len(out)
    while True:
        ctx.budget.check_time()
        want = min(CHUNK_OUT, room - len(out) + 1)
        if want <= 0:
            return pos - start, "limit", _limit_detail(len(out), max_out)
        if is_zlib:
            if not pending:
                pending = blob.read(pos, CHUNK_IN)
                pos += len(pending)
                if not pending:
                    return pos - start, "truncated", "compressed data ends early"
            try:
                piece = dec.decompress(pending, want)
            except ERRORS as exc:
                return pos - start, "corrupt", f"corrupt compressed data ({exc})"
            pending = dec.unconsumed_tail
            eof = dec.eof
            unused = len(dec.unused_data) if eof else 0
        else:
            chunk = b""
            if dec.needs_input:
                chunk = blob.read(pos, CHUNK_IN)
                pos += len(chunk)
                if not chunk:
                    return pos - start, "truncated", "compressed data ends early"
            try:
                piece = dec.decompress(chunk, want)
            except ERRORS as exc:
                return pos - start, "corrupt", f"corrupt compressed data ({exc})"
            eof = dec.eof
            unused = len(dec.unused_data) if eof else 0
        out += piece
        if len(out) > room:
            del out[room:]
            return pos - start, "limit", _limit_detail(room, max_out)
        consumed = pos - start - len(pending) - unused
        made = len(out) - produced_before
        limits = ctx.limits
        if (
            max_out is None
            and made > limits.ratio_check_floor
            and made > limits.max_compression_ratio * max(consumed, 1)
        ):
            return (
                pos - start,
                "ratio",
                (
                    f"compression ratio above {limits.max_compression_ratio}:1 "
                    f"after {made} bytes (decompression bomb?)"
                ),
            )
        if eof:
            return pos - start - unused - len(pending), "complete", ""


def _limit_detail(produced: int, max_out: int | None) -> str:
    if max_out is not None:
        return f"prefix of {produced} bytes"
    return f"decompression limit reached after {produced} bytes"


def zfile_start(head: bytes) -> int | None:
    """Where the zlib data of an old joblib ``ZF`` file starts, or ``None`` if it is not one."""
    if not head.startswith(ZFILE_PREFIX) or len(head) < ZFILE_HEADER + 2:
        return None
    length = head[2:ZFILE_HEADER].strip()
    try:
        int(length, 16)
    except ValueError:
        return None
    start = ZFILE_HEADER + (1 if head[ZFILE_HEADER : ZFILE_HEADER + 1] == b" " else 0)
    return start if head[start : start + 1] == b"\x78" else None


def scan_compressed(ctx: ScanContext, blob: Blob, where: Where, depth: int, kind: str, recurse):
    """Decompress a wrapper (within limits) and scan what is inside."""
    ctx.saw(kind)
    offset = 0
    if kind == "joblib-zfile":
        offset = zfile_start(blob.head(64)) or 0
        kind = "zlib"
        ctx.saw("joblib")
    inflated = decompress(ctx, blob.slice(offset), kind)
    inner = where.child(f"{kind} content", key=kind)
    if inflated.status in ("limit", "ratio"):
        ctx.not_scanned(
            where,
            f"{kind} content beyond byte {len(inflated.data)}",
            inflated.detail,
            subject=f"decompression-{inflated.status}",
            evidence={"decompressed_bytes": len(inflated.data), "input_bytes": len(blob)},
        )
    elif inflated.status in ("truncated", "corrupt"):
        ctx.not_scanned(
            where,
            f"{kind} stream",
            inflated.detail,
            subject=f"compressed-{inflated.status}",
        )
    elif inflated.status == "trailing":
        from .pickle_scan import carve

        ctx.not_scanned(
            where,
            f"data after the {kind} stream",
            inflated.detail,
            subject="compressed-trailing",
        )
        carve(ctx, blob, offset + inflated.consumed, len(blob), where)
    if inflated.data:
        recurse(ctx, Blob(inflated.data), inner, depth + 1)
