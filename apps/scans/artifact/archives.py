"""Zip and tar walkers: list members from the directory, read them within limits.

Member names are data, never paths: nothing is extracted to disk, names are only shown
(escaped) and checked for traversal tricks. Stored zip members are read in place from the
central directory's offsets (a zero-copy window), which is what lets a 1 GB checkpoint of
tensors be scanned by touching a few bytes per member.
"""

from __future__ import annotations

import struct
import tarfile
import zipfile
from dataclasses import dataclass

from apps.registry.formats import _is_keras_zip, _is_pytorch_zip, _zip_directory_is_bounded

from .blob import Blob, BufferReader
from .compression import decompress
from .context import ScanContext, printable
from .report import Where

__all__ = ["Member", "list_zip", "member_data", "scan_tar", "scan_zip"]

LOCAL_HEADER = struct.Struct("<4s5H3L2H")
LOCAL_MAGIC = b"PK\x03\x04"
METHODS = {zipfile.ZIP_STORED: None, zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bz2"}


@dataclass
class Member:
    """One zip member as the central directory describes it."""

    name: str
    info: zipfile.ZipInfo
    where: Where

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def list_zip(ctx: ScanContext, blob: Blob, where: Where) -> list[Member] | None:
    """Members of the zip in ``blob`` (``None``, with a finding, if it cannot be listed)."""
    reader = BufferReader(blob)
    if not _zip_directory_is_bounded(reader, len(blob)):
        ctx.not_scanned(
            where,
            "zip archive",
            "its central directory declares more members or bytes than we agree to load",
            subject="zip-directory-limit",
        )
        return None
    try:
        with zipfile.ZipFile(reader) as archive:
            infos = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        struct.error,
        EOFError,
        KeyError,
        IndexError,
        NotImplementedError,
    ) as exc:
        ctx.not_scanned(
            where, "zip archive", f"its directory cannot be read ({exc})", subject="zip-unreadable"
        )
        return None
    return [
        Member(
            info.filename,
            info,
            where.child(printable(info.filename), f"member:{printable(info.filename)}"),
        )
        for info in infos
    ]


def member_data(
    ctx: ScanContext, blob: Blob, member: Member, *, prefix: int | None = None
) -> tuple[Blob | None, str]:
    """The member's bytes (or only the first ``prefix``), and "" or why they are incomplete.

    The local header is located from the central directory's offset and only its lengths
    are used; sizes come from the central directory, as PyTorch's reader does.
    """
    info = member.info
    header = blob.read(info.header_offset, LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or not header.startswith(LOCAL_MAGIC):
        return None, "its local header is missing or damaged"
    fields = LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    start = info.header_offset + LOCAL_HEADER.size + name_len + extra_len
    size = info.compress_size
    problem = ""
    if start + size > len(blob):
        problem = f"it declares {size} bytes but the archive ends first"
        size = max(len(blob) - start, 0)
    if info.flag_bits & 0x1:
        # PyTorch's reader ignores the flag, Python's zipfile refuses the member: a known way
        # to hide a pickle from scanners. Read it as if unencrypted; garbage sniffs as such.
        problem = problem or "it is marked encrypted (some loaders ignore the flag)"
    raw = blob.slice(start, start + size)
    if info.compress_type == zipfile.ZIP_STORED:
        return (raw if prefix is None else raw.slice(0, prefix)), problem
    kind = METHODS.get(info.compress_type)
    if info.compress_type == zipfile.ZIP_LZMA:
        return _zip_lzma(ctx, raw, prefix, problem)
    if kind is None:
        return None, f"it uses compression method {info.compress_type}, which we cannot read"
    inflated = decompress(ctx, raw, kind, max_out=prefix, charge=prefix is None)
    if prefix is None and not inflated.complete:
        problem = problem or inflated.detail or inflated.status
    return Blob(inflated.data), problem


def _zip_lzma(ctx, raw: Blob, prefix, problem):
    """Zip's LZMA method: 2 version bytes, 2-byte properties length, properties, LZMA1 data."""
    import lzma

    head = raw.read(0, 4)
    if len(head) < 4:
        return None, "its LZMA header is truncated"
    (props_len,) = struct.unpack_from("<H", head, 2)
    props = raw.read(4, props_len)
    try:
        filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)]
        dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
        room = prefix if prefix is not None else ctx.budget.decompression_room()
        data = dec.decompress(raw.read(4 + props_len, len(raw)), room + 1)
    except (lzma.LZMAError, ValueError, EOFError) as exc:
        return None, f"its LZMA data is corrupt ({exc})"
    if prefix is None:
        ctx.budget.charge_decompressed(len(data))
        if len(data) > room:
            problem = problem or "decompression limit reached"
    return Blob(data[:room]), problem


def check_names(ctx: ScanContext, members: list[Member], where: Where) -> None:
    """Flag member names that escape an extraction directory, and duplicate names."""
    seen: set[str] = set()
    for member in members:
        name = member.name
        parts = name.replace("\\", "/").split("/")
        if (
            name.startswith(("/", "\\"))
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
            or "\x00" in name
        ):
            ctx.add(
                severity="medium",
                kind="unsafe-member-name",
                title="Archive member name escapes the extraction directory",
                detail=f"Member {printable(name)!r} would be written outside the target folder "
                "by tools that extract archives (path traversal). It was scanned as data only.",
                where=member.where,
                subject="traversal",
                evidence={"member": printable(name)},
            )
        if name in seen:
            ctx.add(
                severity="medium",
                kind="duplicate-member",
                title="Archive holds two members with the same name",
                detail=f"{printable(name)!r} appears more than once; loaders disagree on which "
                "copy they read, a known way to show a scanner one file and a loader another. "
                "Both copies were scanned.",
                where=member.where,
                subject="duplicate",
                evidence={"member": printable(name)},
            )
        seen.add(name)


def scan_zip(ctx: ScanContext, blob: Blob, where: Where, depth: int, recurse) -> None:
    """Scan a zip: PyTorch checkpoints and Keras files get their own walkers."""
    from . import torch_files

    ctx.saw("zip")
    members = list_zip(ctx, blob, where)
    if members is None:
        return
    limit = ctx.limits.max_archive_members
    if len(members) > limit:
        ctx.not_scanned(
            where,
            f"{len(members) - limit} archive members",
            f"limit of {limit} members per archive reached",
            subject="member-limit",
        )
        members = members[:limit]
    check_names(ctx, members, where)
    names = [member.name for member in members]
    if _is_pytorch_zip(names):
        torch_files.scan_torch_zip(ctx, blob, where, depth, recurse, members)
        return
    if _is_keras_zip(names):
        ctx.saw("keras")
    elif names and all(name.endswith(".npy") for name in names):
        ctx.saw("numpy-npz")
    for member in members:
        if member.is_dir:
            continue
        scan_member(ctx, blob, member, depth, recurse)


def scan_member(ctx: ScanContext, blob: Blob, member: Member, depth: int, recurse) -> None:
    """Read one member completely (within limits) and scan it as its own buffer."""
    ctx.budget.check_time()
    ctx.stats["members"] += 1
    data, problem = member_data(ctx, blob, member)
    if problem:
        ctx.not_scanned(member.where, "archive member", problem, subject="member-unreadable")
    if data is not None:
        recurse(ctx, data, member.where, depth + 1)


def scan_tar(ctx: ScanContext, blob: Blob, where: Where, depth: int, recurse) -> None:
    """Scan a tar archive's regular files in place (names as data, links never followed)."""
    ctx.saw("tar")
    limit = ctx.limits.max_archive_members
    count = 0
    try:
        with tarfile.open(fileobj=BufferReader(blob), mode="r:") as archive:
            while True:
                ctx.budget.check_time()
                info = archive.next()
                if info is None:
                    break
                count += 1
                if count > limit:
                    ctx.not_scanned(
                        where,
                        "further tar members",
                        f"limit of {limit} members per archive reached",
                        subject="member-limit",
                    )
                    break
                name = printable(info.name)
                here = where.child(name, f"member:{name}")
                if info.issym() or info.islnk():
                    _check_link(ctx, info, here)
                    continue
                if not info.isreg():
                    continue
                end = info.offset_data + info.size
                if end > len(blob):
                    ctx.not_scanned(
                        here,
                        "tar member",
                        "it runs past the end of the archive",
                        subject="member-truncated",
                    )
                recurse(ctx, blob.slice(info.offset_data, end), here, depth + 1)
    except (tarfile.TarError, OSError, ValueError, EOFError, UnicodeError) as exc:
        ctx.not_scanned(
            where,
            "tar archive",
            f"it cannot be read past member {count} ({exc})",
            subject="tar-unreadable",
        )


def _check_link(ctx: ScanContext, info: tarfile.TarInfo, here: Where) -> None:
    target = info.linkname
    if target.startswith("/") or ".." in target.split("/"):
        ctx.add(
            severity="medium",
            kind="unsafe-member-name",
            title="Archive link points outside the extraction directory",
            detail=f"Link {printable(info.name)!r} -> {printable(target)!r} would reach files "
            "outside the target folder if extracted.",
            where=here,
            subject="link-traversal",
            evidence={"link": printable(target)},
        )
