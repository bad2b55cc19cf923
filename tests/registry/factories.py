import hashlib

import factory

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


def _digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class MLModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MLModel

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"model-{n}")
    risk_tier = choices.RiskTier.LIMITED


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row whose file is not stored: for lists and permissions, not file handling."""

    class Meta:
        model = ModelVersion

    model = factory.SubFactory(MLModelFactory)
    version = factory.Sequence(lambda n: f"1.0.{n}")
    sha256 = factory.Sequence(_digest)
    artifact = factory.LazyAttribute(lambda o: f"artifacts/{o.sha256[:2]}/{o.sha256}")
    artifact_name = "model.joblib"
    size = 1024
    format = choices.ArtifactFormat.JOBLIB
    framework = choices.Framework.SCIKIT_LEARN


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"dataset-{n}")


class DatasetVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DatasetVersion

    dataset = factory.SubFactory(DatasetFactory)
    version = factory.Sequence(lambda n: f"v{n}")
    sha256 = factory.Sequence(lambda n: _digest(n + 10**9))
    file = factory.LazyAttribute(lambda o: f"datasets/{o.sha256[:2]}/{o.sha256}")
    file_name = "data.csv"
    size = 100
    row_count = 10
    columns = factory.LazyFunction(lambda: [{"name": "x", "type": "integer"}])


class LineageLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineageLink

    model_version = factory.SubFactory(ModelVersionFactory)
    dataset_version = factory.SubFactory(DatasetVersionFactory)
    role = choices.LineageRole.TRAINING


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    model_version = factory.SubFactory(ModelVersionFactory)
    environment = choices.Environment.PRODUCTION
