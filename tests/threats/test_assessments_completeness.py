"""Completeness of an asset's threat model, and bulk operations (all or nothing)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.threats import services_assessments as assessments
from apps.threats import services_mitigations as mitigations
from apps.threats.choices import SuggestionStatus
from apps.threats.models import AppliedMitigation, RiskAcceptance, ThreatAssessment
from apps.threats.selectors_assessments import assessment_completeness
from apps.threats.services_suggestions import (
    suggestion_accept,
    suggestion_dismiss,
    suggestions_refresh,
    suggestions_refresh_all,
)
from tests.registry.factories import DatasetFactory, MLModelFactory
from tests.threats.factories import approved_acceptance, assess, quiet_model_for

pytestmark = pytest.mark.django_db


# --- Completeness -------------------------------------------------------------------------------


def test_no_assessment_is_incomplete(team):
    result = assessment_completeness(asset=quiet_model_for(team))
    assert not result.complete
    assert result.reasons == ["No threat has been assessed yet."]


def test_a_scored_low_risk_threat_is_complete(data_scientist, team):
    model = quiet_model_for(team)
    assess(data_scientist, model, "AML.T0040", likelihood=1, impact=2)
    result = assessment_completeness(asset=model)
    assert result.complete, result.reasons
    assert result.assessed == 1


def test_pending_suggestions_make_it_incomplete_until_decided(risky_model, data_scientist,
                                                              compliance_officer):
    suggestions_refresh(risky_model)
    pending = list(risky_model.threatsuggestions.filter(status=SuggestionStatus.PENDING))
    result = assessment_completeness(asset=risky_model)
    assert set(result.pending_suggestions) == {s.technique.atlas_id for s in pending}
    assert any("await a decision" in reason for reason in result.reasons)
    for suggestion in pending:
        suggestion_dismiss(actor=data_scientist, suggestion=suggestion, reason="Out of scope.")
    # Dismissing everything still leaves nothing assessed.
    assert assessment_completeness(asset=risky_model).reasons == [
        "No threat has been assessed yet."]


def test_open_threats_must_be_scored(data_scientist, team):
    model = quiet_model_for(team)
    assess(data_scientist, model, "AML.T0040")
    assess(data_scientist, model, "AML.T0015", likelihood=2, impact=2)
    result = assessment_completeness(asset=model)
    assert result.unscored == ["AML.T0040"]
    assert not result.complete


def test_not_applicable_threats_need_no_score(data_scientist, team):
    model = quiet_model_for(team)
    assessment = assess(data_scientist, model, "AML.T0040")
    assessments.assessment_update(actor=data_scientist, assessment=assessment, data={
        "status": "not_applicable", "not_applicable_reason": "No endpoint."})
    assert assessment_completeness(asset=model).complete


def test_high_residual_risk_needs_a_mitigation_in_place_or_an_acceptance(
    data_scientist, compliance_officer, team
):
    model = quiet_model_for(team)
    mitigated = assess(data_scientist, model, "AML.T0024.002", likelihood=4, impact=4)
    accepted = assess(data_scientist, model, "AML.T0015", likelihood=5, impact=4)
    result = assessment_completeness(asset=model)
    assert result.unaddressed == ["AML.T0015", "AML.T0024.002"]
    applied = mitigations.applied_mitigation_create(
        actor=data_scientist, assessment=mitigated, mitigation="AML.M0004", status="planned")
    assert "AML.T0024.002" in assessment_completeness(asset=model).unaddressed  # planned only
    mitigations.applied_mitigation_update(actor=data_scientist, applied=applied,
                                          data={"status": "implemented"})
    assert assessment_completeness(asset=model).unaddressed == ["AML.T0015"]
    # A pending acceptance does not count; an approved one does.
    acceptance = approved_acceptance(data_scientist, compliance_officer, accepted)
    assert assessment_completeness(asset=model).complete
    # ...until it expires.
    RiskAcceptance.objects.filter(pk=acceptance.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    result = assessment_completeness(asset=model)
    assert result.unaddressed == ["AML.T0015"]
    assert not result.complete


def test_the_demo_like_model_can_be_completed(risky_model, data_scientist, compliance_officer):
    suggestions_refresh(risky_model)
    for suggestion in risky_model.threatsuggestions.all():
        suggestion_accept(actor=data_scientist, suggestion=suggestion, likelihood=1, impact=2)
    assert assessment_completeness(asset=risky_model).complete


# --- Bulk: one technique on many assets ---------------------------------------------------------


def test_bulk_technique_creates_one_assessment_per_asset(data_scientist, team):
    assets = [MLModelFactory(team=team), MLModelFactory(team=team), DatasetFactory(team=team)]
    created = assessments.assessments_bulk_create(
        actor=data_scientist, assets=assets, technique="AML.T0020", likelihood=3, impact=4)
    assert [a.asset for a in created] == assets
    assert {a.inherent_score for a in created} == {12}


def test_bulk_technique_is_all_or_nothing(data_scientist, outsider, team, other_team):
    mine = MLModelFactory(team=team)
    theirs = MLModelFactory(team=other_team)
    with pytest.raises(NotInScope):
        assessments.assessments_bulk_create(actor=data_scientist, assets=[mine, theirs],
                                            technique="AML.T0020")
    assess(data_scientist, mine, "AML.T0020")
    other = MLModelFactory(team=team)
    with pytest.raises(ApplicationError, match="Already assessed"):
        assessments.assessments_bulk_create(actor=data_scientist, assets=[other, mine],
                                            technique="AML.T0020")
    with pytest.raises(ApplicationError) as caught:
        assessments.assessments_bulk_create(actor=data_scientist, assets=[other],
                                            technique="AML.T0020", likelihood=6)
    assert caught.value.field == "likelihood"
    assert ThreatAssessment.objects.count() == 1


def test_bulk_technique_refuses_auditors(auditor, team):
    with pytest.raises(Forbidden):
        assessments.assessments_bulk_create(actor=auditor, assets=[MLModelFactory(team=team)],
                                            technique="AML.T0020")
    assert not ThreatAssessment.objects.exists()


# --- Bulk: one mitigation on many assessments ---------------------------------------------------


def test_bulk_mitigation_applies_to_every_threat(compliance_officer, data_scientist, team,
                                                 other_team):
    targets = [assess(data_scientist, MLModelFactory(team=team), "AML.T0040"),
               assess(compliance_officer, MLModelFactory(team=other_team), "AML.T0040")]
    created = mitigations.applied_mitigations_bulk_create(
        actor=compliance_officer, assessments=targets, mitigation="AML.M0019",
        status="implemented")
    assert len(created) == 2
    assert {a.team_id for a in created} == {team.pk, other_team.pk}


def test_bulk_mitigation_is_all_or_nothing(data_scientist, compliance_officer, team,
                                           other_team):
    mine = assess(data_scientist, MLModelFactory(team=team), "AML.T0040")
    theirs = assess(compliance_officer, MLModelFactory(team=other_team), "AML.T0040")
    with pytest.raises(NotInScope):
        mitigations.applied_mitigations_bulk_create(
            actor=data_scientist, assessments=[mine, theirs], mitigation="AML.M0019")
    mitigations.applied_mitigation_create(actor=data_scientist, assessment=mine,
                                          mitigation="AML.M0019")
    other = assess(data_scientist, MLModelFactory(team=team), "AML.T0040")
    with pytest.raises(ApplicationError, match="already applied"):
        mitigations.applied_mitigations_bulk_create(
            actor=data_scientist, assessments=[other, mine], mitigation="AML.M0019")
    with pytest.raises(ApplicationError):
        mitigations.applied_mitigations_bulk_create(actor=data_scientist, assessments=[other],
                                                    mitigation="AML.M9999")
    assert AppliedMitigation.objects.count() == 1


# --- Demo hook ----------------------------------------------------------------------------------


def test_refresh_all_suggests_for_every_asset(risky_model, team):
    quiet_model_for(team)
    changed = suggestions_refresh_all()
    # The risky model, its deployment and its public health dataset.
    assert changed == 3
    assert suggestions_refresh_all() == 0
