"""The entry point: ``analyse(fileobj, limits=...) -> Report``. Never raises on hostile input."""

from __future__ import annotations

import time

from .blob import open_input
from .context import ScanContext
from .dispatch import scan_blob
from .limits import LimitReached, Limits
from .report import Report, Where

__all__ = ["analyse"]


def analyse(fileobj, *, limits: Limits | None = None) -> Report:
    """Statically scan one model artifact and report what loading it would do.

    ``fileobj`` is a binary file object (real files are memory-mapped, other streams read
    from offset 0 with their position restored), a path, or bytes. Nothing in the artifact
    is imported, unpickled or executed. Whatever the input, this returns a ``Report``: limits
    reached and internal errors become findings saying what was not scanned.
    """
    limits = limits or Limits()
    ctx = ScanContext(limits)
    started = time.monotonic()
    size = 0
    opened = None
    root = Where()
    try:
        opened = open_input(fileobj, limits.max_read_bytes)
        size = opened.size
        if opened.truncated:
            ctx.not_scanned(
                root,
                f"input beyond byte {limits.max_read_bytes}",
                "the input cannot be memory-mapped and is larger than the read limit",
                subject="read-limit",
            )
        scan_blob(ctx, opened.blob, root, 0)
    except LimitReached as exc:
        ctx.not_scanned(root, "the rest of the artifact", str(exc), subject="limit")
    except Exception as exc:  # noqa: BLE001 - a hostile file fails its own scan, not the worker
        ctx.not_scanned(
            root,
            "the rest of the artifact",
            f"internal error while scanning ({type(exc).__name__}: {exc})",
            subject="internal-error",
        )
    finally:
        if opened is not None:
            opened.close()
    return Report(
        findings=ctx.findings(),
        formats_seen=list(ctx.formats),
        unreadable=list(dict.fromkeys(ctx.unreadable)),
        size_bytes=size,
        duration_seconds=round(time.monotonic() - started, 6),
        stats=dict(ctx.stats),
    )
