"""Every named route of the URL configuration, with the HTTP methods it serves where the view
says so itself.

- DRF viewsets: the router's `actions` mapping on the callback (`{"get": "list", ...}`);
- class-based views (DRF APIView, Django View): the handlers the class defines, among its
  `http_method_names`;
- function views: nothing to read (decorators such as `require_POST` leave no trace), so the
  table in `expectations.py` is the authority for them, and `test_undeclared_methods_are_refused`
  checks it against the running view.

Django's admin (its own permission system) and static/media serving are left out.
"""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

# HEAD and OPTIONS follow GET and the framework; the matrix covers the methods that act.
METHODS = ("get", "post", "put", "patch", "delete")
EXCLUDED_NAMESPACES = frozenset({"admin"})
EXCLUDED_VIEW_MODULES = ("django.views.static", "django.contrib.staticfiles")


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the bare name of routes outside any namespace
    pattern: str  # the full route, for messages
    methods: frozenset[str] | None  # None: the view does not say (function views)
    is_api: bool

    def __str__(self) -> str:
        return f"{self.name} ({self.pattern})"


def _declared_methods(callback) -> frozenset[str] | None:
    actions = getattr(callback, "actions", None)
    if actions:
        return frozenset(actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None:
        allowed = getattr(view_class, "http_method_names", METHODS)
        return frozenset(m for m in METHODS if m in allowed and hasattr(view_class, m))
    return None


def _walk(patterns, prefix: str, namespace: str | None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES:
                continue
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            module = getattr(entry.callback, "__module__", "")
            if not entry.name or module.startswith(EXCLUDED_VIEW_MODULES):
                continue
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            pattern = prefix + str(entry.pattern)
            yield Route(name=name, pattern=pattern, methods=_declared_methods(entry.callback),
                        is_api=pattern.startswith("api/"))


def all_routes() -> dict[str, Route]:
    """Every named route by its full name (the first pattern wins, as `reverse` does)."""
    routes: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns, "", None):
        routes.setdefault(route.name, route)
    return routes


def unnamed_routes() -> list[str]:
    """Routes without a name: they cannot be keyed in the table, so they are reported."""
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace not in EXCLUDED_NAMESPACES:
                    walk(entry.url_patterns, prefix + str(entry.pattern))
            elif not entry.name:
                module = getattr(entry.callback, "__module__", "")
                if not module.startswith(EXCLUDED_VIEW_MODULES):
                    found.append(prefix + str(entry.pattern))

    walk(get_resolver().url_patterns, "")
    return found
