"""Request ids: one per request, from the X-Request-ID header or made here, for logs and audit."""

import logging
import re
import time
import uuid

from apps.core import request_context

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
request_logger = logging.getLogger("mlgov.request")


class RequestIdMiddleware:
    """Binds the request id for the request's log lines and audit entries, answers it in
    X-Request-ID, and logs one line per request (method, path, status, duration) under it.

    The path is logged without its query string, which may carry what a log should not keep.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_context.bind(request_id=request.request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            request_logger.info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code,
                duration_ms,
                extra={"fields": {"method": request.method, "path": request.path,
                                  "status": response.status_code, "duration_ms": duration_ms}},
            )
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class SecurityHeadersMiddleware:
    """Security headers Django does not set itself: Permissions-Policy (browser features no page
    uses, from MLGOV_PERMISSIONS_POLICY) and Cross-Origin-Resource-Policy (other sites may not
    embed our responses). CSP comes from django-csp, the rest from SecurityMiddleware."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.permissions_policy = getattr(settings, "MLGOV_PERMISSIONS_POLICY", "")

    def __call__(self, request):
        response = self.get_response(request)
        if self.permissions_policy:
            response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
