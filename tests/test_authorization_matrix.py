"""The authorization matrix: every page and endpoint, called as anonymous and as each role,
against the hand-written table of tests/authz/expectations.py.

- `test_every_route_has_an_entry` walks the URL configuration: a route the table does not
  cover (or a method a viewset serves that the table does not name) fails, with its pattern.
- `test_matrix` is one case per URL name x method x role, each against a world in the state
  world.py built it (every case runs in a savepoint rolled back afterwards), so that a write in
  one case never changes what another sees.
- `test_outsider_lists_hold_no_team_a_objects` and `test_outsider_pages_show_no_team_a_names`
  check object scope in lists, with the member's view as the control that the check can fail.
- `test_outsider_cannot_reach_team_a_through_a_request`: team A's objects named in the
  outsider's own writes (lineage, bulk operations...) or list filters.
- `test_outsider_refusals_name_no_team_a_object_in_their_audit_trail`: refusals are recorded,
  and the outsider reads their own entries; none may name what they were refused.
- `test_undeclared_methods_are_refused` holds the table's method lists to the running views.

The world is built once per module (building it through the services takes a while) inside a
transaction that is rolled back at the end of the module.
"""

import re

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.audit.models import AuditEntry
from tests.authz.expectations import ANSWERS_ANY_METHOD, LOGIN, REACHES, TABLE, Call, Entry, Reach
from tests.authz.routes import METHODS, Route, all_routes, unnamed_routes
from tests.authz.world import (
    ADMINISTRATOR,
    ALPHA_MARKER,
    ANONYMOUS,
    DATA_SCIENTIST,
    OUTSIDER,
    ROLES,
    World,
    build_world,
    team_a_ids,
)

pytestmark = pytest.mark.django_db

ROUTES = all_routes()
LOGIN_URL = "/accounts/login/"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Team A with one of every object, built once, rolled back at the end of the module.

    Each test's own transaction (pytest-django) is a savepoint inside this one, so every case
    starts from the world exactly as built.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


# --- Calling a route as a role ------------------------------------------------------------------


def client_as(world: World, role: str, route: Route):
    """The API client (force_authenticate) for /api/ routes, the browser client (force_login)
    for pages; nothing for anonymous."""
    user = world.user(role)
    if route.is_api:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
    else:
        client = Client()
        if user is not None:
            client.force_login(user)
    return client, user


def call_route(world: World, role: str, name: str, entry: Entry, call: Call):
    route = ROUTES[name]
    client, user = client_as(world, role, route)
    url = reverse(name, kwargs=entry.kwargs(world) if entry.kwargs else None)
    data = dict(call.data(world)) if call.data else {}
    if call.prepare is not None:
        data.update(call.prepare(client, world, user) or {})
    if call.method == "get":
        response = client.get(url, data)
    elif route.is_api:
        response = getattr(client, call.method)(url, data, format=call.format or "json")
    elif call.method == "post":
        response = client.post(url, data)
    else:
        response = getattr(client, call.method)(url)
    return url, response


def drain(response) -> bytes:
    """The body, read to the end. A streamed body is read through the test client's wrapper,
    which finishes the request with the connection-closing signal held off; calling
    `response.close()` here instead would close the database connection, and with it the
    world's transaction."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def describe(response) -> str:
    """A short view of an unexpected answer, to read in the failure message."""
    if getattr(response, "streaming", False):
        return f"<streamed {response.get('Content-Type')}>"
    if response.status_code in (301, 302):
        return f"-> {response.get('Location')}"
    text = response.content.decode("utf-8", "replace")
    if "html" in response.get("Content-Type", ""):
        title = re.search(r"<title>(.*?)</title>", text, re.S)
        messages = re.findall(r'class="[^"]*(?:error|alert|message)[^"]*"[^>]*>(.*?)<', text)
        text = " | ".join(filter(None, [title and title.group(1).strip(), *messages]))
    return " ".join(text.split())[:400]


def matches(response, expected) -> bool:
    status = response.status_code
    if expected == LOGIN:
        return status == 302 and response["Location"].startswith(LOGIN_URL)
    if status == 302 and response["Location"].startswith(LOGIN_URL):
        return False  # a signed-in caller sent to sign in again is no success
    if isinstance(expected, frozenset):
        return status in expected
    return status == expected


# --- The table covers every route ---------------------------------------------------------------


def test_every_route_has_an_entry():
    """A new route (or a new method of a viewset) without a line in the table fails here."""
    problems = []
    missing = [route for name, route in sorted(ROUTES.items()) if name not in TABLE]
    if missing:
        problems.append("no entry in tests/authz/expectations.py TABLE for:\n  "
                        + "\n  ".join(str(route) for route in missing))
    stale = sorted(set(TABLE) - set(ROUTES))
    if stale:
        problems.append(f"entries for URL names that no longer exist: {stale}")
    for name, route in sorted(ROUTES.items()):
        if name not in TABLE or route.methods is None:
            continue
        listed = {call.method for call in TABLE[name].calls}
        if route.methods - listed:
            problems.append(f"{route}: serves {sorted(route.methods - listed)}, not in the table")
        if listed - route.methods:
            problems.append(f"{route}: the table lists {sorted(listed - route.methods)}, "
                            "which the view does not serve")
    unnamed = unnamed_routes()
    if unnamed:
        problems.append(f"routes without a name cannot be keyed in the table: {unnamed}")
    assert not problems, "\n".join(problems)


def test_every_entry_names_every_role():
    for name, entry in TABLE.items():
        for call in entry.calls:
            assert set(call.expect) == set(ROLES), (name, call.method)
            assert set(call.xfail) <= set(ROLES), (name, call.method)


# --- The matrix ---------------------------------------------------------------------------------


def _cases():
    for name, entry in sorted(TABLE.items()):
        if name not in ROUTES:
            continue  # reported by test_every_route_has_an_entry
        for call in entry.calls:
            for role in ROLES:
                marks = []
                if role in call.xfail:
                    marks.append(pytest.mark.xfail(strict=True, reason=call.xfail[role]))
                yield pytest.param(name, call, role, marks=marks,
                                   id=f"{name}|{call.method.upper()}|{role}")


@pytest.mark.parametrize(("name", "call", "role"), list(_cases()))
def test_matrix(world, name, call, role):
    url, response = call_route(world, role, name, TABLE[name], call)
    expected = call.expect[role]
    drain(response)
    assert matches(response, expected), (
        f"{call.method.upper()} {url} as {role}: expected {expected}, got "
        f"{response.status_code} {describe(response)}"
    )


# --- Object scope in lists ----------------------------------------------------------------------

SCOPED_API_LISTS = sorted(
    name for name in TABLE
    if name in ROUTES and ROUTES[name].is_api and name.endswith("-list")
    and not name.startswith(("atlas-", "scanner-"))
)


def _result_ids(response) -> set:
    body = response.json()
    assert body["next"] is None, "the list did not fit one page of 200"
    return {row.get("id", row.get("seq")) for row in body["results"]}


@pytest.mark.parametrize("name", SCOPED_API_LISTS)
def test_outsider_lists_hold_no_team_a_objects(world, name):
    """Every API list, read by the outsider, holds none of team A's objects; read by team A's
    data scientist, it holds all of them (so the ids checked are the right ones)."""
    ids = team_a_ids(world)
    assert name in ids, f"team_a_ids() in tests/authz/world.py has no ids for {name}"
    expected = ids[name]
    assert expected, f"the world has no team A object in {name}"
    url = reverse(name)
    seen = {}
    for role in (OUTSIDER, DATA_SCIENTIST):
        client, _ = client_as(world, role, ROUTES[name])
        response = client.get(url, {"page_size": 200})
        assert response.status_code == 200, (role, response.content[:300])
        seen[role] = _result_ids(response)
    assert not seen[OUTSIDER] & expected, (
        f"{name}: the outsider sees team A's {sorted(seen[OUTSIDER] & expected)}"
    )
    assert expected <= seen[DATA_SCIENTIST], (
        f"{name}: team A's member misses {sorted(expected - seen[DATA_SCIENTIST])}"
    )


SCOPED_PAGE_LISTS = sorted(
    name for name, entry in TABLE.items()
    if name in ROUTES and not ROUTES[name].is_api and entry.kwargs is None
    and any(call.method == "get" and call.data is None and call.expect[ANONYMOUS] == LOGIN
            and call.expect[OUTSIDER] == 200 and call.expect[DATA_SCIENTIST] == 200
            for call in entry.calls)
    and not name.startswith("accounts:")
)


@pytest.mark.parametrize("name", SCOPED_PAGE_LISTS)
def test_outsider_pages_show_no_team_a_names(world, name):
    """Pages open to every signed-in user never name team A's objects to the outsider."""
    url = reverse(name)
    bodies = {}
    for role in (OUTSIDER, DATA_SCIENTIST):
        client, _ = client_as(world, role, ROUTES[name])
        response = client.get(url)
        assert response.status_code == 200, role
        bodies[role] = drain(response)
    marker = ALPHA_MARKER.encode()
    assert marker not in bodies[OUTSIDER], f"{name} names a team A object to the outsider"
    if name not in PAGES_WITHOUT_NAMES:
        assert marker in bodies[DATA_SCIENTIST], (
            f"{name} shows team A's member none of team A's objects: the check above cannot "
            "fail; add the page to PAGES_WITHOUT_NAMES if that is by design"
        )


# Open pages that name no team-owned object at all (so there is nothing to leak).
PAGES_WITHOUT_NAMES = frozenset({"threats:catalogue", "registry:home"})


@pytest.mark.parametrize(
    "reach", REACHES, ids=[f"{r.name}|{r.method.upper()}|{i}" for i, r in enumerate(REACHES)]
)
def test_outsider_cannot_reach_team_a_through_a_request(world, reach: Reach):
    """Team A's objects named in the outsider's own writes, or in their list filters: the write
    is refused and creates nothing; the read shows none of team A's objects."""
    route = ROUTES[reach.name]
    client, _ = client_as(world, OUTSIDER, route)
    url = reverse(reach.name, kwargs=reach.kwargs(world) if reach.kwargs else None)
    data = reach.data(world)
    rows = apps.get_model(reach.model).objects if reach.model else None
    before = rows.count() if rows is not None else None
    if reach.method == "get":
        response = client.get(url, {**data, "page_size": 200})
    elif route.is_api:
        response = client.post(url, data, format=reach.format or "json")
    else:
        response = client.post(url, data)
    body = drain(response)
    assert response.status_code in reach.expect, (
        f"{reach.method.upper()} {url} {data} as the outsider: {response.status_code} "
        f"{describe(response)}"
    )
    if rows is not None:
        assert rows.count() == before, f"{reach.model} rows were created: {body[:300]!r}"
    if reach.team_a_ids is not None and response.status_code == 200:
        seen = {row.get(reach.id_key) for row in response.json()["results"]}
        assert not seen & reach.team_a_ids(world), f"the outsider sees {seen}"
    if reach.method == "get" and not route.is_api:
        assert ALPHA_MARKER.encode() not in body, f"{url} names a team A object to the outsider"


def test_outsider_refusals_name_no_team_a_object_in_their_audit_trail(world):
    """Every refusal is recorded in the audit trail, and a data scientist reads the entries of
    their own actions: after the outsider has tried every call of the table, nothing they can
    read there (API, page, CSV export) names team A's objects or belongs to team A."""
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    for name, entry in sorted(TABLE.items()):
        if name in ROUTES:
            for call in entry.calls:
                drain(call_route(world, OUTSIDER, name, entry, call)[1])
    assert AuditEntry.objects.filter(seq__gt=last, actor_id=world.users[OUTSIDER].pk).exists(), (
        "the outsider's calls recorded nothing: the check below cannot fail"
    )
    marker = ALPHA_MARKER.encode()
    for name in ("audit-entry-list", "audit:entry-list", "audit:entry-export"):
        client, _ = client_as(world, OUTSIDER, ROUTES[name])
        response = client.get(reverse(name), {"page_size": 200})
        assert response.status_code == 200, name
        body = drain(response)
        assert marker not in body, f"{name} names a team A object to the outsider"
        if name == "audit-entry-list":
            rows = response.json()["results"]
            leaked = [row["seq"] for row in rows if row.get("team_id") == world.team.pk]
            assert not leaked, f"the outsider reads team A's audit entries {leaked}"


# --- Methods the table does not name ------------------------------------------------------------


def _probes():
    for name, entry in sorted(TABLE.items()):
        if name not in ROUTES:
            continue
        listed = {call.method for call in entry.calls}
        for method in METHODS:
            if method not in listed:
                yield pytest.param(name, method, id=f"{name}|{method.upper()}")


@pytest.mark.parametrize(("name", "method"), list(_probes()))
def test_undeclared_methods_are_refused(world, name, method):
    """A method the table does not list is refused with 405 (as an administrator, who passes
    most checks), so that the table's lists of methods are the views' own. Read-only pages
    listed in ANSWERS_ANY_METHOD answer it as they answer GET."""
    entry = TABLE[name]
    expected = 405
    if name in ANSWERS_ANY_METHOD:
        (read,) = [call for call in entry.calls if call.method == "get"]
        expected = read.expect[ADMINISTRATOR]
    call = Call(method, {role: expected for role in ROLES})
    url, response = call_route(world, ADMINISTRATOR, name, entry, call)
    drain(response)
    if name in ANSWERS_ANY_METHOD:
        assert response.status_code != 405, (
            f"{method.upper()} {url} is refused now: take {name} out of ANSWERS_ANY_METHOD"
        )
    assert matches(response, expected), (
        f"{method.upper()} {url} answers {response.status_code} {describe(response)}, expected "
        f"{expected}: list the method in the table (or the page in ANSWERS_ANY_METHOD)"
    )
