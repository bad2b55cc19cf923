"""The policy review rules: each fires on the facts it is about and stays quiet otherwise.

Pure logic over `ReviewFacts`: no database except where the facts are read from real rows.
"""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from apps.accounts.choices import Role
from apps.policies.choices import AssetKind, GrantPermission, PrincipalType
from apps.policies.review import (
    RULES,
    TECHNIQUE_NAMES,
    GrantFact,
    ReviewFacts,
    facts_of,
    policy_review,
    review,
)
from apps.registry.choices import Exposure, OutputGranularity, RiskTier
from apps.scans.choices import Severity
from tests.policies.factories import AccessPolicyFactory, PolicyGrantFactory
from tests.registry.factories import DatasetFactory, DeploymentFactory, MLModelFactory

CATALOGUE = Path(__file__).resolve().parents[2] / "fixtures" / "threats_atlas_5.6.0.json"

# A public endpoint with every control in place: the baseline each test breaks one way.
SAFE_PUBLIC = ReviewFacts(
    kind=AssetKind.DEPLOYMENT, label="m 1 in production", risk_tier=RiskTier.LIMITED,
    exposure=Exposure.PUBLIC, is_active=True, requires_authentication=True,
    rate_limit_per_minute=60, output_granularity=OutputGranularity.LABEL, has_policy=True,
    query_logging_enabled=True,
)


def rules_of(facts: ReviewFacts) -> list[str]:
    return [gap.rule for gap in review(facts)]


def role_grant(permission=GrantPermission.DOWNLOAD, role=Role.DATA_SCIENTIST) -> GrantFact:
    return GrantFact(permission, PrincipalType.ROLE, f"every {role}", role)


def team_grant(permission=GrantPermission.DOWNLOAD) -> GrantFact:
    return GrantFact(permission, PrincipalType.TEAM, "team Credit Risk")


def test_every_technique_named_by_the_rules_is_in_the_shipped_catalogue():
    catalogue = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    names = {t["id"]: t["name"] for m in catalogue["matrices"] for t in m["techniques"]}
    assert TECHNIQUE_NAMES  # the table the page and the findings use
    for technique, name in TECHNIQUE_NAMES.items():
        assert names.get(technique) == name, technique


def test_every_gap_the_rules_can_produce_names_a_known_technique():
    worst = replace(SAFE_PUBLIC, has_policy=False, requires_authentication=False,
                    rate_limit_per_minute=None, output_granularity=OutputGranularity.FULL_SCORES,
                    risk_tier=RiskTier.HIGH)
    gaps = review(worst)
    assert gaps
    for gap in gaps:
        assert gap.technique in TECHNIQUE_NAMES
        assert gap.severity in Severity.values
        assert gap.title and gap.detail and gap.fix


def test_a_well_controlled_public_endpoint_has_no_gaps():
    assert review(SAFE_PUBLIC) == []


# --- Endpoint rules -----------------------------------------------------------------------------


def test_public_endpoint_with_full_scores_and_no_rate_limit_is_a_high_extraction_gap():
    facts = replace(SAFE_PUBLIC, rate_limit_per_minute=None,
                    output_granularity=OutputGranularity.FULL_SCORES)
    (gap,) = [g for g in review(facts) if g.rule == "unthrottled-full-scores"]
    assert gap.severity == Severity.HIGH
    assert gap.technique == "AML.T0024.002"
    assert "unthrottled-endpoint" not in rules_of(facts)  # the specific rule replaces it


def test_partner_endpoint_with_full_scores_and_no_rate_limit_is_medium():
    facts = replace(SAFE_PUBLIC, exposure=Exposure.PARTNER, rate_limit_per_minute=None,
                    output_granularity=OutputGranularity.FULL_SCORES)
    (gap,) = [g for g in review(facts) if g.rule == "unthrottled-full-scores"]
    assert gap.severity == Severity.MEDIUM


def test_internal_endpoint_without_any_control_has_no_endpoint_gap():
    facts = replace(SAFE_PUBLIC, exposure=Exposure.INTERNAL, requires_authentication=False,
                    rate_limit_per_minute=None, output_granularity=OutputGranularity.FULL_SCORES,
                    query_logging_enabled=False)
    assert rules_of(facts) == []


def test_retired_public_endpoint_has_no_endpoint_gap():
    facts = replace(SAFE_PUBLIC, is_active=False, requires_authentication=False,
                    rate_limit_per_minute=None, has_policy=False)
    assert rules_of(facts) == []


def test_public_endpoint_without_rate_limit_returning_labels():
    facts = replace(SAFE_PUBLIC, rate_limit_per_minute=None)
    assert rules_of(facts) == ["unthrottled-endpoint"]
    assert review(facts)[0].severity == Severity.MEDIUM


def test_unauthenticated_public_or_partner_endpoint():
    for exposure in (Exposure.PUBLIC, Exposure.PARTNER):
        facts = replace(SAFE_PUBLIC, exposure=exposure, requires_authentication=False)
        (gap,) = review(facts)
        assert (gap.rule, gap.technique, gap.severity) == (
            "unauthenticated-endpoint", "AML.T0040", Severity.HIGH)


def test_rate_limited_public_endpoint_returning_full_scores_is_an_inversion_gap():
    facts = replace(SAFE_PUBLIC, output_granularity=OutputGranularity.FULL_SCORES)
    (gap,) = review(facts)
    assert (gap.rule, gap.technique) == ("exposed-full-scores", "AML.T0024.001")
    rounded = replace(SAFE_PUBLIC, output_granularity=OutputGranularity.ROUNDED_SCORES)
    assert review(rounded) == []


def test_public_endpoint_without_query_logging():
    facts = replace(SAFE_PUBLIC, query_logging_enabled=False)
    (gap,) = review(facts)
    assert (gap.rule, gap.technique, gap.severity) == (
        "no-query-logging", "AML.T0024", Severity.MEDIUM)


# --- Download grants ----------------------------------------------------------------------------


def test_role_wide_download_of_a_high_risk_model():
    facts = ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.HIGH, has_policy=True,
                        grants=(role_grant(), team_grant()))
    (gap,) = review(facts)
    assert (gap.rule, gap.technique) == ("broad-download-high-risk-model", "AML.T0035")
    assert gap.key == "broad-download-high-risk-model:data_scientist"
    assert "data scientist" in gap.title


def test_role_wide_download_is_fine_on_a_limited_risk_model_and_view_grants_are_fine():
    limited = ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.LIMITED,
                          has_policy=True, grants=(role_grant(),))
    assert review(limited) == []
    viewing = ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.HIGH,
                          has_policy=True, grants=(role_grant(GrantPermission.VIEW),))
    assert review(viewing) == []


def test_sensitive_dataset_downloadable_by_a_role():
    facts = ReviewFacts(kind=AssetKind.DATASET, label="d", has_health_data=True, has_policy=True,
                        grants=(role_grant(role=Role.AUDITOR),))
    (gap,) = review(facts)
    assert (gap.rule, gap.technique, gap.severity) == (
        "sensitive-data-downloadable-by-role", "AML.T0025", Severity.HIGH)
    assert "health" in gap.title


def test_sensitive_dataset_downloadable_by_its_team_only_is_fine():
    facts = ReviewFacts(kind=AssetKind.DATASET, label="d", has_personal_data=True,
                        has_policy=True, grants=(team_grant(),))
    assert review(facts) == []
    plain = ReviewFacts(kind=AssetKind.DATASET, label="d", has_policy=True,
                        grants=(role_grant(),))
    assert review(plain) == []


# --- Missing policies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "technique"),
    [
        (ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.HIGH), "AML.T0035"),
        (ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.UNACCEPTABLE),
         "AML.T0035"),
        (ReviewFacts(kind=AssetKind.DATASET, label="d", has_personal_data=True), "AML.T0025"),
        (ReviewFacts(kind=AssetKind.DEPLOYMENT, label="x", exposure=Exposure.INTERNAL,
                     risk_tier=RiskTier.HIGH), "AML.T0040"),
    ],
)
def test_high_risk_asset_without_a_policy(facts, technique):
    (gap,) = [g for g in review(facts) if g.rule == "no-policy-high-risk"]
    assert gap.technique == technique
    assert rules_of(replace(facts, has_policy=True)) == []


def test_ordinary_assets_without_a_policy_have_no_gap():
    assert review(ReviewFacts(kind=AssetKind.MODEL, label="m", risk_tier=RiskTier.LIMITED)) == []
    assert review(ReviewFacts(kind=AssetKind.DATASET, label="d")) == []
    assert review(ReviewFacts(kind=AssetKind.DEPLOYMENT, label="x",
                              exposure=Exposure.INTERNAL, risk_tier=RiskTier.MINIMAL)) == []


def test_gaps_come_worst_first():
    facts = replace(SAFE_PUBLIC, has_policy=False, requires_authentication=False,
                    rate_limit_per_minute=None)
    severities = [gap.severity for gap in review(facts)]
    ranks = [Severity.values.index(s) for s in severities]
    assert ranks == sorted(ranks, reverse=True)
    assert len(RULES) == 7


# --- Facts from rows ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_policy_review_reads_a_deployment_and_its_policy_from_the_database():
    deployment = DeploymentFactory(exposure=Exposure.PUBLIC, requires_authentication=False,
                                   rate_limit_per_minute=None,
                                   output_granularity=OutputGranularity.FULL_SCORES)
    rules = {gap.rule for gap in policy_review(deployment)}
    assert rules == {"no-policy-high-risk", "unauthenticated-endpoint",
                     "unthrottled-full-scores", "no-query-logging"}
    AccessPolicyFactory(model=None, deployment=deployment, query_logging_enabled=True)
    rules = {gap.rule for gap in policy_review(deployment)}
    assert rules == {"unauthenticated-endpoint", "unthrottled-full-scores"}


@pytest.mark.django_db
def test_facts_of_a_model_and_a_dataset_carry_their_grants_and_flags():
    model = MLModelFactory(risk_tier=RiskTier.HIGH)
    policy = AccessPolicyFactory(model=model)
    PolicyGrantFactory(policy=policy, principal_type=PrincipalType.ROLE, principal_team=None,
                       principal_role=Role.AUDITOR)
    facts = facts_of(model, policy)
    assert facts.has_policy and facts.risk_tier == RiskTier.HIGH
    assert [g.role for g in facts.grants] == [Role.AUDITOR]
    dataset = DatasetFactory(has_financial_data=True)
    assert facts_of(dataset, None).sensitive_data == ["financial"]
