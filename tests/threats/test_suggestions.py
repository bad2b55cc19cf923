"""Suggested threats: the rule file, the engine, refreshing, accepting and dismissing."""

import json
from pathlib import Path

import pytest
import yaml

from apps.audit.models import AuditEntry
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.registry.choices import Exposure, OutputGranularity
from apps.registry.models import Deployment
from apps.threats import suggestions as engine
from apps.threats.assets import FACTS, asset_facts
from apps.threats.choices import AssessmentOrigin, SuggestionStatus
from apps.threats.models import ThreatAssessment, ThreatSuggestion
from apps.threats.services_suggestions import (
    RULES_ACTOR,
    suggestion_accept,
    suggestion_dismiss,
    suggestions_bulk_accept,
    suggestions_refresh,
)
from tests.registry.factories import DatasetFactory, DeploymentFactory
from tests.threats.factories import assess, quiet_model_for

SHIPPED_CATALOGUE = Path(__file__).resolve().parents[2] / "fixtures" / "threats_atlas_5.6.0.json"
PICKLE_FAMILY = {"AML.T0011.000", "AML.T0010.003"}
EXPOSED = {"AML.T0040", "AML.T0024.002", "AML.T0024.001", "AML.T0015"}


# --- The rule file ------------------------------------------------------------------------------


def test_every_technique_in_the_rules_exists_in_the_shipped_catalogue():
    document = json.loads(SHIPPED_CATALOGUE.read_text())
    known = {t["id"] for matrix in document["matrices"] for t in matrix["techniques"]}
    rules = engine.load_rules()
    proposed = {t.atlas_id for rule in rules for t in rule.techniques}
    assert proposed, "the rule file proposes nothing"
    assert proposed <= known, sorted(proposed - known)


def test_the_rules_cover_the_issues_cases():
    ids = {rule.id for rule in engine.load_rules()}
    assert {"unsafe-serialization", "exposed-inference-api", "full-scores-returned",
            "untrusted-training-data", "sensitive-training-data", "no-authentication",
            "no-rate-limit", "high-risk-system"} <= ids


@pytest.mark.parametrize(
    ("rule", "message"),
    [({"id": "x"}, "missing"),
     ({"id": "x", "description": "d", "applies_to": ["model"], "when": {"no_such_fact": True},
       "techniques": ["AML.T0040"], "reason": "r"}, "unknown fact"),
     ({"id": "x", "description": "d", "applies_to": ["model"],
       "when": {"exposures": {"contains": "public"}}, "techniques": ["AML.T0040"],
       "reason": "r"}, "exactly one"),
     ({"id": "x", "description": "d", "applies_to": ["server"], "when": {"kind": "model"},
       "techniques": ["AML.T0040"], "reason": "r"}, "applies_to"),
     ({"id": "x", "description": "d", "applies_to": ["model"], "when": {"kind": "model"},
       "techniques": ["T1059"], "reason": "r"}, "not an ATLAS technique"),
     ({"id": "x", "description": "d", "applies_to": ["model"], "when": {"kind": "model"},
       "techniques": [{"id": "AML.T0040", "likelihood": 7}], "reason": "r"}, "1 to 5"),
     ({"id": "x", "description": "d", "applies_to": ["model"], "when": {"kind": "model"},
       "techniques": ["AML.T0040"], "reason": "{nope}"}, "unknown facts")],
)
def test_malformed_rules_are_refused_at_load(rule, message):
    with pytest.raises(engine.RuleError, match=message):
        engine.parse_rules({"rules": [rule]})


def test_duplicate_rule_ids_are_refused():
    rule = {"id": "x", "description": "d", "applies_to": ["model"], "when": {"kind": "model"},
            "techniques": ["AML.T0040"], "reason": "r"}
    with pytest.raises(engine.RuleError, match="twice"):
        engine.parse_rules({"rules": [rule, rule]})


def test_a_broken_rule_file_is_reported(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [unclosed")
    with pytest.raises(engine.RuleError, match="Cannot read"):
        engine.load_rules(path)


def test_the_documentation_lists_every_fact_and_rule():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "threat-suggestions.md").read_text()
    for fact in FACTS:
        assert f"`{fact}`" in doc, fact
    for rule in engine.load_rules():
        assert f"`{rule.id}`" in doc, rule.id


# --- The engine ---------------------------------------------------------------------------------


def facts(**overrides) -> dict:
    base = dict.fromkeys(FACTS, False)
    base.update(kind="model", risk_tier="minimal", lifecycle_status="development",
                artifact_formats=["safetensors"], exposures=[], data_sources=["internal"])
    return {**base, **overrides}


def proposed(**overrides) -> dict[str, engine.Proposal]:
    return {p.atlas_id: p for p in engine.evaluate(facts(**overrides))}


def test_nothing_fires_for_a_quiet_model():
    assert proposed() == {}


@pytest.mark.parametrize("fmt", ["pickle", "joblib", "pytorch-zip", "pytorch-legacy", "numpy"])
def test_pickle_family_formats_propose_unsafe_artifacts(fmt):
    found = proposed(artifact_formats=["onnx", fmt])
    assert PICKLE_FAMILY <= set(found)
    assert fmt in found["AML.T0011.000"].reason


def test_exposed_endpoints_and_full_scores():
    exposed = proposed(exposures=["partner"], exposed_endpoint=True)
    assert EXPOSED <= set(exposed)
    assert exposed["AML.T0024.002"].likelihood_hint is None
    full = proposed(exposures=["public"], exposed_endpoint=True, exposed_full_scores=True)
    assert full["AML.T0024.002"].likelihood_hint == 4
    assert full["AML.T0024.002"].rule_ids == ["exposed-inference-api", "full-scores-returned"]


def test_data_rules():
    assert {"AML.T0020", "AML.T0010.002"} <= set(proposed(data_sources=["scraped"]))
    assert {"AML.T0024.000", "AML.T0025"} <= set(proposed(health_data=True))
    assert {"AML.T0024.000", "AML.T0025"} <= set(proposed(personal_data=True))
    assert "AML.T0025" not in proposed(financial_data=True)


def test_rules_apply_only_to_their_asset_kinds():
    assert proposed(kind="dataset", artifact_formats=["pickle"]) == {}
    assert "AML.T0020" in proposed(kind="dataset", data_sources=["crowdsourced"])


def test_facts_hash_depends_only_on_the_facts_the_rules_read():
    one = engine.evaluate(facts(artifact_formats=["pickle"]))[0]
    same = engine.evaluate(facts(artifact_formats=["pickle"], lifecycle_status="production"))[0]
    other = engine.evaluate(facts(artifact_formats=["pickle", "joblib"]))[0]
    base = facts(artifact_formats=["pickle"])
    assert one.facts_hash(base) == same.facts_hash(
        facts(artifact_formats=["pickle"], lifecycle_status="production"))
    assert one.facts_hash(base) != other.facts_hash(facts(artifact_formats=["pickle", "joblib"]))


# --- Asset facts --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_facts_of_a_model_cover_versions_deployments_and_training_data(risky_model):
    found = asset_facts(risky_model)
    assert found["kind"] == "model"
    assert found["artifact_formats"] == ["pickle"]
    assert found["exposures"] == ["public"]
    assert found["exposed_full_scores"] and found["exposed_without_authentication"]
    assert found["exposed_without_rate_limit"] and found["public_endpoint"]
    assert found["data_sources"] == ["public"]
    assert found["health_data"] and not found["personal_data"]
    assert found["risk_tier"] == "high"


@pytest.mark.django_db
def test_facts_of_a_deployment_and_a_dataset(risky_model, team):
    deployment = Deployment.objects.get(model_version__model=risky_model)
    found = asset_facts(deployment)
    assert (found["kind"], found["artifact_formats"], found["exposures"]) == (
        "deployment", ["pickle"], ["public"])
    assert found["health_data"]
    dataset = DatasetFactory(team=team, source="crowdsourced", has_personal_data=True)
    found = asset_facts(dataset)
    assert (found["kind"], found["data_sources"], found["personal_data"]) == (
        "dataset", ["crowdsourced"], True)
    assert found["artifact_formats"] == [] and not found["exposed_endpoint"]


@pytest.mark.django_db
def test_retired_deployments_do_not_count(risky_model):
    Deployment.objects.filter(model_version__model=risky_model).update(is_active=False)
    assert not asset_facts(risky_model)["exposed_endpoint"]


# --- Refreshing ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_creates_pending_suggestions_once(risky_model):
    report = suggestions_refresh(risky_model)
    created = {s.technique.atlas_id for s in report.created}
    assert PICKLE_FAMILY | EXPOSED | {"AML.T0020", "AML.T0024.000"} <= created
    suggestion = ThreatSuggestion.objects.get(model=risky_model, technique__atlas_id="AML.T0040")
    assert suggestion.team == risky_model.team
    assert set(suggestion.rule_ids) == {"exposed-inference-api", "no-authentication"}
    assert suggestion.likelihood_hint == 5
    assert not suggestions_refresh(risky_model).changed
    assert ThreatSuggestion.objects.filter(model=risky_model).count() == len(created)
    entry = AuditEntry.objects.filter(object_type="threats.threatsuggestion").first()
    assert entry.actor_name == RULES_ACTOR


@pytest.mark.django_db
def test_a_quiet_model_gets_no_suggestion(team):
    model = quiet_model_for(team)
    assert not suggestions_refresh(model).changed
    assert not ThreatSuggestion.objects.exists()


@pytest.mark.django_db
def test_an_assessed_technique_is_not_suggested(risky_model, data_scientist):
    assess(data_scientist, risky_model, "AML.T0040")
    suggestions_refresh(risky_model)
    assert not ThreatSuggestion.objects.filter(model=risky_model,
                                               technique__atlas_id="AML.T0040").exists()


@pytest.mark.django_db
def test_assessing_a_suggested_technique_settles_the_suggestion(risky_model, data_scientist):
    suggestions_refresh(risky_model)
    assessment = assess(data_scientist, risky_model, "AML.T0040")
    suggestion = ThreatSuggestion.objects.get(model=risky_model, technique__atlas_id="AML.T0040")
    assert suggestion.status == SuggestionStatus.ACCEPTED
    assert suggestion.assessment == assessment


@pytest.mark.django_db
def test_pending_suggestions_go_when_their_rule_stops_firing(risky_model):
    suggestions_refresh(risky_model)
    Deployment.objects.filter(model_version__model=risky_model).update(is_active=False)
    report = suggestions_refresh(risky_model)
    assert "AML.T0040" in report.removed
    assert not ThreatSuggestion.objects.filter(model=risky_model,
                                               technique__atlas_id="AML.T0040").exists()
    # The pickle suggestions are unaffected.
    assert ThreatSuggestion.objects.filter(model=risky_model,
                                           technique__atlas_id="AML.T0011.000").exists()


@pytest.mark.django_db
def test_a_dismissed_suggestion_stays_dismissed_until_its_facts_change(risky_model,
                                                                       data_scientist):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.get(model=risky_model,
                                              technique__atlas_id="AML.T0015")
    suggestion_dismiss(actor=data_scientist, suggestion=suggestion,
                       reason="Inputs are validated upstream.")
    # Unrelated or unchanged facts: still dismissed.
    suggestions_refresh(risky_model)
    risky_model.lifecycle_status = "production"
    risky_model.save()
    suggestions_refresh(risky_model)
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.DISMISSED
    assert suggestion.dismissal_reason == "Inputs are validated upstream."
    # A fact its rules read changes (a second, partner deployment): pending again.
    version = risky_model.versions.get()
    DeploymentFactory(model_version=version, exposure=Exposure.PARTNER,
                      output_granularity=OutputGranularity.LABEL)
    report = suggestions_refresh(risky_model)
    suggestion.refresh_from_db()
    assert suggestion in report.reopened
    assert suggestion.status == SuggestionStatus.PENDING
    assert suggestion.dismissal_reason == "" and suggestion.decided_by is None


# --- Accepting and dismissing -------------------------------------------------------------------


@pytest.mark.django_db
def test_accepting_creates_an_open_suggested_assessment(risky_model, data_scientist):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.get(model=risky_model,
                                              technique__atlas_id="AML.T0011.000")
    assessment = suggestion_accept(actor=data_scientist, suggestion=suggestion)
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.ACCEPTED
    assert suggestion.assessment == assessment and suggestion.decided_by == data_scientist
    assert assessment.origin == AssessmentOrigin.SUGGESTED
    assert assessment.suggestion_rule_ids == ["unsafe-serialization"]
    assert "pickle" in assessment.suggestion_reason
    assert assessment.likelihood is None and assessment.status == "open"
    with pytest.raises(ApplicationError, match="accepted already"):
        suggestion_accept(actor=data_scientist, suggestion=suggestion)
    with pytest.raises(ApplicationError):
        suggestion_dismiss(actor=data_scientist, suggestion=suggestion, reason="x")


@pytest.mark.django_db
def test_dismissing_needs_a_reason(risky_model, data_scientist):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.filter(model=risky_model).first()
    with pytest.raises(ApplicationError) as caught:
        suggestion_dismiss(actor=data_scientist, suggestion=suggestion, reason=" ")
    assert caught.value.field == "reason"
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PENDING


@pytest.mark.django_db
def test_suggestion_permissions(risky_model, auditor, outsider, compliance_officer):
    suggestions_refresh(risky_model)
    suggestion = ThreatSuggestion.objects.filter(model=risky_model).first()
    with pytest.raises(Forbidden):
        suggestion_accept(actor=auditor, suggestion=suggestion)
    with pytest.raises(NotInScope):
        suggestion_dismiss(actor=outsider, suggestion=suggestion, reason="x")
    suggestion_accept(actor=compliance_officer, suggestion=suggestion)
    assert ThreatAssessment.objects.filter(model=risky_model).count() == 1


@pytest.mark.django_db
def test_bulk_accept_is_all_or_nothing(risky_model, team, other_team, compliance_officer,
                                       outsider):
    from tests.threats.factories import risky_model_for

    foreign = risky_model_for(other_team)
    suggestions_refresh(risky_model)
    suggestions_refresh(foreign)
    mine = list(ThreatSuggestion.objects.filter(model=risky_model))
    theirs = ThreatSuggestion.objects.filter(model=foreign).first()
    with pytest.raises(NotInScope):
        suggestions_bulk_accept(actor=outsider, suggestions=[theirs, *mine])
    assert not ThreatAssessment.objects.exists()
    assert ThreatSuggestion.objects.filter(status=SuggestionStatus.ACCEPTED).count() == 0
    created = suggestions_bulk_accept(actor=compliance_officer, suggestions=mine)
    assert len(created) == len(mine)


def test_rule_file_is_valid_yaml_with_a_version():
    document = yaml.safe_load(engine.RULES_FILE.read_text())
    assert document["version"] == 1
