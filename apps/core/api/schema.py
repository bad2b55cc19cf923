"""OpenAPI documentation of the API's error answers (the shape apps.core.api.exceptions returns).

Every view documents the errors it can answer with `error_responses(...)`, so API clients and
auditors' tools can see them in `/api/v1/schema/` instead of discovering them in production.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorOutputSerializer(serializers.Serializer):
    """`{"detail": message}`, plus one key per faulty input field with a list of its messages."""

    detail = serializers.CharField(help_text="What went wrong, in words.")


ERROR_DESCRIPTIONS = {
    400: "Invalid input: `detail` says what is wrong and each faulty field is a key holding a "
    "list of messages.",
    401: "No valid credentials (send `Authorization: Token <token>`).",
    403: "The caller is known but may not do this.",
    404: "Not found, or outside the caller's scope.",
    413: "The uploaded file is over the size limit.",
    429: "Too many requests: try again later.",
}
PAGE_NOT_FOUND = "No such page: `?page=` is past the last page or not a page number."


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for the given error statuses, all with the one error body."""
    return {
        code: OpenApiResponse(response=ErrorOutputSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def list_error_responses() -> dict[int, OpenApiResponse]:
    """Errors of a list with numbered pages: bad filters (400), no credentials (401), and a
    `?page=` that names no page (404, as DRF's numbered pagination answers). Keyset-paginated
    lists answer a bad cursor with 400 and use `error_responses(400, 401)`."""
    return {
        **error_responses(400, 401),
        404: OpenApiResponse(response=ErrorOutputSerializer, description=PAGE_NOT_FOUND),
    }
