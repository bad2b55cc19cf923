"""Writes of mitigations applied to assessed threats, and of the evidence that they are in place.

Same rules as apps.threats.services_assessments: permission checks first, validation before any
write, one transaction, `updated_by` and the audit trail. Evidence files are stored by content
(apps.core.storage) under "evidence/", limited to MLGOV_MAX_EVIDENCE_BYTES (413 above it); a
failed save removes a file it had just stored.
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.audit.services import audit_created, audit_snapshot, audit_updated
from apps.core.exceptions import ApplicationError, PayloadTooLarge
from apps.core.storage import discard_if_unreferenced, store_by_content
from apps.core.uploads import file_digest, safe_display_name
from apps.threats.choices import MitigationStatus
from apps.threats.models import AppliedMitigation, Evidence, Mitigation, ThreatAssessment
from apps.threats.services_assessments import (
    assessment_reopen_if_unmitigated,
    mitigation_resolve,
)

MITIGATION_EDITABLE = ("status", "owner", "due_date", "notes", "title")
MITIGATION_AUDITED = ("mitigation", "title", "status", "owner", "due_date", "notes")


def _owner_resolve(value: Any, assessment: ThreatAssessment) -> User | None:
    """The owner as a user who can see the threat; by instance, id or username."""
    if value in (None, ""):
        return None
    if isinstance(value, User):
        user = value
    else:
        key = str(value).strip()
        lookup = {"pk": int(key)} if key.isdecimal() else {"username__iexact": key}
        user = User.objects.filter(**lookup).first()
    # One message for "no such user" and "cannot see this": no probing for user names.
    if user is None or not user.is_active or not perms.can(user, perms.VIEW, assessment):
        raise ApplicationError(
            f"{value} is not an active user who can see this threat.", field="owner"
        )
    return user


def _due_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApplicationError("Give the due date as YYYY-MM-DD.", field="due_date") from None


def _status(value: Any) -> str:
    if value not in MitigationStatus.values:
        raise ApplicationError(
            f"Status must be one of {', '.join(MitigationStatus.values)}.", field="status"
        )
    return value


def _build(
    *, actor: User, assessment: ThreatAssessment, mitigation: Mitigation | None, title: str,
    status: str, owner: Any, due_date: Any, notes: str,
) -> AppliedMitigation:
    perms.require(actor, perms.VIEW, assessment)
    perms.require_create(actor, AppliedMitigation, assessment.team)
    title = (title or "").strip()
    if mitigation is None and not title:
        raise ApplicationError(
            "Choose an ATLAS mitigation or name a custom measure.", field="mitigation"
        )
    if mitigation is not None:
        title = ""
    status = _status(status)
    if status == MitigationStatus.VERIFIED:
        raise ApplicationError(
            "A mitigation is verified once evidence is attached: add it as implemented, then "
            "attach the evidence.",
            field="status",
        )
    return AppliedMitigation(
        assessment=assessment,
        team=assessment.team,
        mitigation=mitigation,
        title=title[:200],
        status=status,
        owner=_owner_resolve(owner, assessment),
        due_date=_due_date(due_date),
        notes=(notes or "").strip(),
        created_by=actor,
        updated_by=actor,
    )


def _save_new(applied: AppliedMitigation, actor: User) -> AppliedMitigation:
    duplicate = ApplicationError(
        f"{applied.display_name} is already applied to this threat.", field="mitigation"
    )
    if applied.mitigation_id and AppliedMitigation.objects.filter(
        assessment=applied.assessment, mitigation=applied.mitigation
    ).exists():
        raise duplicate
    try:
        with transaction.atomic():
            applied.save()
    except IntegrityError:
        raise duplicate from None
    audit_created(obj=applied, actor=actor, fields=["assessment", *MITIGATION_AUDITED])
    return applied


@transaction.atomic
def applied_mitigation_create(
    *,
    actor: User,
    assessment: ThreatAssessment,
    mitigation: Any = None,
    title: str = "",
    status: str = MitigationStatus.PLANNED,
    owner: Any = None,
    due_date: Any = None,
    notes: str = "",
) -> AppliedMitigation:
    """Put a safeguard against a threat: an ATLAS mitigation (by id) or a custom measure.

    New mitigations start at most "implemented"; "verified" needs evidence attached first.
    """
    applied = _build(
        actor=actor, assessment=assessment, mitigation=mitigation_resolve(mitigation),
        title=title, status=status, owner=owner, due_date=due_date, notes=notes,
    )
    return _save_new(applied, actor)


@transaction.atomic
def applied_mitigation_update(
    *, actor: User, applied: AppliedMitigation, data: dict[str, Any]
) -> AppliedMitigation:
    """Change status, owner, due date, notes (or a custom measure's title).

    "verified" needs at least one piece of evidence; a "mitigated" threat whose last
    mitigation in place is downgraded becomes open again.
    """
    perms.require(actor, perms.CHANGE, applied)
    unknown = sorted(set(data) - set(MITIGATION_EDITABLE))
    if unknown:
        raise ApplicationError(f"These fields cannot be set: {', '.join(unknown)}.",
                               field=unknown[0])
    before = audit_snapshot(applied, MITIGATION_AUDITED)
    if "status" in data:
        applied.status = _status(data["status"])
        if applied.status == MitigationStatus.VERIFIED and not applied.evidence.exists():
            raise ApplicationError("Attach evidence before marking the mitigation verified.",
                                   field="status")
    if "owner" in data:
        applied.owner = _owner_resolve(data["owner"], applied.assessment)
    if "due_date" in data:
        applied.due_date = _due_date(data["due_date"])
    if "notes" in data:
        applied.notes = (data["notes"] or "").strip()
    if "title" in data:
        if applied.mitigation_id:
            raise ApplicationError("An ATLAS mitigation keeps its catalogue name.",
                                   field="title")
        title = (data["title"] or "").strip()
        if not title:
            raise ApplicationError("A custom measure needs a title.", field="title")
        applied.title = title[:200]
    applied.updated_by = actor
    applied.save()
    audit_updated(obj=applied, before=before, actor=actor)
    assessment_reopen_if_unmitigated(applied.assessment, actor)
    return applied


@transaction.atomic
def applied_mitigations_bulk_create(
    *,
    actor: User,
    assessments: Iterable[ThreatAssessment],
    mitigation: Any = None,
    title: str = "",
    status: str = MitigationStatus.PLANNED,
    owner: Any = None,
    due_date: Any = None,
    notes: str = "",
) -> list[AppliedMitigation]:
    """Apply one mitigation to many assessed threats: all of them or none.

    Each threat is checked on its own (write right on its team, owner able to see it, not
    already carrying this mitigation); the first refusal rolls every one back.
    """
    assessments = list(assessments)
    if not assessments:
        raise ApplicationError("Choose at least one threat.", field="assessments")
    mitigation = mitigation_resolve(mitigation)
    built = [
        _build(actor=actor, assessment=a, mitigation=mitigation, title=title, status=status,
               owner=owner, due_date=due_date, notes=notes)
        for a in assessments
    ]
    if mitigation is not None:
        clashes = AppliedMitigation.objects.filter(
            assessment__in=assessments, mitigation=mitigation
        ).select_related("assessment__technique")
        names = sorted({str(a.assessment.technique.atlas_id) for a in clashes})
        if names:
            raise ApplicationError(
                f"{mitigation.atlas_id} is already applied to {', '.join(names)}. Nothing was "
                "changed.",
                field="assessments",
            )
    return [_save_new(applied, actor) for applied in built]


# --- Evidence -----------------------------------------------------------------------------------


def _check_evidence_file(file) -> tuple[str, int]:
    limit = settings.MLGOV_MAX_EVIDENCE_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise PayloadTooLarge(f"The file is {size} bytes; the limit is {limit} bytes.",
                              field="file")
    sha256, size = file_digest(file)
    if size == 0:
        raise ApplicationError("The file is empty.", field="file")
    if size > limit:
        raise PayloadTooLarge(f"The file is {size} bytes; the limit is {limit} bytes.",
                              field="file")
    return sha256, size


def _check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ApplicationError("Give a full http(s) address.", field="url") from None
    if len(url) > 500:
        raise ApplicationError("The address is longer than 500 characters.", field="url")
    return url


def evidence_add(
    *,
    actor: User,
    applied: AppliedMitigation,
    file=None,
    url: str = "",
    description: str = "",
) -> Evidence:
    """Attach proof that a mitigation is in place: one file (stored by content) or one link."""
    perms.require(actor, perms.VIEW, applied)
    perms.require_create(actor, Evidence, applied.team)
    if (file is None) == (not (url or "").strip()):
        raise ApplicationError("Attach either a file or a link (one of them).", field="file")
    if file is None:
        evidence = Evidence(applied_mitigation=applied, team=applied.team, url=_check_url(url),
                            description=(description or "").strip(), added_by=actor)
        with transaction.atomic():
            evidence.save()
            audit_created(obj=evidence, actor=actor,
                          fields=["applied_mitigation", "url", "description"])
        return evidence
    sha256, size = _check_evidence_file(file)
    name, created = store_by_content(file, prefix="evidence", sha256=sha256)
    try:
        with transaction.atomic():
            evidence = Evidence(
                applied_mitigation=applied,
                team=applied.team,
                file=name,
                file_name=safe_display_name(getattr(file, "name", None), "evidence"),
                sha256=sha256,
                size=size,
                description=(description or "").strip(),
                added_by=actor,
            )
            evidence.save()
            audit_created(obj=evidence, actor=actor,
                          fields=["applied_mitigation", "file_name", "sha256", "size",
                                  "description"])
            applied.updated_by = actor
            applied.updated_at = timezone.now()
            applied.save(update_fields=["updated_by", "updated_at"])
    except BaseException:
        if created:
            discard_if_unreferenced(
                name, still_referenced=Evidence.objects.filter(file=name).exists()
            )
        raise
    return evidence
