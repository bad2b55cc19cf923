"""PyTorch checkpoints (zip and legacy formats) and raw pickle files.

Zip checkpoints: every member that *is* a pickle is scanned, whatever its name (``torch.load``
only reads ``<archive>/data.pkl``, but other loaders, and attackers, use other names). Tensor
storages are identified from the persistent ids in ``data.pkl`` and only their first bytes
are checked, so a 1 GB checkpoint costs a directory walk plus one small read per member.

Legacy (pre-1.6) checkpoints are five pickles in a row (magic number, protocol version,
system info, the object, the storage keys) followed by raw storages, each an 8-byte element
count and its bytes; all five pickles are scanned and the storage layout is checked to the
last byte so nothing can hide after it.
"""

from __future__ import annotations

import re

from apps.registry.formats import TORCH_LEGACY_MAGIC

from .archives import Member, member_data, scan_member
from .blob import Blob
from .context import ScanContext
from .pickle_scan import carve, report_stream, scan_pickles
from .pickle_values import CONST, LIST, REF, TUPLE, StreamResult
from .pickle_vm import PickleVM
from .report import Where

__all__ = ["scan_pickle_file", "scan_torch_zip"]

PREFIX_BYTES = 64
SPECULATIVE_OPCODES = 1_000_000
METADATA_MEMBERS = frozenset(
    ("version", "byteorder", ".format_version", ".storage_alignment", "serialization_id")
)
CONTAINER_MAGICS = (
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x93NUMPY",
    b"\x89HDF\r\n\x1a\n",
)
STORAGE_ELEMENT_SIZES = {
    "DoubleStorage": 8,
    "FloatStorage": 4,
    "HalfStorage": 2,
    "LongStorage": 8,
    "IntStorage": 4,
    "ShortStorage": 2,
    "CharStorage": 1,
    "ByteStorage": 1,
    "BoolStorage": 1,
    "BFloat16Storage": 2,
    "ComplexDoubleStorage": 16,
    "ComplexFloatStorage": 8,
    "QUInt8Storage": 1,
    "QInt8Storage": 1,
    "QInt32Storage": 4,
    "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1,
    "UntypedStorage": 1,
}
LEGACY_PICKLES = 5
DATA_MEMBER = re.compile(r"(?:^|/)data/([^/]+)$")


# --------------------------------------------------------------------------- raw pickles


def scan_pickle_file(ctx: ScanContext, blob: Blob, where: Where, depth: int, recurse) -> None:
    """A buffer that starts with a pickle: a legacy checkpoint or one or more streams."""
    if _is_legacy_checkpoint(ctx, blob):
        _scan_legacy(ctx, blob, where, depth, recurse)
        return
    outcome = scan_pickles(ctx, blob, where, depth=depth)
    if outcome.trailing:
        scan_trailing(ctx, blob, outcome.end, where, depth, recurse)


def scan_trailing(
    ctx: ScanContext, blob: Blob, start: int, where: Where, depth: int, recurse
) -> None:
    """Bytes after the last pickle stream: another format (a polyglot), padding, or unknown."""
    rest = blob.slice(start)
    head = rest.head(PREFIX_BYTES)
    here = where.child(f"data after the pickle @ offset {start}", key="trailing")
    if head.startswith(CONTAINER_MAGICS):
        recurse(ctx, rest, here, depth + 1)
        return
    if len(rest) <= 4096 and not rest.tobytes().strip(b"\x00\n\r\t "):
        return  # padding
    ctx.not_scanned(
        here,
        f"{len(rest)} bytes after the last pickle stream",
        "they are not a pickle or a format we recognise",
        subject="trailing-data",
    )
    carve(ctx, blob, start, len(blob), where)


def _is_legacy_checkpoint(ctx: ScanContext, blob: Blob) -> bool:
    probe = PickleVM(blob, 0, ctx.limits, ctx.budget, max_opcodes=8, speculative=True).run()
    value = probe.value
    return (
        probe.complete
        and probe.end < len(blob)
        and value is not None
        and value.kind == CONST
        and value.data == TORCH_LEGACY_MAGIC
    )


def _scan_legacy(ctx: ScanContext, blob: Blob, where: Where, depth: int, recurse) -> None:
    ctx.saw("pytorch-legacy")
    outcome = scan_pickles(ctx, blob, where, depth=depth, max_streams=LEGACY_PICKLES)
    if not outcome.complete:
        return
    if len(outcome.streams) < LEGACY_PICKLES:
        if outcome.trailing:
            scan_trailing(ctx, blob, outcome.end, where, depth, recurse)
        return
    storages = _storage_sizes(outcome.streams[3])
    keys = _key_list(outcome.streams[4])
    pos, problem = outcome.end, ""
    if keys is None:
        problem = "the storage key list is not a list of names"
    else:
        for key in keys:
            element = storages.get(key)
            if element is None:
                problem = f"storage {key!r} is not described by the checkpoint"
                break
            if pos + 8 > len(blob):
                problem = f"storage {key!r} is cut off"
                break
            count = int.from_bytes(blob.read(pos, 8), "little", signed=True)
            size = count * element
            if count < 0 or pos + 8 + size > len(blob):
                problem = f"storage {key!r} declares more bytes than the file holds"
                break
            pos += 8 + size
        else:
            if pos != len(blob):
                problem = f"{len(blob) - pos} bytes follow the last storage"
    if problem:
        ctx.not_scanned(
            where.child(f"storage data @ offset {pos}", key="storages"),
            "legacy checkpoint storage data",
            problem,
            subject="legacy-storage-layout",
        )
        carve(ctx, blob, pos, len(blob), where)


def _storage_sizes(main: StreamResult) -> dict[str, int]:
    """Storage key -> element size, from ``('storage', type, key, location, numel)`` ids."""
    sizes: dict[str, int] = {}
    for pid in main.persids:
        items = pid.data if pid.kind == TUPLE else ()
        if len(items) < 3 or items[0].data != "storage":
            continue
        storage_type, key = items[1], items[2]
        name = storage_type.data[1] if storage_type.kind == REF else ""
        if key.kind == CONST and isinstance(key.data, str) and name in STORAGE_ELEMENT_SIZES:
            sizes[key.data] = STORAGE_ELEMENT_SIZES[name]
    return sizes


def _key_list(stream: StreamResult) -> list[str] | None:
    value = stream.value
    if value is None or value.kind != LIST:
        return None
    keys = [item.data for item in value.data]
    return keys if all(isinstance(key, str) for key in keys) else None


def _storage_keys(results: list[StreamResult]) -> set[str]:
    keys: set[str] = set()
    for result in results:
        for pid in result.persids:
            items = pid.data if pid.kind == TUPLE else ()
            if len(items) >= 3 and items[2].kind == CONST:
                keys.add(str(items[2].data))
    return keys


# --------------------------------------------------------------------------- zip checkpoints


def scan_torch_zip(
    ctx: ScanContext, blob: Blob, where: Where, depth: int, recurse, members: list[Member]
) -> None:
    """Scan a ``torch.save`` zip: pickles fully, storages by their first bytes."""
    ctx.saw("pytorch-zip")
    results: list[StreamResult] = []
    rest: list[Member] = []
    for member in members:
        if member.name.endswith(".pkl"):
            results.extend(_scan_pickle_member(ctx, blob, member, depth, recurse))
        elif not member.is_dir:
            rest.append(member)
    storages = _storage_keys(results)
    for member in rest:
        ctx.budget.check_time()
        leaf = member.name.rsplit("/", 1)[-1]
        match = DATA_MEMBER.search(member.name)
        if match and match.group(1) in storages:
            _check_storage(ctx, blob, member, depth, recurse)
        elif leaf in METADATA_MEMBERS and member.info.file_size <= PREFIX_BYTES:
            _check_metadata(ctx, blob, member, depth, recurse)
        elif "/code/" in f"/{member.name}" and member.name.endswith((".py", ".debug_pkl")):
            if member.name.endswith(".debug_pkl"):
                scan_member(ctx, blob, member, depth, recurse)
                continue
            ctx.not_scanned(
                member.where,
                "TorchScript source",
                "TorchScript code is compiled and run by torch.jit.load and is not analysed",
                subject="torchscript",
            )
        else:
            scan_member(ctx, blob, member, depth, recurse)


def _scan_pickle_member(
    ctx: ScanContext, blob: Blob, member: Member, depth: int, recurse
) -> list[StreamResult]:
    data, problem = member_data(ctx, blob, member)
    if problem:
        ctx.not_scanned(member.where, "archive member", problem, subject="member-unreadable")
    if data is None:
        return []
    head = data.head(2)
    if len(head) == 2 and head[0] == 0x80 and head[1] <= 5:
        outcome = scan_pickles(ctx, data, member.where, depth=depth + 1)
        if outcome.trailing:
            scan_trailing(ctx, data, outcome.end, member.where, depth + 1, recurse)
        return outcome.streams
    recurse(ctx, data, member.where, depth + 1)
    return []


def _check_storage(ctx: ScanContext, blob: Blob, member: Member, depth: int, recurse) -> None:
    """A tensor storage: raw numbers unless its first bytes say otherwise.

    ``torch.load`` never unpickles storages, so only a container signature leads to a full
    scan; bytes that merely start like a pickle get a bounded speculative decode that
    reports unsafe globals only (random float data must not produce noise).
    """
    ctx.stats["storages_skipped"] += 1
    prefix, _problem = member_data(ctx, blob, member, prefix=PREFIX_BYTES)
    if prefix is None:
        scan_member(ctx, blob, member, depth, recurse)
        return
    head = prefix.head(PREFIX_BYTES)
    if head.startswith(CONTAINER_MAGICS):
        scan_member(ctx, blob, member, depth, recurse)
        return
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        data, _problem = member_data(ctx, blob, member)
        if data is None:
            return
        probe = PickleVM(
            data, 0, ctx.limits, ctx.budget, depth=depth + 1, max_opcodes=SPECULATIVE_OPCODES
        ).run()
        report_stream(
            ctx,
            probe,
            member.where.child("pickle #1 @ offset 0", key="pickle"),
            depth=depth + 1,
            quiet=True,
        )


def _check_metadata(ctx: ScanContext, blob: Blob, member: Member, depth: int, recurse) -> None:
    """``version``/``byteorder``...: a few bytes of text; anything else is scanned fully."""
    data, _problem = member_data(ctx, blob, member, prefix=PREFIX_BYTES)
    text = data.tobytes() if data is not None else b""
    if text and all(32 <= byte < 127 or byte in (9, 10, 13) for byte in text):
        return
    scan_member(ctx, blob, member, depth, recurse)
