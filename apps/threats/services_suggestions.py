"""Writes of suggested threats: refreshing them from the rules, accepting and dismissing them.

`suggestions_refresh(asset)` is idempotent and cheap (a handful of queries), so pages call it
when they show an asset's threat model, and pipelines can through the API: suggestions follow
the registry's facts without a background job. What it keeps:

- a pending suggestion is updated to the rules' current reasons, or removed when no rule
  proposes its technique any more (it was never decided);
- a dismissed suggestion stays dismissed while the facts its rules read are unchanged
  (same `facts_hash`), and becomes pending again when they change;
- an accepted suggestion is history: it points at the assessment it created;
- a technique already assessed on the asset is not suggested again.

Writes made by the rules themselves are recorded in the audit trail under the actor name
RULES_ACTOR; accepting and dismissing are the user's.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.choices import AuditAction
from apps.audit.services import audit_diff, audit_record, audit_snapshot, audit_updated
from apps.core.exceptions import ApplicationError
from apps.registry.models import Dataset, Deployment, MLModel
from apps.threats import suggestions as engine
from apps.threats.assets import asset_facts, asset_ref, asset_team
from apps.threats.choices import AssessmentOrigin, SuggestionStatus
from apps.threats.models import Technique, ThreatAssessment, ThreatSuggestion
from apps.threats.services_assessments import assessment_create

RULES_ACTOR = "mlgov suggestion rules"
SUGGESTION_AUDITED = ("technique", "rule_ids", "reason", "facts_hash", "likelihood_hint",
                      "status", "dismissal_reason")


@dataclass
class RefreshReport:
    created: list[ThreatSuggestion] = field(default_factory=list)
    reopened: list[ThreatSuggestion] = field(default_factory=list)
    updated: list[ThreatSuggestion] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # ATLAS ids of withdrawn suggestions

    @property
    def changed(self) -> bool:
        return bool(self.created or self.reopened or self.updated or self.removed)


def _rules_audit(action: str, obj: Model, changes: dict) -> None:
    audit_record(action=action, obj=obj, changes=changes, actor_name=RULES_ACTOR)


def _apply_proposal(suggestion: ThreatSuggestion, proposal, facts_hash: str) -> bool:
    """Copy a proposal's reasons onto a suggestion; True when anything changed."""
    values = {
        "rule_ids": proposal.rule_ids,
        "reason": proposal.reason,
        "likelihood_hint": proposal.likelihood_hint,
        "facts_hash": facts_hash,
    }
    changed = False
    for name, value in values.items():
        if getattr(suggestion, name) != value:
            setattr(suggestion, name, value)
            changed = True
    return changed


@transaction.atomic
def suggestions_refresh(asset: Model) -> RefreshReport:
    """Bring an asset's suggested threats in line with the rules and its current facts.

    No permission check: it derives data from the registry and the rule file only, and
    callers show its results through scoped selectors.
    """
    report = RefreshReport()
    ref = asset_ref(asset)
    facts = asset_facts(asset)
    proposals = {p.atlas_id: p for p in engine.evaluate(facts)}
    techniques = {
        t.atlas_id: t
        for t in Technique.objects.filter(atlas_id__in=proposals, is_retired=False)
    }
    existing = {
        s.technique.atlas_id: s
        for s in ThreatSuggestion.objects.filter(ref.q()).select_related("technique")
    }
    assessed = set(
        ThreatAssessment.objects.filter(ref.q()).values_list("technique__atlas_id", flat=True)
    )
    team = asset_team(asset)
    for atlas_id, proposal in proposals.items():
        technique = techniques.get(atlas_id)
        if technique is None:
            continue  # a catalogue without this id (retired or an older import): skip quietly
        facts_hash = proposal.facts_hash(facts)
        suggestion = existing.get(atlas_id)
        if suggestion is None:
            if atlas_id not in assessed:
                _create(report, ref, team, technique, proposal, facts_hash)
            continue
        before = audit_snapshot(suggestion, SUGGESTION_AUDITED)
        if suggestion.status == SuggestionStatus.DISMISSED:
            if suggestion.facts_hash == facts_hash:
                continue
            suggestion.status = SuggestionStatus.PENDING
            suggestion.dismissal_reason = ""
            suggestion.decided_by = None
            suggestion.decided_at = None
            report.reopened.append(suggestion)
        elif suggestion.status == SuggestionStatus.ACCEPTED:
            continue
        if _apply_proposal(suggestion, proposal, facts_hash) or suggestion in report.reopened:
            suggestion.save()
            if suggestion not in report.reopened:
                report.updated.append(suggestion)
            _rules_audit(AuditAction.UPDATE, suggestion,
                         audit_diff(before, audit_snapshot(suggestion, SUGGESTION_AUDITED)))
    for atlas_id, suggestion in existing.items():
        if suggestion.status == SuggestionStatus.PENDING and atlas_id not in proposals:
            _rules_audit(AuditAction.DELETE, suggestion,
                         audit_diff(audit_snapshot(suggestion, SUGGESTION_AUDITED), {}))
            suggestion.delete()
            report.removed.append(atlas_id)
    return report


def _create(report, ref, team, technique, proposal, facts_hash) -> None:
    suggestion = ThreatSuggestion(
        **ref.field_values(), team=team, technique=technique, rule_ids=proposal.rule_ids,
        reason=proposal.reason, likelihood_hint=proposal.likelihood_hint, facts_hash=facts_hash,
    )
    try:
        with transaction.atomic():
            suggestion.save()
    except IntegrityError:
        return  # another request created it a moment ago: theirs stands
    _rules_audit(AuditAction.CREATE, suggestion,
                 audit_diff({}, audit_snapshot(suggestion, SUGGESTION_AUDITED)))
    report.created.append(suggestion)


def suggestions_refresh_many(assets: Iterable[Model]) -> int:
    """Refresh several assets; returns how many changed."""
    return sum(1 for asset in assets if suggestions_refresh(asset).changed)


def suggestions_refresh_all() -> int:
    """Refresh every model, dataset and active deployment (e.g. right after loading demo data,
    so their threat models open with suggestions). Returns how many assets changed."""
    return suggestions_refresh_many(chain(
        MLModel.objects.select_related("team").order_by("pk"),
        Dataset.objects.select_related("team").order_by("pk"),
        Deployment.objects.filter(is_active=True)
        .select_related("model_version__model__team").order_by("pk"),
    ))


@transaction.atomic
def suggestion_accept(
    *, actor: User, suggestion: ThreatSuggestion, likelihood: Any = None, impact: Any = None
) -> ThreatAssessment:
    """Accept a suggested threat: it becomes an open assessment (origin "suggested"), scored
    now when levels are given, or later. A dismissed suggestion may be accepted after all."""
    perms.require(actor, perms.CHANGE, suggestion)
    if suggestion.status == SuggestionStatus.ACCEPTED:
        raise ApplicationError("This suggestion was accepted already.", field="status")
    existing = ThreatAssessment.objects.filter(
        **{f"{suggestion.asset_kind}_id": suggestion.asset_id},
        technique_id=suggestion.technique_id,
    ).first()
    before = audit_snapshot(suggestion, ["status", "assessment"])
    assessment = existing or assessment_create(
        actor=actor,
        asset=suggestion.asset,
        technique=suggestion.technique,
        likelihood=likelihood,
        impact=impact,
        origin=AssessmentOrigin.SUGGESTED,
        suggestion_rule_ids=suggestion.rule_ids,
        suggestion_reason=suggestion.reason,
    )
    suggestion.refresh_from_db(fields=["status"])  # assessment_create may have settled it
    if suggestion.status != SuggestionStatus.ACCEPTED:
        suggestion.status = SuggestionStatus.ACCEPTED
        suggestion.assessment = assessment
        suggestion.decided_by = actor
        suggestion.decided_at = timezone.now()
        suggestion.dismissal_reason = ""
        suggestion.save()
        audit_updated(obj=suggestion, before=before, actor=actor)
    return assessment


@transaction.atomic
def suggestions_bulk_accept(
    *, actor: User, suggestions: Iterable[ThreatSuggestion]
) -> list[ThreatAssessment]:
    """Accept several suggestions: all of them or none (each checked on its own)."""
    suggestions = list(suggestions)
    if not suggestions:
        raise ApplicationError("Choose at least one suggestion.", field="suggestions")
    for suggestion in suggestions:
        perms.require(actor, perms.CHANGE, suggestion)
    return [suggestion_accept(actor=actor, suggestion=s) for s in suggestions]


@transaction.atomic
def suggestion_dismiss(
    *, actor: User, suggestion: ThreatSuggestion, reason: str
) -> ThreatSuggestion:
    """Dismiss a suggested threat with a reason; it stays dismissed until its facts change."""
    perms.require(actor, perms.CHANGE, suggestion)
    if suggestion.status == SuggestionStatus.ACCEPTED:
        raise ApplicationError(
            "This suggestion was accepted; mark its assessment not applicable instead.",
            field="status",
        )
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say why the threat does not need assessing.", field="reason")
    before = audit_snapshot(suggestion, ["status", "dismissal_reason"])
    suggestion.status = SuggestionStatus.DISMISSED
    suggestion.dismissal_reason = reason
    suggestion.decided_by = actor
    suggestion.decided_at = timezone.now()
    suggestion.save()
    audit_updated(obj=suggestion, before=before, actor=actor)
    return suggestion


def suggestions_refresh_for(*, actor: User, asset: Model) -> RefreshReport:
    """The API's explicit refresh: only for those who write the asset's threat model."""
    perms.require_create(actor, ThreatSuggestion, asset_team(asset))
    return suggestions_refresh(asset)
