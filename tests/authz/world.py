"""The world the authorization matrix runs in: two teams, one user per role, and in team A one of
every governed object, built through the apps' services so that each is real (stored files,
detected formats, scores, audit entries), exactly as a user would have made it.

Team A ("alpha") owns everything; its data scientist is `data_scientist`. Team B ("bravo") has
`outsider`, a data scientist who must see nothing of team A. Compliance officers, auditors and
administrators belong to no team. Team B also owns one model, so that the outsider's lists are
not empty by construction.

Names of team A's objects start with `ALPHA_MARKER` so that a page shown to the outsider can be
searched for any of them.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services as account_services
from apps.accounts.choices import Role, TeamRole
from apps.accounts.models import ApiTokenInfo, User
from apps.audit.models import AuditEntry
from apps.policies import services as policy_services
from apps.registry import services as registry
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
)
from apps.scans import services as scan_services
from apps.scans.choices import ScanStatus
from apps.scans.models import Finding, ScanRun
from apps.threats import services_assessments as assessments
from apps.threats import services_mitigations as mitigations
from apps.threats import services_suggestions as suggestions
from apps.threats.choices import SuggestionStatus
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.registry.factories import TeamMembershipFactory
from tests.scans.factories import FindingFactory

ANONYMOUS = "anonymous"
DATA_SCIENTIST = "data_scientist"
OUTSIDER = "outsider"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"
ADMINISTRATOR = "administrator"
ROLES = (ANONYMOUS, DATA_SCIENTIST, OUTSIDER, COMPLIANCE_OFFICER, AUDITOR, ADMINISTRATOR)

ALPHA_MARKER = "alphazz"
# A pickle (protocol 4) of the integer 42: detected as `pickle`, which the suggestion rules read.
ARTIFACT = b"\x80\x04K\x2a." + b"\x00" * 64
CSV = b"age,income,label\n41,52000,1\n37,31000,0\n"
# Techniques for the assessments the world holds and for the ones the matrix creates; the
# suggestion rules may propose any of them, so the builder picks ones they did not.
TECHNIQUE_CANDIDATES = (
    "AML.T0040", "AML.T0024.002", "AML.T0043", "AML.T0015", "AML.T0029", "AML.T0034",
    "AML.T0031", "AML.T0042", "AML.T0044", "AML.T0047", "AML.T0048", "AML.T0051",
)


@dataclass
class World:
    """Everything the matrix needs, by role and by object (instances as built; tests read pks)."""

    users: dict[str, User | None]
    team: Team
    other_team: Team
    teammate: User  # a second member of team A (team-member-remove)
    spare: User  # in no team, with two-factor set up (administrator operations on users)
    other_model: MLModel  # team B's, with a version and an assessment
    other_version: ModelVersion
    other_assessment: ThreatAssessment
    model: MLModel
    model_version: ModelVersion
    dataset: Dataset
    dataset_version: DatasetVersion
    lineage: LineageLink
    deployment: Deployment
    suggestion: ThreatSuggestion  # pending
    assessment: ThreatAssessment  # scored, with a mitigation and evidence, no acceptance
    applied: AppliedMitigation
    evidence: Evidence  # a stored file
    assessment_pending: ThreatAssessment  # scored, with a pending acceptance
    acceptance: RiskAcceptance  # requested by the data scientist
    free_techniques: list[str]  # not assessed on `model`: for creates
    policy: object  # AccessPolicy of `model` (download granted to team A)
    grant: object
    scan: ScanRun  # queued (cancellable)
    finished_scan: ScanRun
    finding: Finding
    audit_entry: AuditEntry  # about team A, by the data scientist
    token: ApiTokenInfo  # the data scientist's API token
    extra: dict = field(default_factory=dict)

    def user(self, role: str) -> User | None:
        """The role's user read afresh (no permission caches carried over from another test)."""
        user = self.users[role]
        return None if user is None else User.objects.get(pk=user.pk)


def _user(username: str, role: str) -> User:
    return UserFactory(username=username, role=role)


def _pick_techniques(taken: set[str], count: int) -> list[str]:
    free = [atlas_id for atlas_id in TECHNIQUE_CANDIDATES if atlas_id not in taken]
    assert len(free) >= count, f"not enough free techniques: {free}"
    return free[:count]


@override_settings(MLGOV_AUTO_SCAN_ON_REGISTER=False)
def build_world() -> World:
    """Build the world (call inside a transaction that the caller rolls back)."""
    team = Team.objects.create(name=f"{ALPHA_MARKER} team")
    other_team = Team.objects.create(name="Bravo team")
    ds = _user("dana_ds", Role.DATA_SCIENTIST)
    outsider = _user("oscar_out", Role.DATA_SCIENTIST)
    officer = _user("cora_co", Role.COMPLIANCE_OFFICER)
    auditor = _user("audrey_aud", Role.AUDITOR)
    admin = _user("adam_admin", Role.ADMINISTRATOR)
    teammate = _user("tim_mate", Role.DATA_SCIENTIST)
    spare = _user("sam_spare", Role.DATA_SCIENTIST)
    TeamMembershipFactory(team=team, user=ds, role=TeamRole.LEAD)
    TeamMembershipFactory(team=team, user=teammate, role=TeamRole.MEMBER)
    TeamMembershipFactory(team=other_team, user=outsider, role=TeamRole.MEMBER)
    TOTPDevice.objects.create(user=spare, name="phone", confirmed=True)

    # Registry, through its services (files stored by content, formats detected).
    other_model = registry.model_create(actor=outsider, team=other_team, name="bravo-model")
    other_version = registry.model_version_register(
        actor=outsider, model=other_model, version="0.1",
        artifact=SimpleUploadedFile("bravo.pkl", ARTIFACT + b"bravo"),
    )
    model = registry.model_create(
        actor=ds, team=team, name=f"{ALPHA_MARKER}-scorer", risk_tier="high",
        lifecycle_status="production",
    )
    model_version = registry.model_version_register(
        actor=ds, model=model, version="1.0",
        artifact=SimpleUploadedFile("scorer.pkl", ARTIFACT), framework="scikit-learn",
    )
    dataset = registry.dataset_create(
        actor=ds, team=team, name=f"{ALPHA_MARKER}-applicants", source="public",
        has_personal_data=True, has_health_data=True,
    )
    dataset_version = registry.dataset_version_register(
        actor=ds, dataset=dataset, version="v1", file=SimpleUploadedFile("applicants.csv", CSV),
    )
    lineage = registry.lineage_link_add(
        actor=ds, model_version=model_version, dataset_version=dataset_version, role="training",
    )
    deployment = registry.deployment_create(
        actor=ds, model_version=model_version, environment="production",
        endpoint_url="https://scoring.example.org/v1", exposure="public",
        requires_authentication=False, rate_limit_per_minute=None,
        output_granularity="full_scores",
    )

    # Threat model: suggestions from the rules, assessments, a mitigation with evidence, an
    # acceptance awaiting a compliance officer.
    suggestions.suggestions_refresh(model)
    pending = ThreatSuggestion.objects.filter(model=model, status=SuggestionStatus.PENDING)
    suggestion = pending.order_by("id").first()
    assert suggestion is not None, "the suggestion rules proposed nothing for the risky model"
    suggested = set(
        ThreatSuggestion.objects.filter(model=model).values_list("technique__atlas_id", flat=True)
    )
    main_technique, pending_technique, *free = _pick_techniques(suggested, 6)
    other_assessment = assessments.assessment_create(
        actor=outsider, asset=other_model, technique=main_technique, likelihood=2, impact=2,
    )
    assessment = assessments.assessment_create(
        actor=ds, asset=model, technique=main_technique, likelihood=4, impact=4,
    )
    applied = mitigations.applied_mitigation_create(
        actor=ds, assessment=assessment, mitigation="AML.M0004", status="implemented",
    )
    evidence = mitigations.evidence_add(
        actor=ds, applied=applied, file=SimpleUploadedFile("proof.txt", b"rate limit config"),
        url="", description="Gateway configuration",
    )
    assessment_pending = assessments.assessment_create(
        actor=ds, asset=model, technique=pending_technique, likelihood=3, impact=5,
    )
    acceptance = assessments.acceptance_request(
        actor=ds, assessment=assessment_pending, reason="Compensating controls in place.",
        expires_at=timezone.now() + timedelta(days=30),
    )

    # Access policy of the model: download granted to team A only.
    policy = policy_services.policy_create(
        actor=ds, asset=model, notes="Only the owning team downloads.",
        grants=[{"permission": "download", "team": team.pk}],
    )
    grant = policy.grants.get()

    # Scans: one queued (the worker never runs in tests: the task is sent on commit), one
    # finished with a finding.
    scan = scan_services.scan_request(actor=ds, model_version=model_version,
                                      scanners=["integrity"])
    finished_scan = scan_services.scan_request(actor=ds, model_version=model_version,
                                               scanners=["integrity"])
    ScanRun.objects.filter(pk=finished_scan.pk).update(status=ScanStatus.SUCCEEDED, progress=100)
    finished_scan.refresh_from_db()
    finding = FindingFactory(scan=finished_scan, scanner="integrity",
                             title=f"{ALPHA_MARKER} finding")

    token, _raw = account_services.token_create(user=ds, name="ci pipeline", read_only=False)
    audit_entry = (
        AuditEntry.objects.filter(team_id=team.pk, actor_id=ds.pk).order_by("seq").first()
    )
    assert audit_entry is not None, "building the world recorded no audit entry for team A"

    return World(
        users={ANONYMOUS: None, DATA_SCIENTIST: ds, OUTSIDER: outsider,
               COMPLIANCE_OFFICER: officer, AUDITOR: auditor, ADMINISTRATOR: admin},
        team=team, other_team=other_team, teammate=teammate, spare=spare,
        other_model=other_model, other_version=other_version,
        other_assessment=other_assessment, model=model, model_version=model_version,
        dataset=dataset,
        dataset_version=dataset_version, lineage=lineage, deployment=deployment,
        suggestion=suggestion, assessment=assessment, applied=applied, evidence=evidence,
        assessment_pending=assessment_pending, acceptance=acceptance, free_techniques=free,
        policy=policy, grant=grant, scan=scan, finished_scan=finished_scan, finding=finding,
        audit_entry=audit_entry, token=token,
    )


def team_a_ids(world: World) -> dict[str, set]:
    """Ids of team A's objects per API list (URL name): none may reach the outsider."""
    return {
        "team-list": {world.team.pk},
        "model-list": {world.model.pk},
        "model-version-list": {world.model_version.pk},
        "dataset-list": {world.dataset.pk},
        "dataset-version-list": {world.dataset_version.pk},
        "lineage-link-list": {world.lineage.pk},
        "deployment-list": {world.deployment.pk},
        "threat-assessment-list": {world.assessment.pk, world.assessment_pending.pk},
        "applied-mitigation-list": {world.applied.pk},
        "evidence-list": {world.evidence.pk},
        "risk-acceptance-list": {world.acceptance.pk},
        "threat-suggestion-list": set(
            ThreatSuggestion.objects.filter(team=world.team).values_list("pk", flat=True)
        ),
        "scan-list": {world.scan.pk, world.finished_scan.pk},
        "finding-list": {world.finding.pk},
        "audit-entry-list": set(
            AuditEntry.objects.filter(team_id=world.team.pk).values_list("seq", flat=True)
        ),
        "access-policy-list": {world.policy.pk},
    }


__all__ = ["PASSWORD", "ROLES", "World", "build_world", "team_a_ids"]
