"""Streaming uploads: every uploaded file is hashed and measured as its bytes arrive.

The request body is never held whole in memory: chunks go to a temporary file while SHA-256 and
the size are computed. Bytes past the largest configured limit are counted but not kept, so an
oversized upload costs bounded disk and the service can answer 413 from `size` alone.
"""

import hashlib
import os
from typing import BinaryIO

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.utils.text import get_valid_filename

CHUNK_SIZE = 1024 * 1024
# Django names the temporary file after the client's extension; longer ones are cut so that the
# path stays under the file system's name limit (a 300-character "extension" was a 500).
MAX_EXTENSION_CHARS = 32


def upload_cap() -> int:
    """The most bytes of one uploaded file kept on disk: the largest per-kind limit."""
    return max(
        settings.MLGOV_MAX_ARTIFACT_BYTES,
        settings.MLGOV_MAX_DATASET_BYTES,
        getattr(settings, "MLGOV_MAX_EVIDENCE_BYTES", 0),
    )


def _bounded_extension(name: str) -> str:
    """`name` with its extension cut to MAX_EXTENSION_CHARS (the rest is kept as it was)."""
    stem, extension = os.path.splitext(name)
    return stem + extension[:MAX_EXTENSION_CHARS]


class HashingUploadHandler(FileUploadHandler):
    chunk_size = CHUNK_SIZE

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = TemporaryUploadedFile(
            _bounded_extension(self.file_name or ""), self.content_type, 0, self.charset,
            self.content_type_extra,
        )
        self.hasher = hashlib.sha256()
        self.received = 0
        self.cap = upload_cap()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= self.cap:
            self.file.write(raw_data)
            self.hasher.update(raw_data)
        return None

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = self.received
        self.file.sha256 = self.hasher.hexdigest() if self.received <= self.cap else None
        return self.file


def file_digest(fileobj: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of a file, streamed; uses the values computed on upload when present."""
    known = getattr(fileobj, "sha256", None)
    if known:
        return known, fileobj.size
    hasher = hashlib.sha256()
    size = 0
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK_SIZE):
        hasher.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return hasher.hexdigest(), size


def safe_display_name(name: str | None, default: str = "upload") -> str:
    """The client's file name reduced to a harmless label: no directories, no odd characters.

    It is only ever shown, never used as a storage path (files are stored by content hash).
    """
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    try:
        cleaned = get_valid_filename(base)
    except Exception:  # noqa: BLE001 - SuspiciousFileOperation for names like '..'
        cleaned = ""
    return (cleaned or default)[:200]
