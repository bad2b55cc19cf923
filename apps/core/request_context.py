"""Per-request facts (request id) that logs and the audit trail read without passing them."""

import contextvars

_current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mlgov_ctx", default=None)


def bind(**values) -> contextvars.Token:
    return _current.set(dict(values))


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def get(key: str, default=None):
    values = _current.get()
    return values.get(key, default) if values else default
