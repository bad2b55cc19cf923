"""Registry REST API (CONTRACT.md "Registry"): shapes, bad input, permissions, uploads, queries.

Uploads go through the real multipart parser and the project's streaming upload handler, and
stored files are checked through Django's default storage (one temporary MEDIA_ROOT per test).
"""

import hashlib
import io
import json
import pickle

import joblib
import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from sklearn.linear_model import LogisticRegression

from apps.accounts.choices import Role
from apps.registry import choices
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
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

API = "/api/v1"
LIST_ENDPOINTS = [
    "teams",
    "models",
    "model-versions",
    "datasets",
    "dataset-versions",
    "lineage-links",
    "deployments",
]
CSV = b"age,income,approved,signed_up\n34,52000.5,true,2024-01-02\n51,61000,false,2023-11-30\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores files in its own folder, so 'no orphan file' checks are exact."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(prefix: str = "") -> list[str]:
    """Every file under `prefix` in the default storage (walked through the storage API)."""
    if not default_storage.exists(prefix or "."):
        return []
    found = []
    directories, files = default_storage.listdir(prefix or ".")
    found += [f"{prefix}/{name}" if prefix else name for name in files]
    for directory in directories:
        found += stored_files(f"{prefix}/{directory}" if prefix else directory)
    return found


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def pickled_dict() -> bytes:
    return pickle.dumps({"weights": [0.1, 0.2, 0.3], "bias": 1.5}, protocol=4)


def joblib_sklearn_model() -> bytes:
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.2], [0.1, 0.8]])
    model = LogisticRegression().fit(features, [0, 1, 1, 0])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


@pytest.fixture
def model(team, data_scientist):
    return MLModelFactory(team=team, name="credit-scorer", created_by=data_scientist)


@pytest.fixture
def dataset(team, data_scientist):
    return DatasetFactory(team=team, name="loans", created_by=data_scientist)


@pytest.fixture
def other_model(other_team):
    return MLModelFactory(team=other_team, name="fraud-net")


@pytest.fixture
def other_dataset(other_team):
    return DatasetFactory(team=other_team, name="transactions")


def post_version(client, model_id, *, version="1.0.0", content=None, name="model.pkl", **extra):
    data = {"model": model_id, "version": version, **extra}
    if content is not None:
        data["artifact"] = upload(name, content)
    return client.post(f"{API}/model-versions/", data, format="multipart")


def post_dataset_version(
    client, dataset_id, *, version="v1", content=CSV, name="data.csv", **extra
):
    data = {"dataset": dataset_id, "version": version, **extra}
    if content is not None:
        data["file"] = upload(name, content)
    return client.post(f"{API}/dataset-versions/", data, format="multipart")


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_anonymous_callers_get_401_on_lists_and_writes(api_client, endpoint):
    assert api_client.get(f"{API}/{endpoint}/").status_code == 401
    response = api_client.post(f"{API}/{endpoint}/", {}, format="json")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_anonymous_callers_get_401_on_details_and_actions(api_client, model):
    version = ModelVersionFactory(model=model)
    deployment = DeploymentFactory(model_version=version)
    assert api_client.get(f"{API}/models/{model.pk}/").status_code == 401
    assert api_client.patch(f"{API}/models/{model.pk}/", {"name": "x"}).status_code == 401
    assert api_client.post(f"{API}/deployments/{deployment.pk}/retire/").status_code == 401


def test_token_header_authenticates_api_calls(api_client, data_scientist, team):
    login = api_client.post(
        f"{API}/auth/token/",
        {"username": data_scientist.username, "password": "correct-horse-battery-staple"},
    )
    assert login.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    response = api_client.get(f"{API}/teams/")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == [team.name]


# --- Teams ------------------------------------------------------------------------------------


def test_team_list_is_scoped_for_data_scientists(client_for, data_scientist, team, other_team):
    response = client_for(data_scientist).get(f"{API}/teams/")
    assert response.status_code == 200
    body = response.json()
    assert {"next", "previous", "results"} <= set(body)
    assert [row["id"] for row in body["results"]] == [team.pk]


@pytest.mark.parametrize("role_fixture", ["auditor", "compliance_officer", "administrator"])
def test_cross_team_roles_read_every_team(request, client_for, role_fixture, team, other_team):
    user = request.getfixturevalue(role_fixture)
    names = [row["name"] for row in client_for(user).get(f"{API}/teams/").json()["results"]]
    assert names == sorted([team.name, other_team.name])


def test_team_detail_has_counts(client_for, data_scientist, team, model, dataset):
    body = client_for(data_scientist).get(f"{API}/teams/{team.pk}/").json()
    assert body["id"] == team.pk
    assert body["model_count"] == 1
    assert body["dataset_count"] == 1
    assert body["member_count"] == 1


def test_outsider_gets_404_on_another_teams_team(client_for, outsider, team):
    assert client_for(outsider).get(f"{API}/teams/{team.pk}/").status_code == 404
    response = client_for(outsider).patch(f"{API}/teams/{team.pk}/", {"name": "Mine now"})
    assert response.status_code == 404


def test_administrator_creates_and_renames_teams(client_for, administrator):
    client = client_for(administrator)
    created = client.post(f"{API}/teams/", {"name": " Vision ", "description": "CV models"})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Vision"
    assert body["model_count"] == 0
    renamed = client.patch(f"{API}/teams/{body['id']}/", {"name": "Computer Vision"})
    assert renamed.status_code == 200
    assert Team.objects.get(pk=body["id"]).name == "Computer Vision"


@pytest.mark.parametrize("role_fixture", ["data_scientist", "auditor", "compliance_officer"])
def test_only_administrators_create_or_change_teams(request, client_for, role_fixture, team):
    client = client_for(request.getfixturevalue(role_fixture))
    assert client.post(f"{API}/teams/", {"name": "Rogue"}).status_code == 403
    assert client.patch(f"{API}/teams/{team.pk}/", {"name": "Renamed"}).status_code == 403
    assert not Team.objects.filter(name__in=["Rogue", "Renamed"]).exists()


def test_team_name_must_be_unique(client_for, administrator, team):
    response = client_for(administrator).post(f"{API}/teams/", {"name": team.name})
    assert response.status_code == 400
    assert "name" in response.json()


def test_team_read_only_fields_are_refused(client_for, administrator):
    response = client_for(administrator).post(
        f"{API}/teams/", {"name": "New", "id": 99, "model_count": 7}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["id"] == ["This field is read-only."]
    assert body["model_count"] == ["This field is read-only."]
    assert not Team.objects.filter(name="New").exists()


# --- Models -----------------------------------------------------------------------------------


def test_data_scientist_creates_a_model_in_their_team(client_for, data_scientist, team):
    response = client_for(data_scientist).post(
        f"{API}/models/",
        {"name": "churn", "team": team.pk, "risk_tier": "high", "task": "classification"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    model = MLModel.objects.get(pk=body["id"])
    assert model.created_by == data_scientist
    assert body["team"] == team.pk
    assert body["team_name"] == team.name
    assert body["risk_tier"] == "high"
    assert body["created_by"] == "dana"
    assert body["version_count"] == 0


def test_model_create_in_a_team_out_of_scope_is_404(client_for, data_scientist, other_team):
    response = client_for(data_scientist).post(
        f"{API}/models/", {"name": "sneaky", "team": other_team.pk}
    )
    assert response.status_code == 404
    assert "team" in response.json()
    assert not MLModel.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize(
    "team_value", [999999, 2**70, "abc", 1.5, True, None, "\u00b2", "9" * 5000, "-1", [1]]
)
def test_model_create_with_a_bad_team_id(client_for, data_scientist, team, team_value):
    response = client_for(data_scientist).post(f"{API}/models/", {"name": "x", "team": team_value})
    assert response.status_code == (404 if team_value == 999999 else 400)
    assert "team" in response.json()


@pytest.mark.parametrize("role_fixture", ["administrator", "auditor", "compliance_officer"])
def test_roles_that_do_not_build_models_cannot_create_them(request, client_for, role_fixture, team):
    user = request.getfixturevalue(role_fixture)
    response = client_for(user).post(f"{API}/models/", {"name": "m", "team": team.pk})
    assert response.status_code == 403
    assert not MLModel.objects.exists()


def test_model_list_is_scoped_and_filterable(client_for, data_scientist, model, other_model):
    client = client_for(data_scientist)
    MLModelFactory(team=model.team, name="risky", risk_tier=choices.RiskTier.HIGH)
    names = [r["name"] for r in client.get(f"{API}/models/").json()["results"]]
    assert names == ["credit-scorer", "risky"]
    high = client.get(f"{API}/models/", {"risk_tier": "high"}).json()["results"]
    assert [r["name"] for r in high] == ["risky"]
    assert client.get(f"{API}/models/", {"team": other_model.team_id}).json()["results"] == []
    searched = client.get(f"{API}/models/", {"search": "credit"}).json()["results"]
    assert [r["name"] for r in searched] == ["credit-scorer"]
    ordered = client.get(f"{API}/models/", {"ordering": "-name"}).json()["results"]
    assert [r["name"] for r in ordered] == ["risky", "credit-scorer"]


@pytest.mark.parametrize(
    "params", [{"risk_tier": "extreme"}, {"team": "abc"}, {"team": "1.5"}, {"team": str(2**70)}]
)
def test_bad_filter_values_are_400(client_for, data_scientist, params):
    response = client_for(data_scientist).get(f"{API}/models/", params)
    assert response.status_code == 400
    assert set(params) <= set(response.json())


def test_outsider_gets_404_on_another_teams_model(client_for, outsider, model):
    client = client_for(outsider)
    assert client.get(f"{API}/models/{model.pk}/").status_code == 404
    assert client.patch(f"{API}/models/{model.pk}/", {"name": "mine"}).status_code == 404
    assert client.get(f"{API}/models/").json()["results"] == []
    model.refresh_from_db()
    assert model.name == "credit-scorer"


@pytest.mark.parametrize("role_fixture", ["auditor", "compliance_officer", "administrator"])
def test_read_only_roles_see_but_cannot_change_models(request, client_for, role_fixture, model):
    client = client_for(request.getfixturevalue(role_fixture))
    assert client.get(f"{API}/models/{model.pk}/").status_code == 200
    response = client.patch(f"{API}/models/{model.pk}/", {"risk_tier": "minimal"})
    assert response.status_code == 403


def test_model_patch_changes_only_what_is_sent(client_for, data_scientist, model):
    response = client_for(data_scientist).patch(
        f"{API}/models/{model.pk}/", {"lifecycle_status": "validation"}
    )
    assert response.status_code == 200
    model.refresh_from_db()
    assert model.lifecycle_status == "validation"
    assert model.name == "credit-scorer"


@pytest.mark.parametrize(
    "payload, refused",
    [
        ({"team": 1}, "team"),
        ({"created_by": 1}, "created_by"),
        ({"id": 5, "name": "x"}, "id"),
        ({"version_count": 3}, "version_count"),
    ],
)
def test_model_patch_refuses_read_only_fields(
    client_for, data_scientist, model, other_team, payload, refused
):
    response = client_for(data_scientist).patch(f"{API}/models/{model.pk}/", payload)
    assert response.status_code == 400
    assert response.json()[refused] == ["This field is read-only."]
    model.refresh_from_db()
    assert model.team_id != other_team.pk and model.name == "credit-scorer"


def test_model_create_refuses_mass_assignment(client_for, data_scientist, team, outsider):
    response = client_for(data_scientist).post(
        f"{API}/models/",
        {"name": "m", "team": team.pk, "created_by": outsider.pk, "is_admin": True},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["created_by"] == ["This field is read-only."]
    assert "is_admin" in body
    assert "created_by" in body["detail"]
    assert not MLModel.objects.exists()


def test_model_names_are_unique_per_team(client_for, data_scientist, model):
    response = client_for(data_scientist).post(
        f"{API}/models/", {"name": model.name, "team": model.team_id}
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_invalid_choice_and_missing_name(client_for, data_scientist, team):
    response = client_for(data_scientist).post(
        f"{API}/models/", {"team": team.pk, "risk_tier": "extreme"}
    )
    assert response.status_code == 400
    assert {"name", "risk_tier"} <= set(response.json())


@pytest.mark.parametrize(
    "path",
    [
        "models/99999999999999999999999/",
        "models/abc/",
        "model-versions/" + "9" * 5000 + "/",
        "dataset-versions/" + "9" * 5000 + "/",
        "teams/-1/",
    ],
)
def test_unknown_and_silly_ids_are_404(client_for, data_scientist, path):
    assert client_for(data_scientist).get(f"{API}/{path}").status_code == 404


# --- Model versions ---------------------------------------------------------------------------


def test_register_a_pickled_dict(client_for, data_scientist, model):
    content = pickled_dict()
    response = post_version(
        client_for(data_scientist), model.pk, content=content, framework="other", notes="first cut"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    digest = hashlib.sha256(content).hexdigest()
    assert body["sha256"] == digest
    assert body["size"] == len(content)
    assert body["format"] == "pickle"
    assert body["model"] == model.pk
    assert body["version"] == "1.0.0"
    assert body["artifact_name"] == "model.pkl"
    assert body["registered_by"] == "dana"
    assert body["registered_at"]
    assert body["lineage"] == []
    version = ModelVersion.objects.get(pk=body["id"])
    assert version.artifact == f"artifacts/{digest[:2]}/{digest}"
    with default_storage.open(version.artifact, "rb") as stored:
        assert stored.read() == content


def test_register_a_joblib_scikit_learn_model(client_for, data_scientist, model):
    content = joblib_sklearn_model()
    response = post_version(
        client_for(data_scientist),
        model.pk,
        content=content,
        name="model.joblib",
        framework="scikit-learn",
        expected_sha256=hashlib.sha256(content).hexdigest().upper(),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["format"] == "joblib"
    assert body["framework"] == "scikit-learn"


def test_format_comes_from_the_bytes_not_the_name(client_for, data_scientist, model):
    buffer = io.BytesIO()
    np.save(buffer, np.arange(10))
    response = post_version(
        client_for(data_scientist), model.pk, content=buffer.getvalue(), name="innocent.pkl"
    )
    assert response.status_code == 201
    assert response.json()["format"] == "numpy"


def test_expected_sha256_mismatch_leaves_nothing(client_for, data_scientist, model):
    response = post_version(
        client_for(data_scientist), model.pk, content=pickled_dict(), expected_sha256="0" * 64
    )
    assert response.status_code == 400
    body = response.json()
    assert "expected_sha256" in body
    assert hashlib.sha256(pickled_dict()).hexdigest() in body["detail"]
    assert not ModelVersion.objects.exists()
    assert stored_files() == []


def test_malformed_expected_sha256_is_400(client_for, data_scientist, model):
    response = post_version(
        client_for(data_scientist), model.pk, content=pickled_dict(), expected_sha256="not-a-digest"
    )
    assert response.status_code == 400
    assert "expected_sha256" in response.json()
    assert stored_files() == []


def test_empty_artifact_is_400(client_for, data_scientist, model):
    response = post_version(client_for(data_scientist), model.pk, content=b"")
    assert response.status_code == 400
    assert "artifact" in response.json()
    assert not ModelVersion.objects.exists()


def test_missing_artifact_is_400_naming_the_field(client_for, data_scientist, model):
    response = post_version(client_for(data_scientist), model.pk, content=None)
    assert response.status_code == 400
    assert "artifact" in response.json()


def test_artifact_sent_as_text_is_400(client_for, data_scientist, model):
    response = client_for(data_scientist).post(
        f"{API}/model-versions/",
        {"model": model.pk, "version": "1", "artifact": "not a file"},
        format="multipart",
    )
    assert response.status_code == 400
    assert "artifact" in response.json()


def test_artifact_over_the_limit_is_413(client_for, data_scientist, model, settings):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 100
    response = post_version(client_for(data_scientist), model.pk, content=b"\x80\x04" + b"x" * 200)
    assert response.status_code == 413
    assert "artifact" in response.json()
    assert not ModelVersion.objects.exists()
    assert stored_files() == []


def test_artifact_over_the_upload_cap_is_413(client_for, data_scientist, model, settings):
    # Past the largest limit the upload handler stops keeping bytes; the size still counts.
    settings.MLGOV_MAX_ARTIFACT_BYTES = 64
    settings.MLGOV_MAX_DATASET_BYTES = 64
    response = post_version(client_for(data_scientist), model.pk, content=b"y" * 5000)
    assert response.status_code == 413
    assert "5000" in response.json()["detail"]
    assert stored_files() == []


def raw_multipart(fields: dict, *, file_field: str, file_name: bytes, content: bytes):
    """A multipart body built by hand: test clients clean file names before sending them."""
    boundary = "mlgov-test-boundary-7d41"
    body = b""
    for key, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        ).encode()
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="'
        ).encode()
        + file_name
        + (b'"\r\nContent-Type: application/octet-stream\r\n\r\n')
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "file_name, shown",
    [
        (b"../../etc/passwd", "passwd"),
        (b"..\\..\\windows\\system.ini", "system.ini"),
        (b"C:\\x\\y.pkl", "y.pkl"),
        (b"/absolute/path/model.pkl", "model.pkl"),
        (b"evil\x00name.pkl", None),
        (b"a" * 900 + b".pkl", None),
        (b"mod\xc3\xa9le <script>.pkl", None),
    ],
)
def test_artifact_names_with_path_tricks_are_stored_safely(
    client_for, data_scientist, model, file_name, shown
):
    content = pickled_dict()
    body, content_type = raw_multipart(
        {"model": model.pk, "version": "1"},
        file_field="artifact",
        file_name=file_name,
        content=content,
    )
    response = client_for(data_scientist).post(
        f"{API}/model-versions/", body, content_type=content_type
    )
    assert response.status_code == 201, response.json()
    stored_name = response.json()["artifact_name"]
    if shown:
        assert stored_name == shown
    assert not {"/", "\\", "\x00", "<", ">"} & set(stored_name)
    assert ".." not in stored_name
    assert 0 < len(stored_name) <= 200
    digest = hashlib.sha256(content).hexdigest()
    assert stored_files() == [f"artifacts/{digest[:2]}/{digest}"]


def test_artifact_name_too_long_to_parse_is_400(client_for, data_scientist, model):
    body, content_type = raw_multipart(
        {"model": model.pk, "version": "1"},
        file_field="artifact",
        file_name=b"a" * 5000,
        content=pickled_dict(),
    )
    response = client_for(data_scientist).post(
        f"{API}/model-versions/", body, content_type=content_type
    )
    assert response.status_code == 400
    assert not ModelVersion.objects.exists()
    assert stored_files() == []


@pytest.mark.parametrize("file_name", [b"..", b"", b"."])
def test_artifact_without_a_usable_name_is_refused_or_renamed(
    client_for, data_scientist, model, file_name
):
    body, content_type = raw_multipart(
        {"model": model.pk, "version": "1"},
        file_field="artifact",
        file_name=file_name,
        content=pickled_dict(),
    )
    response = client_for(data_scientist).post(
        f"{API}/model-versions/", body, content_type=content_type
    )
    # Django's parser drops a file part whose name is only a directory reference.
    if response.status_code == 201:
        assert response.json()["artifact_name"] == "artifact"
    else:
        assert response.status_code == 400
        assert "artifact" in response.json()
        assert stored_files() == []


def test_duplicate_version_label_is_400(client_for, data_scientist, model):
    client = client_for(data_scientist)
    assert post_version(client, model.pk, content=pickled_dict()).status_code == 201
    response = post_version(client, model.pk, content=b"other bytes")
    assert response.status_code == 400
    assert "version" in response.json()
    assert ModelVersion.objects.count() == 1
    assert len(stored_files()) == 1


def test_identical_artifacts_share_one_stored_file(client_for, data_scientist, model):
    client = client_for(data_scientist)
    first = post_version(client, model.pk, version="1", content=pickled_dict()).json()
    second = post_version(client, model.pk, version="2", content=pickled_dict()).json()
    assert first["sha256"] == second["sha256"]
    assert len(stored_files()) == 1


def test_version_for_a_model_out_of_scope_is_404_and_stores_nothing(client_for, outsider, model):
    response = post_version(client_for(outsider), model.pk, content=pickled_dict())
    assert response.status_code == 404
    assert "model" in response.json()
    assert stored_files() == []


@pytest.mark.parametrize("role_fixture", ["auditor", "compliance_officer", "administrator"])
def test_read_only_roles_cannot_register_versions(request, client_for, role_fixture, model):
    client = client_for(request.getfixturevalue(role_fixture))
    response = post_version(client, model.pk, content=pickled_dict())
    assert response.status_code == 403
    assert stored_files() == []


def test_version_upload_refuses_read_only_fields(client_for, data_scientist, model):
    response = post_version(
        client_for(data_scientist),
        model.pk,
        content=pickled_dict(),
        sha256="0" * 64,
        size=1,
        format="onnx",
        registered_by="root",
    )
    assert response.status_code == 400
    body = response.json()
    for field in ("sha256", "size", "format", "registered_by"):
        assert body[field] == ["This field is read-only."]
    assert not ModelVersion.objects.exists()
    assert stored_files() == []


def test_version_upload_with_lineage(client_for, data_scientist, model, dataset):
    train = DatasetVersionFactory(dataset=dataset, version="train")
    holdout = DatasetVersionFactory(dataset=dataset, version="holdout")
    lineage = [
        {"dataset_version": train.pk, "role": "training"},
        {"dataset_version": holdout.pk, "role": "holdout"},
    ]
    response = post_version(
        client_for(data_scientist), model.pk, content=pickled_dict(), lineage=json.dumps(lineage)
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted((e["dataset_version"], e["role"]) for e in body["lineage"]) == sorted(
        [(train.pk, "training"), (holdout.pk, "holdout")]
    )
    assert body["lineage"][0]["dataset_name"] == "loans"
    assert LineageLink.objects.filter(model_version_id=body["id"]).count() == 2


@pytest.mark.parametrize(
    "lineage, status",
    [
        ("not json", 400),
        (json.dumps({"dataset_version": 1}), 400),
        (json.dumps([{"dataset_version": "{dv}", "role": "cooking"}]), 400),
        (json.dumps([{"dataset_version": "{dv}", "role": "training", "extra": 1}]), 400),
        (json.dumps([{"dataset_version": "{other}", "role": "training"}]), 404),
    ],
)
def test_bad_lineage_leaves_nothing(
    client_for, data_scientist, model, dataset, other_dataset, lineage, status
):
    mine = DatasetVersionFactory(dataset=dataset)
    theirs = DatasetVersionFactory(dataset=other_dataset)
    lineage = lineage.replace('"{dv}"', str(mine.pk)).replace('"{other}"', str(theirs.pk))
    response = post_version(
        client_for(data_scientist), model.pk, content=pickled_dict(), lineage=lineage
    )
    assert response.status_code == status
    assert "lineage" in response.json()
    assert not ModelVersion.objects.exists()
    assert stored_files() == []


def test_version_list_filters_by_model(client_for, data_scientist, model, team):
    second = MLModelFactory(team=team)
    mine = ModelVersionFactory(model=model, format=choices.ArtifactFormat.PICKLE)
    ModelVersionFactory(model=second)
    ModelVersionFactory(model=MLModelFactory())  # another team's
    client = client_for(data_scientist)
    everything = client.get(f"{API}/model-versions/").json()["results"]
    assert len(everything) == 2
    filtered = client.get(f"{API}/model-versions/", {"model": model.pk}).json()["results"]
    assert [row["id"] for row in filtered] == [mine.pk]
    assert {
        "id",
        "model",
        "version",
        "sha256",
        "size",
        "format",
        "framework",
        "artifact_name",
        "registered_by",
        "registered_at",
    } <= set(filtered[0])
    pickles = client.get(f"{API}/model-versions/", {"format": "pickle"}).json()["results"]
    assert [row["id"] for row in pickles] == [mine.pk]


def test_version_detail_and_outsider(client_for, data_scientist, outsider, model):
    version = ModelVersionFactory(model=model)
    LineageLinkFactory(model_version=version)
    body = client_for(data_scientist).get(f"{API}/model-versions/{version.pk}/").json()
    assert body["id"] == version.pk
    assert len(body["lineage"]) == 1
    assert client_for(outsider).get(f"{API}/model-versions/{version.pk}/").status_code == 404


def test_version_patch_changes_description_only(client_for, data_scientist, model):
    version = ModelVersionFactory(model=model)
    client = client_for(data_scientist)
    response = client.patch(
        f"{API}/model-versions/{version.pk}/",
        {"notes": "validated on Q3 data", "framework": "xgboost"},
    )
    assert response.status_code == 200
    version.refresh_from_db()
    assert (version.notes, version.framework) == ("validated on Q3 data", "xgboost")
    for payload in ({"sha256": "0" * 64}, {"version": "9"}, {"artifact": "x"}, {"model": 1}):
        refused = client.patch(f"{API}/model-versions/{version.pk}/", payload)
        assert refused.status_code == 400
        assert set(payload) <= set(refused.json())
    unchanged = ModelVersion.objects.get(pk=version.pk)
    assert (unchanged.sha256, unchanged.version) == (version.sha256, version.version)


def test_version_patch_permissions(client_for, outsider, auditor, model):
    version = ModelVersionFactory(model=model)
    url = f"{API}/model-versions/{version.pk}/"
    assert client_for(outsider).patch(url, {"notes": "x"}).status_code == 404
    assert client_for(auditor).patch(url, {"notes": "x"}).status_code == 403


def test_model_versions_have_no_put_or_delete(client_for, data_scientist, model):
    version = ModelVersionFactory(model=model)
    client = client_for(data_scientist)
    assert client.put(f"{API}/model-versions/{version.pk}/", {}).status_code == 405
    assert client.delete(f"{API}/model-versions/{version.pk}/").status_code == 405
    assert ModelVersion.objects.filter(pk=version.pk).exists()


# --- Datasets ---------------------------------------------------------------------------------


def test_dataset_create_and_patch(client_for, data_scientist, team):
    client = client_for(data_scientist)
    response = client.post(
        f"{API}/datasets/",
        {
            "name": "applications",
            "team": team.pk,
            "source": "vendor",
            "has_personal_data": True,
            "sensitive_columns": ["ssn", "dob"],
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sensitive_columns"] == ["ssn", "dob"]
    assert body["created_by"] == "dana"
    patched = client.patch(f"{API}/datasets/{body['id']}/", {"licence": "CC-BY-4.0"})
    assert patched.status_code == 200
    assert Dataset.objects.get(pk=body["id"]).licence == "CC-BY-4.0"


def test_dataset_permissions(client_for, outsider, auditor, administrator, team, dataset):
    assert client_for(outsider).get(f"{API}/datasets/{dataset.pk}/").status_code == 404
    assert client_for(outsider).get(f"{API}/datasets/").json()["results"] == []
    assert (
        client_for(outsider).post(f"{API}/datasets/", {"name": "d", "team": team.pk}).status_code
        == 404
    )
    for user in (auditor, administrator):
        client = client_for(user)
        assert client.get(f"{API}/datasets/{dataset.pk}/").status_code == 200
        assert client.post(f"{API}/datasets/", {"name": "d", "team": team.pk}).status_code == 403
        assert client.patch(f"{API}/datasets/{dataset.pk}/", {"licence": "x"}).status_code == 403


def test_dataset_refuses_mass_assignment(client_for, data_scientist, team, dataset):
    client = client_for(data_scientist)
    response = client.post(f"{API}/datasets/", {"name": "d", "team": team.pk, "created_at": "x"})
    assert response.status_code == 400
    assert response.json()["created_at"] == ["This field is read-only."]
    response = client.patch(f"{API}/datasets/{dataset.pk}/", {"team": team.pk})
    assert response.status_code == 400


def test_dataset_list_filters(client_for, data_scientist, team, dataset):
    DatasetFactory(team=team, name="scraped", source=choices.DatasetSource.SCRAPED)
    client = client_for(data_scientist)
    rows = client.get(f"{API}/datasets/", {"source": "scraped"}).json()["results"]
    assert [r["name"] for r in rows] == ["scraped"]
    rows = client.get(f"{API}/datasets/", {"search": "loa"}).json()["results"]
    assert [r["name"] for r in rows] == ["loans"]


# --- Dataset versions -------------------------------------------------------------------------


def test_register_a_csv_dataset_version(client_for, data_scientist, dataset):
    response = post_dataset_version(client_for(data_scientist), dataset.pk, name="loans.csv")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert body["size"] == len(CSV)
    assert body["row_count"] == 2
    assert body["columns"] == [
        {"name": "age", "type": "integer"},
        {"name": "income", "type": "float"},
        {"name": "approved", "type": "boolean"},
        {"name": "signed_up", "type": "datetime"},
    ]
    assert body["file_name"] == "loans.csv"
    assert body["dataset"] == dataset.pk
    assert body["registered_by"] == "dana"
    digest = body["sha256"]
    assert stored_files() == [f"datasets/{digest[:2]}/{digest}"]


@pytest.mark.parametrize(
    "content, words",
    [
        (b"a,b\n1,2\n3,4,5\n", "Line 3"),
        (b'a,b\n1,"unterminated\n', "Line"),
        (b"", "empty"),
        (b"name,city\nJos\xe9,S\xe3o Paulo\n", "UTF-8"),
        (b"a,a\n1,2\n", "duplicate"),
    ],
)
def test_bad_csv_is_400_and_leaves_nothing(client_for, data_scientist, dataset, content, words):
    response = post_dataset_version(client_for(data_scientist), dataset.pk, content=content)
    assert response.status_code == 400
    body = response.json()
    assert "file" in body
    assert words in body["detail"] + " ".join(body["file"])
    assert not DatasetVersion.objects.exists()
    assert stored_files() == []


def test_csv_over_the_limit_is_413(client_for, data_scientist, dataset, settings):
    settings.MLGOV_MAX_DATASET_BYTES = 20
    response = post_dataset_version(client_for(data_scientist), dataset.pk)
    assert response.status_code == 413
    assert "file" in response.json()
    assert stored_files() == []


def test_dataset_version_missing_file_and_duplicate(client_for, data_scientist, dataset):
    client = client_for(data_scientist)
    missing = post_dataset_version(client, dataset.pk, content=None)
    assert missing.status_code == 400
    assert "file" in missing.json()
    assert post_dataset_version(client, dataset.pk).status_code == 201
    duplicate = post_dataset_version(client, dataset.pk, content=b"x\n1\n")
    assert duplicate.status_code == 400
    assert "version" in duplicate.json()
    assert DatasetVersion.objects.count() == 1


def test_dataset_version_refuses_read_only_fields(client_for, data_scientist, dataset):
    response = post_dataset_version(
        client_for(data_scientist), dataset.pk, row_count=5, columns="[]"
    )
    assert response.status_code == 400
    assert {"row_count", "columns"} <= set(response.json())
    assert stored_files() == []


def test_dataset_version_permissions(client_for, outsider, auditor, dataset):
    assert post_dataset_version(client_for(outsider), dataset.pk).status_code == 404
    assert post_dataset_version(client_for(auditor), dataset.pk).status_code == 403
    version = DatasetVersionFactory(dataset=dataset)
    assert client_for(outsider).get(f"{API}/dataset-versions/{version.pk}/").status_code == 404
    assert client_for(auditor).get(f"{API}/dataset-versions/{version.pk}/").status_code == 200
    assert stored_files() == []


def test_dataset_version_list_filters_by_dataset(client_for, data_scientist, dataset, team):
    mine = DatasetVersionFactory(dataset=dataset)
    DatasetVersionFactory(dataset=DatasetFactory(team=team))
    client = client_for(data_scientist)
    assert len(client.get(f"{API}/dataset-versions/").json()["results"]) == 2
    rows = client.get(f"{API}/dataset-versions/", {"dataset": dataset.pk}).json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    assert {
        "id",
        "dataset",
        "version",
        "sha256",
        "size",
        "row_count",
        "columns",
        "file_name",
        "registered_at",
    } <= set(rows[0])


def test_dataset_versions_are_immutable(client_for, data_scientist, dataset):
    version = DatasetVersionFactory(dataset=dataset)
    response = client_for(data_scientist).patch(
        f"{API}/dataset-versions/{version.pk}/", {"version": "x"}
    )
    assert response.status_code == 405


# --- Lineage links ----------------------------------------------------------------------------


def test_lineage_links_add_list_and_remove(client_for, data_scientist, model, dataset):
    version = ModelVersionFactory(model=model)
    data_version = DatasetVersionFactory(dataset=dataset)
    client = client_for(data_scientist)
    response = client.post(
        f"{API}/lineage-links/",
        {"model_version": version.pk, "dataset_version": data_version.pk, "role": "training"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["model"], body["dataset"], body["role"]) == (model.pk, dataset.pk, "training")
    rows = client.get(f"{API}/lineage-links/", {"model_version": version.pk}).json()["results"]
    assert [r["id"] for r in rows] == [body["id"]]
    assert client.delete(f"{API}/lineage-links/{body['id']}/").status_code == 204
    assert not LineageLink.objects.exists()


def test_lineage_link_permissions(
    client_for, outsider, auditor, data_scientist, model, dataset, other_dataset
):
    link = LineageLinkFactory(
        model_version=ModelVersionFactory(model=model),
        dataset_version=DatasetVersionFactory(dataset=dataset),
    )
    url = f"{API}/lineage-links/{link.pk}/"
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).delete(url).status_code == 404
    assert client_for(auditor).get(url).status_code == 200
    assert client_for(auditor).delete(url).status_code == 403
    theirs = DatasetVersionFactory(dataset=other_dataset)
    response = client_for(data_scientist).post(
        f"{API}/lineage-links/",
        {"model_version": link.model_version_id, "dataset_version": theirs.pk, "role": "training"},
    )
    assert response.status_code == 404
    assert "dataset_version" in response.json()
    assert LineageLink.objects.count() == 1


# --- Deployments ------------------------------------------------------------------------------


def test_deployment_create_patch_and_retire(client_for, data_scientist, model):
    version = ModelVersionFactory(model=model)
    client = client_for(data_scientist)
    response = client.post(
        f"{API}/deployments/",
        {
            "model_version": version.pk,
            "environment": "production",
            "exposure": "public",
            "endpoint_url": "https://api.example.org/score",
            "rate_limit_per_minute": 60,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_active"] is True
    assert body["model"] == model.pk
    assert body["created_by"] == "dana"
    patched = client.patch(f"{API}/deployments/{body['id']}/", {"output_granularity": "label"})
    assert patched.status_code == 200
    retired = client.post(f"{API}/deployments/{body['id']}/retire/")
    assert retired.status_code == 200
    assert retired.json()["is_active"] is False
    assert retired.json()["retired_at"]
    active = client.get(f"{API}/deployments/", {"is_active": "true"}).json()["results"]
    assert active == []


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"environment": "moon"}, "environment"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"endpoint_url": "not a url"}, "endpoint_url"),
        ({"is_active": False}, "is_active"),
    ],
)
def test_deployment_bad_input(client_for, data_scientist, model, payload, field):
    version = ModelVersionFactory(model=model)
    response = client_for(data_scientist).post(
        f"{API}/deployments/",
        {"model_version": version.pk, "environment": "staging", **payload},
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Deployment.objects.exists()


def test_deployment_permissions(client_for, outsider, auditor, model):
    deployment = DeploymentFactory(model_version=ModelVersionFactory(model=model))
    url = f"{API}/deployments/{deployment.pk}/"
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(outsider).post(f"{url}retire/").status_code == 404
    assert client_for(auditor).get(url).status_code == 200
    assert client_for(auditor).patch(url, {"exposure": "public"}).status_code == 403
    assert client_for(auditor).post(f"{url}retire/").status_code == 403
    assert (
        client_for(outsider)
        .post(
            f"{API}/deployments/",
            {"model_version": deployment.model_version_id, "environment": "staging"},
        )
        .status_code
        == 404
    )
    deployment.refresh_from_db()
    assert deployment.is_active


def test_deployment_filters(client_for, data_scientist, model):
    version = ModelVersionFactory(model=model)
    staging = DeploymentFactory(model_version=version, environment="staging")
    DeploymentFactory(model_version=version, environment="production")
    client = client_for(data_scientist)
    rows = client.get(f"{API}/deployments/", {"environment": "staging"}).json()["results"]
    assert [r["id"] for r in rows] == [staging.pk]
    rows = client.get(f"{API}/deployments/", {"model_version": version.pk}).json()["results"]
    assert len(rows) == 2


# --- Pagination and query counts --------------------------------------------------------------


def test_page_size_up_to_200_and_next_terminates(client_for, data_scientist, team):
    MLModel.objects.bulk_create(MLModel(team=team, name=f"m{i:03}") for i in range(205))
    client = client_for(data_scientist)
    first = client.get(f"{API}/models/", {"page_size": 200}).json()
    assert len(first["results"]) == 200
    assert first["previous"] is None
    seen, url, pages = [], f"{API}/models/?page_size=200", 0
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url, pages = page["next"], pages + 1
        assert pages < 5
    assert len(seen) == len(set(seen)) == 205


def _populate(endpoint: str, n: int, team, user) -> None:
    """`n` rows of the endpoint's resource in `team`, each with its related rows filled in."""
    for _ in range(n):
        if endpoint == "teams":
            TeamMembershipFactory(team=TeamFactory(), user=user)
        elif endpoint == "models":
            model = MLModelFactory(team=team, created_by=user)
            ModelVersionFactory(model=model)
        elif endpoint == "model-versions":
            ModelVersionFactory(model=MLModelFactory(team=team), registered_by=user)
        elif endpoint == "datasets":
            DatasetVersionFactory(dataset=DatasetFactory(team=team, created_by=user))
        elif endpoint == "dataset-versions":
            DatasetVersionFactory(dataset=DatasetFactory(team=team), registered_by=user)
        elif endpoint == "lineage-links":
            LineageLinkFactory(
                model_version=ModelVersionFactory(model=MLModelFactory(team=team)),
                dataset_version=DatasetVersionFactory(dataset=DatasetFactory(team=team)),
            )
        elif endpoint == "deployments":
            DeploymentFactory(
                model_version=ModelVersionFactory(model=MLModelFactory(team=team)), created_by=user
            )


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_list_query_count_does_not_grow(client_for, data_scientist, team, endpoint):
    client = client_for(data_scientist)
    counts = []
    for total in (3, 30):
        _populate(endpoint, total - (3 if total == 30 else 0), team, data_scientist)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{API}/{endpoint}/", {"page_size": 100})
        assert response.status_code == 200
        assert len(response.json()["results"]) >= total
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_list_query_count_for_cross_team_readers(client_for, auditor, team):
    client = client_for(auditor)
    counts = []
    for total in (3, 30):
        _populate(
            "model-versions",
            total - (3 if total == 30 else 0),
            team,
            UserFactory(role=Role.DATA_SCIENTIST),
        )
        with CaptureQueriesContext(connection) as queries:
            assert len(client.get(f"{API}/model-versions/").json()["results"]) == total
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_pages_of_rows_that_sort_equal_neither_repeat_nor_skip(client_for, data_scientist, team):
    MLModel.objects.bulk_create(
        MLModel(team=team, name=f"m{i}", risk_tier="high") for i in range(7)
    )
    client = client_for(data_scientist)
    seen, url = [], f"{API}/models/?ordering=risk_tier&page_size=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(MLModel.objects.values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{API}/models/", {"ordering": "-risk_tier"})
    table = MLModel._meta.db_table
    assert f'ORDER BY "{table}"."risk_tier" DESC, "{table}"."id" ASC' in queries[-1]["sql"]
