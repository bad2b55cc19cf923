"""The audit pages: browse, filter, read one entry, export CSV; scoped by role."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.choices import AuditAction
from apps.audit.models import AuditEntry
from apps.audit.selectors import chain_head
from apps.audit.services import audit_record
from tests.audit.conftest import entries, forge
from tests.registry.factories import MLModelFactory

pytestmark = pytest.mark.django_db

LIST = reverse("audit:entry-list")
EXPORT = reverse("audit:entry-export")


@pytest.fixture
def trail(team, other_team, data_scientist, outsider, administrator):
    """One change in each team by its own data scientist, and one by an administrator."""
    ours = MLModelFactory(team=team, name="ours")
    theirs = MLModelFactory(team=other_team, name="theirs")
    return {
        "ours": audit_record(action=AuditAction.UPDATE, obj=ours, actor=data_scientist,
                             changes={"description": ["", "ours"]}),
        "theirs": audit_record(action=AuditAction.UPDATE, obj=theirs, actor=outsider,
                               changes={"description": ["", "theirs"]}),
        "admin": audit_record(action=AuditAction.CREATE, obj=other_team, actor=administrator),
        "own_elsewhere": audit_record(action=AuditAction.DOWNLOAD, obj=theirs,
                                      actor=data_scientist),
    }


def web(client, user):
    client.force_login(user)
    return client


def listed_seqs(response) -> set[int]:
    return {entry.seq for entry in response.context["page_obj"].object_list}


@pytest.mark.parametrize("url", [LIST, EXPORT, reverse("audit:entry-detail", args=[1])])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_data_scientists_see_their_teams_entries_and_their_own_actions(client, trail,
                                                                        data_scientist):
    response = web(client, data_scientist).get(LIST)
    assert response.status_code == 200
    seqs = listed_seqs(response)
    assert {trail["ours"].seq, trail["own_elsewhere"].seq} <= seqs
    assert trail["theirs"].seq not in seqs and trail["admin"].seq not in seqs


@pytest.mark.parametrize("role", ["compliance_officer", "auditor", "administrator"])
def test_oversight_roles_see_every_entry(request, client, trail, role):
    response = web(client, request.getfixturevalue(role)).get(LIST)
    assert {e.seq for e in trail.values()} <= listed_seqs(response)
    assert chain_head().hash[:16] in response.content.decode()


def test_another_teams_entry_is_not_found(client, trail, data_scientist):
    url = reverse("audit:entry-detail", args=[trail["theirs"].seq])
    assert web(client, data_scientist).get(url).status_code == 404


def test_entry_detail_shows_before_and_after(client, trail, auditor):
    response = web(client, auditor).get(reverse("audit:entry-detail", args=[trail["ours"].seq]))
    assert response.status_code == 200
    assert response.context["rows"] == [
        {"field": "description", "before": "", "after": "ours", "pair": True}]
    assert trail["ours"].hash in response.content.decode()


def test_filters_narrow_the_list(client, trail, auditor):
    client = web(client, auditor)
    assert listed_seqs(client.get(LIST, {"action": "download"})) == {trail["own_elsewhere"].seq}
    assert listed_seqs(client.get(LIST, {"actor": "osc"})) == {trail["theirs"].seq}
    assert listed_seqs(client.get(LIST, {"object_type": "registry.team"})) == {
        trail["admin"].seq}
    today = timezone.now().date()
    assert trail["ours"].seq in listed_seqs(client.get(LIST, {"since": today, "until": today}))
    assert not listed_seqs(client.get(LIST, {"until": today - timedelta(days=1)}))


def test_bad_filters_are_a_400_with_the_reason(client, auditor):
    response = web(client, auditor).get(LIST, {"since": "2026-02-30", "action": "explode"})
    assert response.status_code == 400
    assert set(response.context["filter_form"].errors) == {"since", "action"}
    today = timezone.now().date()
    response = client.get(LIST, {"since": today, "until": today - timedelta(days=1)})
    assert response.status_code == 400
    assert "before the start date" in response.content.decode()


def test_list_pages_cost_the_same_queries_at_two_sizes(client, team, auditor):
    client = web(client, auditor)
    model = MLModelFactory(team=team)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return len(queries)

    for n in range(3):
        audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor, changes={"n": [n, n]})
    small = count_queries()
    for n in range(60):
        audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor, changes={"n": [n, n]})
    assert count_queries() == small


def test_list_refuses_writes(client, auditor):
    assert web(client, auditor).post(LIST).status_code == 405


# --- CSV export ---------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_is_scoped_filtered_and_carries_the_chain_head(client, trail, data_scientist):
    response = web(client, data_scientist).get(EXPORT, {"action": "update"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert [int(r["seq"]) for r in rows] == [trail["ours"].seq]
    row = rows[0]
    assert json.loads(row["changes"]) == {"description": ["", "ours"]}
    assert (row["actor_name"], row["object_type"], row["hash"]) == (
        "dana", "registry.mlmodel", trail["ours"].hash)
    head = chain_head()  # the export itself was recorded, and is the head now
    assert response["X-Audit-Chain-Head"] == f"{head.seq}:{head.hash}"


def test_every_export_is_itself_recorded(client, auditor):
    web(client, auditor).get(EXPORT, {"actor": "dana"})
    export = entries(action=AuditAction.EXPORT)
    assert len(export) == 1
    assert export[0].actor_name == "audrey"
    assert json.loads(export[0].changes) == {"filters": {"actor": "dana"}, "format": "csv"}


def test_export_neutralises_spreadsheet_formulas(client, team, auditor):
    model = MLModelFactory(team=team, name="=HYPERLINK(\"http://evil\")")
    audit_record(action=AuditAction.UPDATE, obj=model, actor=auditor)
    rows = read_csv(web(client, auditor).get(EXPORT, {"action": "update"}))
    assert rows[0]["object_repr"] == "'=HYPERLINK(\"http://evil\")"


def test_export_with_bad_filters_is_a_400(client, auditor):
    response = web(client, auditor).get(EXPORT, {"until": "yesterday"})
    assert response.status_code == 400
    assert b"until" in response.content
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_forged_entry_shows_as_forged_in_the_export(client, trail, auditor):
    """The export carries each entry's hashes, so a copy can be checked against the chain."""
    forge(trail["ours"].seq, "object_repr", "nothing to see")
    rows = read_csv(web(client, auditor).get(EXPORT))
    forged = next(r for r in rows if int(r["seq"]) == trail["ours"].seq)
    assert forged["hash"] == trail["ours"].hash and forged["object_repr"] == "nothing to see"
