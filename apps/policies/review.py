"""The policy review: where an asset's access policy and endpoint controls leave it exposed.

`policy_review(asset)` gathers the facts (the asset's risk tier, sensitivity flags, endpoint
controls, its policy and grants) and `review(facts)` applies the rules below, which are pure
logic over those facts, so each rule is tested without a database. Every gap names the MITRE
ATLAS technique it leaves open (ids checked against the shipped catalogue by the tests), a
severity on the scan findings' scale, and what to change. The `policy_review` scanner plug-in
(apps/scans/scanners/policy_review.py) turns gaps into findings.

Rules (id: when it fires -> technique, severity):
- unthrottled-full-scores: an active public/partner endpoint returns full scores and has no
  rate limit -> AML.T0024.002 Extract AI Model, high (public) / medium (partner).
- unthrottled-endpoint: an active public/partner endpoint without a rate limit that returns
  labels or rounded scores -> AML.T0024.002, medium / low.
- unauthenticated-endpoint: an active public/partner endpoint without authentication ->
  AML.T0040 AI Model Inference API Access, high.
- exposed-full-scores: an active public/partner endpoint returns full scores (rate limited) ->
  AML.T0024.001 Invert AI Model, medium / low.
- no-query-logging: an active public/partner endpoint whose queries are not logged (no policy,
  or logging off) -> AML.T0024 Exfiltration via AI Inference API, medium.
- broad-download-high-risk-model: a high-risk model's artifacts are downloadable by a whole
  role -> AML.T0035 AI Artifact Collection, medium.
- sensitive-data-downloadable-by-role: a dataset with personal, health or financial data is
  downloadable by a whole role -> AML.T0025 Exfiltration via Cyber Means, high.
- no-policy-high-risk: no policy on a high-risk model, a dataset with sensitive data, or an
  active public/partner deployment (or one of a high-risk model) -> AML.T0035 (model),
  AML.T0025 (dataset), AML.T0040 (deployment), medium.

Retired deployments serve nothing, so the endpoint rules skip them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from apps.accounts.choices import Role
from apps.policies.assets import Asset, asset_kind, asset_label
from apps.policies.choices import AssetKind, GrantPermission, PrincipalType
from apps.registry.choices import Exposure, OutputGranularity, RiskTier
from apps.scans.choices import Severity

EXTRACT_MODEL = "AML.T0024.002"
INVERT_MODEL = "AML.T0024.001"
EXFILTRATION_VIA_API = "AML.T0024"
INFERENCE_API_ACCESS = "AML.T0040"
ARTIFACT_COLLECTION = "AML.T0035"
EXFILTRATION_CYBER = "AML.T0025"

# Names as in the ATLAS catalogue mlgov ships (fixtures/threats_atlas_5.6.0.json).
TECHNIQUE_NAMES = {
    EXTRACT_MODEL: "Extract AI Model",
    INVERT_MODEL: "Invert AI Model",
    EXFILTRATION_VIA_API: "Exfiltration via AI Inference API",
    INFERENCE_API_ACCESS: "AI Model Inference API Access",
    ARTIFACT_COLLECTION: "AI Artifact Collection",
    EXFILTRATION_CYBER: "Exfiltration via Cyber Means",
}

HIGH_RISK_TIERS = frozenset({RiskTier.HIGH, RiskTier.UNACCEPTABLE})
EXPOSED = frozenset({Exposure.PUBLIC, Exposure.PARTNER})


@dataclass(frozen=True)
class GrantFact:
    permission: str
    principal_type: str
    principal: str
    role: str = ""


@dataclass(frozen=True)
class ReviewFacts:
    """What the rules read about one asset; built by `facts_of` or by hand in tests."""

    kind: str
    label: str
    risk_tier: str = ""
    exposure: str = ""
    is_active: bool = True
    requires_authentication: bool = True
    rate_limit_per_minute: int | None = None
    output_granularity: str = ""
    has_personal_data: bool = False
    has_health_data: bool = False
    has_financial_data: bool = False
    has_policy: bool = False
    query_logging_enabled: bool = False
    grants: tuple[GrantFact, ...] = field(default_factory=tuple)

    @property
    def is_exposed_endpoint(self) -> bool:
        return self.kind == AssetKind.DEPLOYMENT and self.is_active and self.exposure in EXPOSED

    @property
    def is_public(self) -> bool:
        return self.exposure == Exposure.PUBLIC

    @property
    def is_high_risk_model(self) -> bool:
        return self.risk_tier in HIGH_RISK_TIERS

    @property
    def sensitive_data(self) -> list[str]:
        flags = (("personal", self.has_personal_data), ("health", self.has_health_data),
                 ("financial", self.has_financial_data))
        return [name for name, present in flags if present]

    def role_grants(self, permission: str) -> list[GrantFact]:
        return [g for g in self.grants
                if g.permission == permission and g.principal_type == PrincipalType.ROLE]


@dataclass(frozen=True)
class Gap:
    """One weakness of an asset's access controls, tied to the ATLAS technique it enables."""

    rule: str
    key: str
    severity: str
    technique: str
    title: str
    detail: str
    fix: str

    @property
    def technique_name(self) -> str:
        return TECHNIQUE_NAMES.get(self.technique, "")


# --- Rules --------------------------------------------------------------------------------------


def _by_exposure(facts: ReviewFacts, public: str, partner: str) -> str:
    return public if facts.is_public else partner


def _exposure_words(facts: ReviewFacts) -> str:
    return "public" if facts.is_public else "partner-facing"


def rule_unthrottled_endpoint(facts: ReviewFacts) -> list[Gap]:
    if not facts.is_exposed_endpoint or facts.rate_limit_per_minute:
        return []
    where = _exposure_words(facts)
    if facts.output_granularity == OutputGranularity.FULL_SCORES:
        return [Gap(
            rule="unthrottled-full-scores", key="unthrottled-full-scores",
            severity=_by_exposure(facts, Severity.HIGH, Severity.MEDIUM),
            technique=EXTRACT_MODEL,
            title=f"A {where} endpoint returns full scores without a rate limit",
            detail="Anyone who can reach the endpoint may send unlimited queries and read every "
            "class score, which is what model-extraction attacks need to copy the model.",
            fix="Set a rate limit on the deployment and return labels or rounded scores.",
        )]
    return [Gap(
        rule="unthrottled-endpoint", key="unthrottled-endpoint",
        severity=_by_exposure(facts, Severity.MEDIUM, Severity.LOW),
        technique=EXTRACT_MODEL,
        title=f"A {where} endpoint has no rate limit",
        detail="Unlimited queries let an attacker collect enough answers to train a copy of the "
        "model, even from labels alone.",
        fix="Set a rate limit (queries per minute) on the deployment.",
    )]


def rule_unauthenticated_endpoint(facts: ReviewFacts) -> list[Gap]:
    if not facts.is_exposed_endpoint or facts.requires_authentication:
        return []
    return [Gap(
        rule="unauthenticated-endpoint", key="unauthenticated-endpoint",
        severity=Severity.HIGH, technique=INFERENCE_API_ACCESS,
        title=f"A {_exposure_words(facts)} endpoint requires no authentication",
        detail="Anyone who finds the endpoint can query the model anonymously, so no query can "
        "be traced to a caller and no caller can be cut off.",
        fix="Require authentication on the deployment.",
    )]


def rule_exposed_full_scores(facts: ReviewFacts) -> list[Gap]:
    if (not facts.is_exposed_endpoint or not facts.rate_limit_per_minute
            or facts.output_granularity != OutputGranularity.FULL_SCORES):
        return []
    return [Gap(
        rule="exposed-full-scores", key="exposed-full-scores",
        severity=_by_exposure(facts, Severity.MEDIUM, Severity.LOW),
        technique=INVERT_MODEL,
        title=f"A {_exposure_words(facts)} endpoint returns full scores",
        detail="Exact confidence scores make model inversion and membership inference much "
        "easier, even under a rate limit.",
        fix="Return labels or rounded scores unless callers need the exact scores.",
    )]


def rule_no_query_logging(facts: ReviewFacts) -> list[Gap]:
    if not facts.is_exposed_endpoint or (facts.has_policy and facts.query_logging_enabled):
        return []
    return [Gap(
        rule="no-query-logging", key="no-query-logging",
        severity=Severity.MEDIUM, technique=EXFILTRATION_VIA_API,
        title=f"Queries to a {_exposure_words(facts)} endpoint are not logged",
        detail="Without a query log, extraction or inference attacks through the API leave no "
        "trace to detect or investigate.",
        fix="Enable query logging in the deployment's access policy (and log queries there).",
    )]


def rule_broad_download_high_risk_model(facts: ReviewFacts) -> list[Gap]:
    if facts.kind != AssetKind.MODEL or not facts.is_high_risk_model:
        return []
    return [Gap(
        rule="broad-download-high-risk-model", key=f"broad-download-high-risk-model:{g.role}",
        severity=Severity.MEDIUM, technique=ARTIFACT_COLLECTION,
        title=f"Every {Role(g.role).label.lower()} may download a high-risk model's artifacts",
        detail="A role-wide grant reaches people who do not work on this model; each copy of "
        "the artifact is one more place it can leak from.",
        fix="Grant download to the teams or people who need the artifact instead of a role.",
    ) for g in facts.role_grants(GrantPermission.DOWNLOAD)]


def rule_sensitive_data_downloadable_by_role(facts: ReviewFacts) -> list[Gap]:
    if facts.kind != AssetKind.DATASET or not facts.sensitive_data:
        return []
    kinds = ", ".join(facts.sensitive_data)
    return [Gap(
        rule="sensitive-data-downloadable-by-role",
        key=f"sensitive-data-downloadable-by-role:{g.role}",
        severity=Severity.HIGH, technique=EXFILTRATION_CYBER,
        title=f"Every {Role(g.role).label.lower()} may download data with {kinds} information",
        detail="A role-wide download grant on sensitive data lets people with no need for it "
        "take copies out of the governed store.",
        fix="Grant download to the team or people who work with this data only.",
    ) for g in facts.role_grants(GrantPermission.DOWNLOAD)]


def rule_no_policy_high_risk(facts: ReviewFacts) -> list[Gap]:
    if facts.has_policy:
        return []
    if facts.kind == AssetKind.MODEL and facts.is_high_risk_model:
        technique, why = ARTIFACT_COLLECTION, "a high-risk model"
    elif facts.kind == AssetKind.DATASET and facts.sensitive_data:
        technique = EXFILTRATION_CYBER
        why = f"a dataset with {', '.join(facts.sensitive_data)} information"
    elif facts.kind == AssetKind.DEPLOYMENT and facts.is_active and (
        facts.exposure in EXPOSED or facts.is_high_risk_model
    ):
        technique = INFERENCE_API_ACCESS
        why = f"a {_exposure_words(facts)} endpoint" if facts.exposure in EXPOSED else (
            "an endpoint serving a high-risk model")
    else:
        return []
    return [Gap(
        rule="no-policy-high-risk", key="no-policy-high-risk",
        severity=Severity.MEDIUM, technique=technique,
        title=f"No access policy on {why}",
        detail="Nobody has decided who may view, download, deploy or query it; the default "
        "rule (members of the owning team) applies.",
        fix="Create an access policy that names who needs access.",
    )]


RULES: tuple[Callable[[ReviewFacts], list[Gap]], ...] = (
    rule_no_policy_high_risk,
    rule_unauthenticated_endpoint,
    rule_unthrottled_endpoint,
    rule_exposed_full_scores,
    rule_no_query_logging,
    rule_broad_download_high_risk_model,
    rule_sensitive_data_downloadable_by_role,
)

_SEVERITY_ORDER = {value: rank for rank, value in enumerate(reversed(Severity.values))}


def review(facts: ReviewFacts) -> list[Gap]:
    """Every gap the rules find in these facts, worst first (pure: no database)."""
    gaps = [gap for rule in RULES for gap in rule(facts)]
    return sorted(gaps, key=lambda gap: _SEVERITY_ORDER[gap.severity])


# --- Facts from the database --------------------------------------------------------------------


def facts_of(asset: Asset, policy) -> ReviewFacts:
    """The review facts of an asset and its policy (None: no policy).

    Reads only attributes the selectors load (the deployment's model version and model, the
    policy's grants with their principals), so reviewing a page of policies costs no query per row.
    """
    kind = asset_kind(asset)
    common = {"kind": kind, "label": asset_label(asset)}
    if policy is not None:
        common.update(
            has_policy=True,
            query_logging_enabled=policy.query_logging_enabled,
            grants=tuple(
                GrantFact(g.permission, g.principal_type, g.principal_label, g.principal_role)
                for g in policy.grants.all()
            ),
        )
    if kind == AssetKind.MODEL:
        return ReviewFacts(risk_tier=asset.risk_tier, **common)
    if kind == AssetKind.DATASET:
        return ReviewFacts(
            has_personal_data=asset.has_personal_data, has_health_data=asset.has_health_data,
            has_financial_data=asset.has_financial_data, **common,
        )
    return ReviewFacts(
        risk_tier=asset.model_version.model.risk_tier,
        exposure=asset.exposure,
        is_active=asset.is_active,
        requires_authentication=asset.requires_authentication,
        rate_limit_per_minute=asset.rate_limit_per_minute,
        output_granularity=asset.output_granularity,
        **common,
    )


_LOOKUP = object()


def policy_review(asset: Asset, policy=_LOOKUP) -> list[Gap]:
    """The gaps of one asset's access controls. `policy` may be passed when already loaded
    (None meaning "has no policy"); otherwise it is looked up (two queries)."""
    if policy is _LOOKUP:
        from apps.policies.selectors import policy_for_asset

        policy = policy_for_asset(asset=asset)
    return review(facts_of(asset, policy))
