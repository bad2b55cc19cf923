"""Fixtures of the policy tests: assets of `team` (whose data scientist is `data_scientist`)
with stored files, and signed-in page clients."""

import hashlib

import pytest
from django.core.files.base import ContentFile

from apps.core.storage import store_by_content
from apps.registry.choices import Exposure, OutputGranularity, RiskTier
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    DeploymentFactory,
    MLModelFactory,
    ModelVersionFactory,
)

ARTIFACT = b"\x80\x04K\x2a." + b"weights" * 100
CSV = b"age,label\n41,1\n37,0\n"


def stored(content: bytes, prefix: str) -> tuple[str, str]:
    sha256 = hashlib.sha256(content).hexdigest()
    name, _ = store_by_content(ContentFile(content), prefix=prefix, sha256=sha256)
    return name, sha256


@pytest.fixture
def model(team):
    return MLModelFactory(team=team, name="credit-scorer", risk_tier=RiskTier.HIGH)


@pytest.fixture
def version(model):
    name, sha256 = stored(ARTIFACT, "artifacts")
    return ModelVersionFactory(model=model, artifact=name, sha256=sha256, size=len(ARTIFACT),
                               artifact_name="scorer v1.pkl")


@pytest.fixture
def dataset(team):
    return DatasetFactory(team=team, name="applicants", has_personal_data=True)


@pytest.fixture
def dataset_version(dataset):
    name, sha256 = stored(CSV, "datasets")
    return DatasetVersionFactory(dataset=dataset, file=name, sha256=sha256, size=len(CSV),
                                 file_name="applicants.csv")


@pytest.fixture
def deployment(version):
    return DeploymentFactory(model_version=version, exposure=Exposure.PUBLIC,
                             requires_authentication=False, rate_limit_per_minute=None,
                             output_granularity=OutputGranularity.FULL_SCORES)


@pytest.fixture
def web(client):
    """The Django test client signed in as the given user (None: anonymous)."""

    def make(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make
