"""The demo policies: one model with gaps, one without, created idempotently."""

import pytest

from apps.policies.demo import seed_demo_policies
from apps.policies.models import AccessPolicy
from apps.policies.review import policy_review
from apps.registry.choices import Exposure, OutputGranularity, RiskTier
from tests.registry.factories import DeploymentFactory, MLModelFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_demo_policies_one_with_gaps_one_without(compliance_officer):
    risky = MLModelFactory(name="breast-cancer-screening", team=TeamFactory(name="Clinical AI"),
                           risk_tier=RiskTier.HIGH)
    public = DeploymentFactory(model_version__model=risky, exposure=Exposure.PUBLIC,
                               requires_authentication=False,
                               output_granularity=OutputGranularity.FULL_SCORES)
    tidy = MLModelFactory(name="digit-recogniser", team=TeamFactory(name="Credit Risk"),
                          risk_tier=RiskTier.LIMITED)
    internal = DeploymentFactory(model_version__model=tidy, exposure=Exposure.INTERNAL,
                                 rate_limit_per_minute=600)
    done = seed_demo_policies(actor=compliance_officer)
    assert [created for created, _ in done] == [True] * 4
    assert AccessPolicy.objects.count() == 4
    assert {g.rule for g in policy_review(risky)} == {"broad-download-high-risk-model"}
    assert {g.rule for g in policy_review(public)} >= {"unauthenticated-endpoint",
                                                       "no-query-logging"}
    assert policy_review(tidy) == [] and policy_review(internal) == []
    again = seed_demo_policies(actor=compliance_officer)
    assert [created for created, _ in again] == [False] * 4
    assert AccessPolicy.objects.count() == 4
