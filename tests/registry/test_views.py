"""The registry's server-rendered pages: who sees what, forms calling services, uploads, queries.

Every page is requested as anonymous (redirect to sign-in), as a data scientist of the owning
team, as an outsider (404 on the team's objects, absent from lists), as read-only roles
(reads work, writes are 403) and as an administrator (team management).
"""

import hashlib
import io
import re

import joblib
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from sklearn.linear_model import LogisticRegression

from apps.accounts.choices import TeamRole
from apps.registry import choices
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)
from tests.accounts.factories import UserFactory
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    DeploymentFactory,
    LineageLinkFactory,
    MLModelFactory,
    ModelVersionFactory,
    TeamFactory,
    TeamMembershipFactory,
)

pytestmark = pytest.mark.django_db


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def web(client):
    """A Django test client signed in (session) as the given user; None stays anonymous."""

    def make(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def world(team, data_scientist):
    """One of everything, owned by `team` (the data scientist's team)."""
    model = MLModelFactory(team=team, name="credit-scorer", risk_tier=choices.RiskTier.HIGH)
    version = ModelVersionFactory(model=model, version="1.0.0", registered_by=data_scientist)
    dataset = DatasetFactory(team=team, name="loan-applications", has_personal_data=True)
    dataset_version = DatasetVersionFactory(dataset=dataset, version="2026-11")
    link = LineageLinkFactory(model_version=version, dataset_version=dataset_version)
    deployment = DeploymentFactory(model_version=version, endpoint_url="https://score.example.org")
    return {
        "team": team, "model": model, "version": version, "dataset": dataset,
        "dataset_version": dataset_version, "link": link, "deployment": deployment,
    }


def joblib_model_bytes() -> bytes:
    """A real scikit-learn model dumped by joblib, as a data scientist would upload it."""
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def assert_csp_clean(html: str) -> None:
    """No inline script, inline event handler or inline style: a strict CSP would block them."""
    for attrs in SCRIPT_TAG.findall(html):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE)
    assert "<style" not in html.lower()
    assert "http://" not in html.replace("http://testserver", "")  # no CDN


# --- URLs per kind ------------------------------------------------------------------------------

READ_PAGES = [
    ("registry:home", None),
    ("registry:team-list", None),
    ("registry:team-detail", "team"),
    ("registry:model-list", None),
    ("registry:model-detail", "model"),
    ("registry:version-detail", "version"),
    ("registry:dataset-list", None),
    ("registry:dataset-detail", "dataset"),
    ("registry:dataset-version-detail", "dataset_version"),
    ("registry:deployment-list", None),
    ("registry:deployment-detail", "deployment"),
]
# Write pages of the team's objects: a data scientist of the team may open them.
OBJECT_WRITE_PAGES = [
    ("registry:model-update", "model"),
    ("registry:version-create", "model"),
    ("registry:deployment-create", "version"),
    ("registry:dataset-update", "dataset"),
    ("registry:dataset-version-create", "dataset"),
    ("registry:deployment-update", "deployment"),
]
CREATE_PAGES = ["registry:model-create", "registry:dataset-create"]
ADMIN_PAGES = [("registry:team-create", None), ("registry:team-update", "team")]
POST_ONLY = [
    ("registry:lineage-add", "version"),
    ("registry:deployment-retire", "deployment"),
    ("registry:team-member-set", "team"),
]


def url_for(world, name, key):
    return reverse(name, args=[world[key].pk]) if key else reverse(name)


# --- Anonymous ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    READ_PAGES + OBJECT_WRITE_PAGES + ADMIN_PAGES + POST_ONLY + [(n, None) for n in CREATE_PAGES],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_sign_in(web, world, name, key, method):
    url = url_for(world, name, key)
    response = getattr(web(None), method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_anonymous_cannot_remove_a_member(web, world, data_scientist):
    url = reverse("registry:team-member-remove", args=[world["team"].pk, data_scientist.pk])
    response = web(None).post(url)
    assert response.status_code == 302
    assert TeamMembership.objects.filter(user=data_scientist).exists()


# --- Data scientist of the team -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "key"), READ_PAGES + OBJECT_WRITE_PAGES)
def test_team_data_scientist_opens_every_page(web, world, data_scientist, name, key):
    response = web(data_scientist).get(url_for(world, name, key))
    assert response.status_code == 200
    html = response.content.decode()
    assert_csp_clean(html)
    assert "Credit Risk" in html or "credit-scorer" in html or "loan-applications" in html


@pytest.mark.parametrize("name", CREATE_PAGES)
def test_team_data_scientist_opens_create_pages(web, data_scientist, name):
    response = web(data_scientist).get(reverse(name))
    assert response.status_code == 200
    assert 'name="team"' in response.content.decode()


def test_detail_pages_show_the_registry_facts(web, world, data_scientist):
    client = web(data_scientist)
    version = world["version"]
    html = client.get(url_for(world, "registry:version-detail", "version")).content.decode()
    assert version.sha256 in html
    assert "joblib" in html
    assert "loan-applications" in html  # lineage
    assert "Training" in html
    assert f"#{world['deployment'].pk}" in html
    html = client.get(url_for(world, "registry:model-detail", "model")).content.decode()
    assert "1.0.0" in html and "2026-11" in html and "High" in html
    html = client.get(url_for(world, "registry:dataset-version-detail",
                              "dataset_version")).content.decode()
    assert "credit-scorer" in html and "<code>x</code>" in html and "integer" in html
    html = client.get(url_for(world, "registry:dataset-detail", "dataset")).content.decode()
    assert "Personal" in html
    html = client.get(url_for(world, "registry:team-detail", "team")).content.decode()
    assert "dana" in html and "credit-scorer" in html and "loan-applications" in html


def test_home_counts_only_the_users_teams(web, world, data_scientist, other_team):
    MLModelFactory.create_batch(4, team=other_team, risk_tier=choices.RiskTier.UNACCEPTABLE)
    response = web(data_scientist).get(reverse("registry:home"))
    tiers = {value: count for value, _, count in response.context["tiers"]}
    assert response.context["model_count"] == 1
    assert tiers[choices.RiskTier.HIGH] == 1
    assert tiers[choices.RiskTier.UNACCEPTABLE] == 0
    assert list(response.context["recent_versions"]) == [world["version"]]


def test_home_counts_distinct_models_despite_many_versions(web, world, compliance_officer):
    for n in range(3):
        DeploymentFactory(model_version=ModelVersionFactory(model=world["model"], version=f"2.{n}"))
    response = web(compliance_officer).get(reverse("registry:home"))
    assert response.context["model_count"] == 1
    statuses = {value: count for value, _, count in response.context["statuses"]}
    assert statuses[choices.LifecycleStatus.DEVELOPMENT] == 1


def test_lists_filter_and_search(web, world, data_scientist, team):
    MLModelFactory(team=team, name="churn-predictor", risk_tier=choices.RiskTier.MINIMAL,
                   task=choices.ModelTask.REGRESSION)
    client = web(data_scientist)
    url = reverse("registry:model-list")

    def names(params):
        return [m.name for m in client.get(url, params).context["page_obj"]]

    assert names({}) == ["churn-predictor", "credit-scorer"]
    assert names({"q": "churn"}) == ["churn-predictor"]
    assert names({"risk_tier": "high"}) == ["credit-scorer"]
    assert names({"task": "regression"}) == ["churn-predictor"]
    assert names({"team": team.pk, "lifecycle_status": "development"}) == [
        "churn-predictor", "credit-scorer"]
    assert names({"risk_tier": "not-a-tier"}) == ["churn-predictor", "credit-scorer"]

    DatasetFactory(team=team, name="public-census", source=choices.DatasetSource.PUBLIC)
    url = reverse("registry:dataset-list")
    datasets = [d.name for d in client.get(url, {"sensitivity": "personal"}).context["page_obj"]]
    assert datasets == ["loan-applications"]
    datasets = [d.name for d in client.get(url, {"source": "public"}).context["page_obj"]]
    assert datasets == ["public-census"]
    datasets = [d.name for d in client.get(url, {"sensitivity": "none"}).context["page_obj"]]
    assert datasets == ["public-census"]

    DeploymentFactory(model_version=world["version"], environment=choices.Environment.STAGING,
                      is_active=False)
    url = reverse("registry:deployment-list")
    found = list(client.get(url, {"environment": "staging"}).context["page_obj"])
    assert [d.environment for d in found] == ["staging"]
    found = list(client.get(url, {"active": "yes"}).context["page_obj"])
    assert found == [world["deployment"]]

    teams = client.get(reverse("registry:team-list"), {"q": "credit"}).context["page_obj"]
    assert [t.name for t in teams] == ["Credit Risk"]


def test_lists_paginate_by_25(web, data_scientist, team):
    MLModelFactory.create_batch(30, team=team)
    client = web(data_scientist)
    first = client.get(reverse("registry:model-list"))
    assert len(first.context["page_obj"]) == 25
    assert "page=2" in first.content.decode()
    second = client.get(reverse("registry:model-list"), {"page": 2})
    assert len(second.context["page_obj"]) == 5
    assert client.get(reverse("registry:model-list"), {"page": "x"}).status_code == 200


# --- Outsider -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [p for p in READ_PAGES if p[1]] + OBJECT_WRITE_PAGES + [("registry:team-update", "team")],
)
def test_outsider_gets_404_on_the_teams_objects(web, world, outsider, name, key):
    response = web(outsider).get(url_for(world, name, key))
    assert response.status_code == 404
    assert "Not found" in response.content.decode()


@pytest.mark.parametrize(("name", "key"), POST_ONLY + [("registry:version-create", "model"),
                                                      ("registry:model-update", "model")])
def test_outsider_posts_get_404_and_change_nothing(web, world, outsider, name, key):
    response = web(outsider).post(url_for(world, name, key), {"role": "training"})
    assert response.status_code == 404
    assert Deployment.objects.get().is_active
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("registry:model-list", "credit-scorer"),
        ("registry:dataset-list", "loan-applications"),
        ("registry:deployment-list", "score.example.org"),
        ("registry:team-list", "Credit Risk"),
        ("registry:home", "credit-scorer"),
    ],
)
def test_outsider_lists_do_not_show_the_team(web, world, outsider, name, needle):
    response = web(outsider).get(reverse(name))
    assert response.status_code == 200
    assert needle not in response.content.decode()


def test_outsider_cannot_create_a_model_for_another_team(web, world, outsider):
    response = web(outsider).post(reverse("registry:model-create"), {
        "team": world["team"].pk, "name": "sneaky", "task": "classification",
        "risk_tier": "minimal", "lifecycle_status": "development",
    })
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not MLModel.objects.filter(name="sneaky").exists()


# --- Read-only roles ----------------------------------------------------------------------------

READ_ONLY = ["compliance_officer", "auditor"]


@pytest.mark.parametrize("role", READ_ONLY)
@pytest.mark.parametrize(("name", "key"), READ_PAGES)
def test_read_only_roles_read_everything(web, world, request, role, name, key):
    user = request.getfixturevalue(role)
    response = web(user).get(url_for(world, name, key))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Upload a version" not in html
    assert "Register a model" not in html
    assert 'action="' + reverse("registry:lineage-add", args=[world["version"].pk]) not in html


@pytest.mark.parametrize("role", READ_ONLY)
@pytest.mark.parametrize(
    ("name", "key"),
    OBJECT_WRITE_PAGES + ADMIN_PAGES + [(n, None) for n in CREATE_PAGES],
)
def test_read_only_roles_get_403_on_write_pages(web, world, request, role, name, key):
    user = request.getfixturevalue(role)
    client = web(user)
    url = url_for(world, name, key)
    assert client.get(url).status_code == 403
    response = client.post(url, {"name": "changed", "version": "9", "environment": "staging"})
    assert response.status_code == 403
    assert "You do not have permission" in response.content.decode()


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_cannot_retire_link_or_manage(web, world, request, role):
    user = request.getfixturevalue(role)
    client = web(user)
    retire = url_for(world, "registry:deployment-retire", "deployment")
    assert client.post(retire).status_code == 403
    assert Deployment.objects.get().is_active
    response = client.post(url_for(world, "registry:lineage-add", "version"), {
        "dataset_version": world["dataset_version"].pk, "role": "evaluation"})
    assert response.status_code == 403
    assert LineageLink.objects.count() == 1
    response = client.post(url_for(world, "registry:team-member-set", "team"),
                           {"user": user.pk, "role": "lead"})
    assert response.status_code == 403
    assert not TeamMembership.objects.filter(user=user).exists()


# --- Administrator ------------------------------------------------------------------------------


def test_administrator_creates_and_edits_a_team(web, administrator):
    client = web(administrator)
    assert "New team" in client.get(reverse("registry:team-list")).content.decode()
    response = client.post(reverse("registry:team-create"),
                           {"name": "Vision", "description": "Image models"})
    team = Team.objects.get(name="Vision")
    assert response.status_code == 302
    assert response["Location"] == team.get_absolute_url()
    response = client.post(reverse("registry:team-update", args=[team.pk]),
                           {"name": "Computer Vision", "description": ""})
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Computer Vision"
    duplicate = client.post(reverse("registry:team-create"), {"name": "Computer Vision"})
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.content.decode()


def test_administrator_manages_members(web, world, administrator, data_scientist):
    client = web(administrator)
    team = world["team"]
    newcomer = UserFactory(username="nina")
    page = client.get(team.get_absolute_url()).content.decode()
    assert "Add a member" in page
    response = client.post(reverse("registry:team-member-set", args=[team.pk]),
                           {"user": newcomer.pk, "role": TeamRole.LEAD})
    assert response.status_code == 302
    assert TeamMembership.objects.get(team=team, user=newcomer).role == TeamRole.LEAD
    response = client.post(reverse("registry:team-member-set", args=[team.pk]),
                           {"user": newcomer.pk, "role": TeamRole.MEMBER})
    assert TeamMembership.objects.get(team=team, user=newcomer).role == TeamRole.MEMBER
    response = client.post(
        reverse("registry:team-member-remove", args=[team.pk, newcomer.pk])
    )
    assert response.status_code == 302
    assert not TeamMembership.objects.filter(team=team, user=newcomer).exists()
    bad = client.post(reverse("registry:team-member-set", args=[team.pk]),
                      {"user": newcomer.pk, "role": "emperor"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_data_scientist_cannot_manage_teams(web, world, data_scientist):
    client = web(data_scientist)
    team = world["team"]
    page = client.get(team.get_absolute_url()).content.decode()
    assert "Add a member" not in page and "Edit team" not in page
    assert client.get(reverse("registry:team-create")).status_code == 403
    response = client.post(reverse("registry:team-member-remove", args=[team.pk,
                                                                        data_scientist.pk]))
    assert response.status_code == 403
    assert TeamMembership.objects.filter(user=data_scientist).exists()


def test_administrator_cannot_register_models(web, world, administrator):
    """Models are written by their team's data scientists; administrators manage people."""
    client = web(administrator)
    assert client.get(reverse("registry:model-detail", args=[world["model"].pk])).status_code == 200
    assert client.get(reverse("registry:model-create")).status_code == 403
    assert client.get(reverse("registry:version-create",
                              args=[world["model"].pk])).status_code == 403


# --- Create and edit through services -----------------------------------------------------------


def test_data_scientist_registers_and_edits_a_model(web, team, data_scientist):
    client = web(data_scientist)
    response = client.post(reverse("registry:model-create"), {
        "team": team.pk, "name": "fraud-gbm", "description": "Gradient boosting",
        "task": "classification", "intended_use": "Flag card fraud", "risk_tier": "high",
        "lifecycle_status": "validation",
    })
    model = MLModel.objects.get(name="fraud-gbm")
    assert response.status_code == 302 and response["Location"] == model.get_absolute_url()
    assert model.created_by == data_scientist and model.risk_tier == "high"
    followed = client.get(model.get_absolute_url())
    assert "Model fraud-gbm registered." in followed.content.decode()

    response = client.post(reverse("registry:model-update", args=[model.pk]), {
        "name": "fraud-gbm", "task": "classification", "risk_tier": "limited",
        "lifecycle_status": "production",
    })
    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.risk_tier, model.lifecycle_status) == ("limited", "production")


def test_duplicate_model_name_is_a_field_error(web, world, data_scientist, team):
    response = web(data_scientist).post(reverse("registry:model-create"), {
        "team": team.pk, "name": "credit-scorer", "task": "classification",
        "risk_tier": "minimal", "lifecycle_status": "development",
    })
    assert response.status_code == 400
    assert "already has a model with this name" in response.content.decode()
    assert response.context["form"].errors["name"]


def test_invalid_choice_is_400_not_500(web, team, data_scientist):
    response = web(data_scientist).post(reverse("registry:model-create"), {
        "team": team.pk, "name": "x", "task": "telepathy", "risk_tier": "minimal",
        "lifecycle_status": "development",
    })
    assert response.status_code == 400
    assert not MLModel.objects.filter(name="x").exists()


def test_data_scientist_registers_and_edits_a_dataset(web, team, data_scientist):
    client = web(data_scientist)
    response = client.post(reverse("registry:dataset-create"), {
        "team": team.pk, "name": "transactions", "source": "vendor", "licence": "Proprietary",
        "has_financial_data": "on", "sensitive_columns": "iban, name",
        "label_column": "is_fraud",
    })
    dataset = Dataset.objects.get(name="transactions")
    assert response.status_code == 302
    assert dataset.has_financial_data and not dataset.has_personal_data
    assert dataset.sensitive_columns == ["iban", "name"]
    page = client.get(reverse("registry:dataset-update", args=[dataset.pk])).content.decode()
    assert 'value="iban, name"' in page
    response = client.post(reverse("registry:dataset-update", args=[dataset.pk]), {
        "name": "transactions", "source": "internal", "sensitive_columns": "",
    })
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.source == "internal" and dataset.sensitive_columns == []
    assert not dataset.has_financial_data


def test_deployment_lifecycle(web, world, data_scientist):
    client = web(data_scientist)
    version = world["version"]
    response = client.post(reverse("registry:deployment-create", args=[version.pk]), {
        "environment": "staging", "endpoint_url": "https://staging.example.org/score",
        "exposure": "partner", "requires_authentication": "on", "rate_limit_per_minute": "60",
        "output_granularity": "rounded_scores",
    })
    deployment = Deployment.objects.get(environment="staging")
    assert response.status_code == 302 and response["Location"] == deployment.get_absolute_url()
    assert deployment.rate_limit_per_minute == 60 and deployment.created_by == data_scientist

    response = client.post(reverse("registry:deployment-update", args=[deployment.pk]), {
        "exposure": "public", "output_granularity": "label", "endpoint_url": "",
    })
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.exposure == "public" and not deployment.requires_authentication

    bad = client.post(reverse("registry:deployment-update", args=[deployment.pk]), {
        "exposure": "public", "output_granularity": "label", "rate_limit_per_minute": "0",
    })
    assert bad.status_code == 400

    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "data-confirm" in page and "Retire" in page
    response = client.post(reverse("registry:deployment-retire", args=[deployment.pk]))
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert not deployment.is_active and deployment.retired_at is not None
    assert client.get(reverse("registry:deployment-retire",
                              args=[deployment.pk])).status_code == 405


def test_lineage_link_added_from_the_version_page(web, world, data_scientist, team):
    client = web(data_scientist)
    holdout = DatasetVersionFactory(dataset=world["dataset"], version="holdout-1")
    url = reverse("registry:lineage-add", args=[world["version"].pk])
    response = client.post(url, {"dataset_version": holdout.pk, "role": "holdout"})
    assert response.status_code == 302
    assert LineageLink.objects.filter(dataset_version=holdout, role="holdout").exists()
    bad = client.post(url, {"dataset_version": holdout.pk, "role": "astrology"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_version_page_explains_lineage_needs_a_dataset_version(web, team, data_scientist):
    version = ModelVersionFactory(model=MLModelFactory(team=team))
    html = web(data_scientist).get(version.get_absolute_url()).content.decode()
    assert "first <a" in html and 'name="dataset_version"' not in html


def test_lineage_refuses_another_teams_dataset_version(web, world, data_scientist, other_team):
    foreign = DatasetVersionFactory(dataset=DatasetFactory(team=other_team))
    response = web(data_scientist).post(
        reverse("registry:lineage-add", args=[world["version"].pk]),
        {"dataset_version": foreign.pk, "role": "training"},
    )
    assert response.status_code == 400
    assert not LineageLink.objects.filter(dataset_version=foreign).exists()


def test_malformed_ids_are_404(web, data_scientist):
    response = web(data_scientist).get("/models/99999999/")
    assert response.status_code == 404


# --- Model version uploads ----------------------------------------------------------------------


def test_upload_a_real_joblib_model(web, world, data_scientist):
    client = web(data_scientist)
    model = world["model"]
    content = joblib_model_bytes()
    digest = hashlib.sha256(content).hexdigest()
    response = client.post(reverse("registry:version-create", args=[model.pk]), {
        "version": "2.0.0", "artifact": upload("scorer.joblib", content),
        "expected_sha256": digest, "framework": "scikit-learn",
        "dependencies": "scikit-learn==1.5.2\njoblib==1.4.2", "notes": "Retrained monthly.",
    })
    version = ModelVersion.objects.get(model=model, version="2.0.0")
    assert response.status_code == 302 and response["Location"] == version.get_absolute_url()
    assert (version.sha256, version.size, version.format) == (digest, len(content), "joblib")
    assert default_storage.exists(version.artifact)
    page = client.get(version.get_absolute_url()).content.decode()
    assert digest in page and "scorer.joblib" in page and "scikit-learn==1.5.2" in page
    assert "Version 2.0.0 registered (joblib)." in page


def test_upload_answers_json_to_the_upload_script(web, world, data_scientist):
    client = web(data_scientist)
    url = reverse("registry:version-create", args=[world["model"].pk])
    response = client.post(url, {"version": "3.0", "artifact": upload("m.joblib",
                                                                       joblib_model_bytes()),
                                 "framework": "scikit-learn"},
                           headers={"Accept": "application/json"})
    version = ModelVersion.objects.get(version="3.0")
    assert response.status_code == 200
    assert response.json() == {"redirect": version.get_absolute_url()}
    again = client.post(url, {"version": "3.0", "artifact": upload("m.joblib", b"other"),
                              "framework": "scikit-learn"},
                        headers={"Accept": "application/json"})
    assert again.status_code == 400
    body = again.json()
    assert "already exists" in body["errors"]["version"][0]
    assert body["detail"].startswith("Version:")


def test_upload_page_carries_the_limit_as_json_and_the_script(web, world, data_scientist):
    html = web(data_scientist).get(
        reverse("registry:version-create", args=[world["model"].pk])
    ).content.decode()
    assert '<script id="upload-limit" type="application/json">' in html
    assert "core/js/upload.js" in html
    assert "<progress" in html and 'enctype="multipart/form-data"' in html
    assert_csp_clean(html)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"version": "9", "artifact": upload("empty.bin", b"")}, "artifact", "empty"),
        ({"version": "1.0.0", "artifact": upload("m.bin", b"\x80\x04K\x01.")}, "version",
         "already exists"),
        ({"version": "9", "artifact": upload("m.bin", b"\x80\x04K\x01."),
          "expected_sha256": "0" * 64}, "expected_sha256", "not the expected"),
        ({"version": "9", "artifact": upload("m.bin", b"\x80\x04K\x01."),
          "expected_sha256": "xyz"}, "expected_sha256", "64 hexadecimal"),
        ({"version": "9"}, "artifact", "required"),
        ({"version": "", "artifact": upload("m.bin", b"data")}, "version", "required"),
    ],
)
def test_bad_model_uploads_are_shown_on_the_form(web, world, data_scientist, data, field,
                                                 message):
    before = set(default_storage.listdir("artifacts")[0]) if default_storage.exists(
        "artifacts") else set()
    response = web(data_scientist).post(
        reverse("registry:version-create", args=[world["model"].pk]),
        {"framework": "other", **data},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert message in response.content.decode()
    assert ModelVersion.objects.count() == 1
    after = set(default_storage.listdir("artifacts")[0]) if default_storage.exists(
        "artifacts") else set()
    assert after == before  # nothing half-written


def test_too_large_artifact_is_413(web, world, data_scientist, settings):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 1024
    response = web(data_scientist).post(
        reverse("registry:version-create", args=[world["model"].pk]),
        {"version": "big", "framework": "other", "artifact": upload("big.bin", b"x" * 4096)},
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "The file is too large." in html and "the limit is 1024 bytes" in html
    assert not ModelVersion.objects.filter(version="big").exists()


def test_too_large_artifact_is_413_json_for_the_script(web, world, data_scientist, settings):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 1024
    response = web(data_scientist).post(
        reverse("registry:version-create", args=[world["model"].pk]),
        {"version": "big", "framework": "other", "artifact": upload("big.bin", b"x" * 4096)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert "limit is 1024 bytes" in response.json()["errors"]["artifact"][0]


# --- Dataset version uploads --------------------------------------------------------------------

GOOD_CSV = (
    b"id,age,income,approved,applied_on\n"
    b"1,34,52000.5,yes,2026-01-03\n"
    b"2,51,61000,no,2026-02-11\n"
)


def test_upload_a_csv_dataset_version(web, world, data_scientist):
    client = web(data_scientist)
    dataset = world["dataset"]
    response = client.post(reverse("registry:dataset-version-create", args=[dataset.pk]),
                           {"version": "2026-12", "file": upload("loans.csv", GOOD_CSV,
                                                                 "text/csv")})
    version = DatasetVersion.objects.get(dataset=dataset, version="2026-12")
    assert response.status_code == 302 and response["Location"] == version.get_absolute_url()
    assert version.row_count == 2
    assert [c["type"] for c in version.columns] == [
        "integer", "integer", "float", "boolean", "datetime"]
    page = client.get(version.get_absolute_url()).content.decode()
    assert "income" in page and "datetime" in page and "2 rows" in page


@pytest.mark.parametrize(
    ("content", "version", "message"),
    [
        (b"a,b\n1,2\n3\n", "bad", "Line 3: expected 2 fields, found 1."),
        (b'a,b\n1,"unterminated\n', "bad", "Line"),
        (b"", "bad", "empty"),
        (b"\xff\xfe\x00a,b\n", "bad", "not UTF-8"),
        (GOOD_CSV, "2026-11", "already exists"),
    ],
)
def test_bad_csv_uploads_are_shown_on_the_form(web, world, data_scientist, content, version,
                                               message):
    response = web(data_scientist).post(
        reverse("registry:dataset-version-create", args=[world["dataset"].pk]),
        {"version": version, "file": upload("data.csv", content, "text/csv")},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert DatasetVersion.objects.count() == 1


def test_too_large_csv_is_413(web, world, data_scientist, settings):
    settings.MLGOV_MAX_DATASET_BYTES = 64
    response = web(data_scientist).post(
        reverse("registry:dataset-version-create", args=[world["dataset"].pk]),
        {"version": "big", "file": upload("big.csv", GOOD_CSV * 10, "text/csv")},
    )
    assert response.status_code == 413
    assert "the limit is 64 bytes" in response.content.decode()


def test_outsider_upload_is_404(web, world, outsider):
    response = web(outsider).post(
        reverse("registry:dataset-version-create", args=[world["dataset"].pk]),
        {"version": "x", "file": upload("d.csv", GOOD_CSV, "text/csv")},
    )
    assert response.status_code == 404
    assert not DatasetVersion.objects.filter(version="x").exists()


# --- Query counts do not grow with the rows -----------------------------------------------------


def _make_rows(kind: str, n: int, team: Team) -> None:
    for _ in range(n):
        if kind == "teams":
            extra = TeamFactory()
            TeamMembershipFactory(team=extra, user=TeamMembership.objects.filter(
                team=team).first().user)
            MLModelFactory(team=extra)
        elif kind == "models":
            version = ModelVersionFactory(model=MLModelFactory(team=team))
            DeploymentFactory(model_version=version)
        elif kind == "datasets":
            DatasetVersionFactory(dataset=DatasetFactory(team=team, has_health_data=True))
        elif kind == "deployments":
            DeploymentFactory(model_version=ModelVersionFactory(model=MLModelFactory(team=team)))


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("teams", "registry:team-list"),
        ("models", "registry:model-list"),
        ("datasets", "registry:dataset-list"),
        ("deployments", "registry:deployment-list"),
        ("models", "registry:home"),
    ],
)
@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer"])
def test_list_query_count_does_not_grow_with_rows(web, team, data_scientist, request, kind,
                                                  name, role):
    client = web(request.getfixturevalue(role))
    url = reverse(name)
    _make_rows(kind, 3, team)
    small = _count_queries(client, url)
    _make_rows(kind, 27, team)
    large = _count_queries(client, url)
    assert small == large
    assert small <= 12


def test_team_page_offers_create_links_only_to_team_writers(web, world, data_scientist,
                                                            compliance_officer):
    url = world["team"].get_absolute_url()
    create = f'{reverse("registry:model-create")}?team={world["team"].pk}'
    assert create in web(data_scientist).get(url).content.decode()
    assert create not in web(compliance_officer).get(url).content.decode()
    form = web(data_scientist).get(create).content.decode()
    assert f'<option value="{world["team"].pk}" selected>' in form


def test_missing_csrf_token_gets_a_friendly_403(data_scientist, team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(data_scientist)
    response = client.post(reverse("registry:model-create"), {"team": team.pk, "name": "x"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert not MLModel.objects.filter(name="x").exists()
