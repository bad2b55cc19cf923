"""Who is acting, from where and through which interface: bound once per request or task.

The audit middleware binds a scope for each web/API request, the Celery signals one for each
task; code that runs outside both (management commands, the shell) records with interface
"command". Services never pass these facts around: `apps.audit.services` reads them here.

Refused authorizations are raised inside the service's transaction, which then rolls back; a
denial recorded there would vanish with it. So while a scope is bound, denials wait in the
scope and are written when the request or task ends (`flush`), outside that transaction.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from apps.audit.choices import Interface


@dataclass
class AuditScope:
    interface: str = Interface.COMMAND
    ip: str = ""
    request_id: str = ""
    path: str = ""
    method: str = ""
    request: Any = None  # the HttpRequest: its user is read late (DRF authenticates in the view)
    pending: list = field(default_factory=list)
    denials: int = 0

    def current_actor(self):
        """The authenticated user of the request, if any (None for tasks and commands)."""
        user = getattr(self.request, "user", None) if self.request is not None else None
        return user if user is not None and user.is_authenticated else None

    def flush(self) -> None:
        """Write the entries that waited for the request or task to end."""
        if self.pending:
            from apps.audit.services import audit_append

            entries, self.pending = self.pending, []
            audit_append(entries)


_scope: contextvars.ContextVar[AuditScope | None] = contextvars.ContextVar(
    "mlgov_audit_scope", default=None
)
_suspended: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mlgov_audit_suspended", default=False
)


def bind(scope: AuditScope) -> contextvars.Token:
    return _scope.set(scope)


def reset(token: contextvars.Token) -> None:
    _scope.reset(token)


def current() -> AuditScope | None:
    return _scope.get()


def is_suspended() -> bool:
    return _suspended.get()


@contextmanager
def recording_suspended() -> Iterator[None]:
    """Record nothing inside this block. For the overhead benchmark's baseline only.

    Deliberately code-only (no setting, no variable): the trail cannot be switched off by
    configuration.
    """
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)
