"""Helpers shared by the server-rendered pages: service errors on forms, upload answers, paging.

Services raise `ApplicationError` (or Django's `ValidationError` from `full_clean`); a page must
answer those with the form and its errors under the right status, never a 500:

- `Forbidden` becomes the 403 page and `NotInScope` the 404 page (the object's existence is not
  revealed), because the caller cannot fix either by editing the form;
- any other `ApplicationError` lands on the field it names, with its status (400, 413 ...);
- a `ValidationError` lands on the fields it names, with 400.

Upload pages are also posted by static/core/js/upload.js with `Accept: application/json`; those
requests get JSON answers (`{"redirect": url}` or `{"detail", "errors"}`) so the script can show
the server's message without reloading the page.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from apps.core.exceptions import ApplicationError, Forbidden, NotInScope

T = TypeVar("T")

PAGE_SIZE = 25


def get_or_404(selector: Callable[..., T], **kwargs: Any) -> T:
    """Call a `<entity>_get` selector; an object outside the caller's scope is simply not found."""
    try:
        return selector(**kwargs)
    except (ObjectDoesNotExist, ValueError, TypeError):
        # ValueError/TypeError: a malformed id never reaches the database as a 500.
        raise Http404("Not found.") from None


def raise_for_access(exc: ApplicationError) -> None:
    """Turn the access errors of a service into Django's 403/404 (rendered as error pages)."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from exc
    if isinstance(exc, NotInScope):
        raise Http404(exc.message) from exc


def form_add_error(form: forms.Form, field: str | None, message) -> None:
    """Attach a message to `field` when the form has it, else to the form as a whole."""
    if field and field in form.fields:
        form.add_error(field, message)
    elif field and field not in ("__all__", "non_field_errors", "detail"):
        form.add_error(None, f"{field.replace('_', ' ').capitalize()}: {message}")
    else:
        form.add_error(None, message)


def call_service(form: forms.Form, service: Callable[..., T], **kwargs: Any) -> T | None:
    """Run a write service for a valid form; on a caller error put it on the form, return None.

    The status the page must answer with is left in `form.error_status`.
    """
    try:
        return service(**kwargs)
    except ApplicationError as exc:
        raise_for_access(exc)
        form_add_error(form, exc.field, exc.message)
        form.error_status = exc.status
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form_add_error(form, field, message)
        else:
            for message in exc.messages:
                form.add_error(None, message)
        form.error_status = 400
    return None


def form_status(form: forms.Form | None) -> int:
    """200 for a fresh or valid form; otherwise the status a service chose, or 400."""
    if form is None or not form.is_bound or not form.errors:
        return 200
    return getattr(form, "error_status", 400)


def wants_json(request: HttpRequest) -> bool:
    """Requests sent by upload.js ask for JSON answers."""
    return "application/json" in request.headers.get("Accept", "")


def render_form(request: HttpRequest, template: str, context: dict, form: forms.Form):
    """Render a form page with the status its errors call for (JSON for the upload script)."""
    status = form_status(form)
    if wants_json(request) and status != 200:
        return form_errors_json(form, status)
    return render(request, template, {**context, "form": form}, status=status)


def form_errors_json(form: forms.Form, status: int) -> JsonResponse:
    errors = {
        (field if field != "__all__" else "non_field_errors"): [str(m) for m in messages]
        for field, messages in form.errors.items()
    }
    labels = {name: str(form[name].label) for name in form.fields}
    detail = " ".join(
        f"{labels.get(field, '')}: {' '.join(messages)}" if field in labels else " ".join(messages)
        for field, messages in errors.items()
    )
    return JsonResponse({"detail": detail, "errors": errors}, status=status)


def success_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: a redirect, or its target as JSON for the upload script."""
    if wants_json(request):
        return JsonResponse({"redirect": url})
    return redirect(url)


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE) -> Page:
    """One page of a list (a bad or too-large `page` shows the nearest valid page)."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
