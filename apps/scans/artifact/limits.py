"""Resource bounds for one artifact scan, and the budget that enforces them.

A hostile file may fail its own scan but must never take the worker down with it, so every
loop that a file can make long (decompression, archive members, pickle opcodes, carving)
charges this budget and stops cleanly when it runs out. Limits that are reached become
findings ("this part was not scanned"), never exceptions escaping ``analyse``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Budget", "Limits", "LimitReached", "TimeLimitReached"]


@dataclass(frozen=True)
class Limits:
    """Bounds applied to the scan of one file (all nested content included)."""

    time_limit_seconds: float = 120.0
    """Wall-clock time for the whole file; checked between opcodes, members and chunks."""

    max_depth: int = 10
    """Containers inside containers (archive > compressed > archive > pickle ...)."""

    max_decompressed_bytes: int = 1 << 30
    """Total output of every decompression done for this file (zip bomb bound)."""

    max_compression_ratio: int = 1000
    """Output/input ratio above which a stream is treated as a decompression bomb ..."""

    ratio_check_floor: int = 32 << 20
    """... once it has produced at least this much (small, very compressible data is fine)."""

    max_archive_members: int = 10_000
    """Members scanned per zip/tar archive; the rest are reported as not scanned."""

    max_central_directory_bytes: int = 16 << 20
    """Largest zip central directory we agree to load (zipfile reads it whole)."""

    max_pickle_opcodes: int = 50_000_000
    """Opcodes decoded per pickle stream."""

    max_pickle_values: int = 2_000_000
    """Stack plus memo entries per stream; bounds the memory a pickle can make us spend."""

    max_pickle_streams: int = 10_000
    """Pickle streams followed one after another in one buffer."""

    max_json_bytes: int = 100 << 20
    """Largest JSON document parsed (safetensors header, Keras config)."""

    max_read_bytes: int = 4 << 30
    """Inputs that cannot be memory-mapped are read into memory up to this size."""

    max_findings: int = 500
    """Findings kept per file; the rest are summarised in one finding."""

    max_carve_candidates: int = 200_000
    """Possible pickle starts tried when hunting for payloads in unparsed bytes."""


class LimitReached(Exception):  # noqa: N818 - reads better at the raise sites
    """A bound of ``Limits`` was reached; the message says which and where."""


class TimeLimitReached(LimitReached):
    """The per-file time limit ran out."""


class Budget:
    """Mutable accounting of one scan against its ``Limits``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.time_limit_seconds
        self.decompressed = 0

    def check_time(self) -> None:
        """Raise ``TimeLimitReached`` once the per-file time limit has passed."""
        if time.monotonic() > self.deadline:
            raise TimeLimitReached(f"time limit of {self.limits.time_limit_seconds:g} s reached")

    def decompression_room(self) -> int:
        """How many more decompressed bytes this file may produce."""
        return max(self.limits.max_decompressed_bytes - self.decompressed, 0)

    def charge_decompressed(self, produced: int) -> None:
        self.decompressed += produced
