"""Builders for threat-model tests: assets with the facts the suggestion rules read, and
assessments made through the services (so scores, bands and audit entries are real)."""

from datetime import timedelta

from django.utils import timezone

from apps.registry import choices
from apps.threats import services_assessments as services
from apps.threats.models import RiskAcceptance, Technique
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    DeploymentFactory,
    LineageLinkFactory,
    MLModelFactory,
    ModelVersionFactory,
)


def risky_model_for(team, *, name=None, public=True):
    """A model with a pickle version, a public full-scores deployment (no auth, no rate limit)
    and training data from a public source holding health data."""
    kwargs = {"team": team, "risk_tier": choices.RiskTier.HIGH}
    if name:
        kwargs["name"] = name
    model = MLModelFactory(**kwargs)
    version = ModelVersionFactory(model=model, format=choices.ArtifactFormat.PICKLE)
    if public:
        DeploymentFactory(
            model_version=version, exposure=choices.Exposure.PUBLIC,
            requires_authentication=False, rate_limit_per_minute=None,
            output_granularity=choices.OutputGranularity.FULL_SCORES,
        )
    dataset = DatasetFactory(team=team, source=choices.DatasetSource.PUBLIC,
                             has_health_data=True)
    LineageLinkFactory(model_version=version,
                       dataset_version=DatasetVersionFactory(dataset=dataset))
    return model


def quiet_model_for(team, **kwargs):
    """A model that triggers no rule: safetensors, minimal tier, not deployed, no lineage."""
    model = MLModelFactory(team=team, risk_tier=choices.RiskTier.MINIMAL, **kwargs)
    ModelVersionFactory(model=model, format=choices.ArtifactFormat.SAFETENSORS)
    return model


def technique(atlas_id: str) -> Technique:
    return Technique.objects.get(atlas_id=atlas_id)


def assess(actor, asset, atlas_id="AML.T0040", likelihood=None, impact=None, **kwargs):
    return services.assessment_create(actor=actor, asset=asset, technique=atlas_id,
                                      likelihood=likelihood, impact=impact, **kwargs)


def approved_acceptance(requester, approver, assessment, *, days=30) -> RiskAcceptance:
    acceptance = services.acceptance_request(
        actor=requester, assessment=assessment, reason="Compensating controls in place.",
        expires_at=timezone.now() + timedelta(days=days),
    )
    return services.acceptance_approve(actor=approver, acceptance=acceptance)
