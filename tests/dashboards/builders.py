"""Portfolio data for the dashboard tests: per model, a few findings, failed scans, scored open
threats, an overdue mitigation and a pending suggestion, made through the services where they
compute something (scores and bands) and with factories elsewhere."""

from datetime import date, timedelta

from apps.registry.choices import LifecycleStatus, RiskTier
from apps.scans.choices import ScanStatus, Severity
from apps.threats.models import Technique, ThreatSuggestion
from apps.threats.services_mitigations import applied_mitigation_create
from tests.registry.factories import MLModelFactory, ModelVersionFactory
from tests.scans.factories import FindingFactory, ScanRunFactory
from tests.threats.factories import assess


def techniques(count: int) -> list[Technique]:
    return list(Technique.objects.filter(parent__isnull=True, is_retired=False)
                .order_by("atlas_id")[:count])


def build_model(team, actor, *, name=None, risk_tier=RiskTier.HIGH,
                lifecycle_status=LifecycleStatus.PRODUCTION, owner=None):
    """One model with: 2 open findings (high, low), 1 failed scan, 2 open threats (scored 5x4
    and 2x2), 1 overdue planned mitigation owned by `owner`, 1 pending suggestion."""
    kwargs = {"team": team, "risk_tier": risk_tier, "lifecycle_status": lifecycle_status}
    if name:
        kwargs["name"] = name
    model = MLModelFactory(**kwargs)
    version = ModelVersionFactory(model=model)
    scan = ScanRunFactory(model_version=version)
    FindingFactory(scan=scan, severity=Severity.HIGH)
    FindingFactory(scan=scan, severity=Severity.LOW)
    ScanRunFactory(model_version=version, status=ScanStatus.FAILED)
    first, second, third = techniques(3)
    severe = assess(actor, model, first.atlas_id, likelihood=5, impact=4)
    assess(actor, model, second.atlas_id, likelihood=2, impact=2)
    applied_mitigation_create(actor=actor, assessment=severe, title="Sign the artifact",
                              owner=owner, due_date=date.today() - timedelta(days=3))
    ThreatSuggestion.objects.create(model=model, team=team, technique=third, rule_ids=["r1"],
                                    reason="Pickle artifact.", facts_hash="0" * 64)
    return model
