"""`manage.py seed_scale`: counts as asked, deterministic, consistent teams, a valid audit chain.

Runs on SQLite (batched INSERTs) and, when DATABASE_URL points at PostgreSQL, on COPY.
"""

import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.audit.chain import entry_hash
from apps.audit.choices import AuditAction
from apps.audit.models import AuditEntry
from apps.audit.selectors import chain_verify
from apps.audit.services import audit_record
from apps.core import scale
from apps.registry import selectors as registry_selectors
from apps.registry.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageLink,
    MLModel,
    ModelVersion,
    Team,
    TeamMembership,
)
from apps.scans import selectors as scan_selectors
from apps.scans.models import Finding, FindingObservation, ScanRun
from apps.threats.models import ThreatAssessment

pytestmark = pytest.mark.django_db

SIZES = {"teams": 3, "users": 25, "models": 12, "versions_per_model": 2, "datasets": 5,
         "assessments": 30, "findings": 90, "audit_entries": 40}
EPOCH = "2026-03-01T12:00:00+00:00"


def seed(prefix: str = "t", seed: int = 7, **overrides) -> str:
    out = io.StringIO()
    options = {**SIZES, **overrides}
    call_command("seed_scale", prefix=prefix, seed=seed, epoch=EPOCH, stdout=out,
                 **options)
    return out.getvalue()


def test_counts_match_the_arguments_and_timings_are_printed():
    before = {model: model.objects.count() for model in (Team, User, AuditEntry)}
    output = seed()
    assert Team.objects.count() - before[Team] == 3
    assert User.objects.count() - before[User] == 25
    assert MLModel.objects.count() == 12
    assert ModelVersion.objects.count() == 24
    assert Dataset.objects.count() == DatasetVersion.objects.count() == 5
    assert ThreatAssessment.objects.count() == 30
    assert Finding.objects.count() == FindingObservation.objects.count() == 90
    assert ScanRun.objects.count() == 90 // 20
    assert Deployment.objects.count() == 12 // 10
    assert LineageLink.objects.count() == 12  # each model's latest version, when data exists
    assert AuditEntry.objects.count() - before[AuditEntry] == 40
    for table in ("registry_mlmodel", "scans_finding", "audit_auditentry"):
        assert table in output
    assert "Seeded" in output and " s" in output


def names() -> dict[str, list]:
    return {
        "models": list(MLModel.objects.order_by("id").values_list("name", "risk_tier", "task")),
        "versions": list(ModelVersion.objects.order_by("id").values_list("version", "sha256")),
        "findings": list(Finding.objects.order_by("id").values_list("title", "severity")),
        "datasets": list(Dataset.objects.order_by("id").values_list("name", flat=True)),
    }


def test_same_seed_same_data_other_seed_other_data():
    seed(prefix="first", seed=11)
    first = names()
    for model in (FindingObservation, Finding, ScanRun, ThreatAssessment, Deployment,
                  LineageLink, ModelVersion, DatasetVersion, MLModel, Dataset):
        model.objects.all().delete()
    seed(prefix="again", seed=11)
    assert names() == first
    seed(prefix="other", seed=12)
    assert names()["models"][-12:] != first["models"]


def test_audit_chain_continues_and_verifies():
    audit_record(action=AuditAction.UPDATE, object_type="x.y", object_id=1)
    seed()
    result = chain_verify()
    assert result.ok, result.problem
    assert result.count == AuditEntry.objects.count() == 41
    out = io.StringIO()
    call_command("verify_audit_trail", stdout=out)
    assert out.getvalue().startswith("OK: 41 entries")


def test_a_tampered_seeded_entry_is_caught():
    """The chain test above can fail: a seeded entry's hash covers its content and position.
    (Editing the stored row is refused outright on PostgreSQL, so this edits a copy.)"""
    seed()
    entry = AuditEntry.objects.order_by("seq")[10]
    assert entry_hash(entry) == entry.hash
    entry.actor_name = "mallory"
    assert entry_hash(entry) != entry.hash


def test_team_fields_are_consistent_so_scoping_works():
    seed()
    assert not Finding.objects.exclude(team_id=F("model_version__model__team_id")).exists()
    assert not ScanRun.objects.exclude(team_id=F("model_version__model__team_id")).exists()
    assert not Finding.objects.exclude(scan__model_version_id=F("model_version_id")).exists()
    assert not ThreatAssessment.objects.exclude(team_id=F("model__team_id")).exists()
    assert not LineageLink.objects.exclude(
        dataset_version__dataset__team_id=F("model_version__model__team_id")).exists()
    scientist = User.objects.get(username=scale.username("t", 2))
    assert scientist.role == Role.DATA_SCIENTIST
    teams = set(TeamMembership.objects.filter(user=scientist).values_list("team_id", flat=True))
    visible = scan_selectors.finding_list(user=scientist)
    assert visible.exists()
    assert set(visible.values_list("team_id", flat=True)) <= teams
    assert visible.count() == Finding.objects.filter(team_id__in=teams).count()
    models = registry_selectors.model_list(user=scientist)
    assert set(models.values_list("team_id", flat=True)) <= teams


def test_roles_by_position_and_the_shared_password():
    seed(password="a-Long-benchmark-pass-42")
    auditor = User.objects.get(username=scale.username("t", 0))
    assert auditor.role == Role.AUDITOR
    assert User.objects.get(username=scale.username("t", 1)).role == Role.COMPLIANCE_OFFICER
    assert auditor.check_password("a-Long-benchmark-pass-42")
    assert not auditor.check_password("wrong")


def test_without_a_password_seeded_users_cannot_log_in():
    seed()
    user = User.objects.get(username=scale.username("t", 3))
    assert not user.has_usable_password()


def test_new_rows_after_seeding_get_fresh_ids():
    seed()
    team = Team.objects.create(name="made after seeding")
    assert team.pk > Team.objects.exclude(pk=team.pk).order_by("-pk").first().pk
    model = MLModel.objects.create(team=team, name="after")
    assert model.pk == MLModel.objects.order_by("-pk").first().pk


def test_the_same_prefix_twice_is_refused_and_writes_nothing():
    seed()
    counts = (MLModel.objects.count(), AuditEntry.objects.count())
    with pytest.raises(CommandError, match="prefix 't' exists already"):
        seed()
    assert (MLModel.objects.count(), AuditEntry.objects.count()) == counts


@pytest.mark.parametrize(("options", "message"), [
    ({"models": -1}, "must not be negative"),
    ({"teams": 0}, "At least one team"),
    ({"users": 0}, "At least one user"),
    ({"seed": -5}, "--seed must not be negative"),
    ({"prefix": "no spaces"}, "--prefix"),
    ({"assessments": 10_000}, "assessments fit"),
    ({"versions_per_model": 0}, "Findings need model versions"),
])
def test_bad_arguments_are_refused_with_a_message(options, message):
    with pytest.raises(CommandError, match=message):
        seed(**options)
    assert not MLModel.objects.exists()


def test_bad_epoch_is_refused():
    for epoch, message in (("yesterday", "not an ISO 8601"), ("2026-01-01T00:00", "time zone")):
        with pytest.raises(CommandError, match=message):
            call_command("seed_scale", epoch=epoch, stdout=io.StringIO())


def test_history_ends_at_the_epoch():
    seed()
    epoch = datetime.fromisoformat(EPOCH)
    latest = AuditEntry.objects.order_by("-seq").first().timestamp
    assert latest.astimezone(UTC) == epoch
    assert ScanRun.objects.filter(created_at__gt=epoch).count() == 0
