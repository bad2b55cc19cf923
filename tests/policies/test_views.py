"""The policy pages: the list, one asset's policy editor and review, and their rights."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.policies.models import AccessPolicy, PolicyGrant
from tests.policies.factories import AccessPolicyFactory, PolicyGrantFactory
from tests.policies.test_api import _make_policies

pytestmark = pytest.mark.django_db


def asset_url(kind: str, pk: int) -> str:
    return reverse("policies:asset-policy", args=[kind, pk])


def test_anonymous_is_sent_to_sign_in(web, model):
    for url in (reverse("policies:policy-list"), asset_url("model", model.pk)):
        response = web(None).get(url)
        assert response.status_code == 302 and "/accounts/login" in response["Location"]
    response = web(None).post(reverse("policies:policy-create", args=["model", model.pk]))
    assert response.status_code == 302
    assert AccessPolicy.objects.count() == 0


def test_outsider_gets_404_on_the_teams_assets_and_policies(web, outsider, model, deployment):
    client = web(outsider)
    policy = AccessPolicyFactory(model=model)
    grant = PolicyGrantFactory(policy=policy)
    assert client.get(asset_url("model", model.pk)).status_code == 404
    assert client.get(asset_url("deployment", deployment.pk)).status_code == 404
    assert client.post(reverse("policies:policy-create", args=["deployment", deployment.pk]),
                       {}).status_code == 404
    assert client.post(reverse("policies:policy-update", args=[policy.pk]),
                       {"notes": "x"}).status_code == 404
    assert client.post(reverse("policies:grant-remove", args=[grant.pk])).status_code == 404
    assert client.post(reverse("policies:policy-delete", args=[policy.pk])).status_code == 404
    assert "credit-scorer" not in client.get(reverse("policies:policy-list")).content.decode()


def test_unknown_kind_or_id_is_404(web, data_scientist):
    client = web(data_scientist)
    assert client.get(asset_url("robot", 1)).status_code == 404
    assert client.get(asset_url("model", 424242)).status_code == 404


def test_asset_without_policy_shows_the_default_rule_and_its_gaps(web, auditor, deployment):
    response = web(auditor).get(asset_url("deployment", deployment.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="default-rule"' in html
    assert 'data-rule="unthrottled-full-scores"' in html and "AML.T0024.002" in html
    assert "Create policy" not in html  # auditors read only


def test_data_scientist_creates_a_policy_starting_from_the_team(web, data_scientist, model,
                                                                team):
    client = web(data_scientist)
    assert "Create policy" in client.get(asset_url("model", model.pk)).content.decode()
    response = client.post(reverse("policies:policy-create", args=["model", model.pk]),
                           {"notes": "ours", "start_with_team": "on"})
    assert response.status_code == 302
    assert response["Location"] == asset_url("model", model.pk)
    policy = AccessPolicy.objects.get(model=model)
    assert sorted(policy.grants.values_list("permission", "principal_team")) == [
        ("download", team.pk), ("view", team.pk)]
    html = client.get(asset_url("model", model.pk)).content.decode()
    assert 'data-testid="policy-grants"' in html and "team Credit Risk" in html


def test_auditor_posts_are_refused(web, auditor, model):
    client = web(auditor)
    response = client.post(reverse("policies:policy-create", args=["model", model.pk]),
                           {"start_with_team": "on"})
    assert response.status_code == 403
    policy = AccessPolicyFactory(model=model)
    grant = PolicyGrantFactory(policy=policy)
    assert client.post(reverse("policies:grant-add", args=[policy.pk]),
                       {"permission": "view", "principal": "role:auditor"}).status_code == 403
    assert client.post(reverse("policies:grant-remove", args=[grant.pk])).status_code == 403
    assert client.post(reverse("policies:policy-delete", args=[policy.pk])).status_code == 403
    assert client.post(reverse("policies:policy-mark-reviewed", args=[policy.pk])
                       ).status_code == 403
    assert PolicyGrant.objects.count() == 1 and AccessPolicy.objects.count() == 1


def test_compliance_officer_edits_grants_settings_and_signs_off(web, compliance_officer,
                                                                deployment, team):
    client = web(compliance_officer)
    client.post(reverse("policies:policy-create", args=["deployment", deployment.pk]),
                {"start_with_team": ""})
    policy = AccessPolicy.objects.get(deployment=deployment)
    assert policy.grants.count() == 0
    response = client.post(reverse("policies:grant-add", args=[policy.pk]),
                           {"permission": "query", "principal": f"team:{team.pk}"})
    assert response.status_code == 302
    response = client.post(reverse("policies:policy-update", args=[policy.pk]),
                           {"notes": "logged", "query_logging_enabled": "on"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.query_logging_enabled and policy.notes == "logged"
    client.post(reverse("policies:policy-mark-reviewed", args=[policy.pk]))
    policy.refresh_from_db()
    assert policy.reviewed_by == compliance_officer
    html = client.get(asset_url("deployment", deployment.pk)).content.decode()
    assert 'data-testid="policy-reviewed"' in html
    assert 'data-rule="no-query-logging"' not in html


def test_grant_form_errors_answer_400_and_save_nothing(web, data_scientist, model, other_team):
    client = web(data_scientist)
    policy = AccessPolicyFactory(model=model)
    url = reverse("policies:grant-add", args=[policy.pk])
    for data in ({"permission": "query", "principal": "role:everyone"},
                 {"permission": "view", "principal": f"team:{other_team.pk}"},
                 {"permission": "deploy", "principal": ""}):
        response = client.post(url, data)
        assert response.status_code == 400
        assert "Please correct the errors" in response.content.decode()
    assert policy.grants.count() == 0


def test_settings_form_refuses_notes_that_are_too_long(web, data_scientist, model):
    policy = AccessPolicyFactory(model=model)
    response = web(data_scientist).post(reverse("policies:policy-update", args=[policy.pk]),
                                        {"notes": "x" * 10_001})
    assert response.status_code == 400
    policy.refresh_from_db()
    assert policy.notes == ""


def test_delete_and_remove_grant(web, data_scientist, model):
    client = web(data_scientist)
    policy = AccessPolicyFactory(model=model)
    grant = PolicyGrantFactory(policy=policy)
    assert client.post(reverse("policies:grant-remove", args=[grant.pk])).status_code == 302
    assert policy.grants.count() == 0
    assert client.post(reverse("policies:policy-delete", args=[policy.pk])).status_code == 302
    assert not AccessPolicy.objects.exists()


def test_get_is_not_allowed_on_write_urls(web, data_scientist, model):
    policy = AccessPolicyFactory(model=model)
    assert web(data_scientist).get(reverse("policies:policy-delete", args=[policy.pk])
                                   ).status_code == 405


def test_list_shows_gaps_and_assets_without_policy(web, compliance_officer, model, deployment):
    html = web(compliance_officer).get(reverse("policies:policy-list")).content.decode()
    assert 'data-testid="assets-without-policy"' in html
    assert asset_url("model", model.pk) in html and asset_url("deployment", deployment.pk) in html
    AccessPolicyFactory(model=model)
    html = web(compliance_officer).get(reverse("policies:policy-list")).content.decode()
    assert 'data-testid="policy-list"' in html
    assert asset_url("model", model.pk) in html


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer"])
def test_list_page_query_count_does_not_grow(web, request, team, data_scientist, role):
    client = web(request.getfixturevalue(role))
    url = reverse("policies:policy-list")
    _make_policies(2, team)
    small = _count(client, url)
    _make_policies(6, team)
    large = _count(client, url)
    assert small == large
