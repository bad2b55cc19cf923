"""The access-policy API: shape, who may do what, bad input, the review, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.choices import Role
from apps.policies.choices import PrincipalType
from apps.policies.models import AccessPolicy, PolicyGrant
from apps.registry.choices import RiskTier
from tests.policies.factories import AccessPolicyFactory, PolicyGrantFactory
from tests.registry.factories import DatasetFactory, DeploymentFactory, MLModelFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/policies/"


def detail(policy) -> str:
    return f"{URL}{policy.pk}/"


@pytest.fixture
def policy(model):
    policy = AccessPolicyFactory(model=model, notes="Team only.")
    PolicyGrantFactory(policy=policy)
    return policy


def test_list_and_detail_shape(client_for, data_scientist, policy, team, model):
    response = client_for(data_scientist).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"next", "previous", "results"}
    (item,) = body["results"]
    assert item == client_for(data_scientist).get(detail(policy)).json()
    assert item["kind"] == "model" and item["model"] == model.pk and item["dataset"] is None
    assert item["asset_name"] == "credit-scorer" and item["team"] == team.pk
    assert item["team_name"] == "Credit Risk" and item["reviewed_at"] is None
    (grant,) = item["grants"]
    assert grant["permission"] == "download" and grant["principal_type"] == "team"
    assert grant["team"] == team.pk and grant["team_name"] == "Credit Risk"
    assert grant["user"] is None and grant["username"] is None and grant["role"] == ""
    assert grant["principal"] == "team Credit Risk"


def test_anonymous_gets_401_everywhere(api_client, policy):
    assert api_client.get(URL).status_code == 401
    assert api_client.get(detail(policy)).status_code == 401
    assert api_client.post(URL, {"model": policy.model_id}).status_code == 401
    assert api_client.get(f"{URL}review/?model={policy.model_id}").status_code == 401


def test_outsider_sees_nothing_of_the_team(client_for, outsider, policy, model):
    client = client_for(outsider)
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(policy)).status_code == 404
    assert client.patch(detail(policy), {"notes": "x"}).status_code == 404
    assert client.delete(detail(policy)).status_code == 404
    assert client.get(f"{URL}review/?model={model.pk}").status_code == 404
    response = client.post(URL, {"model": model.pk})
    assert response.status_code == 404 and "model" in response.json()


def test_auditor_reads_but_may_not_write(client_for, auditor, policy, model):
    client = client_for(auditor)
    assert client.get(detail(policy)).status_code == 200
    assert client.patch(detail(policy), {"notes": "x"}).status_code == 403
    assert client.delete(detail(policy)).status_code == 403
    assert client.post(f"{detail(policy)}mark-reviewed/").status_code == 403
    other = MLModelFactory(team=model.team)
    assert client.post(URL, {"model": other.pk}).status_code == 403
    assert AccessPolicy.objects.count() == 1


def test_data_scientist_of_the_team_creates_updates_and_deletes(client_for, data_scientist,
                                                                 team, deployment):
    client = client_for(data_scientist)
    response = client.post(URL, {
        "deployment": deployment.pk, "query_logging_enabled": True, "notes": "Partners query.",
        "grants": [{"permission": "query", "team": team.pk},
                   {"permission": "deploy", "user": data_scientist.pk}],
    }, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["kind"] == "deployment" and created["query_logging_enabled"] is True
    assert {g["permission"] for g in created["grants"]} == {"query", "deploy"}
    assert created["created_by"] == "dana"
    url = f"{URL}{created['id']}/"
    response = client.patch(url, {"grants": [{"permission": "query", "role": "auditor"}]},
                            format="json")
    assert response.status_code == 200
    assert [g["principal"] for g in response.json()["grants"]] == ["every auditor"]
    assert client.delete(url).status_code == 204
    assert AccessPolicy.objects.count() == 0


def test_compliance_officer_creates_and_marks_reviewed(client_for, compliance_officer, model):
    client = client_for(compliance_officer)
    response = client.post(URL, {"model": model.pk, "grants": []}, format="json")
    assert response.status_code == 201
    response = client.post(f"{URL}{response.json()['id']}/mark-reviewed/")
    assert response.status_code == 200
    assert response.json()["reviewed_by"] == "cora" and response.json()["reviewed_at"]


def test_data_scientist_may_not_mark_reviewed(client_for, data_scientist, policy):
    assert client_for(data_scientist).post(f"{detail(policy)}mark-reviewed/").status_code == 403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"grants": [{"permission": "download", "group": 1}]}, "grants"),
        ({"grants": [{"permission": "download", "team": 987654}]}, "grants"),
        ({"grants": [{"permission": "download", "user": 987654}]}, "grants"),
        ({"grants": [{"permission": "downlaod", "role": "auditor"}]}, "grants"),
        ({"grants": [{"permission": "download", "role": "everyone"}]}, "grants"),
        ({"grants": "download"}, "grants"),
        ({"query_logging_enabled": True}, "query_logging_enabled"),
        ({"team": 1}, "team"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(client_for, data_scientist,
                                                                  model, payload, field):
    response = client_for(data_scientist).post(URL, {"model": model.pk, **payload},
                                               format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["detail"] and field in body
    assert AccessPolicy.objects.count() == 0 and PolicyGrant.objects.count() == 0


def test_create_names_exactly_one_asset(client_for, data_scientist, model, dataset):
    client = client_for(data_scientist)
    assert client.post(URL, {}, format="json").status_code == 400
    response = client.post(URL, {"model": model.pk, "dataset": dataset.pk}, format="json")
    assert response.status_code == 400 and "model" in response.json()
    assert client.post(URL, {"model": "x"}, format="json").status_code == 400
    assert client.post(URL, {"model": 10**6}, format="json").status_code == 404


def test_second_policy_for_an_asset_is_a_400(client_for, data_scientist, policy):
    response = client_for(data_scientist).post(URL, {"model": policy.model_id}, format="json")
    assert response.status_code == 400 and "already has" in response.json()["detail"]


def test_patch_with_a_bad_grant_changes_nothing(client_for, data_scientist, policy):
    response = client_for(data_scientist).patch(
        detail(policy), {"notes": "new", "grants": [{"permission": "view", "team": 0}]},
        format="json")
    assert response.status_code == 400
    policy.refresh_from_db()
    assert policy.notes == "Team only." and policy.grants.count() == 1


def test_filters(client_for, compliance_officer, policy, dataset):
    AccessPolicyFactory(model=None, dataset=dataset)
    client = client_for(compliance_officer)
    assert [p["kind"] for p in client.get(f"{URL}?kind=dataset").json()["results"]] == ["dataset"]
    assert len(client.get(f"{URL}?model={policy.model_id}").json()["results"]) == 1
    assert client.get(f"{URL}?reviewed=true").json()["results"] == []
    assert len(client.get(f"{URL}?reviewed=false").json()["results"]) == 2
    assert client.get(f"{URL}?kind=robot").status_code == 400
    assert client.get(f"{URL}?team=-1").status_code == 400


def test_review_of_an_asset_with_and_without_a_policy(client_for, data_scientist, deployment,
                                                      model, dataset):
    client = client_for(data_scientist)
    response = client.get(f"{URL}review/?deployment={deployment.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "deployment" and body["policy"] is None
    rules = {gap["rule"] for gap in body["gaps"]}
    assert {"unauthenticated-endpoint", "unthrottled-full-scores", "no-query-logging"} <= rules
    gap = next(g for g in body["gaps"] if g["rule"] == "unthrottled-full-scores")
    assert gap["technique"] == "AML.T0024.002" and gap["technique_name"] == "Extract AI Model"
    assert set(gap) == {"rule", "key", "severity", "technique", "technique_name", "title",
                        "detail", "fix"}
    assert client.get(f"{URL}review/").status_code == 400
    assert client.get(f"{URL}review/?model={model.pk}&dataset={dataset.pk}").status_code == 400
    assert client.get(f"{URL}review/?colour=red").status_code == 400


def _make_policies(n: int, team) -> None:
    for _ in range(n):
        policy = AccessPolicyFactory(model=MLModelFactory(team=team, risk_tier=RiskTier.HIGH))
        PolicyGrantFactory(policy=policy)
        PolicyGrantFactory(policy=policy, principal_type=PrincipalType.ROLE, principal_team=None,
                           principal_role=Role.AUDITOR)
        dataset_policy = AccessPolicyFactory(model=None, dataset=DatasetFactory(team=team))
        PolicyGrantFactory(policy=dataset_policy)
        deployment = DeploymentFactory(model_version__model=MLModelFactory(team=team))
        PolicyGrantFactory(policy=AccessPolicyFactory(model=None, deployment=deployment),
                           permission="query")


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer"])
def test_list_query_count_does_not_grow(client_for, request, team, data_scientist, role):
    client = client_for(request.getfixturevalue(role))
    _make_policies(2, team)
    small = _count(client, f"{URL}?page_size=200")
    _make_policies(12, team)
    large = _count(client, f"{URL}?page_size=200")
    assert small == large
    assert len(client.get(f"{URL}?page_size=200").json()["results"]) == 42
