"""Writes of the threat model: assessed threats, their scores and status, risk acceptances, and
applying one technique to many assets at once.

Every service checks the caller's rights through apps.accounts.permissions, validates before it
writes (a bad level, an unknown technique or a missing expiry is a 400 naming the field, and
nothing is saved), runs in one transaction, records who changed what (`updated_by`) and writes
the audit trail (apps.audit.services) in that same transaction.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.audit.choices import AuditAction
from apps.audit.services import (
    audit_created,
    audit_diff,
    audit_record_many,
    audit_snapshot,
    audit_updated,
)
from apps.core.exceptions import ApplicationError, Forbidden
from apps.threats import risk
from apps.threats.assets import asset_label, asset_ref, asset_team
from apps.threats.choices import (
    AcceptanceStatus,
    AssessmentOrigin,
    AssessmentStatus,
    MitigationStatus,
    SuggestionStatus,
)
from apps.threats.models import (
    Mitigation,
    RiskAcceptance,
    Technique,
    ThreatAssessment,
    ThreatSuggestion,
)

SCORE_FIELDS = ("likelihood", "impact", "residual_likelihood", "residual_impact")
ASSESSMENT_EDITABLE = (*SCORE_FIELDS, "status", "rationale", "not_applicable_reason")
# Fields whose changes the audit trail shows for an assessment.
ASSESSMENT_AUDITED = (
    "likelihood", "impact", "inherent_score", "inherent_band", "residual_likelihood",
    "residual_impact", "residual_score", "residual_band", "status", "rationale",
    "not_applicable_reason",
)
IN_PLACE = (MitigationStatus.IMPLEMENTED, MitigationStatus.VERIFIED)


# --- Catalogue look-ups -------------------------------------------------------------------------


def technique_resolve(value: Any, *, field: str = "technique") -> Technique:
    """A current ATLAS technique by ATLAS id (or instance); unknown or retired ids are a 400."""
    if isinstance(value, Technique):
        technique = value
    else:
        key = str(value or "").strip()
        if not key:
            raise ApplicationError("Choose an ATLAS technique.", field=field)
        technique = Technique.objects.filter(atlas_id=key).first()
        if technique is None:
            raise ApplicationError(f"{key} is not an ATLAS technique.", field=field)
    if technique.is_retired:
        raise ApplicationError(
            f"{technique.atlas_id} was retired from the ATLAS catalogue; choose a current one.",
            field=field,
        )
    return technique


def mitigation_resolve(value: Any, *, field: str = "mitigation") -> Mitigation | None:
    """A current ATLAS mitigation by id (or instance); None for none; unknown/retired: 400."""
    if value in (None, ""):
        return None
    if isinstance(value, Mitigation):
        mitigation = value
    else:
        key = str(value).strip()
        mitigation = Mitigation.objects.filter(atlas_id=key).first()
        if mitigation is None:
            raise ApplicationError(f"{key} is not an ATLAS mitigation.", field=field)
    if mitigation.is_retired:
        raise ApplicationError(
            f"{mitigation.atlas_id} was retired from the ATLAS catalogue.", field=field
        )
    return mitigation


# --- Scores -------------------------------------------------------------------------------------


def _optional_level(value, field: str) -> int | None:
    return None if value is None or value == "" else risk.validate_level(value, field=field)


def _apply_scores(assessment: ThreatAssessment) -> None:
    """Inherent = likelihood x impact; residual = its own levels when both are set, else the
    inherent risk (nothing in place lowers it yet)."""
    if assessment.likelihood is not None and assessment.impact is not None:
        assessment.inherent_score = assessment.likelihood * assessment.impact
    else:
        assessment.inherent_score = None
    assessment.inherent_band = risk.risk_band(assessment.inherent_score)
    if assessment.residual_likelihood is not None and assessment.residual_impact is not None:
        assessment.residual_score = assessment.residual_likelihood * assessment.residual_impact
    else:
        assessment.residual_score = assessment.inherent_score
    assessment.residual_band = risk.risk_band(assessment.residual_score)


def _require_writer(actor: User, model: type[Model], team) -> None:
    perms.require_create(actor, model, team)


# --- Assessments --------------------------------------------------------------------------------


def _assessment_exists(asset, technique: Technique) -> bool:
    return ThreatAssessment.objects.filter(
        asset_ref(asset).q(), technique=technique
    ).exists()


@transaction.atomic
def assessment_create(
    *,
    actor: User,
    asset: Model,
    technique: Any,
    likelihood: Any = None,
    impact: Any = None,
    residual_likelihood: Any = None,
    residual_impact: Any = None,
    rationale: str = "",
    origin: str = AssessmentOrigin.MANUAL,
    suggestion_rule_ids: Sequence[str] = (),
    suggestion_reason: str = "",
) -> ThreatAssessment:
    """Record that an ATLAS technique threatens an asset, scored now or later.

    The asset's team (data scientists) and compliance officers may; one assessment per asset
    and technique. A pending suggestion of the same technique counts as accepted by it.
    """
    team = asset_team(asset)
    _require_writer(actor, ThreatAssessment, team)
    technique = technique_resolve(technique)
    assessment = ThreatAssessment(
        **asset_ref(asset).field_values(),
        team=team,
        technique=technique,
        likelihood=_optional_level(likelihood, "likelihood"),
        impact=_optional_level(impact, "impact"),
        residual_likelihood=_optional_level(residual_likelihood, "residual_likelihood"),
        residual_impact=_optional_level(residual_impact, "residual_impact"),
        rationale=rationale or "",
        origin=origin,
        suggestion_rule_ids=list(suggestion_rule_ids),
        suggestion_reason=suggestion_reason,
        created_by=actor,
        updated_by=actor,
    )
    _apply_scores(assessment)
    duplicate = ApplicationError(
        f"{asset_label(asset)} already has an assessment of {technique.atlas_id}.",
        field="technique",
    )
    if _assessment_exists(asset, technique):
        raise duplicate
    try:
        with transaction.atomic():
            assessment.save()
    except IntegrityError:
        raise duplicate from None
    audit_created(obj=assessment, actor=actor, fields=["technique", *ASSESSMENT_AUDITED])
    _close_pending_suggestion(assessment, actor)
    return assessment


def _close_pending_suggestion(assessment: ThreatAssessment, actor: User) -> None:
    """A pending suggestion of a technique now assessed is settled by that assessment."""
    field = f"{assessment.asset_kind}_id"
    pending = ThreatSuggestion.objects.filter(
        **{field: assessment.asset_id},
        technique_id=assessment.technique_id,
        status=SuggestionStatus.PENDING,
    )
    now = timezone.now()
    settled = list(pending)
    for suggestion in settled:
        suggestion.status = SuggestionStatus.ACCEPTED
        suggestion.assessment = assessment
        suggestion.decided_by = actor
        suggestion.decided_at = now
        suggestion.save(update_fields=["status", "assessment", "decided_by", "decided_at",
                                       "updated_at"])
    if settled:
        audit_record_many(
            action=AuditAction.UPDATE, objects=settled, actor=actor,
            changes_for=lambda s: {"status": [SuggestionStatus.PENDING, s.status],
                                   "assessment_id": [None, assessment.pk]},
        )


def _has_mitigation_in_place(assessment: ThreatAssessment) -> bool:
    return assessment.mitigations.filter(status__in=IN_PLACE).exists()


def _withdraw_live_acceptances(assessment: ThreatAssessment, actor: User, why: str) -> None:
    live = list(assessment.acceptances.filter(
        status__in=[AcceptanceStatus.PENDING, AcceptanceStatus.APPROVED]
    ))
    for acceptance in live:
        before = audit_snapshot(acceptance, ["status", "decision_note"])
        acceptance.status = AcceptanceStatus.WITHDRAWN
        acceptance.decision_note = (acceptance.decision_note + "\n" + why).strip()
        acceptance.save(update_fields=["status", "decision_note"])
        audit_updated(obj=acceptance, before=before, actor=actor)


@transaction.atomic
def assessment_update(
    *, actor: User, assessment: ThreatAssessment, data: dict[str, Any]
) -> ThreatAssessment:
    """Change scores, status or texts of an assessment.

    Status rules: `accepted` only comes from an approved acceptance (so it cannot be set here);
    `mitigated` needs a score and a mitigation implemented or verified; `not_applicable` needs
    a reason. Leaving `accepted` (or closing the threat) withdraws its live acceptance.
    """
    perms.require(actor, perms.CHANGE, assessment)
    unknown = sorted(set(data) - set(ASSESSMENT_EDITABLE))
    if unknown:
        raise ApplicationError(f"These fields cannot be set: {', '.join(unknown)}.",
                               field=unknown[0])
    before = audit_snapshot(assessment, ASSESSMENT_AUDITED)
    for name in SCORE_FIELDS:
        if name in data:
            setattr(assessment, name, _optional_level(data[name], name))
    for name in ("rationale", "not_applicable_reason"):
        if name in data:
            setattr(assessment, name, (data[name] or "").strip())
    _apply_scores(assessment)
    old_status = assessment.status
    if "status" in data and data["status"] != old_status:
        _change_status(actor, assessment, str(data["status"] or ""))
    not_applicable = assessment.status == AssessmentStatus.NOT_APPLICABLE
    if not_applicable and not assessment.not_applicable_reason:
        raise ApplicationError(
            "Say why the threat does not apply to this asset.", field="not_applicable_reason"
        )
    assessment.updated_by = actor
    assessment.save()
    audit_updated(obj=assessment, before=before, actor=actor)
    return assessment


def _change_status(actor: User, assessment: ThreatAssessment, status: str) -> None:
    if status not in AssessmentStatus.values:
        raise ApplicationError(
            f"Status must be one of {', '.join(AssessmentStatus.values)}.", field="status"
        )
    if status == AssessmentStatus.ACCEPTED:
        raise ApplicationError(
            "A threat becomes accepted when a compliance officer approves a risk acceptance; "
            "request one instead.",
            field="status",
        )
    if status == AssessmentStatus.MITIGATED:
        if not assessment.is_scored:
            raise ApplicationError("Score the threat before marking it mitigated.",
                                   field="status")
        if not _has_mitigation_in_place(assessment):
            raise ApplicationError(
                "A threat is mitigated once a mitigation is implemented or verified; "
                "none is yet.",
                field="status",
            )
    _withdraw_live_acceptances(assessment, actor, f"Status changed to {status}.")
    assessment.status = status


def assessment_reopen_if_unmitigated(assessment: ThreatAssessment, actor: User) -> None:
    """A "mitigated" threat whose last mitigation in place was downgraded is open again."""
    if assessment.status == AssessmentStatus.MITIGATED and not _has_mitigation_in_place(
        assessment
    ):
        before = audit_snapshot(assessment, ["status"])
        assessment.status = AssessmentStatus.OPEN
        assessment.updated_by = actor
        assessment.save(update_fields=["status", "updated_by", "updated_at"])
        audit_updated(obj=assessment, before=before, actor=actor)


@transaction.atomic
def assessments_bulk_create(
    *,
    actor: User,
    assets: Iterable[Model],
    technique: Any,
    likelihood: Any = None,
    impact: Any = None,
    rationale: str = "",
) -> list[ThreatAssessment]:
    """Assess one technique (with the same scores) on many assets: all of them or none.

    Each asset is checked on its own (write right on its team, no assessment of the technique
    yet); the first refusal rolls every one back.
    """
    assets = list(assets)
    if not assets:
        raise ApplicationError("Choose at least one asset.", field="assets")
    technique = technique_resolve(technique)
    likelihood = _optional_level(likelihood, "likelihood")
    impact = _optional_level(impact, "impact")
    for asset in assets:
        _require_writer(actor, ThreatAssessment, asset_team(asset))
    clashes = [asset_label(a) for a in assets if _assessment_exists(a, technique)]
    if clashes:
        raise ApplicationError(
            f"Already assessed for {technique.atlas_id}: {', '.join(clashes)}. Nothing was "
            "changed.",
            field="assets",
        )
    return [
        assessment_create(actor=actor, asset=asset, technique=technique, likelihood=likelihood,
                          impact=impact, rationale=rationale)
        for asset in assets
    ]


# --- Risk acceptances ---------------------------------------------------------------------------


def _aware(value: Any, field: str) -> datetime:
    if value in (None, ""):
        raise ApplicationError("A risk acceptance needs an expiry date.", field=field)
    if not isinstance(value, datetime):
        raise ApplicationError("Give the expiry as a date and time.", field=field)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


@transaction.atomic
def acceptance_request(
    *, actor: User, assessment: ThreatAssessment, reason: str, expires_at: Any
) -> RiskAcceptance:
    """Ask for a threat's (residual) risk to be accepted as it is until `expires_at`.

    The expiry is required, in the future and at most MLGOV_RISK_ACCEPTANCE_MAX_DAYS away; the
    threat must be scored and not already accepted or awaiting approval.
    """
    perms.require(actor, perms.CHANGE, assessment)
    _require_writer(actor, RiskAcceptance, assessment.team)
    expires_at = _aware(expires_at, "expires_at")
    now = timezone.now()
    if expires_at <= now:
        raise ApplicationError("The expiry must be in the future.", field="expires_at")
    longest = settings.MLGOV_RISK_ACCEPTANCE_MAX_DAYS
    if expires_at > now + timedelta(days=longest):
        raise ApplicationError(
            f"A risk acceptance may run at most {longest} days.", field="expires_at"
        )
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the risk is acceptable.", field="reason")
    if assessment.status == AssessmentStatus.NOT_APPLICABLE:
        raise ApplicationError("The threat does not apply: there is no risk to accept.",
                               field="assessment")
    if not assessment.is_scored:
        raise ApplicationError("Score the threat before asking to accept its risk.",
                               field="assessment")
    acceptances_expire(assessment_ids=[assessment.pk])
    if assessment.acceptances.filter(
        status__in=[AcceptanceStatus.PENDING, AcceptanceStatus.APPROVED]
    ).exists():
        raise ApplicationError(
            "This threat already has an acceptance that is approved or awaiting approval.",
            field="assessment",
        )
    acceptance = RiskAcceptance(
        assessment=assessment,
        team=assessment.team,
        reason=reason,
        expires_at=expires_at,
        requested_by=actor,
        residual_score=assessment.residual_score,
        residual_band=assessment.residual_band,
    )
    try:
        with transaction.atomic():
            acceptance.save()
    except IntegrityError:
        raise ApplicationError(
            "This threat already has an acceptance awaiting approval.", field="assessment"
        ) from None
    audit_created(obj=acceptance, actor=actor,
                  fields=["assessment", "status", "reason", "expires_at", "residual_score"])
    return acceptance


def _require_approver(actor: User, acceptance: RiskAcceptance, verb: str) -> None:
    perms.require(actor, perms.VIEW, acceptance)
    if not perms.is_active_user(actor) or actor.role != Role.COMPLIANCE_OFFICER:
        raise Forbidden(f"Only a compliance officer may {verb} a risk acceptance.")
    if acceptance.status != AcceptanceStatus.PENDING:
        raise ApplicationError(
            f"This acceptance is {acceptance.get_status_display().lower()}, not awaiting "
            "approval.",
            field="status",
        )


@transaction.atomic
def acceptance_approve(
    *, actor: User, acceptance: RiskAcceptance, note: str = ""
) -> RiskAcceptance:
    """A compliance officer other than the requester approves: the threat becomes accepted
    until the expiry."""
    _require_approver(actor, acceptance, "approve")
    if acceptance.requested_by_id == actor.pk:
        raise ApplicationError(
            "A risk acceptance must be approved by someone other than the person who "
            "requested it.",
            field="approved_by",
        )
    if acceptance.expires_at <= timezone.now():
        raise ApplicationError("This request's expiry has passed; request a new acceptance.",
                               field="expires_at")
    before = audit_snapshot(acceptance, ["status", "decided_by", "decided_at", "decision_note"])
    acceptance.status = AcceptanceStatus.APPROVED
    acceptance.decided_by = actor
    acceptance.decided_at = timezone.now()
    acceptance.decision_note = (note or "").strip()
    acceptance.save()
    audit_updated(obj=acceptance, before=before, actor=actor)
    assessment = acceptance.assessment
    previous = audit_snapshot(assessment, ["status"])
    assessment.status = AssessmentStatus.ACCEPTED
    assessment.updated_by = actor
    assessment.save(update_fields=["status", "updated_by", "updated_at"])
    audit_updated(obj=assessment, before=previous, actor=actor)
    return acceptance


@transaction.atomic
def acceptance_reject(
    *, actor: User, acceptance: RiskAcceptance, note: str = ""
) -> RiskAcceptance:
    """A compliance officer refuses the request; the threat stays as it was (open)."""
    _require_approver(actor, acceptance, "reject")
    note = (note or "").strip()
    if not note:
        raise ApplicationError("Say why the acceptance is rejected.", field="note")
    before = audit_snapshot(acceptance, ["status", "decided_by", "decided_at", "decision_note"])
    acceptance.status = AcceptanceStatus.REJECTED
    acceptance.decided_by = actor
    acceptance.decided_at = timezone.now()
    acceptance.decision_note = note
    acceptance.save()
    audit_updated(obj=acceptance, before=before, actor=actor)
    return acceptance


def acceptances_expire(
    *, now: datetime | None = None, assessment_ids: Sequence[int] | None = None
) -> int:
    """Mark approved acceptances past their expiry as expired and re-open their threats.

    Run hourly by the beat task `threats.acceptances_expire`; reads never wait for it (the
    selectors already show such threats as open). Returns how many acceptances expired.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = RiskAcceptance.objects.select_related("assessment").filter(
            status=AcceptanceStatus.APPROVED, expires_at__lte=now
        )
        if assessment_ids is not None:
            due = due.filter(assessment_id__in=assessment_ids)
        due = list(due.select_for_update(of=("self",)))
        if not due:
            return 0
        RiskAcceptance.objects.filter(pk__in=[a.pk for a in due]).update(
            status=AcceptanceStatus.EXPIRED
        )
        reopened = [
            a.assessment for a in due if a.assessment.status == AssessmentStatus.ACCEPTED
        ]
        ThreatAssessment.objects.filter(pk__in=[a.pk for a in reopened]).update(
            status=AssessmentStatus.OPEN, updated_at=now
        )
        audit_record_many(
            action=AuditAction.UPDATE, objects=due,
            changes_for=lambda a: audit_diff({"status": AcceptanceStatus.APPROVED},
                                             {"status": AcceptanceStatus.EXPIRED}),
        )
        audit_record_many(
            action=AuditAction.UPDATE, objects=reopened,
            changes_for=lambda a: {"status": [AssessmentStatus.ACCEPTED, AssessmentStatus.OPEN]},
        )
    return len(due)
