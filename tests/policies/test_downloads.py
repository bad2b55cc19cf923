"""Downloading artifacts and dataset files goes through the asset's access policy and is
recorded in the audit trail, on the pages and through the API."""

import json

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from apps.accounts.choices import Role
from apps.audit.models import AuditEntry
from apps.policies import services
from apps.policies.choices import PrincipalType
from tests.accounts.factories import UserFactory
from tests.policies.conftest import ARTIFACT, CSV
from tests.policies.factories import AccessPolicyFactory, PolicyGrantFactory
from tests.registry.factories import TeamMembershipFactory

pytestmark = pytest.mark.django_db


def page_url(version) -> str:
    name = "model-version" if hasattr(version, "artifact") else "dataset-version"
    return reverse(f"policies:download-{name}", args=[version.pk])


def api_url(version) -> str:
    name = "model-versions" if hasattr(version, "artifact") else "dataset-versions"
    return f"/api/v1/{name}/{version.pk}/download/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def downloads() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="download").order_by("seq"))


def denials() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="access_denied").order_by("seq"))


# --- No policy: the default rule ----------------------------------------------------------------


def test_without_a_policy_a_team_member_downloads_the_artifact(web, data_scientist, version):
    response = web(data_scientist).get(page_url(version))
    assert response.status_code == 200
    assert body(response) == ARTIFACT
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="scorer_v1.pkl"'
    assert response["Content-Length"] == str(len(ARTIFACT))
    assert "no-store" in response["Cache-Control"]
    (entry,) = downloads()
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        data_scientist.pk, "registry.modelversion", str(version.pk))
    assert json.loads(entry.changes)["sha256"] == version.sha256
    assert entry.interface == "web"


def test_without_a_policy_readers_outside_the_team_may_not_download(web, compliance_officer,
                                                                    auditor, version):
    for user in (compliance_officer, auditor):
        response = web(user).get(page_url(version))
        assert response.status_code == 403
        assert b"default rule" in response.content
    assert downloads() == []
    assert len(denials()) == 2
    assert json.loads(denials()[0].changes)["permission"] == "download"


def test_outsider_gets_404_and_anonymous_is_sent_to_sign_in(web, outsider, version,
                                                            dataset_version):
    for item in (version, dataset_version):
        assert web(outsider).get(page_url(item)).status_code == 404
        response = web(None).get(page_url(item))
        assert response.status_code == 302 and "/accounts/login" in response["Location"]
    assert web(outsider).get(reverse("policies:download-model-version", args=[99999])
                             ).status_code == 404
    assert downloads() == []


def test_dataset_file_download_is_csv_and_recorded(web, data_scientist, dataset_version):
    response = web(data_scientist).get(page_url(dataset_version))
    assert response.status_code == 200
    assert body(response) == CSV
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="applicants.csv"'
    (entry,) = downloads()
    assert entry.object_type == "registry.datasetversion"


# --- With a policy ------------------------------------------------------------------------------


def test_a_policy_replaces_the_default_rule(web, data_scientist, auditor, version, model):
    policy = AccessPolicyFactory(model=model)
    # No download grant: not even the team may download.
    assert web(data_scientist).get(page_url(version)).status_code == 403
    PolicyGrantFactory(policy=policy, principal_type=PrincipalType.ROLE, principal_team=None,
                       principal_role=Role.AUDITOR)
    assert web(auditor).get(page_url(version)).status_code == 200
    assert web(data_scientist).get(page_url(version)).status_code == 403
    PolicyGrantFactory(policy=policy, principal_type=PrincipalType.USER, principal_team=None,
                       principal_user=data_scientist)
    assert web(data_scientist).get(page_url(version)).status_code == 200
    assert [e.actor_id for e in downloads()] == [auditor.pk, data_scientist.pk]


def test_a_team_grant_covers_every_member(web, model, version, team):
    policy = AccessPolicyFactory(model=model)
    PolicyGrantFactory(policy=policy, permission="view")  # view alone is no download
    member = UserFactory(username="newcomer", role=Role.DATA_SCIENTIST)
    TeamMembershipFactory(team=team, user=member)
    assert web(member).get(page_url(version)).status_code == 403
    PolicyGrantFactory(policy=policy)
    assert web(member).get(page_url(version)).status_code == 200


def test_a_grant_does_not_reach_someone_who_cannot_see_the_asset(web, outsider, model, version):
    policy = AccessPolicyFactory(model=model)
    PolicyGrantFactory(policy=policy, principal_type=PrincipalType.USER, principal_team=None,
                       principal_user=outsider)
    assert web(outsider).get(page_url(version)).status_code == 404


def test_dataset_policy_governs_dataset_downloads(web, data_scientist, dataset, dataset_version):
    AccessPolicyFactory(model=None, dataset=dataset)
    assert web(data_scientist).get(page_url(dataset_version)).status_code == 403


def test_a_missing_stored_file_is_a_404_not_a_500(web, data_scientist, version):
    default_storage.delete(version.artifact)
    response = web(data_scientist).get(page_url(version))
    assert response.status_code == 404
    assert downloads() == []


def test_service_refusal_is_recorded_once(data_scientist, model, version):
    AccessPolicyFactory(model=model)
    with pytest.raises(services.Forbidden):
        services.model_version_download(actor=data_scientist, model_version=version)
    assert len(denials()) == 1


# --- API ----------------------------------------------------------------------------------------


def test_api_download_streams_the_artifact(client_for, data_scientist, version):
    response = client_for(data_scientist).get(api_url(version),
                                              HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    assert body(response) == ARTIFACT
    assert response["Content-Disposition"].startswith("attachment;")
    (entry,) = downloads()
    assert entry.interface == "api"


def test_api_download_of_a_dataset_file(client_for, data_scientist, dataset_version):
    response = client_for(data_scientist).get(api_url(dataset_version))
    assert response.status_code == 200 and body(response) == CSV


def test_api_download_refusals_are_json(client_for, api_client, auditor, outsider, version,
                                        dataset_version):
    for item in (version, dataset_version):
        assert api_client.get(api_url(item)).status_code == 401
        response = client_for(outsider).get(api_url(item))
        assert response.status_code == 404 and response.json()["detail"]
        response = client_for(auditor).get(api_url(item), HTTP_ACCEPT="application/octet-stream")
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert "default rule" in response.json()["detail"]
    assert downloads() == []


def test_api_download_of_an_unknown_version_is_404(client_for, data_scientist):
    assert client_for(data_scientist).get("/api/v1/model-versions/424242/download/"
                                          ).status_code == 404


def test_registry_routes_still_answer_next_to_the_download_route(client_for, data_scientist,
                                                                 version):
    response = client_for(data_scientist).get(f"/api/v1/model-versions/{version.pk}/")
    assert response.status_code == 200 and response.json()["id"] == version.pk


# --- The version pages' link --------------------------------------------------------------------


def test_version_pages_offer_the_download_only_when_allowed(web, data_scientist, auditor,
                                                            version, dataset_version):
    html = web(data_scientist).get(version.get_absolute_url()).content.decode()
    assert page_url(version) in html
    html = web(auditor).get(version.get_absolute_url()).content.decode()
    assert page_url(version) not in html and 'data-testid="download-refused"' in html
    html = web(data_scientist).get(dataset_version.get_absolute_url()).content.decode()
    assert page_url(dataset_version) in html
    assert reverse("policies:asset-policy", args=["dataset", dataset_version.dataset_id]) in html
