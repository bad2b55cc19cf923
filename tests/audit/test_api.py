"""GET /api/v1/audit-entries/: read-only, scoped like the pages, filtered, paginated."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.choices import AuditAction
from apps.audit.selectors import chain_head
from apps.audit.services import audit_record
from tests.registry.factories import MLModelFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-entries/"


@pytest.fixture
def trail(team, other_team, data_scientist, outsider):
    ours = MLModelFactory(team=team)
    theirs = MLModelFactory(team=other_team)
    return {
        "ours": audit_record(action=AuditAction.UPDATE, obj=ours, actor=data_scientist,
                             changes={"password": ["a", "b"], "name": ["x", "y"]}),
        "theirs": audit_record(action=AuditAction.DELETE, obj=theirs, actor=outsider),
    }


@pytest.mark.parametrize("url", [URL, f"{URL}1/", f"{URL}head/"])
def test_anonymous_callers_get_401(api_client, url):
    assert api_client.get(url).status_code == 401


def test_list_is_scoped_for_data_scientists(client_for, trail, data_scientist):
    body = client_for(data_scientist).get(URL).json()
    assert set(body) >= {"next", "previous", "results"}
    assert [e["seq"] for e in body["results"]] == [trail["ours"].seq]
    entry = body["results"][0]
    assert entry["changes"] == {"password": ["***", "***"], "name": ["x", "y"]}
    assert entry["hash"] == trail["ours"].hash
    assert set(entry) >= {"timestamp", "actor_id", "actor_name", "action", "object_type",
                          "object_id", "team_id", "ip", "request_id", "interface", "prev_hash"}


def test_another_teams_entry_is_404(client_for, trail, data_scientist):
    response = client_for(data_scientist).get(f"{URL}{trail['theirs'].seq}/")
    assert response.status_code == 404


def test_auditors_read_everything_and_filter(client_for, trail, auditor):
    client = client_for(auditor)
    assert {e["seq"] for e in client.get(URL).json()["results"]} == {
        trail["ours"].seq, trail["theirs"].seq}
    only = client.get(URL, {"action": "delete", "actor": "osc"}).json()["results"]
    assert [e["seq"] for e in only] == [trail["theirs"].seq]
    detail = client.get(f"{URL}{trail['ours'].seq}/")
    assert detail.status_code == 200 and detail.json()["seq"] == trail["ours"].seq


@pytest.mark.parametrize("params", [{"action": "explode"}, {"since": "not-a-date"},
                                    {"team_id": "-1"}, {"interface": "telepathy"}])
def test_bad_filters_are_400(client_for, auditor, params):
    response = client_for(auditor).get(URL, params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_entries_cannot_be_written(client_for, trail, administrator):
    client = client_for(administrator)
    assert client.post(URL, {}).status_code == 405
    assert client.patch(f"{URL}{trail['ours'].seq}/", {"actor_name": "x"}).status_code == 405
    assert client.delete(f"{URL}{trail['ours'].seq}/").status_code == 405


def test_head_names_the_last_link(client_for, trail, data_scientist):
    head = chain_head()
    assert client_for(data_scientist).get(f"{URL}head/").json() == {
        "seq": head.seq, "hash": head.hash}


def test_list_costs_the_same_queries_at_two_sizes(client_for, team, auditor):
    client = client_for(auditor)
    model = MLModelFactory(team=team)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"page_size": 100}).status_code == 200
        return len(queries)

    audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor)
    small = count()
    for _ in range(30):
        audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor)
    assert count() == small


def test_pages_follow_to_the_end(client_for, team, auditor):
    model = MLModelFactory(team=team)
    for _ in range(5):
        audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor)
    client, seen, url = client_for(auditor), [], f"{URL}?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [e["seq"] for e in body["results"]]
        url = body["next"]
    assert seen == [5, 4, 3, 2, 1]
