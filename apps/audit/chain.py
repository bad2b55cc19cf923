"""The hash chain and value shaping of audit entries: pure functions, no database.

    content_hash = SHA-256 of the canonical JSON of the entry's fields (HASHED_FIELDS)
    hash         = SHA-256 of "<prev_hash>:<seq>:<content_hash>" (ASCII)

The second formula is also written in SQL (apps.audit.services, PostgreSQL path) so that an
append is one statement there; `verify_audit_trail` recomputes both here, in Python.
"""

import hashlib
import json
import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

GENESIS_HASH = "0" * 64
MASK = "***"
LONG_TEXT = 1000  # longer strings are kept as their digest: the trail stays small and cheap

HASHED_FIELDS = (
    "timestamp", "actor_id", "actor_name", "actor_role", "action", "object_type", "object_id",
    "object_repr", "team_id", "changes", "ip", "request_id", "interface",
)

# Field names whose values are never written to the trail. "key" only as a whole last word,
# so that e.g. `key_column` (a dataset's key column) stays visible while `api_key` does not.
_SECRET_NAME = re.compile(
    r"password|passwd|passphrase|secret|token|credential|authorization|cookie|session_?id"
    r"|private_?key|api_?key|(^|_)key$|(^|_)otp($|_)|(^|_)salt$",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(str(name)))


def clean_text(value: str, max_length: int | None = None) -> str:
    """Text every database stores and every hash encodes: no NUL, no lone surrogates."""
    if value.isascii() and "\x00" not in value:  # the usual case, and a cheap test
        return value[:max_length] if max_length else value
    value = value.replace("\x00", "\ufffd")
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:max_length] if max_length else value


def json_value(value: Any) -> Any:
    """A JSON-ready form of a model field value: dates in ISO 8601 UTC, long text as a digest."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, str):
        value = clean_text(value)
        if len(value) > LONG_TEXT:
            digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
            return f"sha256:{digest} ({len(value)} characters)"
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "storage"):  # a FieldFile: its stored name
        return value.name or None
    return str(value)


def mask_secrets(value: Any) -> Any:
    """Replace the values of secret-looking keys (at any depth) with "***"."""
    if isinstance(value, dict):
        return {
            key: (_masked(item) if is_secret_name(key) else mask_secrets(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def _masked(value: Any) -> Any:
    # Keep the [before, after] shape (and None for "not set") so a reader still sees that a
    # secret was set or changed, never what it is.
    if isinstance(value, list) and len(value) == 2:
        return [None if item in (None, "") else MASK for item in value]
    return None if value in (None, "") else MASK


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def timestamp_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def content_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of an entry's content (every HASHED_FIELDS value, by name)."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["timestamp"] = timestamp_text(payload["timestamp"])
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def chain_hash(prev_hash: str, seq: int, content_digest: str) -> str:
    """The link: binds an entry's content to its position and to the entry before it."""
    return hashlib.sha256(f"{prev_hash}:{seq}:{content_digest}".encode("ascii")).hexdigest()


def entry_hash(entry) -> str:
    """Recompute a stored entry's hash from its columns (what verification does)."""
    fields = {name: getattr(entry, name) for name in HASHED_FIELDS}
    return chain_hash(entry.prev_hash, entry.seq, content_hash(fields))
