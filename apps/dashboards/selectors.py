"""Reads behind the dashboards: every number is counted by the database (aggregates and
correlated subqueries), never by loading rows into Python, so a page costs the same number of
queries whatever the data size.

Every queryset starts from `perms.scope(...)`: a data scientist's figures count only their
teams' objects, exactly as their lists do.

Filters (`PortfolioFilters`) narrow every figure the same way: `team` by the object's own team,
`risk_tier` and `lifecycle_status` by the model the object belongs to (findings on model
versions, threats and mitigations on models). With a model filter set, objects about datasets or
deployments drop out, since they belong to no model directly.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from apps.accounts import permissions as perms
from apps.accounts.models import User
from apps.registry.choices import LifecycleStatus
from apps.registry.models import MLModel
from apps.scans.choices import FindingStatus, ScanStatus, Severity
from apps.scans.models import Finding, ScanRun
from apps.threats.choices import AcceptanceStatus, AssessmentStatus, SuggestionStatus
from apps.threats.models import (
    AppliedMitigation,
    RiskAcceptance,
    ThreatAssessment,
    ThreatSuggestion,
)
from apps.threats.selectors_assessments import IN_PLACE, SEVERE, with_effective_status

# A production model counts as "unscanned" when no scan of any of its versions started within
# this many days.
STALE_SCAN_DAYS = 30
RISKIEST_LIMIT = 10
# The activity charts cover this many weeks back from today.
ACTIVITY_WEEKS = 12
SEVERE_FINDINGS = (Severity.CRITICAL, Severity.HIGH)


@dataclass(frozen=True)
class PortfolioFilters:
    """What the portfolio is narrowed to (all optional; kept in the page's query string)."""

    team_id: int | None = None
    risk_tier: str = ""
    lifecycle_status: str = ""

    def q(self, model_path: str, team_path: str = "team") -> Q:
        """The filter as a Q on a queryset whose model is reached through `model_path`
        ("" for MLModel itself)."""
        prefix = f"{model_path}__" if model_path else ""
        condition = Q()
        if self.team_id is not None:
            condition &= Q(**{f"{team_path}_id": self.team_id})
        if self.risk_tier:
            condition &= Q(**{f"{prefix}risk_tier": self.risk_tier})
        if self.lifecycle_status:
            condition &= Q(**{f"{prefix}lifecycle_status": self.lifecycle_status})
        return condition


NO_FILTERS = PortfolioFilters()


def _models(user: User, filters: PortfolioFilters) -> QuerySet[MLModel]:
    return perms.scope(MLModel.objects.all(), user).filter(filters.q(""))


def _findings(user: User, filters: PortfolioFilters) -> QuerySet[Finding]:
    return perms.scope(Finding.objects.all(), user).filter(filters.q("model_version__model"))


def _open_threats(user: User, filters: PortfolioFilters) -> QuerySet[ThreatAssessment]:
    scoped = perms.scope(ThreatAssessment.objects.all(), user).filter(filters.q("model"))
    return with_effective_status(scoped).filter(effective_status=AssessmentStatus.OPEN)


def _mitigations(user: User, filters: PortfolioFilters) -> QuerySet[AppliedMitigation]:
    return perms.scope(AppliedMitigation.objects.all(), user).filter(
        filters.q("assessment__model")
    )


def _acceptances(user: User, filters: PortfolioFilters) -> QuerySet[RiskAcceptance]:
    return perms.scope(RiskAcceptance.objects.all(), user).filter(
        filters.q("assessment__model")
    )


def _single(queryset: QuerySet, **aggregates) -> dict[str, int]:
    """One aggregate query; None (nothing to count) reads as 0."""
    return {key: value or 0 for key, value in queryset.aggregate(**aggregates).items()}


# --- Portfolio (compliance officer) -------------------------------------------------------------


def portfolio_headline(
    *, user: User, filters: PortfolioFilters = NO_FILTERS, now=None
) -> dict[str, int]:
    """The headline figures of the portfolio: one aggregate query per kind of object."""
    now = now or timezone.now()
    recent_scans = perms.scope(ScanRun.objects.all(), user).filter(
        model_version__model=OuterRef("pk"),
        created_at__gte=now - timedelta(days=STALE_SCAN_DAYS),
    )
    figures = _single(
        _models(user, filters).annotate(recently_scanned=Exists(recent_scans)),
        models=Count("pk"),
        production_models=Count("pk", filter=Q(lifecycle_status=LifecycleStatus.PRODUCTION)),
        unscanned_production_models=Count(
            "pk",
            filter=Q(lifecycle_status=LifecycleStatus.PRODUCTION, recently_scanned=False),
        ),
    )
    figures |= _single(
        _findings(user, filters).filter(status=FindingStatus.OPEN),
        open_findings=Count("pk"),
        open_severe_findings=Count("pk", filter=Q(severity__in=SEVERE_FINDINGS)),
    )
    figures |= _single(
        _open_threats(user, filters),
        open_threats=Count("pk"),
        open_severe_threats=Count("pk", filter=Q(residual_band__in=SEVERE)),
    )
    figures |= _single(
        _mitigations(user, filters),
        overdue_mitigations=Count(
            "pk", filter=Q(due_date__lt=now.date()) & ~Q(status__in=IN_PLACE)
        ),
    )
    figures |= _single(
        _acceptances(user, filters),
        expired_acceptances=Count(
            "pk",
            filter=Q(status=AcceptanceStatus.EXPIRED)
            | Q(status=AcceptanceStatus.APPROVED, expires_at__lte=now),
        ),
    )
    return figures


def models_by_tier_and_status(
    *, user: User, filters: PortfolioFilters = NO_FILTERS
) -> list[dict]:
    """Model counts per (risk tier, lifecycle status): rows of risk_tier, lifecycle_status, n."""
    return list(
        _models(user, filters).order_by().values("risk_tier", "lifecycle_status")
        .annotate(n=Count("pk")).order_by("risk_tier", "lifecycle_status")
    )


def open_findings_by_severity(
    *, user: User, filters: PortfolioFilters = NO_FILTERS
) -> list[dict]:
    """Open findings per severity: rows of severity, n."""
    return list(
        _findings(user, filters).filter(status=FindingStatus.OPEN).order_by()
        .values("severity").annotate(n=Count("pk")).order_by("severity")
    )


def open_threat_heatmap(*, user: User, filters: PortfolioFilters = NO_FILTERS) -> list[dict]:
    """Open threats per residual (likelihood, impact); the residual levels fall back to the
    inherent ones until they are set. Unscored threats are left out. Rows: likelihood,
    impact, n."""
    return list(
        _open_threats(user, filters)
        .annotate(
            level_l=Coalesce("residual_likelihood", "likelihood"),
            level_i=Coalesce("residual_impact", "impact"),
        )
        .filter(level_l__isnull=False, level_i__isnull=False)
        .order_by().values("level_l", "level_i").annotate(n=Count("pk"))
        .values("level_l", "level_i", "n").order_by("level_l", "level_i")
    )


def findings_over_time(
    *, user: User, filters: PortfolioFilters = NO_FILTERS, now=None
) -> list[dict]:
    """Findings first seen per week and severity over the last ACTIVITY_WEEKS weeks (whatever
    their status now): rows of week, severity, n."""
    since = (now or timezone.now()) - timedelta(weeks=ACTIVITY_WEEKS)
    return list(
        _findings(user, filters).filter(first_seen_at__gte=since)
        .annotate(week=TruncWeek("first_seen_at")).order_by()
        .values("week", "severity").annotate(n=Count("pk")).order_by("week", "severity")
    )


def scan_activity(
    *, user: User, filters: PortfolioFilters = NO_FILTERS, now=None
) -> list[dict]:
    """Scans started per week and status over the last ACTIVITY_WEEKS weeks (failures show as
    their own status): rows of week, status, n."""
    since = (now or timezone.now()) - timedelta(weeks=ACTIVITY_WEEKS)
    return list(
        perms.scope(ScanRun.objects.all(), user).filter(filters.q("model_version__model"))
        .filter(created_at__gte=since)
        .annotate(week=TruncWeek("created_at")).order_by()
        .values("week", "status").annotate(n=Count("pk")).order_by("week", "status")
    )


def mitigation_status_by_team(
    *, user: User, filters: PortfolioFilters = NO_FILTERS
) -> list[dict]:
    """Applied mitigations per team and status: rows of team_id, team__name, status, n."""
    return list(
        _mitigations(user, filters).order_by().values("team_id", "team__name", "status")
        .annotate(n=Count("pk")).order_by("team__name", "status")
    )


def _count(queryset: QuerySet, ref: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset` rows whose `ref` is the outer model (0 when none)."""
    counted = (
        queryset.filter(**{ref: OuterRef("pk")}).order_by().values(ref)
        .annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def riskiest_models(
    *, user: User, filters: PortfolioFilters = NO_FILTERS, limit: int = RISKIEST_LIMIT
) -> list[dict]:
    """The models carrying the most severe open risk, worst first: open high/critical threats,
    then open high/critical findings, then all open threats. One query."""
    open_threats = _open_threats(user, NO_FILTERS)
    open_findings = perms.scope(Finding.objects.all(), user).filter(status=FindingStatus.OPEN)
    return list(
        _models(user, filters)
        .annotate(
            severe_threats=_count(open_threats.filter(residual_band__in=SEVERE), "model"),
            open_threats=_count(open_threats, "model"),
            severe_findings=_count(
                open_findings.filter(severity__in=SEVERE_FINDINGS), "model_version__model"
            ),
        )
        .filter(Q(open_threats__gt=0) | Q(severe_findings__gt=0))
        .order_by("-severe_threats", "-severe_findings", "-open_threats", "name", "pk")
        .values(
            "pk", "name", "team__name", "risk_tier", "lifecycle_status",
            "severe_threats", "open_threats", "severe_findings",
        )[:limit]
    )


# --- Data scientist home ------------------------------------------------------------------------


def my_models_needs(*, user: User) -> list[dict]:
    """The models of the user's own teams and what each needs from them: failed scans, open
    findings, mitigations assigned to them and not yet in place, suggested threats waiting.
    Models needing nothing are listed too (with zeros), most pressing first. One query."""
    # Compliance officers read every team, but "mine" means the teams they belong to (one row
    # per model: a user belongs to a team at most once).
    models = perms.scope(MLModel.objects.all(), user).filter(team__memberships__user=user)
    return list(
        models.annotate(
            failed_scans=_count(
                perms.scope(ScanRun.objects.all(), user).filter(status=ScanStatus.FAILED),
                "model_version__model",
            ),
            open_findings=_count(
                perms.scope(Finding.objects.all(), user).filter(status=FindingStatus.OPEN),
                "model_version__model",
            ),
            my_mitigations=_count(
                perms.scope(AppliedMitigation.objects.all(), user)
                .filter(owner=user).exclude(status__in=IN_PLACE),
                "assessment__model",
            ),
            pending_suggestions=_count(
                perms.scope(ThreatSuggestion.objects.all(), user)
                .filter(status=SuggestionStatus.PENDING),
                "model",
            ),
        )
        .order_by("-failed_scans", "-open_findings", "-my_mitigations",
                  "-pending_suggestions", "name", "pk")
        .values(
            "pk", "name", "team__name", "failed_scans", "open_findings",
            "my_mitigations", "pending_suggestions",
        )
    )
