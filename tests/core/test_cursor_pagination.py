"""Keyset (cursor) pagination of the large API lists: findings, scans, model versions, audit.

Every walk compares with the list's full order read straight from the selector, so a page that
repeats, skips or misorders a row fails. Data comes from `apps.core.scale` (the load-test
seeder) plus targeted edits that create ties and NULLs.
"""

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.accounts.choices import Role
from apps.audit import selectors as audit_selectors
from apps.core.api.pagination import KeysetPagination, _after_position, _Term
from apps.core.scale import Sizes, seed_scale
from apps.registry import selectors as registry_selectors
from apps.scans import selectors as scan_selectors
from apps.scans.models import Finding, ScanRun
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def seeded(db):
    seed_scale(sizes=Sizes(teams=3, users=6, models=6, versions_per_model=2, datasets=2,
                           assessments=0, findings=60, audit_entries=30, scans=20),
               seed=3, prefix="pg", epoch=EPOCH)


@pytest.fixture
def reader(db):
    return UserFactory(role=Role.AUDITOR)


def cursor_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["cursor"][0]


def walk(client, url: str, *, limit: int = 200) -> tuple[list, list[dict]]:
    """Follow `next` from `url`; the ids seen and the pages' bodies."""
    ids, bodies = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row.get("id", row.get("seq")) for row in body["results"]]
        bodies.append(body)
        url = body["next"]
        assert len(bodies) < limit, "following next did not terminate"
    return ids, bodies


def full_order(queryset, key="pk") -> list:
    return list(queryset.values_list(key, flat=True))


LISTS = {
    "findings": lambda user: scan_selectors.finding_list(user=user),
    "scans": lambda user: scan_selectors.scan_list(user=user).order_by("-created_at", "-id"),
    "model-versions": lambda user: registry_selectors.model_version_list(user=user),
    "audit-entries": lambda user: audit_selectors.entry_list(user=user),
}


@pytest.mark.parametrize("endpoint", LISTS)
def test_next_links_visit_every_row_once_in_order(seeded, client_for, reader, endpoint):
    ids, bodies = walk(client_for(reader), f"{API}/{endpoint}/?page_size=5")
    assert ids == full_order(LISTS[endpoint](reader))
    assert len(bodies) > 2
    assert bodies[0]["previous"] is None
    assert all(set(body) >= {"next", "previous", "results"} for body in bodies)
    assert "count" not in bodies[0]  # counting a million rows is what cursors avoid


@pytest.mark.parametrize("endpoint", LISTS)
def test_previous_links_give_the_same_pages_back(seeded, client_for, reader, endpoint):
    client = client_for(reader)
    _, forward = walk(client, f"{API}/{endpoint}/?page_size=5")
    url, backward = forward[-1]["previous"], []
    while url:
        body = client.get(url).json()
        backward.append([row.get("id", row.get("seq")) for row in body["results"]])
        url = body["previous"]
    expected = [[row.get("id", row.get("seq")) for row in body["results"]]
                for body in forward[:-1]]
    assert list(reversed(backward)) == expected


@pytest.mark.parametrize("endpoint", LISTS)
def test_last_link_is_the_end_of_the_list(seeded, client_for, reader, endpoint):
    client = client_for(reader)
    first = client.get(f"{API}/{endpoint}/", {"page_size": 7}).json()
    last = client.get(first["last"]).json()
    everything = full_order(LISTS[endpoint](reader))
    assert [row.get("id", row.get("seq")) for row in last["results"]] == everything[-7:]
    assert last["next"] is None
    before = client.get(last["previous"]).json()
    assert [r.get("id", r.get("seq")) for r in before["results"]] == everything[-14:-7]


def test_rows_that_sort_equal_neither_repeat_nor_vanish(seeded, client_for, reader):
    # Every finding equally severe and seen at one instant: only the id tells them apart.
    Finding.objects.update(severity="high", last_seen_at=EPOCH)
    ids, _ = walk(client_for(reader), f"{API}/findings/?page_size=9")
    assert ids == sorted(Finding.objects.values_list("id", flat=True), reverse=True)


def test_ordering_parameter_in_mixed_directions(seeded, client_for, reader):
    client = client_for(reader)
    ids, _ = walk(client, f"{API}/findings/?ordering=-status&page_size=8")
    expected = full_order(scan_selectors.finding_list(user=reader).order_by("-status", "id"))
    assert ids == expected


def test_nullable_ordering_keeps_rows_without_a_value(seeded, client_for, reader):
    runs = list(ScanRun.objects.order_by("id"))
    ScanRun.objects.filter(pk__in=[r.pk for r in runs[::2]]).update(finished_at=None)
    ScanRun.objects.filter(pk=runs[1].pk).update(finished_at=runs[3].finished_at)
    for ordering in ("finished_at", "-finished_at"):
        ids, _ = walk(client_for(reader), f"{API}/scans/?ordering={ordering}&page_size=2")
        assert sorted(ids) == sorted(r.pk for r in runs)
        with_value = [pk for pk in ids if ScanRun.objects.get(pk=pk).finished_at is not None]
        assert ids[-len(runs[::2]):] == sorted(ids[-len(runs[::2]):])  # NULLs last, by id
        times = [ScanRun.objects.get(pk=pk).finished_at for pk in with_value]
        assert times == sorted(times, reverse=ordering.startswith("-"))


def test_page_size_up_to_200_and_its_validation(seeded, client_for, reader):
    client = client_for(reader)
    body = client.get(f"{API}/findings/", {"page_size": 200}).json()
    assert len(body["results"]) == 60 and body["next"] is None
    for bad in ("0", "-3", "many"):
        response = client.get(f"{API}/findings/", {"page_size": bad})
        assert response.status_code == 400
        assert "page_size" in response.json()


def test_a_forged_or_foreign_cursor_is_a_400_naming_it(seeded, client_for, reader):
    client = client_for(reader)
    scans_cursor = cursor_of(client.get(f"{API}/scans/", {"page_size": 2}).json()["next"])
    forged = base64.urlsafe_b64encode(json.dumps({"p": ["x"], "o": "nope"}).encode()).decode()
    for cursor in ("%%%", "bm90IGpzb24", forged, scans_cursor):
        response = client.get(f"{API}/findings/", {"cursor": cursor})
        assert response.status_code == 400, cursor
        assert "cursor" in response.json()


def test_a_cursor_with_a_bad_value_is_a_400(seeded, client_for, reader):
    client = client_for(reader)
    good = client.get(f"{API}/model-versions/", {"page_size": 2}).json()["next"]
    token = cursor_of(good)
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["p"][0] = "not a date"
    bad = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    response = client.get(f"{API}/model-versions/", {"cursor": bad})
    assert response.status_code == 400 and "cursor" in response.json()


def test_numbered_page_links_still_work(seeded, client_for, reader):
    client = client_for(reader)
    _, pages = walk(client, f"{API}/audit-entries/?page_size=4")
    third = client.get(f"{API}/audit-entries/", {"page_size": 4, "page": 3}).json()
    assert third["results"] == pages[2]["results"]
    assert client.get(third["next"]).json()["results"] == pages[3]["results"]
    assert client.get(f"{API}/audit-entries/", {"page": "zero"}).status_code == 400


def test_cursor_pages_stay_inside_the_readers_scope(seeded, client_for):
    scientist = UserFactory(role=Role.DATA_SCIENTIST)
    run = ScanRun.objects.order_by("id").first()
    scientist.memberships.create(team_id=run.team_id)
    ids, _ = walk(client_for(scientist), f"{API}/findings/?page_size=5")
    assert ids and set(Finding.objects.filter(pk__in=ids).values_list("team_id", flat=True)) == {
        run.team_id}
    assert len(ids) == Finding.objects.filter(team_id=run.team_id).count()


def test_anonymous_is_refused(seeded, api_client):
    for endpoint in LISTS:
        assert api_client.get(f"{API}/{endpoint}/").status_code == 401


@pytest.mark.parametrize("endpoint", LISTS)
def test_query_count_is_the_same_on_the_first_and_last_page_at_two_sizes(
    client_for, reader, endpoint
):
    client, counts = client_for(reader), []
    for n, prefix in ((20, "small"), (80, "large")):
        seed_scale(sizes=Sizes(teams=2, users=3, models=3, versions_per_model=n // 10,
                               datasets=1, assessments=0, findings=n, audit_entries=n),
                   seed=1, prefix=prefix, epoch=EPOCH)
        first = client.get(f"{API}/{endpoint}/", {"page_size": 5})
        for url in (f"{API}/{endpoint}/?page_size=5", first.json()["last"]):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            counts.append(len(queries))
    assert len(set(counts)) == 1, counts


def test_orders_that_cannot_be_keyed_fall_back_to_offsets(seeded, reader):
    """A related column in the order: offset pages with the same links, no `last`."""
    queryset = registry_selectors.model_version_list(user=reader).order_by("model__name", "id")
    expected, seen, url = full_order(queryset), [], "/api/v1/model-versions/?page_size=5"
    factory = APIRequestFactory()
    while url:
        paginator = KeysetPagination()
        page = paginator.paginate_queryset(queryset, Request(factory.get(url)))
        seen += [row.pk for row in page]
        assert "last" not in paginator.links
        url = paginator.links["next"]
        assert len(seen) <= len(expected)
    assert seen == expected


def test_row_comparison_equals_its_expansion(seeded):
    """The one-statement row comparison and the OR expansion select the same rows."""
    terms = [_Term("last_seen_at", True, False, Finding._meta.get_field("last_seen_at")),
             _Term("id", True, False, Finding._meta.get_field("id"))]
    pivot = Finding.objects.order_by("-last_seen_at", "-id")[25]
    position = [pivot.last_seen_at, pivot.id]
    expanded = set(Finding.objects.filter(_after_position(terms, position, False))
                   .values_list("id", flat=True))
    assert len(expanded) == 60 - 26
    if connection.features.supports_tuple_lookups:
        rows = set(Finding.objects.filter(_after_position(terms, position, True))
                   .values_list("id", flat=True))
        assert rows == expanded


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL query plans")
def test_findings_pages_read_the_severity_index_on_postgresql(seeded, reader):
    """The list's order is exactly the indexed expression: PostgreSQL walks the index."""
    queryset = scan_selectors.finding_list(user=reader)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: make the choice visible
        sql, params = queryset[:50].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "finding_severity_order_idx" in plan, plan
    assert "Sort" not in plan.split("finding_severity_order_idx")[0], plan

