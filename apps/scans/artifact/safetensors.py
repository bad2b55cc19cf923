"""safetensors: no code by design, so only the header's sanity is checked.

The format is an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
A malformed header (bad JSON, duplicate keys, unknown dtypes, offsets that overlap, leave
gaps or run past the data) makes loaders disagree or fail, and bytes no tensor describes
are a place to hide a payload for another loader, so those are reported and carved.
"""

from __future__ import annotations

import json
import struct

from .blob import Blob
from .context import ScanContext
from .pickle_scan import carve
from .report import Where

__all__ = ["scan_safetensors"]

MAX_HEADER = 100 << 20  # the reference implementation's own bound
DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "F4": 1,
    "F6_E2M3": 1,
    "F6_E3M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "C64": 8,
}
MAX_PROBLEMS = 20


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Duplicate("duplicate keys in the header")
    return dict(pairs)


def scan_safetensors(ctx: ScanContext, blob: Blob, where: Where) -> None:
    ctx.saw("safetensors")
    (length,) = struct.unpack("<Q", blob.head(8))
    if length > min(MAX_HEADER, ctx.limits.max_json_bytes):
        ctx.not_scanned(
            where,
            "safetensors header",
            f"header of {length} bytes is too large",
            subject="safetensors-header-size",
        )
        return
    try:
        header = json.loads(blob.read(8, length), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        _report(ctx, where, [f"header is not valid JSON ({exc})"])
        return
    if not isinstance(header, dict):
        _report(ctx, where, ["header is not a JSON object"])
        return
    data_start = 8 + length
    data_len = len(blob) - data_start
    problems, spans = _check_entries(header, data_len)
    spans.sort()
    covered = 0
    for begin, end, name in spans:
        if begin > covered:
            problems.append(f"bytes {covered}-{begin} of the data belong to no tensor")
            carve(ctx, blob, data_start + covered, data_start + begin, where)
        elif begin < covered:
            problems.append(f"tensor {name!r} overlaps the previous one")
        covered = max(covered, end)
    if problems:
        _report(ctx, where, problems)
    if covered < data_len:
        ctx.not_scanned(
            where.child(
                f"data after the last tensor @ offset {data_start + covered}", key="trailing"
            ),
            f"{data_len - covered} bytes after the last tensor",
            "no tensor describes them",
            subject="safetensors-trailing",
        )
        carve(ctx, blob, data_start + covered, len(blob), where)


def _check_entries(header: dict, data_len: int) -> tuple[list[str], list[tuple[int, int, str]]]:
    problems: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(value, str) for value in entry.values()
            ):
                problems.append("__metadata__ is not a map of strings")
            continue
        if not isinstance(entry, dict):
            problems.append(f"tensor {name!r} is not an object")
            continue
        extra = set(entry) - {"dtype", "shape", "data_offsets"}
        if extra:
            problems.append(f"tensor {name!r} has unexpected keys {sorted(extra)}")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        size = DTYPE_SIZES.get(dtype) if isinstance(dtype, str) else None
        if size is None:
            problems.append(f"tensor {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(dim) is int and dim >= 0 for dim in shape):
            problems.append(f"tensor {name!r} has an invalid shape")
            shape = None
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(value) is int for value in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_len
        ):
            problems.append(f"tensor {name!r} has offsets outside the data")
            continue
        begin, end = offsets
        if size is not None and shape is not None:
            count = 1
            for dim in shape:
                count *= dim
            expected = count * size if dtype not in ("F4", "F6_E2M3", "F6_E3M2") else None
            if expected is not None and end - begin != expected:
                problems.append(
                    f"tensor {name!r} spans {end - begin} bytes, its shape needs {expected}"
                )
        spans.append((begin, end, name))
    return problems[:MAX_PROBLEMS], spans


def _report(ctx: ScanContext, where: Where, problems: list[str]) -> None:
    ctx.add(
        severity="medium",
        kind="safetensors-header",
        title="safetensors header fails sanity checks",
        detail="Loaders reject or disagree about files like this; the problems are listed "
        "in the evidence.",
        where=where,
        subject="safetensors-header",
        evidence={"problems": problems[:MAX_PROBLEMS]},
    )
