"""Risk acceptances: required expiry, approval by another compliance officer, expiry re-opens."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.threats import selectors_assessments as selectors
from apps.threats import services_assessments as services
from apps.threats.choices import AcceptanceStatus, AssessmentStatus
from apps.threats.models import RiskAcceptance, ThreatAssessment
from apps.threats.tasks import acceptances_expire_task
from tests.registry.factories import MLModelFactory
from tests.threats.factories import approved_acceptance, assess

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(data_scientist, team):
    return assess(data_scientist, MLModelFactory(team=team), "AML.T0024.002",
                  likelihood=4, impact=4)


def ask(actor, assessment, **overrides):
    arguments = {"reason": "Low value model; monitoring in place.",
                 "expires_at": timezone.now() + timedelta(days=90), **overrides}
    return services.acceptance_request(actor=actor, assessment=assessment, **arguments)


# --- Requesting ---------------------------------------------------------------------------------


def test_a_request_without_expiry_is_refused(compliance_officer, assessment):
    with pytest.raises(ApplicationError) as caught:
        ask(compliance_officer, assessment, expires_at=None)
    assert caught.value.status == 400
    assert caught.value.field == "expires_at"
    assert not RiskAcceptance.objects.exists()


@pytest.mark.parametrize("days", [-1, 0])
def test_a_request_expiring_now_or_before_is_refused(compliance_officer, assessment, days):
    with pytest.raises(ApplicationError, match="future"):
        ask(compliance_officer, assessment,
                expires_at=timezone.now() + timedelta(days=days))


@override_settings(MLGOV_RISK_ACCEPTANCE_MAX_DAYS=30)
def test_a_request_longer_than_allowed_is_refused(compliance_officer, assessment):
    with pytest.raises(ApplicationError, match="30 days"):
        ask(compliance_officer, assessment, expires_at=timezone.now() + timedelta(days=31))


def test_a_request_needs_a_reason(compliance_officer, assessment):
    with pytest.raises(ApplicationError) as caught:
        ask(compliance_officer, assessment, reason="  ")
    assert caught.value.field == "reason"


def test_an_unscored_threat_cannot_be_accepted(compliance_officer, data_scientist, team):
    unscored = assess(data_scientist, MLModelFactory(team=team))
    with pytest.raises(ApplicationError, match="Score"):
        ask(compliance_officer, unscored)


def test_one_live_request_at_a_time(compliance_officer, assessment):
    ask(compliance_officer, assessment)
    with pytest.raises(ApplicationError, match="already"):
        ask(compliance_officer, assessment)
    assert RiskAcceptance.objects.count() == 1


def test_the_team_may_request_auditors_and_outsiders_may_not(data_scientist, auditor, outsider,
                                                              assessment):
    acceptance = ask(data_scientist, assessment)
    assert acceptance.status == AcceptanceStatus.PENDING
    assert acceptance.residual_score == 16
    with pytest.raises(Forbidden):
        ask(auditor, assessment)
    with pytest.raises(NotInScope):
        ask(outsider, assessment)


# --- Approving ----------------------------------------------------------------------------------


def test_approval_by_the_requester_is_refused(compliance_officer, assessment):
    acceptance = ask(compliance_officer, assessment)
    with pytest.raises(ApplicationError) as caught:
        services.acceptance_approve(actor=compliance_officer, acceptance=acceptance)
    assert caught.value.status == 400
    assert caught.value.field == "approved_by"
    acceptance.refresh_from_db()
    assessment.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.PENDING
    assert assessment.status == AssessmentStatus.OPEN


@pytest.mark.parametrize("role", ["data_scientist", "auditor", "administrator"])
def test_only_compliance_officers_approve(request, compliance_officer, assessment, role):
    acceptance = ask(compliance_officer, assessment)
    with pytest.raises(Forbidden):
        services.acceptance_approve(actor=request.getfixturevalue(role), acceptance=acceptance)
    acceptance.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.PENDING


def test_another_compliance_officer_approves_and_the_threat_is_accepted(
    data_scientist, compliance_officer, second_officer, assessment
):
    acceptance = ask(compliance_officer, assessment)
    services.acceptance_approve(actor=second_officer, acceptance=acceptance, note="Fine.")
    acceptance.refresh_from_db()
    assessment.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.APPROVED
    assert acceptance.approved_by == second_officer
    assert assessment.status == AssessmentStatus.ACCEPTED
    assert assessment.updated_by == second_officer
    # Approving twice is refused.
    with pytest.raises(ApplicationError):
        services.acceptance_approve(actor=second_officer, acceptance=acceptance)


def test_a_data_scientists_request_is_approved_by_a_compliance_officer(
    data_scientist, compliance_officer, assessment
):
    acceptance = approved_acceptance(data_scientist, compliance_officer, assessment)
    assert acceptance.status == AcceptanceStatus.APPROVED


def test_reject_needs_a_note_and_keeps_the_threat_open(compliance_officer, second_officer,
                                                       assessment):
    acceptance = ask(compliance_officer, assessment)
    with pytest.raises(ApplicationError):
        services.acceptance_reject(actor=second_officer, acceptance=acceptance, note="")
    services.acceptance_reject(actor=second_officer, acceptance=acceptance, note="Too risky.")
    acceptance.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.REJECTED
    assert acceptance.approved_by is None
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.OPEN
    # A new request may follow a rejection.
    assert ask(compliance_officer, assessment).status == AcceptanceStatus.PENDING


def test_changing_the_status_withdraws_the_acceptance(data_scientist, compliance_officer,
                                                     assessment):
    acceptance = approved_acceptance(data_scientist, compliance_officer, assessment)
    services.assessment_update(actor=data_scientist, assessment=assessment,
                               data={"status": "open"})
    acceptance.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.WITHDRAWN


# --- Expiry -------------------------------------------------------------------------------------


def _expire_now(acceptance):
    RiskAcceptance.objects.filter(pk=acceptance.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )


def test_an_expired_acceptance_reads_open_before_the_task_runs(data_scientist,
                                                               compliance_officer, assessment):
    acceptance = approved_acceptance(data_scientist, compliance_officer, assessment)
    row = selectors.assessment_list(user=compliance_officer).get(pk=assessment.pk)
    assert (row.effective_status, row.acceptance_expired) == ("accepted", False)
    _expire_now(acceptance)
    row = selectors.assessment_list(user=compliance_officer).get(pk=assessment.pk)
    assert row.status == AssessmentStatus.ACCEPTED  # not written yet
    assert (row.effective_status, row.acceptance_expired) == ("open", True)
    assert selectors.acceptance_list(user=compliance_officer).get().is_expired


def test_the_expiry_task_reopens_the_threat(data_scientist, compliance_officer, assessment):
    acceptance = approved_acceptance(data_scientist, compliance_officer, assessment)
    assert acceptances_expire_task.delay().get() == 0  # nothing due yet
    _expire_now(acceptance)
    assert acceptances_expire_task.delay().get() == 1
    acceptance.refresh_from_db()
    assessment.refresh_from_db()
    assert acceptance.status == AcceptanceStatus.EXPIRED
    assert assessment.status == AssessmentStatus.OPEN
    assert services.acceptances_expire() == 0  # idempotent
    # Once expired, a new acceptance can be requested.
    assert ask(data_scientist, assessment).status == AcceptanceStatus.PENDING


def test_an_acceptance_past_its_date_cannot_be_approved(compliance_officer, second_officer,
                                                        assessment):
    acceptance = ask(compliance_officer, assessment)
    _expire_now(acceptance)
    acceptance.refresh_from_db()
    with pytest.raises(ApplicationError, match="expiry"):
        services.acceptance_approve(actor=second_officer, acceptance=acceptance)
    assert ThreatAssessment.objects.get().status == AssessmentStatus.OPEN
