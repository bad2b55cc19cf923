"""The read-only ATLAS catalogue API (CONTRACT.md "Threat catalogue")."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.threats.models import Mitigation, MitigationTechnique, Tactic, Technique
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/atlas"
ENDPOINTS = ("tactics", "techniques", "mitigations")
ROLES = ("data_scientist", "outsider", "compliance_officer", "auditor", "administrator")


@pytest.fixture
def api(client_for, data_scientist):
    return client_for(data_scientist)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[str]:
    return [item["atlas_id"] for item in results(response)]


def all_ids(client, url, params=None) -> list[str]:
    """Follow `next` to the end, as the contract promises a client can."""
    found, response = [], client.get(url, {**(params or {}), "page_size": 200})
    while True:
        body = response.json()
        found += [item["atlas_id"] for item in body["results"]]
        if not body["next"]:
            return found
        response = client.get(body["next"])


# --- Authorization ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_is_refused(api_client, endpoint):
    assert api_client.get(f"{BASE}/{endpoint}/").status_code == 401
    assert api_client.get(f"{BASE}/{endpoint}/AML.M0000/").status_code == 401
    assert api_client.post(f"{BASE}/{endpoint}/", {"name": "x"}).status_code == 401


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_inactive_user_is_refused(client_for, endpoint):
    response = client_for(UserFactory(is_active=False)).get(f"{BASE}/{endpoint}/")
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_catalogue(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    assert len(all_ids(client, f"{BASE}/techniques/")) == 170
    assert len(all_ids(client, f"{BASE}/tactics/")) == 16
    assert len(all_ids(client, f"{BASE}/mitigations/")) == 35


@pytest.mark.parametrize("role", ["data_scientist", "administrator"])
@pytest.mark.parametrize(
    ("endpoint", "detail"),
    [("tactics", "AML.TA0002"), ("techniques", "AML.T0010.003"), ("mitigations", "AML.M0000")],
)
def test_catalogue_is_read_only(request, client_for, role, endpoint, detail):
    client = client_for(request.getfixturevalue(role))
    before = Technique.objects.count(), Tactic.objects.count(), Mitigation.objects.count()
    assert client.post(f"{BASE}/{endpoint}/", {"atlas_id": "AML.T0999"}).status_code == 405
    assert client.put(f"{BASE}/{endpoint}/{detail}/", {"name": "x"}).status_code == 405
    assert client.patch(f"{BASE}/{endpoint}/{detail}/", {"name": "x"}).status_code == 405
    assert client.delete(f"{BASE}/{endpoint}/{detail}/").status_code == 405
    assert (Technique.objects.count(), Tactic.objects.count(), Mitigation.objects.count()) == before
    assert client.get(f"{BASE}/{endpoint}/{detail}/").json()["name"] != "x"


# --- Shapes -------------------------------------------------------------------------------------


def test_tactics_come_in_matrix_order(api):
    items = results(api.get(f"{BASE}/tactics/"))
    assert [item["atlas_id"] for item in items[:4]] == [
        "AML.TA0002",
        "AML.TA0003",
        "AML.TA0004",
        "AML.TA0000",
    ]
    assert [item["matrix_order"] for item in items] == list(range(1, 17))
    first = items[0]
    assert first["name"] == "Reconnaissance"
    assert first["attack_id"] == "TA0043"
    assert first["url"] == "https://atlas.mitre.org/tactics/AML.TA0002"
    assert first["is_retired"] is False


def test_technique_detail_by_atlas_id_with_dots(api):
    response = api.get(f"{BASE}/techniques/AML.T0010.003/")
    assert response.status_code == 200
    body = response.json()
    assert body["atlas_id"] == "AML.T0010.003"
    assert body["parent"] == "AML.T0010"
    assert body["is_subtechnique"] is True
    parent = api.get(f"{BASE}/techniques/AML.T0010/").json()
    assert body["tactics"] == parent["tactics"] and body["tactics"]
    assert "AML.T0010.003" in parent["subtechniques"]
    assert parent["parent"] is None and parent["is_subtechnique"] is False
    assert body["maturity"] in ("feasible", "demonstrated", "realized")
    assert body["url"] == "https://atlas.mitre.org/techniques/AML.T0010.003"


def test_detail_by_numeric_id(api):
    mitigation = Mitigation.objects.get(atlas_id="AML.M0018")
    body = api.get(f"{BASE}/mitigations/{mitigation.pk}/").json()
    assert body["atlas_id"] == "AML.M0018"
    assert "AML.T0052.001" in body["techniques"]  # recovered from `ml-lifecycle`
    assert body["category"] and all(isinstance(c, str) for c in body["category"])
    assert all(isinstance(phase, str) for phase in body["ml_lifecycle"])


def test_technique_lists_its_mitigations(api):
    body = api.get(f"{BASE}/techniques/AML.T0052.001/").json()
    assert {"AML.M0018", "AML.M0034"} <= set(body["mitigations"])


def test_unknown_object_is_404(api):
    assert api.get(f"{BASE}/techniques/AML.T9999/").status_code == 404
    assert api.get(f"{BASE}/tactics/999999/").status_code == 404
    assert api.get(f"{BASE}/mitigations/not-an-id/").status_code == 404


# --- Filters ------------------------------------------------------------------------------------


def test_filter_by_tactic(api):
    found = all_ids(api, f"{BASE}/techniques/", {"tactic": "AML.TA0002"})
    expected = Technique.objects.filter(tactics__atlas_id="AML.TA0002", is_retired=False)
    assert sorted(found) == sorted(expected.values_list("atlas_id", flat=True))
    assert found and len(found) < 170


def test_filter_by_maturity_and_level(api):
    realized = all_ids(api, f"{BASE}/techniques/", {"maturity": "realized"})
    assert len(realized) == Technique.objects.filter(maturity="realized").count() > 0
    subs = all_ids(api, f"{BASE}/techniques/", {"is_subtechnique": "true"})
    tops = all_ids(api, f"{BASE}/techniques/", {"is_subtechnique": "false"})
    assert (len(subs), len(tops)) == (69, 101)
    assert all(atlas_id.count(".") == 2 for atlas_id in subs)
    children = all_ids(api, f"{BASE}/techniques/", {"parent": "AML.T0010"})
    assert children and all(c.startswith("AML.T0010.") for c in children)


def test_bad_filter_value_is_a_400(api):
    response = api.get(f"{BASE}/techniques/", {"maturity": "likely"})
    assert response.status_code == 400
    assert "maturity" in response.json()


def test_search_by_id_and_name(api):
    assert ids(api.get(f"{BASE}/techniques/", {"search": "AML.T0010.003"})) == ["AML.T0010.003"]
    by_name = ids(api.get(f"{BASE}/tactics/", {"search": "reconnaissance"}))
    assert by_name == ["AML.TA0002"]


def test_mitigations_filtered_by_technique(api):
    found = all_ids(api, f"{BASE}/mitigations/", {"technique": "AML.T0052.001"})
    assert {"AML.M0018", "AML.M0034"} <= set(found)
    expected = MitigationTechnique.objects.filter(technique__atlas_id="AML.T0052.001").count()
    assert len(found) == expected


def test_retired_objects_are_hidden_unless_asked_but_details_still_resolve(api):
    Technique.objects.filter(atlas_id="AML.T0010.003").update(is_retired=True)
    Mitigation.objects.filter(atlas_id="AML.M0000").update(is_retired=True)
    assert "AML.T0010.003" not in all_ids(api, f"{BASE}/techniques/")
    assert "AML.T0010.003" in all_ids(api, f"{BASE}/techniques/", {"include_retired": "true"})
    assert "AML.T0010.003" not in api.get(f"{BASE}/techniques/AML.T0010/").json()["subtechniques"]
    assert "AML.M0000" not in all_ids(api, f"{BASE}/mitigations/")
    detail = api.get(f"{BASE}/techniques/AML.T0010.003/")
    assert detail.status_code == 200 and detail.json()["is_retired"] is True


# --- Pagination and cost ------------------------------------------------------------------------


def test_lists_are_paginated(api):
    body = api.get(f"{BASE}/techniques/", {"page_size": 5}).json()
    assert len(body["results"]) == 5
    assert body["next"] and body["previous"] is None
    assert len(all_ids(api, f"{BASE}/techniques/")) == len(set(all_ids(api, f"{BASE}/techniques/")))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_list_query_count_does_not_grow_with_page_size(api, endpoint):
    api.get(f"{BASE}/{endpoint}/", {"page_size": 5})  # warm up
    with CaptureQueriesContext(connection) as small:
        assert len(results(api.get(f"{BASE}/{endpoint}/", {"page_size": 5}))) == 5
    with CaptureQueriesContext(connection) as large:
        assert len(results(api.get(f"{BASE}/{endpoint}/", {"page_size": 50}))) >= 16
    assert len(small) == len(large)
