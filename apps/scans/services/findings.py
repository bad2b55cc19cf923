"""Triage of findings by compliance officers, and the expiry of accepted risks."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.services import audit_snapshot, audit_updated
from apps.core.exceptions import ApplicationError
from apps.scans.choices import FindingStatus, TriageDecision
from apps.scans.models import Finding

MAX_TRIAGE_DAYS = 730


TRIAGE_FIELDS = ["status", "triage_reason", "triage_expires_at", "triaged_by", "triaged_at"]

@transaction.atomic
def finding_triage(
    *,
    actor: User,
    finding: Finding,
    status: str,
    reason: str = "",
    expires_at: datetime | None = None,
) -> Finding:
    """Record a compliance officer's decision on a finding: accept the risk (with a reason and
    an expiry), mark it a false positive (with a reason), or reopen it.

    The decision survives rescans; "fixed" is never set by hand, only by a rescan that no
    longer reports the finding.
    """
    perms.require(actor, perms.CHANGE, finding)
    if status not in TriageDecision.values:
        raise ApplicationError(
            f"Choose one of: {', '.join(TriageDecision.values)}.", field="status"
        )
    if finding.status == FindingStatus.FIXED:
        raise ApplicationError(
            "This finding is fixed (the last scan no longer reports it); it needs no decision.",
            field="status",
        )
    reason = (reason or "").strip()
    now = timezone.now()
    if status in (TriageDecision.ACCEPTED, TriageDecision.FALSE_POSITIVE) and not reason:
        raise ApplicationError("Give the reason for this decision.", field="reason")
    if status == TriageDecision.ACCEPTED:
        if expires_at is None:
            raise ApplicationError("An accepted risk needs an expiry date.", field="expires_at")
        if expires_at <= now:
            raise ApplicationError("The expiry must be in the future.", field="expires_at")
        if expires_at > now + timedelta(days=MAX_TRIAGE_DAYS):
            raise ApplicationError(
                f"A risk can be accepted for at most {MAX_TRIAGE_DAYS} days.",
                field="expires_at",
            )
    elif expires_at is not None:
        raise ApplicationError("Only an accepted risk has an expiry.", field="expires_at")
    before = audit_snapshot(finding, TRIAGE_FIELDS)
    finding.status = status
    finding.triage_reason = reason
    finding.triage_expires_at = expires_at
    finding.triaged_by = actor
    finding.triaged_at = now
    finding.save(update_fields=TRIAGE_FIELDS)
    audit_updated(obj=finding, before=before, actor=actor)
    return finding


def findings_reopen_expired(*, now: datetime | None = None) -> int:
    """Reopen accepted findings whose acceptance has expired (periodic). Returns how many."""
    now = now or timezone.now()
    return Finding.objects.filter(
        status=FindingStatus.ACCEPTED, triage_expires_at__lte=now
    ).update(status=FindingStatus.OPEN)
