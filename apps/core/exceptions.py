"""Errors that services raise. The API and the web views turn them into 4xx answers."""


class ApplicationError(Exception):
    """A request that cannot be carried out as asked: the caller must change something.

    `field` names the input at fault (the API puts the message under that key), `status` is the
    HTTP status the views answer with.
    """

    status = 400

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class PayloadTooLarge(ApplicationError):
    """An uploaded file larger than the configured limit."""

    status = 413


class NotInScope(ApplicationError):
    """An object outside the caller's scope: answered as 404 so its existence is not revealed."""

    status = 404


class Forbidden(ApplicationError):
    """A known caller without the right to do this."""

    status = 403
