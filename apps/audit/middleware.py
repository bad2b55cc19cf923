"""Binds the audit scope of each request: client IP, request id, interface, the user (late).

Placed after AuthenticationMiddleware (and after RequestIdMiddleware, whose id it reuses).
When the response is ready it writes the refused authorizations that waited for the request's
transaction to end; a 403 answered without any refusal recorded by
`apps.accounts.permissions` (a page-level check in a view, for example) is recorded here, so
every refusal is in the trail exactly once.
"""

import ipaddress

from django.conf import settings

from apps.audit import context
from apps.audit.choices import AuditAction, Interface
from apps.audit.services import audit_entry_build

API_PREFIX = "/api/"


def _valid_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or behind N trusted proxies the N-th X-Forwarded-For
    address from the right (each proxy appends the address it received the request from, so
    the entries to the left of ours are whatever the client chose to send)."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.MLGOV_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part]
    if len(forwarded) < proxies:
        return remote
    return _valid_ip(forwarded[-proxies]) or remote


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        scope = context.AuditScope(
            interface=Interface.API if request.path_info.startswith(API_PREFIX) else Interface.WEB,
            ip=client_ip(request),
            request_id=getattr(request, "request_id", ""),
            path=request.path[:500],
            method=request.method or "",
            request=request,
        )
        token = context.bind(scope)
        try:
            response = self.get_response(request)
            if response.status_code == 403 and not scope.denials and not context.is_suspended():
                scope.pending.append(audit_entry_build(
                    action=AuditAction.ACCESS_DENIED,
                    changes={"reason": "forbidden", "method": scope.method, "path": scope.path},
                ))
            scope.flush()
        finally:
            context.reset(token)
        return response
