"""The scan engine and its services: requesting, idempotent attempts, fixed reconciliation,
triage that survives rescans, cancellation, the stuck-scan sweeper and periodic rescans."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.registry import services as registry_services
from apps.registry.choices import Environment
from apps.scans import scanners as scanner_registry
from apps.scans import services
from apps.scans.choices import FindingStatus, ScanStatus, ScanTrigger, Severity
from apps.scans.constants import MAX_ATTEMPTS
from apps.scans.models import Finding, FindingObservation, ScanRun
from apps.scans.scanners import scanners_for
from apps.scans.scanners.base import ScanAborted, ScannerInput
from apps.scans.scanners.integrity import IntegrityScanner
from apps.scans.services import engine
from apps.scans.tasks import scan_execute_task
from tests.registry.factories import (
    DatasetVersionFactory,
    DeploymentFactory,
    ModelVersionFactory,
)
from tests.scans.conftest import finding
from tests.scans.factories import FindingFactory, ScanRunFactory

pytestmark = pytest.mark.django_db


def run_fake(version, actor, **kwargs) -> ScanRun:
    """Request a scan of `version` with the fake scanner and execute it (as a worker would)."""
    run = services.scan_request(actor=actor, model_version=version, scanners=["fake"], **kwargs)
    return services.scan_execute(scan_id=run.pk, worker="worker-a@host")


def findings_of(version, scanner="fake") -> dict[str, Finding]:
    return {
        f.title.removeprefix("Problem "): f
        for f in Finding.objects.filter(model_version=version, scanner=scanner)
    }


# --- Requesting ---------------------------------------------------------------------------------


class TestScanRequest:
    def test_queues_every_applicable_scanner_by_default(self, register, data_scientist, team):
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version)
        assert run.status == ScanStatus.QUEUED
        assert run.scanners == scanners_for("model_version")
        assert {"integrity", "supply-chain"} <= set(run.scanners)
        assert run.team == team
        assert run.created_by == data_scientist
        assert run.trigger == ScanTrigger.MANUAL
        assert run.task_id

    def test_task_is_sent_only_after_the_commit(
        self, register, data_scientist, django_capture_on_commit_callbacks
    ):
        version = register()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            run = services.scan_request(actor=data_scientist, model_version=version)
            assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.QUEUED
        assert len(callbacks) == 1
        # Test settings run tasks eagerly: the scan ran once the transaction committed.
        run.refresh_from_db()
        assert run.status == ScanStatus.SUCCEEDED
        assert run.progress == 100

    def test_compliance_officer_may_start_a_scan(self, register, compliance_officer):
        run = services.scan_request(actor=compliance_officer, model_version=register())
        assert run.created_by == compliance_officer

    def test_auditor_is_refused(self, register, auditor):
        with pytest.raises(Forbidden):
            services.scan_request(actor=auditor, model_version=register())
        assert not ScanRun.objects.exists()

    def test_outsider_does_not_see_the_target(self, register, outsider):
        with pytest.raises(NotInScope):
            services.scan_request(actor=outsider, model_version=register())

    def test_needs_exactly_one_target(self, register, data_scientist, team):
        dataset_version = DatasetVersionFactory(dataset__team=team)
        with pytest.raises(ApplicationError, match="exactly one"):
            services.scan_request(actor=data_scientist)
        with pytest.raises(ApplicationError, match="exactly one"):
            services.scan_request(actor=data_scientist, model_version=register(),
                                  dataset_version=dataset_version)

    def test_unknown_scanner_is_refused_by_name(self, register, data_scientist):
        with pytest.raises(ApplicationError, match="Unknown scanner.*nope") as caught:
            services.scan_request(actor=data_scientist, model_version=register(),
                                  scanners=["nope"])
        assert caught.value.field == "scanners"

    def test_scanner_that_does_not_accept_the_target_is_refused(self, data_scientist, team):
        dataset_version = DatasetVersionFactory(dataset__team=team)
        with pytest.raises(ApplicationError, match="supply-chain cannot scan"):
            services.scan_request(actor=data_scientist, dataset_version=dataset_version,
                                  scanners=["supply-chain"])

    def test_dataset_versions_get_the_scanners_that_apply(self, data_scientist, team):
        run = services.scan_request(
            actor=data_scientist, dataset_version=DatasetVersionFactory(dataset__team=team)
        )
        assert run.scanners == scanners_for("dataset_version")
        assert "integrity" in run.scanners and "supply-chain" not in run.scanners

    def test_target_no_scanner_applies_to_is_refused(self, data_scientist, team, monkeypatch):
        monkeypatch.setattr(scanner_registry, "SCANNERS", (IntegrityScanner,))
        with pytest.raises(ApplicationError, match="No scanner applies to a deployment"):
            services.scan_request(actor=data_scientist,
                                  deployment=DeploymentFactory(model_version__model__team=team))

    def test_empty_scanner_list_is_refused(self, register, data_scientist):
        with pytest.raises(ApplicationError, match="at least one"):
            services.scan_request(actor=data_scientist, model_version=register(), scanners=[])

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"colour": "red"}, "Unknown input.*colour"),
            ({"expected_sha256": "abc"}, "expected_sha256 must be 64 hexadecimal"),
            ({"allowed_indexes": ["ftp://x"]}, "not an http"),
            ({"allowed_indexes": "https://ok.example/simple ftp://x"}, "not an http"),
            ("not an object", "params must be an object"),
        ],
    )
    def test_scanner_inputs_are_validated(self, register, data_scientist, params, message):
        with pytest.raises(ApplicationError, match=message) as caught:
            services.scan_request(actor=data_scientist, model_version=register(), params=params)
        assert caught.value.field == "params"

    def test_inputs_are_normalised(self, register, data_scientist):
        digest = "A" * 64
        run = services.scan_request(
            actor=data_scientist, model_version=register(),
            params={"expected_sha256": f"sha256:{digest}",
                    "allowed_indexes": "https://pypi.org/simple\nhttps://pkgs.example/simple"},
        )
        assert run.params == {
            "expected_sha256": "a" * 64,
            "allowed_indexes": ["https://pypi.org/simple", "https://pkgs.example/simple"],
        }

    def test_dataset_version_inputs_resolve_within_the_callers_scope(
        self, register, data_scientist, team, other_team, fake_scanner, monkeypatch
    ):
        monkeypatch.setattr(fake_scanner, "inputs", (
            ScannerInput("reference_dataset", "dataset_version", "Reference data."),))
        own = DatasetVersionFactory(dataset__team=team)
        foreign = DatasetVersionFactory(dataset__team=other_team)
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["fake"], params={"reference_dataset": own.pk})
        assert run.params == {"reference_dataset": own.pk}
        with pytest.raises(NotInScope) as caught:
            services.scan_request(actor=data_scientist, model_version=version,
                                  scanners=["fake"], params={"reference_dataset": foreign.pk})
        assert caught.value.field == "params"
        with pytest.raises(ApplicationError, match="must be a dataset version id"):
            services.scan_request(actor=data_scientist, model_version=version,
                                  scanners=["fake"], params={"reference_dataset": True})

    def test_broker_down_fails_the_scan_with_a_reason(
        self, register, data_scientist, monkeypatch, django_capture_on_commit_callbacks
    ):
        def refuse(*args, **kwargs):
            raise OperationalError("Connection refused")

        monkeypatch.setattr(scan_execute_task, "apply_async", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            run = services.scan_request(actor=data_scientist, model_version=register())
        run.refresh_from_db()
        assert run.status == ScanStatus.FAILED
        assert "could not be queued" in run.error


class TestRegistrationHook:
    def test_registering_a_version_queues_its_scans(self, model, data_scientist, settings):
        settings.MLGOV_AUTO_SCAN_ON_REGISTER = True
        version = registry_services.model_version_register(
            actor=data_scientist, model=model, version="2.0",
            artifact=SimpleUploadedFile("m.bin", b"bytes"),
        )
        run = ScanRun.objects.get(model_version=version)
        assert run.trigger == ScanTrigger.REGISTRATION
        assert run.scanners == scanners_for("model_version")
        assert run.created_by == data_scientist

    def test_setting_turns_it_off(self, model, data_scientist, settings):
        settings.MLGOV_AUTO_SCAN_ON_REGISTER = False
        registry_services.model_version_register(
            actor=data_scientist, model=model, version="2.0",
            artifact=SimpleUploadedFile("m.bin", b"bytes"),
        )
        assert not ScanRun.objects.exists()

    def test_a_refused_registration_leaves_no_scan(self, model, data_scientist, settings):
        settings.MLGOV_AUTO_SCAN_ON_REGISTER = True
        with pytest.raises(ApplicationError):
            registry_services.model_version_register(
                actor=data_scientist, model=model, version="2.0",
                artifact=SimpleUploadedFile("m.bin", b"bytes"), expected_sha256="0" * 64,
            )
        assert not ScanRun.objects.exists()


# --- Executing ----------------------------------------------------------------------------------


class TestScanExecute:
    def test_runs_the_scanners_and_records_the_attempt(
        self, register, data_scientist, fake_scanner
    ):
        fake_scanner.findings = [finding("a"), finding("b", Severity.LOW)]
        run = run_fake(register(), data_scientist)
        assert run.status == ScanStatus.SUCCEEDED
        assert run.progress == 100
        assert run.attempts == 1
        assert run.worker == "worker-a@host"
        assert run.started_at and run.finished_at
        assert run.findings_count == 2
        assert run.results == {"fake": {"status": "succeeded", "version": "1", "findings": 2}}
        assert set(run.observed_findings.values_list("title", flat=True)) == {
            "Problem a", "Problem b",
        }

    def test_a_finished_scan_is_not_run_again(self, register, data_scientist, fake_scanner):
        run = run_fake(register(), data_scientist)
        again = services.scan_execute(scan_id=run.pk, worker="other@host")
        assert again.attempts == 1
        assert again.worker == "worker-a@host"

    def test_unknown_scan_id_is_ignored(self):
        assert services.scan_execute(scan_id=987654, worker="w") is None

    def test_redelivery_replaces_partial_findings_instead_of_doubling_them(
        self, register, data_scientist, fake_scanner
    ):
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["fake"])

        def die(context):
            # What the first worker wrote before it was killed: "a" and "partial".
            context.emit(finding("a"))
            context.emit(finding("partial"))
            raise SystemExit("worker killed")  # not an Exception: nothing catches it

        fake_scanner.hook = die
        with pytest.raises(SystemExit):
            services.scan_execute(scan_id=run.pk, worker="first@host")
        run.refresh_from_db()
        assert (run.status, run.attempts, run.progress > 0) == (ScanStatus.RUNNING, 1, True)
        assert Finding.objects.filter(model_version=version).count() == 2

        fake_scanner.hook = None
        fake_scanner.findings = [finding("a"), finding("b")]
        run = services.scan_execute(scan_id=run.pk, worker="second@host")
        assert (run.status, run.attempts, run.worker) == (ScanStatus.SUCCEEDED, 2, "second@host")
        fingerprints = list(
            Finding.objects.filter(model_version=version).values_list("fingerprint", flat=True)
        )
        assert len(fingerprints) == len(set(fingerprints)) == 2
        assert set(findings_of(version)) == {"a", "b"}
        assert run.findings_count == 2
        assert FindingObservation.objects.filter(scan=run).count() == 2

    def test_redelivery_points_findings_back_at_the_scan_that_saw_them(
        self, register, data_scientist, fake_scanner
    ):
        version = register()
        fake_scanner.findings = [finding("a")]
        first = run_fake(version, data_scientist)
        second = services.scan_request(actor=data_scientist, model_version=version,
                                       scanners=["fake"])

        def die(context):
            context.emit(finding("a"))
            raise SystemExit

        fake_scanner.hook = die
        with pytest.raises(SystemExit):
            services.scan_execute(scan_id=second.pk)
        assert findings_of(version)["a"].scan_id == second.pk
        fake_scanner.hook = None
        fake_scanner.findings = []
        fake_scanner.error = SystemExit
        # The retry starts by undoing the partial attempt; then it dies again before writing.
        with pytest.raises(SystemExit):
            services.scan_execute(scan_id=second.pk)
        assert findings_of(version)["a"].scan_id == first.pk

    def test_worker_lost_too_often_fails_the_scan_with_the_reason(
        self, register, data_scientist, fake_scanner
    ):
        run = services.scan_request(actor=data_scientist, model_version=register(),
                                    scanners=["fake"])
        fake_scanner.error = SystemExit
        for _ in range(MAX_ATTEMPTS):
            with pytest.raises(SystemExit):
                services.scan_execute(scan_id=run.pk, worker="doomed@host")
        run = services.scan_execute(scan_id=run.pk, worker="next@host")
        assert run.status == ScanStatus.FAILED
        assert run.attempts == MAX_ATTEMPTS
        assert f"lost {MAX_ATTEMPTS} times" in run.error
        assert "doomed@host" in run.error

    def test_scanner_error_fails_the_scan_readably_and_other_scanners_still_run(
        self, register, data_scientist, fake_scanner
    ):
        fake_scanner.error = ValueError("boom")
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["fake", "integrity"])
        run = services.scan_execute(scan_id=run.pk)
        assert run.status == ScanStatus.FAILED
        assert "Fake scanner stopped with an internal error (ValueError: boom)" in run.error
        assert run.results["fake"]["status"] == "failed"
        assert run.results["integrity"]["status"] == "succeeded"

    def test_soft_time_limit_fails_the_scan_with_the_reason(
        self, register, data_scientist, fake_scanner, settings
    ):
        fake_scanner.error = SoftTimeLimitExceeded()
        run = run_fake(register(), data_scientist)
        assert run.status == ScanStatus.FAILED
        assert f"time limit ({settings.CELERY_TASK_SOFT_TIME_LIMIT} s)" in run.error

    def test_superseded_attempt_can_write_nothing(self, register, data_scientist, fake_scanner):
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["fake"])

        def newer_attempt_takes_over(context):
            # The broker redelivered the scan while this attempt still ran somewhere.
            ScanRun.objects.filter(pk=context.run_id).update(attempts=context.attempt + 1)
            context.emit(finding("late"))

        fake_scanner.hook = newer_attempt_takes_over
        services.scan_execute(scan_id=run.pk)
        assert not Finding.objects.filter(model_version=version).exists()
        assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.RUNNING

    def test_unknown_atlas_technique_is_not_stored_as_one(
        self, register, data_scientist, fake_scanner
    ):
        fake_scanner.findings = [finding("bad", atlas_technique="AML.T9999"),
                                 finding("junk", atlas_technique="T1059")]
        version = register()
        run_fake(version, data_scientist)
        found = findings_of(version)
        assert found["bad"].atlas_technique is None
        assert found["bad"].evidence["unrecognised_atlas_technique"] == "AML.T9999"
        assert found["junk"].atlas_technique is None

    def test_known_atlas_technique_is_stored(self, register, data_scientist, fake_scanner):
        fake_scanner.findings = [finding("ok", atlas_technique="AML.T0010.003")]
        version = register()
        run_fake(version, data_scientist)
        assert findings_of(version)["ok"].atlas_technique == "AML.T0010.003"


def test_atlas_ids_are_checked_against_the_catalogue_where_installed():
    assert services.atlas_technique_is_valid("AML.T0018", frozenset({"AML.T0018"}))
    assert not services.atlas_technique_is_valid("AML.T0099", frozenset({"AML.T0018"}))
    # No catalogue: any well-formed id is accepted, a malformed one never.
    assert services.atlas_technique_is_valid("AML.T0099.001", None)
    assert not services.atlas_technique_is_valid("AML.T99", None)
    assert not services.atlas_technique_is_valid("aml.t0010", None)


# --- Rescans: fixed reconciliation and triage ---------------------------------------------------


class TestRescans:
    def test_finding_absent_from_a_rescan_becomes_fixed_and_comes_back_open(
        self, register, data_scientist, fake_scanner
    ):
        version = register()
        fake_scanner.findings = [finding("a"), finding("b")]
        first = run_fake(version, data_scientist)
        fake_scanner.findings = [finding("a")]
        second = run_fake(version, data_scientist)
        found = findings_of(version)
        assert found["a"].status == FindingStatus.OPEN
        assert found["a"].scan == second and found["a"].first_scan == first
        assert found["b"].status == FindingStatus.FIXED
        assert found["b"].fixed_at is not None
        assert found["b"].scan == first

        fake_scanner.findings = [finding("a"), finding("b")]
        run_fake(version, data_scientist)
        found = findings_of(version)
        assert found["b"].status == FindingStatus.OPEN
        assert found["b"].fixed_at is None
        assert Finding.objects.filter(model_version=version).count() == 2

    def test_findings_filter_by_scan_keeps_each_scans_view(
        self, register, data_scientist, fake_scanner
    ):
        version = register()
        fake_scanner.findings = [finding("a"), finding("b")]
        first = run_fake(version, data_scientist)
        fake_scanner.findings = [finding("a")]
        second = run_fake(version, data_scientist)
        assert set(Finding.objects.filter(observations__scan=first)
                   .values_list("title", flat=True)) == {"Problem a", "Problem b"}
        assert list(Finding.objects.filter(observations__scan=second)
                    .values_list("title", flat=True)) == ["Problem a"]
        assert (first.findings_count, second.findings_count) == (2, 1)

    def test_triage_decisions_survive_rescans_and_fixing(
        self, register, data_scientist, compliance_officer, fake_scanner
    ):
        version = register()
        fake_scanner.findings = [finding("a"), finding("b"), finding("c")]
        run_fake(version, data_scientist)
        found = findings_of(version)
        expiry = timezone.now() + timedelta(days=30)
        services.finding_triage(actor=compliance_officer, finding=found["a"],
                                status="accepted", reason="Compensating control", expires_at=expiry)
        services.finding_triage(actor=compliance_officer, finding=found["b"],
                                status="false_positive", reason="Test fixture, not shipped")

        run_fake(version, data_scientist)  # same findings
        found = findings_of(version)
        assert found["a"].status == FindingStatus.ACCEPTED
        assert found["a"].triage_reason == "Compensating control"
        assert found["b"].status == FindingStatus.FALSE_POSITIVE
        assert found["c"].status == FindingStatus.OPEN

        fake_scanner.findings = [finding("b"), finding("c")]  # "a" was fixed
        run_fake(version, data_scientist)
        found = findings_of(version)
        assert found["a"].status == FindingStatus.FIXED
        assert found["a"].triage_reason == "Compensating control"
        assert found["a"].triaged_by == compliance_officer
        assert found["b"].status == FindingStatus.FALSE_POSITIVE

    def test_failed_scan_marks_nothing_fixed(self, register, data_scientist, fake_scanner):
        version = register()
        fake_scanner.findings = [finding("a")]
        run_fake(version, data_scientist)
        fake_scanner.findings = []
        fake_scanner.error = RuntimeError("could not read the artifact")
        run = run_fake(version, data_scientist)
        assert run.status == ScanStatus.FAILED
        assert findings_of(version)["a"].status == FindingStatus.OPEN

    def test_other_scanners_findings_are_not_touched(
        self, register, data_scientist, fake_scanner
    ):
        version = register()
        other = FindingFactory(scan__model_version=version, scanner="integrity")
        fake_scanner.findings = []
        run_fake(version, data_scientist)
        other.refresh_from_db()
        assert other.status == FindingStatus.OPEN

    def test_other_targets_findings_are_not_touched(
        self, register, data_scientist, fake_scanner
    ):
        version, other_version = register(), register(b"other bytes", version="2.0")
        fake_scanner.findings = [finding("a")]
        run_fake(other_version, data_scientist)
        fake_scanner.findings = []
        run_fake(version, data_scientist)
        assert findings_of(other_version)["a"].status == FindingStatus.OPEN


# --- Cancel -------------------------------------------------------------------------------------


class TestCancel:
    def test_queued_scan_is_cancelled_and_never_runs(
        self, register, data_scientist, fake_scanner
    ):
        run = services.scan_request(actor=data_scientist, model_version=register(),
                                    scanners=["fake"])
        services.scan_cancel(actor=data_scientist, scan=run)
        assert run.status == ScanStatus.CANCELLED
        assert "Cancelled by dana" in run.error
        run = services.scan_execute(scan_id=run.pk)
        assert (run.status, run.attempts) == (ScanStatus.CANCELLED, 0)

    def test_running_scan_stops_at_its_next_progress_report(
        self, register, data_scientist, compliance_officer, fake_scanner
    ):
        version = register()
        run = services.scan_request(actor=data_scientist, model_version=version,
                                    scanners=["fake"])

        def cancel_meanwhile(context):
            services.scan_cancel(actor=compliance_officer, scan=ScanRun.objects.get(pk=run.pk))

        fake_scanner.hook = cancel_meanwhile
        fake_scanner.findings = [finding("after-cancel")]
        run = services.scan_execute(scan_id=run.pk)
        assert run.status == ScanStatus.CANCELLED
        assert not Finding.objects.filter(model_version=version).exists()

    def test_progress_report_of_a_cancelled_run_raises(self, register, data_scientist):
        run = ScanRunFactory(model_version=register(), status=ScanStatus.RUNNING, attempts=1)
        attempt = engine._Attempt(run=run, known_techniques=None)
        attempt.progress(0.5)
        assert ScanRun.objects.get(pk=run.pk).progress == 25  # 0.5 of the first of two scanners
        services.scan_cancel(actor=data_scientist, scan=run)
        with pytest.raises(ScanAborted):
            attempt.progress(0.9)

    def test_finished_scan_cannot_be_cancelled(self, register, data_scientist):
        run = ScanRunFactory(model_version=register(), status=ScanStatus.SUCCEEDED)
        with pytest.raises(ApplicationError, match="already succeeded"):
            services.scan_cancel(actor=data_scientist, scan=run)

    def test_auditor_and_outsider_cannot_cancel(self, register, auditor, outsider):
        run = ScanRunFactory(model_version=register(), status=ScanStatus.QUEUED)
        with pytest.raises(Forbidden):
            services.scan_cancel(actor=auditor, scan=run)
        with pytest.raises(NotInScope):
            services.scan_cancel(actor=outsider, scan=run)
        assert ScanRun.objects.get(pk=run.pk).status == ScanStatus.QUEUED


# --- Periodic jobs ------------------------------------------------------------------------------


class TestStuckScans:
    def test_running_past_the_limit_is_failed_with_the_reason(self, settings):
        now = timezone.now()
        limit = engine._stuck_after_seconds()
        stuck = ScanRunFactory(status=ScanStatus.RUNNING, attempts=1,
                               attempt_started_at=now - timedelta(seconds=limit + 1))
        alive = ScanRunFactory(status=ScanStatus.RUNNING, attempts=1,
                               attempt_started_at=now - timedelta(seconds=limit - 30))
        assert services.scans_fail_stuck(now=now) == 1
        stuck.refresh_from_db()
        alive.refresh_from_db()
        assert stuck.status == ScanStatus.FAILED
        assert "stopped responding" in stuck.error
        assert stuck.finished_at == now
        assert alive.status == ScanStatus.RUNNING

    def test_limit_is_past_the_hard_time_limit_and_the_visibility_timeout(self, settings):
        settings.CELERY_TASK_TIME_LIMIT = 100
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 500}
        assert engine._stuck_after_seconds() == 500 + engine.STUCK_GRACE_SECONDS
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
        assert engine._stuck_after_seconds() == 100 + engine.STUCK_GRACE_SECONDS

    def test_queued_too_long_is_failed(self, settings):
        settings.MLGOV_SCAN_QUEUE_TIMEOUT_HOURS = 2
        old = ScanRunFactory(status=ScanStatus.QUEUED)
        ScanRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))
        recent = ScanRunFactory(status=ScanStatus.QUEUED)
        assert services.scans_fail_stuck() == 1
        assert ScanRun.objects.get(pk=old.pk).status == ScanStatus.FAILED
        assert "No worker picked this scan up within 2 hours" in ScanRun.objects.get(
            pk=old.pk).error
        assert ScanRun.objects.get(pk=recent.pk).status == ScanStatus.QUEUED


class TestProductionRescans:
    def test_rescans_versions_with_an_active_production_deployment(self):
        serving = DeploymentFactory(environment=Environment.PRODUCTION).model_version
        DeploymentFactory(environment=Environment.PRODUCTION, model_version=serving)
        DeploymentFactory(environment=Environment.STAGING)
        DeploymentFactory(environment=Environment.PRODUCTION, is_active=False)
        ModelVersionFactory()
        runs = services.scans_schedule_production_rescans()
        assert [run.model_version for run in runs] == [serving]
        assert runs[0].trigger == ScanTrigger.SCHEDULE
        assert runs[0].created_by is None
        assert runs[0].team == serving.model.team

    def test_versions_with_a_scan_in_progress_are_skipped(self):
        serving = DeploymentFactory(environment=Environment.PRODUCTION).model_version
        ScanRunFactory(model_version=serving, status=ScanStatus.RUNNING)
        assert services.scans_schedule_production_rescans() == []


# --- Triage -------------------------------------------------------------------------------------


class TestTriage:
    @pytest.fixture
    def open_finding(self, register):
        return FindingFactory(scan__model_version=register())

    def test_accept_needs_a_reason_and_a_future_expiry(self, open_finding, compliance_officer):
        future = timezone.now() + timedelta(days=10)
        with pytest.raises(ApplicationError, match="reason") as caught:
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="accepted", expires_at=future)
        assert caught.value.field == "reason"
        with pytest.raises(ApplicationError, match="expiry") as caught:
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="accepted", reason="ok")
        assert caught.value.field == "expires_at"
        with pytest.raises(ApplicationError, match="future"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="accepted", reason="ok",
                                    expires_at=timezone.now() - timedelta(days=1))
        with pytest.raises(ApplicationError, match="at most"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="accepted", reason="ok",
                                    expires_at=timezone.now() + timedelta(days=3650))
        services.finding_triage(actor=compliance_officer, finding=open_finding,
                                status="accepted", reason="  ok  ", expires_at=future)
        open_finding.refresh_from_db()
        assert open_finding.status == FindingStatus.ACCEPTED
        assert open_finding.triage_reason == "ok"
        assert open_finding.triage_expires_at == future
        assert open_finding.triaged_by == compliance_officer

    def test_false_positive_needs_a_reason_and_no_expiry(self, open_finding, compliance_officer):
        with pytest.raises(ApplicationError, match="reason"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="false_positive")
        with pytest.raises(ApplicationError, match="Only an accepted risk"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="false_positive", reason="no",
                                    expires_at=timezone.now() + timedelta(days=1))

    def test_fixed_cannot_be_set_by_hand(self, open_finding, compliance_officer):
        with pytest.raises(ApplicationError, match="Choose one of"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="fixed", reason="trust me")

    def test_fixed_finding_needs_no_decision(self, open_finding, compliance_officer):
        Finding.objects.filter(pk=open_finding.pk).update(status=FindingStatus.FIXED)
        open_finding.refresh_from_db()
        with pytest.raises(ApplicationError, match="is fixed"):
            services.finding_triage(actor=compliance_officer, finding=open_finding,
                                    status="false_positive", reason="x")

    def test_only_compliance_officers_triage(
        self, open_finding, data_scientist, auditor, administrator, outsider
    ):
        for user in (data_scientist, auditor, administrator):
            with pytest.raises(Forbidden):
                services.finding_triage(actor=user, finding=open_finding,
                                        status="false_positive", reason="mine")
        with pytest.raises(NotInScope):
            services.finding_triage(actor=outsider, finding=open_finding,
                                    status="false_positive", reason="mine")
        open_finding.refresh_from_db()
        assert open_finding.status == FindingStatus.OPEN

    def test_expired_acceptances_reopen(self, open_finding, register):
        Finding.objects.filter(pk=open_finding.pk).update(
            status=FindingStatus.ACCEPTED, triage_expires_at=timezone.now() - timedelta(hours=1)
        )
        still = FindingFactory(scan=open_finding.scan, status=FindingStatus.ACCEPTED,
                               triage_expires_at=timezone.now() + timedelta(days=1))
        assert services.findings_reopen_expired() == 1
        assert Finding.objects.get(pk=open_finding.pk).status == FindingStatus.OPEN
        assert Finding.objects.get(pk=still.pk).status == FindingStatus.ACCEPTED
