"""Pages of the audit trail: browse and filter it, read one entry, export it as CSV.

Every signed-in user may open them; what they see is scoped by `selectors.entry_list`
(data scientists: their teams' objects and their own actions; compliance officers, auditors
and administrators: everything). Every export is itself recorded in the trail.
"""

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.audit import selectors
from apps.audit.choices import AuditAction
from apps.audit.forms import AuditFilterForm
from apps.audit.models import AuditEntry
from apps.audit.services import audit_record
from apps.core.views_utils import get_or_404, paginate

PAGE_SIZE = 50
CSV_COLUMNS = (
    "seq", "timestamp", "actor_id", "actor_name", "actor_role", "action", "object_type",
    "object_id", "object_repr", "team_id", "changes", "ip", "request_id", "interface",
    "prev_hash", "hash",
)
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _filter_form(request) -> tuple[AuditFilterForm, dict | None]:
    """The bound filter form and its filters (None when the input is invalid)."""
    form = AuditFilterForm(request.GET)
    return form, (form.filters() if form.is_valid() else None)


@login_required
@require_GET
def entry_list(request):
    form, filters = _filter_form(request)
    entries = selectors.entry_list(user=request.user, filters=filters or {})
    if filters is None:
        entries = entries.none()
    context = {
        "nav_section": "audit",
        "filter_form": form,
        "is_filtered": bool(filters) or filters is None,
        "page_obj": paginate(request, entries, PAGE_SIZE),
        "head": selectors.chain_head(),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "audit/entry_list.html", context, status=200 if filters is not None
                  else 400)


@login_required
@require_GET
def entry_detail(request, seq):
    entry = get_or_404(selectors.entry_get, user=request.user, seq=seq)
    return render(request, "audit/entry_detail.html",
                  {"nav_section": "audit", "entry": entry, "rows": change_rows(entry)})


def change_rows(entry: AuditEntry) -> list[dict]:
    """The entry's changes as table rows: [before, after] pairs, or a single value."""
    rows = []
    for field, value in sorted(entry.changes_data.items()):
        if isinstance(value, list) and len(value) == 2:
            rows.append({"field": field, "before": value[0], "after": value[1], "pair": True})
        else:
            rows.append({"field": field, "after": value, "pair": False})
    return rows


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_rows(entries):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries.iterator(chunk_size=1000):
        row = [getattr(entry, name) for name in CSV_COLUMNS]
        row[1] = entry.timestamp.isoformat()
        yield writer.writerow([_cell(value) for value in row])


@login_required
@require_GET
def entry_export(request):
    """The filtered trail as CSV, streamed; the chain head goes in `X-Audit-Chain-Head`."""
    form, filters = _filter_form(request)
    if filters is None:
        errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
        return HttpResponse(f"Invalid filters: {errors}\n", status=400,
                            content_type="text/plain; charset=utf-8")
    entries = selectors.entry_list(user=request.user, filters=filters)
    audit_record(action=AuditAction.EXPORT, object_type=AuditEntry._meta.label_lower,
                 object_repr="audit trail (CSV)", changes={"filters": filters, "format": "csv"})
    head = selectors.chain_head()
    response = StreamingHttpResponse(_csv_rows(entries), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    response["X-Audit-Chain-Head"] = f"{head.seq}:{head.hash}"
    return response
