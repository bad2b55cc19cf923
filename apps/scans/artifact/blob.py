"""Zero-copy windows on the artifact's bytes.

Everything is scanned from a buffer: the input file is memory-mapped (so a 1 GB checkpoint
is not read into memory and members we only glance at cost a page fault), stored archive
members are windows on their parent, and only decompressed content gets its own buffer.
The base object must support ``find``, slicing and int indexing (``bytes``, ``bytearray``,
``mmap``); ``memoryview`` lacks ``find``, so it is never a base.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import stat

__all__ = ["Blob", "BufferReader", "open_input"]


class Blob:
    """The bytes ``base[start:end]``, addressed with offsets relative to ``start``."""

    __slots__ = ("base", "start", "end")

    def __init__(self, base, start: int = 0, end: int | None = None) -> None:
        self.base = base
        self.start = start
        self.end = len(base) if end is None else min(end, len(base))
        if self.start > self.end:
            self.start = self.end

    def __len__(self) -> int:
        return self.end - self.start

    def slice(self, a: int, b: int | None = None) -> Blob:
        """Sub-window [a, b) (relative offsets, clamped to this window)."""
        a = min(max(a, 0), len(self))
        b = len(self) if b is None else min(max(b, a), len(self))
        return Blob(self.base, self.start + a, self.start + b)

    def read(self, a: int, n: int) -> bytes:
        """Copy of up to ``n`` bytes from relative offset ``a``."""
        a = min(max(a, 0), len(self))
        b = min(a + max(n, 0), len(self))
        return bytes(self.base[self.start + a : self.start + b])

    def head(self, n: int) -> bytes:
        return self.read(0, n)

    def find(self, sub: bytes, a: int = 0, b: int | None = None) -> int:
        """Relative offset of ``sub`` in [a, b), or -1."""
        stop = self.end if b is None else min(self.start + b, self.end)
        at = self.base.find(sub, self.start + max(a, 0), stop)
        return -1 if at < 0 else at - self.start

    def tobytes(self) -> bytes:
        return bytes(self.base[self.start : self.end])


class BufferReader(io.RawIOBase):
    """A read-only, seekable file object over a ``Blob`` (for ``zipfile``/``tarfile``).

    Reads copy only what is asked for, so listing a 1 GB archive touches its directory only.
    """

    def __init__(self, blob: Blob) -> None:
        super().__init__()
        self._blob = blob
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = len(self._blob) + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(len(self._blob) - self._pos, 0)
        data = self._blob.read(self._pos, size)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Input:
    """The opened artifact: a ``Blob`` plus whatever must be closed afterwards."""

    def __init__(self, blob: Blob, size: int, truncated: bool, closers: list) -> None:
        self.blob = blob
        self.size = size
        self.truncated = truncated
        self._closers = closers

    def close(self) -> None:
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer()


def open_input(source, max_read_bytes: int) -> _Input:
    """Turn bytes, a path or a binary file object into a ``Blob`` without executing anything.

    Real files are memory-mapped read-only; other streams are read (from offset 0, their
    position restored afterwards) up to ``max_read_bytes`` and ``truncated`` says whether
    that cut the input short.
    """
    if isinstance(source, bytes | bytearray):
        return _Input(Blob(source), len(source), False, [])
    if isinstance(source, memoryview):
        data = source.tobytes()
        return _Input(Blob(data), len(data), False, [])
    if isinstance(source, str | os.PathLike):
        handle = open(source, "rb")  # noqa: SIM115 - closed by _Input.close
        opened = _from_fileobj(handle, max_read_bytes)
        opened._closers.insert(0, handle.close)
        return opened
    return _from_fileobj(source, max_read_bytes)


def _from_fileobj(fileobj, max_read_bytes: int) -> _Input:
    mapped = _try_mmap(fileobj)
    if mapped is not None:
        return _Input(Blob(mapped), len(mapped), False, [mapped.close])
    getbuffer = getattr(fileobj, "getbuffer", None)
    if callable(getbuffer):  # BytesIO: one copy into an immutable buffer
        with contextlib.suppress(Exception):
            data = bytes(getbuffer())
            cut = data[:max_read_bytes]
            return _Input(Blob(cut), len(data), len(data) > len(cut), [])
    start = None
    with contextlib.suppress(Exception):
        start = fileobj.tell()
        fileobj.seek(0)
    chunks: list[bytes] = []
    total = 0
    truncated = False
    while total < max_read_bytes:
        chunk = fileobj.read(min(8 << 20, max_read_bytes - total))
        if not chunk:
            break
        chunks.append(bytes(chunk))
        total += len(chunk)
    else:
        truncated = bool(fileobj.read(1))
    if start is not None:
        with contextlib.suppress(Exception):
            fileobj.seek(start)
    data = b"".join(chunks)
    return _Input(Blob(data), len(data) + (1 if truncated else 0), truncated, [])


def _try_mmap(fileobj):
    """Map a regular file read-only; ``None`` when it is not one (or is empty)."""
    candidates = [fileobj, getattr(fileobj, "file", None)]  # Django upload wrappers
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            fd = candidate.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                continue
            return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            continue
    return None
