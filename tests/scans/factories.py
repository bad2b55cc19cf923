import factory
from django.utils import timezone

from apps.scans.choices import ScanStatus, Severity
from apps.scans.models import Finding, FindingObservation, ScanRun
from tests.registry.factories import ModelVersionFactory


def _team_of(run):
    if run.model_version:
        return run.model_version.model.team
    if run.dataset_version:
        return run.dataset_version.dataset.team
    return run.deployment.model_version.model.team


class ScanRunFactory(factory.django.DjangoModelFactory):
    """A finished scan of a model version (pass model_version=None and dataset_version=... or
    deployment=... for other targets)."""

    class Meta:
        model = ScanRun

    model_version = factory.SubFactory(ModelVersionFactory)
    dataset_version = None
    deployment = None
    team = factory.LazyAttribute(_team_of)
    scanners = factory.LazyFunction(lambda: ["integrity", "supply-chain"])
    status = ScanStatus.SUCCEEDED
    progress = 100


class FindingFactory(factory.django.DjangoModelFactory):
    """A finding reported by `scan` (with the observation that says so)."""

    class Meta:
        model = Finding
        skip_postgeneration_save = True

    scan = factory.SubFactory(ScanRunFactory)
    first_scan = factory.SelfAttribute("scan")
    model_version = factory.SelfAttribute("scan.model_version")
    dataset_version = factory.SelfAttribute("scan.dataset_version")
    deployment = factory.SelfAttribute("scan.deployment")
    team = factory.SelfAttribute("scan.team")
    scanner = "supply-chain"
    fingerprint = factory.Sequence(lambda n: f"{n:064x}")
    severity = Severity.MEDIUM
    title = factory.Sequence(lambda n: f"Finding {n}")
    last_seen_at = factory.LazyFunction(timezone.now)
    observation = factory.RelatedFactory(
        "tests.scans.factories.FindingObservationFactory",
        factory_related_name="finding",
        scan=factory.SelfAttribute("..scan"),
        severity=factory.SelfAttribute("..severity"),
    )


class FindingObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FindingObservation
