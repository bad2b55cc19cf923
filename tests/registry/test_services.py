"""Registry services: every write, its permission check, and that failures leave nothing behind."""

import hashlib
import pickle

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.choices import TeamRole
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope, PayloadTooLarge
from apps.registry import services
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    DeploymentFactory,
    LineageLinkFactory,
    MLModelFactory,
    ModelVersionFactory,
)

pytestmark = pytest.mark.django_db

CONTENT = pickle.dumps({"coef": [1.0, -2.0]}, protocol=4)
DIGEST = hashlib.sha256(CONTENT).hexdigest()
CSV = b"id,score,label\n1,0.5,yes\n2,0.25,no\n3,1,yes\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def stored(prefix: str) -> list[str]:
    if not default_storage.exists(prefix):
        return []
    found = []
    directories, files = default_storage.listdir(prefix)
    found += [f"{prefix}/{name}" for name in files]
    for directory in directories:
        found += stored(f"{prefix}/{directory}")
    return found


def artifact(content: bytes = CONTENT, name: str = "model.pkl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


@pytest.fixture
def model(team, data_scientist):
    return MLModelFactory(team=team, name="scorer", created_by=data_scientist)


@pytest.fixture
def dataset(team):
    return DatasetFactory(team=team, name="loans")


# --- Teams ------------------------------------------------------------------------------------


def test_team_create_is_for_administrators(administrator, data_scientist):
    team = services.team_create(actor=administrator, name="  Vision  ")
    assert team.name == "Vision"
    with pytest.raises(Forbidden):
        services.team_create(actor=data_scientist, name="Rogue")
    assert not Team.objects.filter(name="Rogue").exists()


def test_team_create_refuses_a_duplicate_name(administrator, team):
    with pytest.raises(ApplicationError) as caught:
        services.team_create(actor=administrator, name=team.name)
    assert caught.value.field == "name"


def test_team_update_refuses_fields_it_does_not_own(administrator, team):
    with pytest.raises(ApplicationError) as caught:
        services.team_update(actor=administrator, team=team, data={"created_at": "2020-01-01"})
    assert caught.value.field == "created_at"


def test_team_members_are_set_and_removed_by_administrators(
    administrator, data_scientist, team, outsider
):
    membership = services.team_member_set(
        actor=administrator, team=team, user=outsider, role=TeamRole.LEAD
    )
    assert membership.role == TeamRole.LEAD
    with pytest.raises(Forbidden):
        services.team_member_remove(actor=data_scientist, team=team, user=outsider)
    services.team_member_remove(actor=administrator, team=team, user=outsider)
    assert not TeamMembership.objects.filter(team=team, user=outsider).exists()


# --- Models -----------------------------------------------------------------------------------


def test_model_create_sets_the_creator(data_scientist, team):
    model = services.model_create(actor=data_scientist, team=team, name="churn", risk_tier="high")
    assert (model.created_by, model.team, model.risk_tier) == (data_scientist, team, "high")


def test_model_create_outside_the_actors_teams(data_scientist, other_team, auditor, team):
    with pytest.raises(NotInScope):
        services.model_create(actor=data_scientist, team=other_team, name="x")
    with pytest.raises(Forbidden):
        services.model_create(actor=auditor, team=team, name="x")
    assert not MLModel.objects.exists()


def test_model_name_clash_is_reported_on_the_name(data_scientist, model):
    with pytest.raises(ApplicationError) as caught:
        services.model_create(actor=data_scientist, team=model.team, name=model.name)
    assert caught.value.field == "name"
    assert "already" in caught.value.message


def test_model_update_refuses_moving_to_another_team(data_scientist, model, other_team):
    with pytest.raises(ApplicationError) as caught:
        services.model_update(actor=data_scientist, model=model, data={"team": other_team})
    assert caught.value.field == "team"
    model.refresh_from_db()
    assert model.team_id != other_team.pk


def test_model_whose_creator_is_gone_can_still_be_edited(data_scientist, team):
    # created_by is SET_NULL: deleting the creator must not make the model uneditable.
    model = MLModelFactory(team=team, created_by=None)
    services.model_update(actor=data_scientist, model=model, data={"risk_tier": "high"})
    model.refresh_from_db()
    assert model.risk_tier == "high"


def test_model_update_invalid_choice_is_a_validation_error(data_scientist, model):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.model_update(actor=data_scientist, model=model, data={"risk_tier": "extreme"})
    assert "risk_tier" in caught.value.message_dict


# --- Model versions ---------------------------------------------------------------------------


def test_register_stores_by_content_and_detects_the_format(data_scientist, model):
    version = services.model_version_register(
        actor=data_scientist,
        model=model,
        version=" 1.0 ",
        artifact=artifact(),
        expected_sha256=f"sha256:{DIGEST.upper()}",
    )
    assert (version.version, version.sha256, version.size) == ("1.0", DIGEST, len(CONTENT))
    assert version.format == "pickle"
    assert version.registered_by == data_scientist
    assert version.artifact == f"artifacts/{DIGEST[:2]}/{DIGEST}"
    with default_storage.open(version.artifact, "rb") as handle:
        assert handle.read() == CONTENT


def test_register_refuses_a_digest_mismatch_before_storing(data_scientist, model):
    with pytest.raises(ApplicationError) as caught:
        services.model_version_register(
            actor=data_scientist,
            model=model,
            version="1",
            artifact=artifact(),
            expected_sha256="f" * 64,
        )
    assert caught.value.field == "expected_sha256"
    assert not ModelVersion.objects.exists()
    assert stored("artifacts") == []


@pytest.mark.parametrize("content, error", [(b"", ApplicationError), (b"x" * 101, PayloadTooLarge)])
def test_register_refuses_empty_and_oversized_artifacts(
    data_scientist, model, settings, content, error
):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 100
    with pytest.raises(error) as caught:
        services.model_version_register(
            actor=data_scientist, model=model, version="1", artifact=artifact(content)
        )
    assert caught.value.field == "artifact"
    assert caught.value.status == (413 if error is PayloadTooLarge else 400)
    assert stored("artifacts") == []


def test_register_refuses_a_duplicate_label(data_scientist, model):
    services.model_version_register(
        actor=data_scientist, model=model, version="1", artifact=artifact()
    )
    with pytest.raises(ApplicationError) as caught:
        services.model_version_register(
            actor=data_scientist, model=model, version="1", artifact=artifact(b"new bytes")
        )
    assert caught.value.field == "version"
    assert stored("artifacts") == [f"artifacts/{DIGEST[:2]}/{DIGEST}"]


def test_register_needs_the_right_to_change_the_model(outsider, auditor, model):
    with pytest.raises(NotInScope):
        services.model_version_register(
            actor=outsider, model=model, version="1", artifact=artifact()
        )
    with pytest.raises(Forbidden):
        services.model_version_register(
            actor=auditor, model=model, version="1", artifact=artifact()
        )
    assert stored("artifacts") == []


def test_failure_inside_the_transaction_removes_the_new_file(data_scientist, model, dataset):
    data_version = DatasetVersionFactory(dataset=dataset)
    with pytest.raises(ApplicationError) as caught:
        services.model_version_register(
            actor=data_scientist,
            model=model,
            version="1",
            artifact=artifact(),
            lineage=[(data_version, "not-a-role")],
        )
    assert caught.value.field == "role"
    assert not ModelVersion.objects.exists()
    assert not LineageLink.objects.exists()
    assert stored("artifacts") == []


def test_unexpected_error_while_saving_removes_the_new_file(data_scientist, model, monkeypatch):
    def broken_save(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_save_unique", broken_save)
    with pytest.raises(RuntimeError):
        services.model_version_register(
            actor=data_scientist, model=model, version="1", artifact=artifact()
        )
    assert stored("artifacts") == []


def test_failure_keeps_a_file_another_version_uses(data_scientist, model, dataset):
    services.model_version_register(
        actor=data_scientist, model=model, version="1", artifact=artifact()
    )
    data_version = DatasetVersionFactory(dataset=dataset)
    with pytest.raises(ApplicationError):
        services.model_version_register(
            actor=data_scientist,
            model=model,
            version="2",
            artifact=artifact(),
            lineage=[(data_version, "not-a-role")],
        )
    assert ModelVersion.objects.count() == 1
    assert stored("artifacts") == [f"artifacts/{DIGEST[:2]}/{DIGEST}"]


def test_register_with_lineage_out_of_scope(data_scientist, model, other_team):
    theirs = DatasetVersionFactory(dataset=DatasetFactory(team=other_team))
    with pytest.raises(NotInScope):
        services.model_version_register(
            actor=data_scientist,
            model=model,
            version="1",
            artifact=artifact(),
            lineage=[(theirs, "training")],
        )
    assert stored("artifacts") == []


def test_version_update_never_touches_the_artifact(data_scientist, model):
    version = ModelVersionFactory(model=model, registered_by=None)
    services.model_version_update(
        actor=data_scientist, model_version=version, data={"notes": "ok", "framework": "pytorch"}
    )
    version.refresh_from_db()
    assert (version.notes, version.framework) == ("ok", "pytorch")
    for field in ("sha256", "artifact", "size", "format", "version"):
        with pytest.raises(ApplicationError) as caught:
            services.model_version_update(
                actor=data_scientist, model_version=version, data={field: "x"}
            )
        assert caught.value.field == field


# --- Lineage ----------------------------------------------------------------------------------


def test_lineage_link_add_and_remove(data_scientist, auditor, model, dataset):
    version = ModelVersionFactory(model=model)
    data_version = DatasetVersionFactory(dataset=dataset)
    link = services.lineage_link_add(
        actor=data_scientist, model_version=version, dataset_version=data_version, role="training"
    )
    again = services.lineage_link_add(
        actor=data_scientist, model_version=version, dataset_version=data_version, role="training"
    )
    assert again.pk == link.pk
    with pytest.raises(Forbidden):
        services.lineage_link_remove(actor=auditor, link=link)
    services.lineage_link_remove(actor=data_scientist, link=link)
    assert not LineageLink.objects.exists()


def test_lineage_link_to_a_version_out_of_scope(outsider, model, dataset):
    link = LineageLinkFactory(model_version=ModelVersionFactory(model=model))
    with pytest.raises(NotInScope):
        services.lineage_link_remove(actor=outsider, link=link)


# --- Datasets ---------------------------------------------------------------------------------


def test_dataset_create_cleans_sensitive_columns(data_scientist, team):
    dataset = services.dataset_create(
        actor=data_scientist, team=team, name="d", sensitive_columns=" ssn , dob ,"
    )
    assert dataset.sensitive_columns == ["ssn", "dob"]
    with pytest.raises(ApplicationError) as caught:
        services.dataset_create(actor=data_scientist, team=team, name="e", sensitive_columns=[1, 2])
    assert caught.value.field == "sensitive_columns"
    assert not Dataset.objects.filter(name="e").exists()


def test_dataset_version_register_profiles_and_stores(data_scientist, dataset):
    version = services.dataset_version_register(
        actor=data_scientist,
        dataset=dataset,
        version="2024-q1",
        file=SimpleUploadedFile("../loans.csv", CSV),
    )
    digest = hashlib.sha256(CSV).hexdigest()
    assert (version.sha256, version.size, version.row_count) == (digest, len(CSV), 3)
    assert version.columns == [
        {"name": "id", "type": "integer"},
        {"name": "score", "type": "float"},
        {"name": "label", "type": "boolean"},
    ]
    assert version.file_name == "loans.csv"
    assert stored("datasets") == [f"datasets/{digest[:2]}/{digest}"]


def test_dataset_version_with_a_bad_csv_stores_nothing(data_scientist, dataset):
    with pytest.raises(ApplicationError) as caught:
        services.dataset_version_register(
            actor=data_scientist,
            dataset=dataset,
            version="1",
            file=SimpleUploadedFile("d.csv", b"a,b\n1,2\n3\n"),
        )
    assert caught.value.field == "file"
    assert "Line 3" in caught.value.message
    assert not DatasetVersion.objects.exists()
    assert stored("datasets") == []


def test_dataset_version_failure_while_saving_removes_the_file(
    data_scientist, dataset, monkeypatch
):
    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_save_unique", broken_save)
    with pytest.raises(RuntimeError):
        services.dataset_version_register(
            actor=data_scientist,
            dataset=dataset,
            version="1",
            file=SimpleUploadedFile("d.csv", CSV),
        )
    assert stored("datasets") == []


def test_dataset_version_needs_the_right_to_change_the_dataset(auditor, outsider, dataset):
    with pytest.raises(Forbidden):
        services.dataset_version_register(
            actor=auditor, dataset=dataset, version="1", file=SimpleUploadedFile("d.csv", CSV)
        )
    with pytest.raises(NotInScope):
        services.dataset_version_register(
            actor=outsider, dataset=dataset, version="1", file=SimpleUploadedFile("d.csv", CSV)
        )


# --- Deployments ------------------------------------------------------------------------------


def test_deployment_create_update_and_retire(data_scientist, model):
    version = ModelVersionFactory(model=model)
    deployment = services.deployment_create(
        actor=data_scientist,
        model_version=version,
        environment="production",
        exposure="public",
        rate_limit_per_minute=100,
    )
    assert deployment.is_active and deployment.created_by == data_scientist
    services.deployment_update(
        actor=data_scientist, deployment=deployment, data={"requires_authentication": False}
    )
    with pytest.raises(ApplicationError) as caught:
        services.deployment_update(
            actor=data_scientist, deployment=deployment, data={"environment": "staging"}
        )
    assert caught.value.field == "environment"
    services.deployment_retire(actor=data_scientist, deployment=deployment)
    first_retired_at = deployment.retired_at
    assert deployment.is_active is False and first_retired_at is not None
    services.deployment_retire(actor=data_scientist, deployment=deployment)
    deployment.refresh_from_db()
    assert deployment.retired_at == first_retired_at


def test_deployment_writes_need_the_right(auditor, outsider, model):
    deployment = DeploymentFactory(model_version=ModelVersionFactory(model=model))
    with pytest.raises(Forbidden):
        services.deployment_retire(actor=auditor, deployment=deployment)
    with pytest.raises(NotInScope):
        services.deployment_update(actor=outsider, deployment=deployment, data={})
    deployment.refresh_from_db()
    assert deployment.is_active
