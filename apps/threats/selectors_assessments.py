"""Reads of the threat model, scoped through apps.accounts.permissions and joined for their pages.

Acceptance expiry is applied on read: `with_effective_status` shows an "accepted" threat whose
approved acceptance has passed its date as open, so nothing appears accepted past its expiry
even before the hourly beat task (services_assessments.acceptances_expire) writes it.

Every list costs a fixed number of queries, whatever its length; the matrix and the register
aggregate in the database.
"""

from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.registry.models import MLModel, TeamMembership
from apps.threats import exports, risk
from apps.threats.assets import AssetRef, asset_get, asset_label, asset_ref
from apps.threats.choices import (
    AcceptanceStatus,
    AssessmentStatus,
    MitigationStatus,
    SuggestionStatus,
)
from apps.threats.models import (
    AppliedMitigation,
    Evidence,
    Mitigation,
    RiskAcceptance,
    Tactic,
    Technique,
    ThreatAssessment,
    ThreatSuggestion,
)
from apps.threats.selectors import catalogue_matrix, catalogue_version_current

IN_PLACE = (MitigationStatus.IMPLEMENTED, MitigationStatus.VERIFIED)
SEVERE = tuple(risk.SEVERE_BANDS)

# --- Building blocks ----------------------------------------------------------------------------


def live_acceptance(now=None, ref: str = "pk") -> Exists:
    """An approved acceptance of the outer assessment that has not expired."""
    return Exists(
        RiskAcceptance.objects.filter(
            assessment=OuterRef(ref),
            status=AcceptanceStatus.APPROVED,
            expires_at__gt=now or timezone.now(),
        )
    )


def mitigation_in_place(ref: str = "pk") -> Exists:
    return Exists(
        AppliedMitigation.objects.filter(assessment=OuterRef(ref), status__in=IN_PLACE)
    )


def with_effective_status(queryset: QuerySet[ThreatAssessment], now=None) -> QuerySet:
    """Annotate `has_live_acceptance`, `has_mitigation_in_place`, `effective_status` (accepted
    past the acceptance's expiry reads as open) and `acceptance_expired`."""
    return queryset.annotate(
        has_live_acceptance=live_acceptance(now),
        has_mitigation_in_place=mitigation_in_place(),
    ).annotate(
        acceptance_expired=Case(
            When(status=AssessmentStatus.ACCEPTED, has_live_acceptance=False, then=Value(True)),
            default=Value(False),
        ),
        effective_status=Case(
            When(status=AssessmentStatus.ACCEPTED, has_live_acceptance=False,
                 then=Value(AssessmentStatus.OPEN.value)),
            default=F("status"),
            output_field=CharField(),
        ),
    )


def _for_asset(queryset: QuerySet, ref: AssetRef | None) -> QuerySet:
    return queryset if ref is None else queryset.filter(ref.q())


# --- Assessments --------------------------------------------------------------------------------


def assessment_list(*, user: User, action: str = perms.VIEW) -> QuerySet[ThreatAssessment]:
    """Assessments the user may see (or act on), with asset, technique, team and who changed
    them last; effective status annotated."""
    queryset = perms.scope(ThreatAssessment.objects.all(), user, action).select_related(
        "technique", "technique__parent", "team", "model", "dataset",
        "deployment__model_version__model", "created_by", "updated_by",
    )
    return with_effective_status(queryset).order_by(
        F("residual_score").desc(nulls_last=True), "technique__atlas_id", "id"
    )


def assessment_get(*, user: User, pk) -> ThreatAssessment:
    """One assessment with its mitigations (and their evidence), acceptances and suggestion."""
    return (
        assessment_list(user=user)
        .prefetch_related(
            Prefetch(
                "mitigations",
                queryset=AppliedMitigation.objects.select_related("mitigation", "owner")
                .prefetch_related(
                    Prefetch("evidence", queryset=Evidence.objects.select_related("added_by"))
                )
                .order_by("id"),
            ),
            Prefetch(
                "acceptances",
                queryset=RiskAcceptance.objects.select_related("requested_by", "decided_by"),
            ),
            "technique__tactics",
        )
        .get(pk=pk)
    )


def assessments_for_asset(*, user: User, asset: Model) -> QuerySet[ThreatAssessment]:
    return assessment_list(user=user).filter(asset_ref(asset).q()).annotate(
        mitigation_count=Count("mitigations", distinct=True)
    )


def technique_mitigations(*, technique: Technique) -> QuerySet[Mitigation]:
    """ATLAS mitigations that address a technique (or its parent): the first choices offered."""
    ids = [technique.pk] + ([technique.parent_id] if technique.parent_id else [])
    return Mitigation.objects.filter(
        is_retired=False, technique_links__technique_id__in=ids,
        technique_links__is_retired=False,
    ).distinct().order_by("atlas_id")


def owner_choices(*, assessment: ThreatAssessment) -> QuerySet[User]:
    """Users who may own a mitigation of this threat: its team and compliance officers."""
    members = TeamMembership.objects.filter(team_id=assessment.team_id).values("user_id")
    return User.objects.filter(
        Q(pk__in=members) | Q(role=Role.COMPLIANCE_OFFICER), is_active=True
    ).order_by("username")


# --- Mitigations, evidence, acceptances, suggestions -------------------------------------------


def applied_mitigation_list(*, user: User) -> QuerySet[AppliedMitigation]:
    return perms.scope(AppliedMitigation.objects.all(), user).select_related(
        "mitigation", "owner", "assessment__technique", "updated_by"
    ).annotate(evidence_count=Count("evidence")).order_by("-updated_at", "-id")


def applied_mitigation_get(*, user: User, pk) -> AppliedMitigation:
    return applied_mitigation_list(user=user).get(pk=pk)


def evidence_list(*, user: User) -> QuerySet[Evidence]:
    return perms.scope(Evidence.objects.all(), user).select_related(
        "applied_mitigation", "added_by"
    ).order_by("-added_at", "-id")


def evidence_get(*, user: User, pk) -> Evidence:
    return evidence_list(user=user).get(pk=pk)


def acceptance_list(*, user: User) -> QuerySet[RiskAcceptance]:
    """Acceptances with `is_expired` (approved but past the date) annotated."""
    return perms.scope(RiskAcceptance.objects.all(), user).select_related(
        "assessment__technique", "requested_by", "decided_by"
    ).annotate(
        is_expired=Case(
            When(Q(status=AcceptanceStatus.EXPIRED)
                 | Q(status=AcceptanceStatus.APPROVED, expires_at__lte=timezone.now()),
                 then=Value(True)),
            default=Value(False),
        )
    ).order_by("-requested_at", "-id")


def acceptance_get(*, user: User, pk) -> RiskAcceptance:
    return acceptance_list(user=user).get(pk=pk)


def suggestion_list(*, user: User) -> QuerySet[ThreatSuggestion]:
    return perms.scope(ThreatSuggestion.objects.all(), user).select_related(
        "technique__parent", "decided_by", "model", "dataset",
        "deployment__model_version__model"
    ).order_by("technique__atlas_id", "id")


def suggestion_get(*, user: User, pk) -> ThreatSuggestion:
    return suggestion_list(user=user).get(pk=pk)


def suggestions_for_asset(*, user: User, asset: Model) -> QuerySet[ThreatSuggestion]:
    return suggestion_list(user=user).filter(asset_ref(asset).q())


# --- Completeness -------------------------------------------------------------------------------


@dataclass
class Completeness:
    """Whether an asset's threat model is complete, and if not, what is missing.

    Complete means: at least one threat is assessed; every suggested threat is accepted or
    dismissed; every open threat is scored; no high-or-worse residual risk lacks a mitigation
    in place (implemented or verified) or an approved, unexpired acceptance.
    """

    complete: bool
    reasons: list[str] = field(default_factory=list)
    assessed: int = 0
    pending_suggestions: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)
    unaddressed: list[str] = field(default_factory=list)


def assessment_completeness(*, asset: Model) -> Completeness:
    """The completeness of one asset's threat model (two queries)."""
    ref = asset_ref(asset)
    rows = list(
        with_effective_status(ThreatAssessment.objects.filter(ref.q()))
        .order_by("technique__atlas_id")
        .values_list("technique__atlas_id", "effective_status", "likelihood", "impact",
                     "residual_band", "has_mitigation_in_place", "has_live_acceptance")
    )
    pending = list(
        ThreatSuggestion.objects.filter(ref.q(), status=SuggestionStatus.PENDING)
        .order_by("technique__atlas_id").values_list("technique__atlas_id", flat=True)
    )
    result = Completeness(complete=False, assessed=len(rows), pending_suggestions=pending)
    for atlas_id, status, likelihood, impact, band, in_place, accepted in rows:
        if status == AssessmentStatus.NOT_APPLICABLE:
            continue
        if status == AssessmentStatus.OPEN and (likelihood is None or impact is None):
            result.unscored.append(atlas_id)
        if risk.is_severe(band) and not (in_place or accepted):
            result.unaddressed.append(atlas_id)
    if not rows:
        result.reasons.append("No threat has been assessed yet.")
    if pending:
        result.reasons.append(
            f"{len(pending)} suggested threat(s) await a decision (accept or dismiss): "
            f"{', '.join(pending)}."
        )
    if result.unscored:
        result.reasons.append(
            f"{len(result.unscored)} open threat(s) are not scored: "
            f"{', '.join(result.unscored)}."
        )
    if result.unaddressed:
        result.reasons.append(
            f"{len(result.unaddressed)} high or critical residual risk(s) have neither a "
            f"mitigation in place nor an approved acceptance: {', '.join(result.unaddressed)}."
        )
    result.complete = not result.reasons
    return result


# --- Portfolio overview -------------------------------------------------------------------------


def _count(queryset: QuerySet, ref: str) -> Coalesce:
    """A correlated COUNT(*) over `queryset` rows whose `ref` is the outer row (0 when none)."""
    counted = (
        queryset.filter(**{ref: OuterRef("pk")}).order_by().values(ref)
        .annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def model_threat_summaries(*, user: User) -> QuerySet[MLModel]:
    """Models the user may see, each with its threat-model counts (one query for a page):
    assessed threats, open ones, the worst open residual score, pending suggestions, open
    threats without a score and high-or-worse residual risks left unaddressed."""
    assessments = with_effective_status(ThreatAssessment.objects.all())
    open_ = assessments.filter(effective_status=AssessmentStatus.OPEN)
    worst = (
        open_.filter(model=OuterRef("pk")).order_by().values("model")
        .annotate(worst=Max("residual_score")).values("worst")
    )
    return (
        perms.scope(MLModel.objects.all(), user)
        .select_related("team")
        .annotate(
            assessed_count=_count(ThreatAssessment.objects.all(), "model"),
            open_count=_count(open_, "model"),
            worst_open_score=Subquery(worst, output_field=IntegerField()),
            pending_suggestion_count=_count(
                ThreatSuggestion.objects.filter(status=SuggestionStatus.PENDING), "model"
            ),
            unscored_count=_count(
                open_.filter(Q(likelihood__isnull=True) | Q(impact__isnull=True)), "model"
            ),
            unaddressed_count=_count(
                assessments.exclude(status=AssessmentStatus.NOT_APPLICABLE).filter(
                    residual_band__in=SEVERE, has_mitigation_in_place=False,
                    has_live_acceptance=False,
                ),
                "model",
            ),
        )
        .order_by("name", "id")
    )


# --- The ATLAS matrix of assessed risk ----------------------------------------------------------


@dataclass
class MatrixCell:
    """One technique on the matrix: how many assessments (sub-techniques folded in), the worst
    open residual score and its band (for the colour)."""

    technique: Technique
    count: int = 0
    open_count: int = 0
    worst_open_score: int | None = None
    subtechniques: list["MatrixCell"] = field(default_factory=list)

    @property
    def band(self) -> str:
        return risk.risk_band(self.worst_open_score)


@dataclass
class MatrixColumn:
    tactic: Tactic
    cells: list[MatrixCell]


def _scoped_assessments(
    user: User, ref: AssetRef | None, team_id: int | None
) -> QuerySet[ThreatAssessment]:
    queryset = with_effective_status(perms.scope(ThreatAssessment.objects.all(), user))
    queryset = _for_asset(queryset, ref).exclude(status=AssessmentStatus.NOT_APPLICABLE)
    if team_id is not None:
        queryset = queryset.filter(team_id=team_id)
    return queryset


def technique_risk(
    *, user: User, ref: AssetRef | None = None, team_id: int | None = None
) -> dict[int, dict]:
    """Per technique id: assessment count, open count and worst open residual score, in one
    aggregate query."""
    rows = (
        _scoped_assessments(user, ref, team_id).order_by().values("technique_id")
        .annotate(
            count=Count("id"),
            open_count=Count("id", filter=Q(effective_status=AssessmentStatus.OPEN)),
            worst_open=Max("residual_score",
                           filter=Q(effective_status=AssessmentStatus.OPEN)),
        )
    )
    return {row["technique_id"]: row for row in rows}


def threat_matrix(
    *, user: User, ref: AssetRef | None = None, team_id: int | None = None
) -> list[MatrixColumn]:
    """The ATLAS matrix (tactics in matrix order) with each technique's assessed risk; a
    technique's cell includes its sub-techniques'. Four queries whatever the portfolio size."""
    risk_by_technique = technique_risk(user=user, ref=ref, team_id=team_id)

    def cell(technique: Technique, subs: list[MatrixCell]) -> MatrixCell:
        row = risk_by_technique.get(technique.pk, {})
        result = MatrixCell(technique, row.get("count", 0), row.get("open_count", 0),
                            row.get("worst_open"), subs)
        for sub in subs:
            result.count += sub.count
            result.open_count += sub.open_count
            if sub.worst_open_score is not None:
                result.worst_open_score = max(result.worst_open_score or 0,
                                              sub.worst_open_score)
        return result

    columns = []
    for tactic in catalogue_matrix(user=user):
        cells = [
            cell(t, [cell(s, []) for s in t.matrix_subtechniques])
            for t in tactic.matrix_techniques
        ]
        columns.append(MatrixColumn(tactic, cells))
    return columns


# --- Threat register (CSV) and Navigator layer --------------------------------------------------


def register_rows(
    *, user: User, ref: AssetRef | None = None, team_id: int | None = None
) -> QuerySet[ThreatAssessment]:
    """Every assessment in scope with what the register prints: tactics, mitigations (and
    owners), acceptances. Five queries per 2,000 rows (prefetches run per chunk)."""
    queryset = assessment_list(user=user)
    queryset = _for_asset(queryset, ref)
    if team_id is not None:
        queryset = queryset.filter(team_id=team_id)
    return queryset.prefetch_related(
        Prefetch("technique__tactics", queryset=Tactic.objects.order_by("matrix_order")),
        Prefetch("mitigations",
                 queryset=AppliedMitigation.objects.select_related("mitigation", "owner")
                 .order_by("id")),
        Prefetch("acceptances",
                 queryset=RiskAcceptance.objects.select_related("decided_by", "requested_by")
                 .order_by("-requested_at", "-id")),
    ).order_by("team__name", "model__name", "dataset__name", "deployment_id",
               "technique__atlas_id", "id")


def layer_techniques(
    *, user: User, ref: AssetRef | None = None, team_id: int | None = None
) -> list[dict]:
    """Per assessed technique (sub-techniques on their own, as the Navigator shows them): ATLAS
    id, count, open count, worst open residual score, worst residual score. Two queries."""
    rows = (
        _scoped_assessments(user, ref, team_id).order_by().values("technique_id")
        .annotate(
            count=Count("id"),
            open_count=Count("id", filter=Q(effective_status=AssessmentStatus.OPEN)),
            worst_open=Max("residual_score", filter=Q(effective_status=AssessmentStatus.OPEN)),
            worst=Max("residual_score"),
        )
    )
    by_id = {row["technique_id"]: row for row in rows}
    techniques = Technique.objects.filter(pk__in=by_id).select_related("parent")
    return sorted(
        (
            {**by_id[t.pk], "atlas_id": t.atlas_id, "name": t.name,
             "parent_atlas_id": t.parent.atlas_id if t.parent_id else None}
            for t in techniques
        ),
        key=lambda row: row["atlas_id"],
    )


def navigator_layer(
    *, user: User, ref: AssetRef | None = None, team_id: int | None = None
) -> dict:
    """The assessed techniques in scope as an ATT&CK Navigator layer (API and matrix page)."""
    if ref is not None:
        asset = asset_get(user=user, kind=ref.kind, pk=ref.pk)
        name = f"mlgov threat model: {asset_label(asset)}"
    else:
        name = "mlgov threat model: portfolio"
    version = catalogue_version_current(user=user)
    return exports.navigator_layer(
        name=name,
        description="Worst open residual risk per ATLAS technique (likelihood x impact, 1-25).",
        techniques=layer_techniques(user=user, ref=ref, team_id=team_id),
        generated_at=timezone.now(),
        catalogue_version=version.version if version else "",
    )
