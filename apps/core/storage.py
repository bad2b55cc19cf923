"""Content-addressed file storage through Django's storage API (never local paths).

A stored file's name is derived from its SHA-256, so the bytes behind a registered name never
change, identical uploads share one file, and workers on other machines reach the same object
when the storage backend is shared (django-storages).
"""

from django.core.files.storage import default_storage

from apps.core.exceptions import ApplicationError


def content_name(prefix: str, sha256: str) -> str:
    return f"{prefix}/{sha256[:2]}/{sha256}"


def store_by_content(fileobj, *, prefix: str, sha256: str) -> tuple[str, bool]:
    """Save `fileobj` under its content name; returns (name, created_now)."""
    name = content_name(prefix, sha256)
    if default_storage.exists(name):
        return name, False
    fileobj.seek(0)
    saved = default_storage.save(name, fileobj)
    if saved != name:
        # Another process stored the same content at the same moment: keep theirs.
        default_storage.delete(saved)
        return name, False
    return name, True


def discard_if_unreferenced(name: str, *, still_referenced: bool) -> None:
    """Remove a file written for a failed registration, unless another record uses it."""
    if name and not still_referenced and default_storage.exists(name):
        default_storage.delete(name)


def open_stored(name: str):
    """Open a stored file for streaming reads."""
    if not default_storage.exists(name):
        raise ApplicationError("The stored file is missing.", field="file")
    return default_storage.open(name, "rb")
