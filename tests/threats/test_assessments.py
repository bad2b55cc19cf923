"""Threat assessments through the services: scoring, status rules, permissions, bad input,
attribution and the audit trail."""

import pytest

from apps.audit.models import AuditEntry
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.threats import services_assessments as services
from apps.threats.choices import AssessmentStatus, MitigationStatus
from apps.threats.models import ThreatAssessment
from apps.threats.services_mitigations import applied_mitigation_create
from tests.registry.factories import DatasetFactory, DeploymentFactory, MLModelFactory
from tests.threats.factories import assess, technique

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(team):
    return MLModelFactory(team=team)


# --- Creating and scoring -----------------------------------------------------------------------


def test_create_computes_inherent_and_residual_risk(data_scientist, model):
    assessment = assess(data_scientist, model, "AML.T0024.002", likelihood=4, impact=4)
    assert (assessment.inherent_score, assessment.inherent_band) == (16, "high")
    # Until residual levels are set, the residual risk is the inherent risk.
    assert (assessment.residual_score, assessment.residual_band) == (16, "high")
    assert assessment.team == model.team
    assert assessment.created_by == assessment.updated_by == data_scientist
    assert assessment.status == AssessmentStatus.OPEN


def test_residual_levels_lower_the_residual_risk(data_scientist, model):
    assessment = assess(data_scientist, model, "AML.T0040", likelihood=5, impact=4)
    services.assessment_update(actor=data_scientist, assessment=assessment,
                               data={"residual_likelihood": 2, "residual_impact": 2})
    assessment.refresh_from_db()
    assert (assessment.inherent_score, assessment.residual_score) == (20, 4)
    assert (assessment.inherent_band, assessment.residual_band) == ("critical", "low")


def test_assets_of_every_kind_can_be_assessed(data_scientist, team, model):
    dataset = DatasetFactory(team=team)
    deployment = DeploymentFactory(model_version__model=model)
    for asset in (model, dataset, deployment):
        assessment = assess(data_scientist, asset, "AML.T0020", likelihood=2, impact=3)
        assert assessment.asset == asset
        assert assessment.team == team


@pytest.mark.parametrize(("field", "value"), [("likelihood", 0), ("likelihood", 6),
                                              ("impact", 0), ("impact", 6),
                                              ("residual_likelihood", 9)])
def test_levels_out_of_range_are_refused_and_nothing_is_saved(data_scientist, model, field,
                                                             value):
    levels = {"likelihood": 3, "impact": 3, field: value}
    with pytest.raises(ApplicationError) as caught:
        services.assessment_create(actor=data_scientist, asset=model, technique="AML.T0040",
                                   **levels)
    assert caught.value.status == 400
    assert caught.value.field == field
    assert not ThreatAssessment.objects.exists()


def test_update_with_a_bad_level_changes_nothing(data_scientist, model):
    assessment = assess(data_scientist, model, likelihood=3, impact=3)
    with pytest.raises(ApplicationError) as caught:
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"likelihood": 1, "impact": 6})
    assert caught.value.field == "impact"
    assessment.refresh_from_db()
    assert (assessment.likelihood, assessment.impact, assessment.inherent_score) == (3, 3, 9)


@pytest.mark.parametrize("atlas_id", ["AML.T9999", "T1059", "", "AML.TA0002"])
def test_unknown_technique_is_refused(data_scientist, model, atlas_id):
    with pytest.raises(ApplicationError) as caught:
        assess(data_scientist, model, atlas_id)
    assert caught.value.status == 400
    assert caught.value.field == "technique"
    assert not ThreatAssessment.objects.exists()


def test_retired_technique_is_refused_for_new_assessments(data_scientist, model):
    retired = technique("AML.T0040")
    retired.is_retired = True
    retired.save()
    with pytest.raises(ApplicationError, match="retired"):
        assess(data_scientist, model, "AML.T0040")


def test_one_assessment_per_asset_and_technique(data_scientist, model):
    assess(data_scientist, model, "AML.T0040")
    with pytest.raises(ApplicationError) as caught:
        assess(data_scientist, model, "AML.T0040")
    assert caught.value.field == "technique"
    assert ThreatAssessment.objects.count() == 1


def test_unknown_fields_cannot_be_set(data_scientist, model):
    assessment = assess(data_scientist, model)
    with pytest.raises(ApplicationError) as caught:
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"team": 99})
    assert caught.value.field == "team"


# --- Status rules -------------------------------------------------------------------------------


def test_accepted_cannot_be_set_directly(data_scientist, model):
    assessment = assess(data_scientist, model, likelihood=3, impact=3)
    with pytest.raises(ApplicationError, match="acceptance"):
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"status": "accepted"})


def test_mitigated_needs_a_mitigation_in_place(data_scientist, model):
    assessment = assess(data_scientist, model, likelihood=3, impact=3)
    with pytest.raises(ApplicationError, match="implemented or verified"):
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"status": "mitigated"})
    applied = applied_mitigation_create(actor=data_scientist, assessment=assessment,
                                        mitigation="AML.M0019",
                                        status=MitigationStatus.IMPLEMENTED)
    services.assessment_update(actor=data_scientist, assessment=assessment,
                               data={"status": "mitigated"})
    assert assessment.status == AssessmentStatus.MITIGATED
    # Downgrading the only mitigation in place re-opens the threat.
    from apps.threats.services_mitigations import applied_mitigation_update

    applied_mitigation_update(actor=data_scientist, applied=applied,
                              data={"status": "in_progress"})
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.OPEN


def test_mitigated_needs_a_score(data_scientist, model):
    assessment = assess(data_scientist, model)
    with pytest.raises(ApplicationError, match="Score"):
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"status": "mitigated"})


def test_not_applicable_needs_a_reason(data_scientist, model):
    assessment = assess(data_scientist, model)
    with pytest.raises(ApplicationError) as caught:
        services.assessment_update(actor=data_scientist, assessment=assessment,
                                   data={"status": "not_applicable"})
    assert caught.value.field == "not_applicable_reason"
    services.assessment_update(
        actor=data_scientist, assessment=assessment,
        data={"status": "not_applicable", "not_applicable_reason": "Internal network only."},
    )
    assessment.refresh_from_db()
    assert assessment.status == AssessmentStatus.NOT_APPLICABLE


# --- Permissions --------------------------------------------------------------------------------


def test_outsider_cannot_see_another_teams_asset(outsider, model):
    with pytest.raises(NotInScope):
        assess(outsider, model)
    assert not ThreatAssessment.objects.exists()


def test_auditor_reads_but_cannot_write(auditor, model, data_scientist):
    with pytest.raises(Forbidden):
        assess(auditor, model)
    assessment = assess(data_scientist, model)
    with pytest.raises(Forbidden):
        services.assessment_update(actor=auditor, assessment=assessment,
                                   data={"likelihood": 2})


def test_compliance_officer_writes_any_teams_threat_model(compliance_officer, model):
    assessment = assess(compliance_officer, model, likelihood=2, impact=2)
    services.assessment_update(actor=compliance_officer, assessment=assessment,
                               data={"rationale": "Reviewed."})
    assert assessment.updated_by == compliance_officer


def test_outsider_cannot_change_another_teams_assessment(outsider, data_scientist, model):
    assessment = assess(data_scientist, model)
    with pytest.raises(NotInScope):
        services.assessment_update(actor=outsider, assessment=assessment,
                                   data={"likelihood": 1})


# --- Audit trail --------------------------------------------------------------------------------


def test_changes_are_recorded_in_the_audit_trail(data_scientist, model):
    assessment = assess(data_scientist, model, likelihood=2, impact=2)
    services.assessment_update(actor=data_scientist, assessment=assessment,
                               data={"likelihood": 5})
    entries = AuditEntry.objects.filter(object_type="threats.threatassessment",
                                        object_id=str(assessment.pk)).order_by("seq")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[0].actor_name == data_scientist.username
    assert entries[0].team_id == model.team_id
    changes = entries[1].changes_data
    assert changes["likelihood"] == [2, 5]
    assert changes["inherent_score"] == [4, 10]
    assert changes["inherent_band"] == ["low", "high"]
