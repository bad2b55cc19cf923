"""`manage.py seed_demo`: real files through the real services, idempotent, secrets not leaked."""

import hashlib
import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.registry import demo
from apps.registry.choices import Environment, Exposure, LineageRole, OutputGranularity
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

pytestmark = pytest.mark.django_db

ALL_MODELS = (
    Team,
    TeamMembership,
    Dataset,
    DatasetVersion,
    MLModel,
    ModelVersion,
    LineageLink,
    Deployment,
    User,
)


@pytest.fixture
def known_passwords(monkeypatch):
    """Record the generated passwords, so tests can look for them in the output."""
    issued = []

    def generate():
        issued.append(f"generated-{len(issued)}-Zq8vRw3xKp")
        return issued[-1]

    monkeypatch.delenv(demo.PASSWORD_ENV, raising=False)
    monkeypatch.setattr(demo, "generate_password", generate)
    return issued


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def sha256_of_stored(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ALL_MODELS}


def test_seed_creates_one_user_per_role_with_working_hashed_passwords(settings, known_passwords):
    settings.MLGOV_DEMO_PASSWORD_PRINTING = True
    output = seed()

    users = {user.username: user for user in User.objects.all()}
    assert {user.role for user in users.values()} == set(Role.values)
    assert users["dana"].role == Role.DATA_SCIENTIST
    assert users["omar"].role == Role.DATA_SCIENTIST
    assert users["cora"].role == Role.COMPLIANCE_OFFICER
    assert users["audrey"].role == Role.AUDITOR
    assert users["adam"].role == Role.ADMINISTRATOR
    assert not any(user.is_superuser or user.is_staff for user in users.values())
    assert len(known_passwords) == len(users) == 5
    for username, password in zip(
        ("dana", "omar", "cora", "audrey", "adam"), known_passwords, strict=True
    ):
        # Printed once, in the table row of its user; stored only as a hash.
        assert re.search(rf"^{username}\s+.+\s+{re.escape(password)}$", output, re.MULTILINE)
        assert users[username].check_password(password)
        assert password not in users[username].password
    assert set(
        TeamMembership.objects.filter(user__username="dana").values_list("team__name", flat=True)
    ) >= {"Credit Risk"}
    assert TeamMembership.objects.filter(user__username="omar", team__name="Clinical AI").exists()
    assert {"Credit Risk", "Clinical AI", "Fraud Detection"} <= set(
        Team.objects.values_list("name", flat=True)
    )


def test_seed_registers_real_trained_models_through_storage(settings, known_passwords):
    seed()

    names = set(MLModel.objects.values_list("name", flat=True))
    assert {
        "breast-cancer-screening",
        "wine-quality-grader",
        "digit-recogniser",
        "iris-species",
        "diabetes-progression",
    } <= names
    screening = MLModel.objects.get(name="breast-cancer-screening")
    assert screening.team.name == "Clinical AI"
    assert screening.risk_tier == "high"
    assert screening.versions.count() >= 2
    assert MLModel.objects.get(name="diabetes-progression").task == "regression"

    versions = list(ModelVersion.objects.all())
    assert {v.format for v in versions} >= {"joblib", "pickle"}
    for version in versions:
        assert default_storage.exists(version.artifact)
        assert sha256_of_stored(version.artifact) == version.sha256
        assert default_storage.size(version.artifact) == version.size
        assert version.framework == "scikit-learn"
        roles = set(version.lineage.values_list("role", flat=True))
        assert roles == {LineageRole.TRAINING, LineageRole.EVALUATION, LineageRole.HOLDOUT}
    dependencies = [v.dependencies for v in versions if v.dependencies]
    assert any(re.search(r"^scikit-learn==\d", d, re.MULTILINE) for d in dependencies)
    assert any(re.search(r"^scikit-learn$", d, re.MULTILINE) for d in dependencies)

    for data_version in DatasetVersion.objects.select_related("dataset"):
        assert sha256_of_stored(data_version.file) == data_version.sha256
        assert data_version.row_count > 0
        column_names = [column["name"] for column in data_version.columns]
        assert column_names[-1] == data_version.dataset.label_column
    health = Dataset.objects.get(name="breast-cancer-wisconsin")
    assert health.has_health_data and health.licence and health.provenance
    # A training split and its holdout are different files, each linked under its own role.
    links = LineageLink.objects.filter(model_version__model=screening).select_related(
        "dataset_version"
    )
    by_role = {link.role: link.dataset_version.sha256 for link in links}
    assert len(set(by_role.values())) == 3

    production = Deployment.objects.get(environment=Environment.PRODUCTION, is_active=True)
    assert production.model_version.model == screening
    assert production.exposure == Exposure.PUBLIC
    assert production.output_granularity == OutputGranularity.FULL_SCORES
    assert production.rate_limit_per_minute is None
    staging = Deployment.objects.get(environment=Environment.STAGING, is_active=True)
    assert staging.exposure == Exposure.INTERNAL


def test_seed_twice_keeps_counts_and_hides_passwords_when_printing_is_off(
    settings, known_passwords
):
    settings.MLGOV_DEMO_PASSWORD_PRINTING = False
    first = seed()
    after_first = counts()
    hashes = dict(User.objects.values_list("username", "password"))

    second = seed()

    assert counts() == after_first
    assert after_first["ModelVersion"] >= 6 and after_first["Deployment"] == 2
    assert dict(User.objects.values_list("username", "password")) == hashes
    assert len(known_passwords) == 5  # the second run generated none
    assert "not shown" in first
    for password in known_passwords:
        assert password not in first and password not in second
    assert "created" not in second
    assert "exists   user dana" in second
    assert "exists   model version breast-cancer-screening 1.1" in second


def test_seed_uses_the_operators_password_without_echoing_it(settings, monkeypatch):
    settings.MLGOV_DEMO_PASSWORD_PRINTING = True
    monkeypatch.setenv(demo.PASSWORD_ENV, "operator-chosen-Pa55phrase")
    output = seed()

    assert "operator-chosen-Pa55phrase" not in output
    assert f"(the value of {demo.PASSWORD_ENV})" in output
    assert User.objects.get(username="cora").check_password("operator-chosen-Pa55phrase")


def test_seed_refuses_a_weak_operator_password_and_keeps_nothing(monkeypatch):
    monkeypatch.setenv(demo.PASSWORD_ENV, "12345")
    with pytest.raises(CommandError, match="MLGOV_DEMO_PASSWORD is too weak"):
        seed()
    assert not User.objects.exists()
