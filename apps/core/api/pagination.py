"""API pagination: numbered pages for ordinary lists, keyset (cursor) pages for the large ones.

Both answer the CONTRACT.md shape `{"next", "previous", "results"}` and honour `?page_size=`.

`PageNumberPagination` counts the rows and jumps with OFFSET: fine for teams or models, but on a
list of a million findings the COUNT(*) alone costs more than the page, and page 20,000 makes
the database walk and throw away a million rows.

`CursorPagination` is keyset pagination: the `next` link carries the sort key of the last row
shown, and the next page is `WHERE (key) < (that key) ORDER BY key LIMIT n`, which an index on
the key answers by reading only the rows it returns, so the last page costs what the first does.
It also offers a `last` link (the last page, read backwards). See `KeysetPagination` below.
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.models import Aggregate, Case, Count, F, Q, QuerySet, Value
from django.db.models.expressions import OrderBy
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import Coalesce
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_SIZE = 500


class PageNumberPagination(pagination.PageNumberPagination):
    """Numbered pages with `next`/`previous` links as CONTRACT.md describes."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


# --- Keyset pagination ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """One sort key of the list: a column or annotation, its direction and where NULLs go."""

    name: str
    descending: bool
    nullable: bool
    output_field: object  # turns a value read back from a cursor into a Python value
    nulls_last: bool = True  # only meaningful when nullable

    def inverted(self) -> "_Term":
        return replace(self, descending=not self.descending, nulls_last=not self.nulls_last)

    def order_expression(self):
        if not self.nullable:
            # Plain ORDER BY (no NULLS clause), so that ordinary indexes serve it.
            return OrderBy(F(self.name), descending=self.descending)
        return OrderBy(
            F(self.name), descending=self.descending,
            nulls_last=self.nulls_last or None, nulls_first=(not self.nulls_last) or None,
        )

    def after(self, value) -> Q | None:
        """Rows strictly after `value` in this term's order (None: no row can be)."""
        if value is None:
            return None if self.nulls_last else Q(**{f"{self.name}__isnull": False})
        lookup = "lt" if self.descending else "gt"
        condition = Q(**{f"{self.name}__{lookup}": value})
        if self.nullable and self.nulls_last:
            condition |= Q(**{f"{self.name}__isnull": True})
        return condition

    def equal(self, value) -> Q:
        if value is None:
            return Q(**{f"{self.name}__isnull": True})
        return Q(**{self.name: value})


_NOTHING = Q(pk__in=[])


def _after_position(terms: list[_Term], values: list, vendor_has_tuples: bool) -> Q | object:
    """The WHERE clause selecting rows strictly after `values` in the order of `terms`.

    When every key is NOT NULL and sorts one way, this is one row comparison,
    `(a, b, c) < (x, y, z)`, which PostgreSQL answers from a matching index. Otherwise it is the
    equivalent `a < x OR (a = x AND (b < y OR (b = y AND c < z)))`, NULLs placed explicitly.
    """
    same_way = len({term.descending for term in terms}) == 1
    if vendor_has_tuples and same_way and not any(term.nullable for term in terms):
        row = Tuple(*(F(term.name) for term in terms))
        lookup = TupleLessThan if terms[0].descending else TupleGreaterThan
        return lookup(row, list(values))
    condition = None
    for term, value in reversed(list(zip(terms, values, strict=True))):
        after = term.after(value)
        if condition is None:
            condition = after if after is not None else _NOTHING
        else:
            tail = term.equal(value) & condition
            condition = tail if after is None else (after | tail)
    return condition


def _nullable_expression(expression) -> bool:
    """Whether an annotation may be NULL (when unsure: yes, and NULLs are then handled)."""
    if isinstance(expression, Count):
        return False
    if isinstance(expression, Value):
        return expression.value is None
    if isinstance(expression, Case):
        results = [when.result for when in expression.cases] + [expression.default]
        return any(_nullable_expression(result) for result in results)
    if isinstance(expression, Coalesce):
        return _nullable_expression(expression.source_expressions[-1])
    if isinstance(expression, Aggregate):
        return True
    return bool(getattr(getattr(expression, "output_field", None), "null", True))


def _to_json(value):
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


class _Unsupported(Exception):
    """The list's order cannot be paged by key (a related column, an expression...)."""


class KeysetPagination(pagination.BasePagination):
    """Keyset (cursor) pagination for large lists; numbered pages' links, without their cost.

    The order is the queryset's own (its `order_by()`, after `?ordering=` and filters, or the
    model's Meta.ordering), with the primary key added as the last tie-breaker if missing, so
    rows that sort equal never repeat or go missing between pages. Every key must be a column of
    the model or an annotation; NULLs are handled (they sort last).

    Links: `next`, `previous`, and `last` (the last page, read backwards from the end). The
    cursor is opaque (base64 JSON of the boundary row's key); a cursor made for another order or
    edited by hand is a 400 naming `cursor`.

    Falling back cleanly: an order this class cannot page by key (a column of a related model, an
    expression) is paged by offset instead, with the same links and the same shape. `?page=N`
    (the numbered pages' parameter) is honoured as an offset, so old links keep working; the
    links of that page are keyset links again. There is no `count`: counting a large list is
    what this class avoids.
    """

    page_size = api_settings.PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
    legacy_page_query_param = "page"
    max_offset = 10_000_000

    # -- public API (DRF) --

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.size = self._page_size(request)
        self.links = {"next": None, "previous": None, "last": None}
        try:
            terms = self._terms(queryset)
        except _Unsupported:
            terms = None
        self.signature = self._signature(terms, queryset)
        self._queryset = queryset
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        offset = cursor.get("n") if cursor is not None else self._legacy_offset(request)
        if terms is None:
            return self._offset_page(queryset, offset or 0)
        self.terms = terms
        self.has_tuples = connections[queryset.db].features.supports_tuple_lookups
        self.links["last"] = self._link({"r": 1})
        if offset:
            return self._keyset_offset_page(queryset, offset)
        if cursor is None:
            return self._forward(queryset, None)
        position = self._position(cursor.get("p"))
        if cursor.get("r"):
            return self._backward(queryset, position)
        return self._forward(queryset, position)

    def get_paginated_response(self, data):
        return Response({**self.links, "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri",
                "example": f"https://mlgov.example.org/api/v1/findings/?"
                           f"{self.cursor_query_param}=eyJwIjpbNCwxMjNdfQ"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": link,
                "previous": link,
                "last": {**link, "description": "The last page (absent on offset-paged orders)."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Opaque position, taken from a `next`, `previous` or `last` link.",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Rows per page (at most {self.max_page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]

    # -- reading the request --

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError(
                {self.page_size_query_param: ["Must be a whole number."]}
            ) from None
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["Must be at least 1."]})
        return min(size, self.max_page_size)

    def _legacy_offset(self, request) -> int:
        raw = request.query_params.get(self.legacy_page_query_param)
        if raw in (None, "", "1"):
            return 0
        try:
            page = int(raw)
        except ValueError:
            page = 0
        if page < 1 or (page - 1) * self.size > self.max_offset:
            raise ValidationError({self.legacy_page_query_param: ["Not a valid page number."]})
        return (page - 1) * self.size

    def _decode(self, raw: str | None) -> dict | None:
        if raw in (None, ""):
            return None
        invalid = self._invalid
        try:
            padded = raw + "=" * (-len(raw) % 4)
            cursor = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, binascii.Error, UnicodeError):
            raise invalid from None
        if not isinstance(cursor, dict) or cursor.get("o") != self.signature:
            raise invalid
        offset = cursor.get("n")
        if offset is not None and (
            not isinstance(offset, int) or isinstance(offset, bool)
            or not 0 <= offset <= self.max_offset
        ):
            raise invalid
        return cursor

    @property
    def _invalid(self) -> ValidationError:
        return ValidationError(
            {self.cursor_query_param: ["Invalid cursor: take it from a `next`, `previous` or "
                                       "`last` link of this same list."]}
        )

    def _position(self, values) -> list | None:
        if values is None:
            return None
        if not isinstance(values, list) or len(values) != len(self.terms):
            raise self._invalid
        try:
            return [
                None if value is None else term.output_field.to_python(value)
                for term, value in zip(self.terms, values, strict=True)
            ]
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            raise self._invalid from None

    # -- the order --

    def _terms(self, queryset: QuerySet) -> list[_Term]:
        query = queryset.query
        if query.order_by:
            ordering = list(query.order_by)
        elif query.default_ordering:
            ordering = list(query.get_meta().ordering)
        else:
            ordering = []
        model = queryset.model
        pk_name = model._meta.pk.attname
        terms = [self._term(queryset, item) for item in ordering]
        if not any(term.name == pk_name for term in terms):
            descending = terms[-1].descending if terms else True
            terms.append(_Term(pk_name, descending, False, model._meta.pk))
        return terms

    def _term(self, queryset: QuerySet, item) -> _Term:
        if isinstance(item, str):
            descending, name = item.startswith("-"), item.lstrip("-")
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            if item.nulls_first or item.nulls_last:
                raise _Unsupported(item)
            descending, name = item.descending, item.expression.name
        else:
            raise _Unsupported(item)
        meta = queryset.model._meta
        if name == "pk":
            name = meta.pk.attname
        annotations = queryset.query.annotations
        if name in annotations:
            expression = annotations[name]
            return _Term(name, descending, _nullable_expression(expression),
                         expression.output_field)
        if "__" in name or name == "?":
            raise _Unsupported(name)
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            field = next((f for f in meta.concrete_fields if f.attname == name), None)
            if field is None:
                raise _Unsupported(name) from None
        if not getattr(field, "concrete", False) or (field.is_relation and name != field.attname):
            raise _Unsupported(name)  # ordering by a relation means the related model's order
        return _Term(field.attname, descending, field.null, field)

    def _signature(self, terms, queryset) -> str:
        shape = ([(t.name, t.descending) for t in terms] if terms is not None
                 else [str(item) for item in queryset.query.order_by])
        return hashlib.sha256(repr(shape).encode()).hexdigest()[:10]

    def _ordered(self, queryset: QuerySet, terms: list[_Term]) -> QuerySet:
        return queryset.order_by(*(term.order_expression() for term in terms))

    # -- fetching pages --

    def _key(self, row) -> list:
        return [_to_json(getattr(row, term.name)) for term in self.terms]

    def _forward(self, queryset: QuerySet, position: list | None) -> list:
        if position is not None:
            queryset = queryset.filter(_after_position(self.terms, position, self.has_tuples))
        rows = self._fetch(self._ordered(queryset, self.terms), 0, self.size + 1)
        page = rows[: self.size]
        if len(rows) > self.size:
            self.links["next"] = self._link({"p": self._key(page[-1])})
        if position is not None:
            boundary = self._key(page[0]) if page else [_to_json(v) for v in position]
            self.links["previous"] = self._link({"p": boundary, "r": 1})
        return page

    def _backward(self, queryset: QuerySet, position: list | None) -> list:
        inverted = [term.inverted() for term in self.terms]
        if position is not None:
            queryset = queryset.filter(_after_position(inverted, position, self.has_tuples))
        rows = self._fetch(self._ordered(queryset, inverted), 0, self.size + 1)
        if not rows:
            # Nothing before the position (rows were removed, or the list is empty): show the
            # first page rather than an empty one whose links lead nowhere.
            return self._forward(self._queryset, None)
        page = list(reversed(rows[: self.size]))
        if len(rows) > self.size:
            self.links["previous"] = self._link({"p": self._key(page[0]), "r": 1})
        if position is not None:
            self.links["next"] = self._link({"p": self._key(page[-1])})
        return page

    @staticmethod
    def _fetch(ordered: QuerySet, start: int, stop: int) -> list:
        """The rows `start:stop` of `ordered`, found first by key alone, then read in full.

        A deferred join: the first query walks the key index without the list's joins (its
        related rows), which PostgreSQL would otherwise perform for every row it skips while
        filtering (a data scientist's findings: 5,000 rows joined and thrown away for a page of
        50). The second reads just the page's rows, joined. Two queries whatever the size.
        """
        keys = list(ordered.values_list("pk", flat=True)[start:stop])
        if not keys:
            return []
        rows = {row.pk: row for row in ordered.filter(pk__in=keys).order_by()}
        return [rows[key] for key in keys if key in rows]

    def _keyset_offset_page(self, queryset: QuerySet, offset: int) -> list:
        """`?page=N` on a keyset list: jump by offset once; its links are keyset links."""
        rows = self._fetch(self._ordered(queryset, self.terms), offset, offset + self.size + 1)
        page = rows[: self.size]
        if len(rows) > self.size:
            self.links["next"] = self._link({"p": self._key(page[-1])})
        if page:
            self.links["previous"] = self._link({"p": self._key(page[0]), "r": 1})
        return page

    def _offset_page(self, queryset: QuerySet, offset: int) -> list:
        """Orders that cannot be paged by key: LIMIT/OFFSET, fetching one row more than shown
        to know whether a next page exists (no COUNT)."""
        rows = list(queryset[offset: offset + self.size + 1])
        page = rows[: self.size]
        if len(rows) > self.size:
            self.links["next"] = self._link({"n": offset + self.size})
        if offset > 0:
            previous = max(offset - self.size, 0)
            self.links["previous"] = self._link({"n": previous}) if previous else self._link(None)
        del self.links["last"]
        return page

    # -- links --

    def _link(self, cursor: dict | None) -> str:
        url = remove_query_param(self.base_url, self.legacy_page_query_param)
        if cursor is None:
            return remove_query_param(url, self.cursor_query_param)
        payload = json.dumps({**cursor, "o": self.signature}, separators=(",", ":"))
        token = base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")
        return replace_query_param(url, self.cursor_query_param, token)


CursorPagination = KeysetPagination
