"""Recording in the services that change things, the chain they build, and its verification."""

import hashlib
import json
import pickle

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from apps.accounts import services as account_services
from apps.accounts.choices import Role, TeamRole
from apps.audit import context, selectors
from apps.audit.chain import GENESIS_HASH, entry_hash
from apps.audit.choices import AuditAction, Interface
from apps.audit.models import AuditEntry
from apps.audit.services import (
    audit_diff,
    audit_record,
    audit_record_many,
    audit_snapshot,
)
from apps.core.exceptions import ApplicationError, Forbidden
from apps.registry import services
from apps.registry.models import MLModel
from tests.accounts.factories import UserFactory
from tests.audit.conftest import entries, forge, last_entry
from tests.conftest import PASSWORD
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    MLModelFactory,
    ModelVersionFactory,
)

pytestmark = pytest.mark.django_db

ARTIFACT = pickle.dumps({"coef": [1.0]}, protocol=4)
CSV = b"id,score\n1,0.5\n2,0.25\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def model(team, data_scientist):
    return MLModelFactory(team=team, name="scorer", created_by=data_scientist)


def changes(entry) -> dict:
    return json.loads(entry.changes)


def only_entry(**filters) -> AuditEntry:
    found = entries(**filters)
    assert len(found) == 1, found
    return found[0]


# --- What each service records ------------------------------------------------------------------


def test_model_create_records_who_what_and_the_values(data_scientist, team):
    model = services.model_create(actor=data_scientist, team=team, name="churn",
                                  risk_tier="high")
    entry = only_entry(object_type="registry.mlmodel", object_id=str(model.pk))
    assert entry.action == AuditAction.CREATE
    assert (entry.actor_id, entry.actor_name, entry.actor_role) == (
        data_scientist.pk, "dana", Role.DATA_SCIENTIST)
    assert entry.team_id == team.pk
    assert entry.object_repr == "churn"
    assert entry.interface == Interface.COMMAND  # no request or task bound: a command or shell
    assert changes(entry)["name"] == [None, "churn"]
    assert changes(entry)["risk_tier"] == [None, "high"]
    assert changes(entry)["team_id"] == [None, team.pk]


def test_model_update_records_only_what_changed(data_scientist, model):
    services.model_update(actor=data_scientist, model=model,
                          data={"description": "new", "name": "scorer"})
    entry = only_entry(object_type="registry.mlmodel", action=AuditAction.UPDATE)
    assert changes(entry) == {"description": ["", "new"]}
    assert entry.timestamp.utcoffset().total_seconds() == 0


def test_an_update_that_changes_nothing_records_nothing(data_scientist, model):
    services.model_update(actor=data_scientist, model=model, data={"name": "scorer"})
    assert not entries(action=AuditAction.UPDATE)


def test_a_refused_change_leaves_no_change_entry(auditor, model):
    with pytest.raises(Forbidden):
        services.model_update(actor=auditor, model=model, data={"description": "x"})
    assert not entries(action=AuditAction.UPDATE)


def test_a_failed_write_rolls_its_entry_back(data_scientist, team, model):
    with pytest.raises(ApplicationError):
        with transaction.atomic():
            services.model_update(actor=data_scientist, model=model, data={"description": "x"})
            raise ApplicationError("later step failed")
    assert not entries(action=AuditAction.UPDATE)
    assert MLModel.objects.get(pk=model.pk).description == ""


def test_team_services_record_create_update_and_membership(administrator, data_scientist):
    team = services.team_create(actor=administrator, name="Vision")
    services.team_update(actor=administrator, team=team, data={"description": "CV models"})
    membership = services.team_member_set(actor=administrator, team=team, user=data_scientist,
                                          role=TeamRole.MEMBER)
    services.team_member_set(actor=administrator, team=team, user=data_scientist,
                             role=TeamRole.LEAD)
    services.team_member_remove(actor=administrator, team=team, user=data_scientist)

    assert [e.action for e in entries(object_type="registry.team")] == ["create", "update"]
    assert changes(entries(object_type="registry.team")[1]) == {"description": ["", "CV models"]}
    member_entries = entries(object_type="registry.teammembership")
    assert [e.action for e in member_entries] == ["create", "update", "delete"]
    assert {e.object_id for e in member_entries} == {str(membership.pk)}
    assert {e.team_id for e in member_entries} == {team.pk}
    assert changes(member_entries[1]) == {"role": ["member", "lead"]}
    assert changes(member_entries[2])["user_id"] == [data_scientist.pk, None]


def test_version_registration_and_update_are_recorded(data_scientist, model):
    version = services.model_version_register(
        actor=data_scientist, model=model, version="1.0",
        artifact=SimpleUploadedFile("m.pkl", ARTIFACT),
    )
    services.model_version_update(actor=data_scientist, model_version=version,
                                  data={"notes": "retrained"})
    created, updated = entries(object_type="registry.modelversion")
    assert created.action == AuditAction.CREATE and updated.action == AuditAction.UPDATE
    assert changes(created)["sha256"] == [None, hashlib.sha256(ARTIFACT).hexdigest()]
    assert changes(created)["format"] == [None, "pickle"]
    assert created.team_id == model.team_id
    assert changes(updated) == {"notes": ["", "retrained"]}


def test_long_text_is_kept_as_its_digest(data_scientist, model):
    version = ModelVersionFactory(model=model)
    sbom = "x" * 50_000
    services.model_version_update(actor=data_scientist, model_version=version,
                                  data={"dependencies": sbom})
    after = changes(only_entry(object_type="registry.modelversion"))["dependencies"][1]
    assert after == f"sha256:{hashlib.sha256(sbom.encode()).hexdigest()} (50000 characters)"


def test_dataset_services_are_recorded(data_scientist, team):
    dataset = services.dataset_create(actor=data_scientist, team=team, name="loans",
                                      has_personal_data=True)
    services.dataset_update(actor=data_scientist, dataset=dataset,
                            data={"sensitive_columns": "age, income"})
    version = services.dataset_version_register(
        actor=data_scientist, dataset=dataset, version="v1",
        file=SimpleUploadedFile("loans.csv", CSV),
    )
    dataset_entries = entries(object_type="registry.dataset")
    assert [e.action for e in dataset_entries] == ["create", "update"]
    assert changes(dataset_entries[1]) == {"sensitive_columns": [[], ["age", "income"]]}
    version_entry = only_entry(object_type="registry.datasetversion")
    assert version_entry.object_id == str(version.pk)
    assert changes(version_entry)["row_count"] == [None, 2]


def test_lineage_add_and_remove_are_recorded(data_scientist, team, model):
    version = ModelVersionFactory(model=model)
    data = DatasetVersionFactory(dataset=DatasetFactory(team=team))
    link = services.lineage_link_add(actor=data_scientist, model_version=version,
                                     dataset_version=data, role="training")
    services.lineage_link_add(actor=data_scientist, model_version=version,
                              dataset_version=data, role="training")  # already there
    services.lineage_link_remove(actor=data_scientist, link=link)
    recorded = entries(object_type="registry.lineagelink")
    assert [e.action for e in recorded] == ["create", "delete"]
    assert recorded[0].team_id == team.pk
    assert changes(recorded[1])["dataset_version_id"] == [data.pk, None]


def test_deployment_services_are_recorded(data_scientist, model):
    version = ModelVersionFactory(model=model)
    deployment = services.deployment_create(actor=data_scientist, model_version=version,
                                            environment="production")
    services.deployment_update(actor=data_scientist, deployment=deployment,
                               data={"exposure": "public"})
    services.deployment_retire(actor=data_scientist, deployment=deployment)
    services.deployment_retire(actor=data_scientist, deployment=deployment)  # already retired
    recorded = entries(object_type="registry.deployment")
    assert [e.action for e in recorded] == ["create", "update", "update"]
    assert changes(recorded[1]) == {"exposure": ["internal", "public"]}
    assert changes(recorded[2])["is_active"] == [True, False]


def test_lineage_links_of_a_new_version_are_recorded_with_it(data_scientist, team, model):
    data = DatasetVersionFactory(dataset=DatasetFactory(team=team))
    services.model_version_register(
        actor=data_scientist, model=model, version="2.0",
        artifact=SimpleUploadedFile("m.pkl", ARTIFACT), lineage=[(data, "training")],
    )
    # The registration also queues its scans (recorded as scans.scanrun, when auto-scan is on).
    assert [e.object_type for e in entries() if e.object_type != "scans.scanrun"] == [
        "registry.modelversion", "registry.lineagelink",
    ]


def test_scan_request_cancel_and_triage_are_recorded(data_scientist, compliance_officer, model):
    from apps.scans.services.findings import finding_triage
    from apps.scans.services.requests import scan_cancel, scan_request
    from tests.scans.factories import FindingFactory

    version = services.model_version_register(
        actor=data_scientist, model=model, version="3.0",
        artifact=SimpleUploadedFile("m.pkl", ARTIFACT),
    )
    run = scan_request(actor=data_scientist, model_version=version, scanners=["integrity"])
    scan_cancel(actor=data_scientist, scan=run)
    recorded = [(e.action, e.object_id) for e in entries() if e.object_type == "scans.scanrun"]
    assert (AuditAction.CREATE, str(run.pk)) in recorded
    assert (AuditAction.UPDATE, str(run.pk)) in recorded
    finding = FindingFactory(scan=run)
    finding_triage(actor=compliance_officer, finding=finding, status="false_positive",
                   reason="test data")
    entry = only_entry(object_type="scans.finding", action=AuditAction.UPDATE)
    assert changes(entry)["status"][1] == "false_positive"


# --- Users, roles and tokens --------------------------------------------------------------------


def test_user_create_masks_the_password(administrator):
    user = account_services.user_create(actor=administrator, username="newbie",
                                        password="s3cret-Passw0rd!", role=Role.AUDITOR)
    entry = only_entry(object_type="accounts.user", action=AuditAction.CREATE)
    assert entry.object_id == str(user.pk)
    assert changes(entry)["password"] == [None, "***"]
    assert changes(entry)["role"] == [None, "auditor"]
    assert "s3cret" not in entry.changes and user.password not in entry.changes


def test_role_change_is_recorded(administrator, data_scientist):
    account_services.user_set_role(actor=administrator, user=data_scientist,
                                   role=Role.COMPLIANCE_OFFICER)
    entry = only_entry(object_type="accounts.user", action=AuditAction.UPDATE)
    assert changes(entry) == {"role": ["data_scientist", "compliance_officer"]}
    assert entry.actor_name == "adam"


def test_token_issue_and_revoke_are_recorded(rf, data_scientist):
    instance, token = account_services.token_issue(
        request=rf.post("/api/v1/auth/token/"), username="dana", password=PASSWORD)
    account_services.token_revoke(token=instance)
    login = only_entry(action=AuditAction.LOGIN_SUCCEEDED)
    assert changes(login) == {"method": "api_token", "prefix": instance.token_key}
    revoked = only_entry(object_type="knox.authtoken", action=AuditAction.DELETE)
    assert revoked.object_id == instance.token_key
    assert token not in login.changes + revoked.changes + revoked.object_repr


def test_the_actor_name_survives_the_users_deletion(team):
    leaver = UserFactory(username="leaver")
    model = MLModelFactory(team=team)
    audit_record(action=AuditAction.UPDATE, obj=model, actor=leaver, changes={"x": [1, 2]})
    leaver_id = leaver.pk
    leaver.delete()
    entry = only_entry(action=AuditAction.UPDATE)
    assert (entry.actor_id, entry.actor_name) == (leaver_id, "leaver")
    assert selectors.chain_verify().ok


# --- Public helpers -----------------------------------------------------------------------------


def test_snapshot_and_diff(model):
    before = audit_snapshot(model, ["name", "team", "risk_tier"])
    assert before == {"name": "scorer", "team_id": model.team_id, "risk_tier": "limited"}
    model.name = "other"
    assert audit_diff(before, audit_snapshot(model, ["name", "team", "risk_tier"])) == {
        "name": ["scorer", "other"]}


def test_bulk_operations_record_one_entry_per_object(data_scientist, team):
    models = MLModelFactory.create_batch(3, team=team)
    recorded = audit_record_many(action=AuditAction.UPDATE, objects=models, actor=data_scientist,
                                 changes_for=lambda m: {"risk_tier": ["limited", "high"]})
    assert [e.object_id for e in recorded] == [str(m.pk) for m in models]
    assert [e.seq for e in recorded] == [1, 2, 3]
    assert selectors.chain_verify().ok


def test_recording_can_be_suspended_for_the_benchmark_baseline(data_scientist, model):
    with context.recording_suspended():
        services.model_update(actor=data_scientist, model=model, data={"description": "x"})
    assert not entries()
    services.model_update(actor=data_scientist, model=model, data={"description": "y"})
    assert len(entries()) == 1


# --- The chain ------------------------------------------------------------------------------------


def test_entries_form_a_chain_from_the_genesis(data_scientist, model):
    for n in range(3):
        services.model_update(actor=data_scientist, model=model, data={"description": str(n)})
    first, second, third = entries()
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert all(entry_hash(e) == e.hash for e in (first, second, third))
    assert selectors.chain_head().hash == third.hash


def test_verify_command_reports_ok_with_the_head(capsys, data_scientist, model):
    services.model_update(actor=data_scientist, model=model, data={"description": "x"})
    services.model_update(actor=data_scientist, model=model, data={"description": "y"})
    call_command("verify_audit_trail")
    out = capsys.readouterr().out
    assert out.startswith(f"OK: 2 entries, head {last_entry().hash}")


def test_verify_command_on_an_empty_trail(capsys):
    call_command("verify_audit_trail", "--chunk-size", "1")
    assert capsys.readouterr().out.startswith(f"OK: 0 entries, head {GENESIS_HASH}")


@pytest.mark.parametrize("column, value, problem", [
    ("object_repr", "innocent", "content does not match its hash"),
    ("hash", "f" * 64, "content does not match its hash"),
    ("prev_hash", "e" * 64, "prev_hash does not link to entry #1"),
])
def test_verify_names_the_first_tampered_entry(data_scientist, model, column, value, problem):
    for n in range(4):
        services.model_update(actor=data_scientist, model=model, data={"description": str(n)})
    forge(2, column, value)
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit_trail", "--chunk-size", "2")
    assert "BROKEN at seq 2" in str(caught.value)
    assert problem in str(caught.value)
    result = selectors.chain_verify()
    assert (result.ok, result.broken_seq, result.count) == (False, 2, 1)


def test_verify_detects_a_removed_entry(data_scientist, model):
    for n in range(3):
        services.model_update(actor=data_scientist, model=model, data={"description": str(n)})
    forge(2, "seq", 99)  # moving an entry out of its place is as good as removing it
    result = selectors.chain_verify()
    assert not result.ok and result.broken_seq == 3
    assert "entry #2 is missing" in result.problem


def test_verify_refuses_a_bad_chunk_size():
    with pytest.raises(CommandError, match="chunk-size"):
        call_command("verify_audit_trail", "--chunk-size", "0")
