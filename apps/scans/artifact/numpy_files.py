"""NumPy ``.npy`` files (``.npz`` archives are zips of them, handled by the zip walker).

The header is a Python literal (read with ``ast.literal_eval``, as NumPy does; nothing is
imported). Arrays with Python objects store a pickle after the header, which
``np.load(allow_pickle=True)`` runs: it is scanned like any pickle. Other arrays must be
exactly ``prod(shape) * itemsize`` bytes; anything after them is reported and carved.
"""

from __future__ import annotations

import ast
import re
import struct

from .blob import Blob
from .context import ScanContext
from .pickle_scan import carve, scan_pickles
from .report import Where

__all__ = ["descr_layout", "scan_npy"]

MAX_HEADER = 1 << 20
TYPESTR = re.compile(r"^[<>|=]?([a-zA-Z?])(\d*)(\[[a-zA-Z0-9]+\])?$")
DEFAULT_SIZES = {"?": 1, "b": 1, "B": 1, "O": 8, "e": 2, "f": 4, "d": 8, "g": 16}


def scan_npy(ctx: ScanContext, blob: Blob, where: Where, depth: int) -> None:
    ctx.saw("numpy")
    header = _read_header(blob)
    if isinstance(header, str):
        ctx.not_scanned(where, "numpy array file", header, subject="npy-header")
        return
    meta, data_start = header
    layout = descr_layout(meta.get("descr"))
    count = _count(meta.get("shape"))
    if layout is None or count is None:
        ctx.not_scanned(
            where,
            "numpy array data",
            "its dtype or shape cannot be understood",
            subject="npy-dtype",
        )
        carve(ctx, blob, data_start, len(blob), where)
        return
    itemsize, has_object = layout
    if has_object:
        here = where.child("object array pickle", key="object-array")
        outcome = scan_pickles(ctx, blob, here, start=data_start, depth=depth + 1)
        if outcome.trailing:
            _trailing(ctx, blob, outcome.end, where)
        return
    end = data_start + count * itemsize
    if end > len(blob):
        ctx.not_scanned(
            where,
            "numpy array data",
            f"the header promises {count * itemsize} bytes but only "
            f"{len(blob) - data_start} follow",
            subject="npy-truncated",
        )
    elif end < len(blob):
        _trailing(ctx, blob, end, where)


def _trailing(ctx: ScanContext, blob: Blob, start: int, where: Where) -> None:
    ctx.not_scanned(
        where.child(f"data after the array @ offset {start}", key="trailing"),
        f"{len(blob) - start} bytes after the array data",
        "numpy ignores them; they may hide a payload for another loader",
        subject="npy-trailing",
    )
    carve(ctx, blob, start, len(blob), where)


def _read_header(blob: Blob) -> tuple[dict, int] | str:
    head = blob.head(12)
    if len(head) < 10:
        return "its header is truncated"
    major = head[6]
    if major == 1:
        (length,) = struct.unpack_from("<H", head, 8)
        start = 10
    elif major in (2, 3):
        if len(head) < 12:
            return "its header is truncated"
        (length,) = struct.unpack_from("<I", head, 8)
        start = 12
    else:
        return f"format version {major} is unknown"
    if length > MAX_HEADER:
        return f"its header of {length} bytes is larger than we parse"
    raw = blob.read(start, length)
    if len(raw) < length:
        return "its header is truncated"
    try:
        text = raw.decode("utf-8" if major == 3 else "latin-1")
        meta = ast.literal_eval(text)
    except Exception:  # noqa: BLE001 - literal_eval raises many types on hostile input
        return "its header is not a valid Python literal"
    if not isinstance(meta, dict):
        return "its header is not a dictionary"
    return meta, start + length


def descr_layout(descr) -> tuple[int, bool] | None:
    """(itemsize, holds Python objects) of a ``.npy`` dtype description, or ``None``."""
    if isinstance(descr, str):
        match = TYPESTR.match(descr)
        if not match:
            return None
        kind, digits = match.group(1), match.group(2)
        if kind == "O":
            return 8, True
        if digits:
            return int(digits) * (4 if kind == "U" else 1), False
        size = DEFAULT_SIZES.get(kind)
        return (size, False) if size else None
    if isinstance(descr, tuple) and len(descr) == 2:
        base = descr_layout(descr[0])
        count = _count(descr[1] if isinstance(descr[1], tuple) else (descr[1],))
        return None if base is None or count is None else (base[0] * count, base[1])
    if isinstance(descr, list):
        total, has_object = 0, False
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3):
                return None
            sub = descr_layout(field[1] if len(field) == 2 else (field[1], field[2]))
            if sub is None:
                return None
            total += sub[0]
            has_object = has_object or sub[1]
        return total, has_object
    return None


def _count(shape) -> int | None:
    if not isinstance(shape, tuple):
        return None
    count = 1
    for dim in shape:
        if type(dim) is not int or dim < 0:
            return None
        count *= dim
    return count
