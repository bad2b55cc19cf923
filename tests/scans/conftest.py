"""Fixtures of the scans tests: stored model versions, a controllable scanner, advisories."""

import json
from pathlib import Path
from typing import ClassVar

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.registry import services as registry_services
from apps.scans import scanners as scanner_registry
from apps.scans.choices import Severity, TargetType
from apps.scans.scanners.base import FindingData, Scanner
from apps.scans.services import advisories_import
from tests.registry.factories import MLModelFactory

ADVISORIES = Path(__file__).resolve().parents[2] / "fixtures" / "advisories"


class FakeScanner(Scanner):
    """A scanner whose findings and failure the test sets (class attributes, reset per test).

    `hook(context)`, when set, runs between the two progress reports: tests use it to cancel
    the scan or to stand in for a worker that dies mid-scan.
    """

    name = "fake"
    title = "Fake scanner"
    targets = frozenset(TargetType.values)
    atlas_techniques = ("AML.T0010",)
    findings: ClassVar[list[FindingData]] = []
    error: ClassVar[BaseException | None] = None
    hook: ClassVar = None

    def scan(self, context):
        context.progress(0.25)
        if type(self).hook:
            type(self).hook(context)
        if type(self).error is not None:
            raise type(self).error
        context.progress(0.75)
        return list(type(self).findings)


def finding(key: str, severity: str = Severity.HIGH, **kwargs) -> FindingData:
    return FindingData(
        severity=severity,
        key=key,
        title=f"Problem {key}",
        atlas_technique=kwargs.pop("atlas_technique", "AML.T0010"),
        **kwargs,
    )


@pytest.fixture
def fake_scanner(monkeypatch):
    """Install FakeScanner in the registry (beside the real ones) for this test."""
    monkeypatch.setattr(FakeScanner, "findings", [])
    monkeypatch.setattr(FakeScanner, "error", None)
    monkeypatch.setattr(FakeScanner, "hook", None)
    monkeypatch.setattr(scanner_registry, "SCANNERS", (*scanner_registry.SCANNERS, FakeScanner))
    return FakeScanner


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def model(team, data_scientist):
    return MLModelFactory(team=team, name="credit-scorer", created_by=data_scientist)


@pytest.fixture
def register(model, data_scientist, settings):
    """Register a real version (stored bytes) of `model`; no automatic scan unless asked."""
    settings.MLGOV_AUTO_SCAN_ON_REGISTER = False

    def make(
        content: bytes = b"model-bytes-v1",
        *,
        version: str = "1.0",
        dependencies: str = "",
        target_model=None,
    ):
        return registry_services.model_version_register(
            actor=data_scientist,
            model=target_model or model,
            version=version,
            artifact=SimpleUploadedFile("model.bin", content),
            dependencies=dependencies,
        )

    return make


@pytest.fixture
def advisories(db):
    """The shipped OSV sample, imported."""
    records = [
        (str(path), json.loads(path.read_text())) for path in sorted(ADVISORIES.glob("*.json"))
    ]
    return advisories_import(records=records)
