"""Writing access policies: who may, what is validated (all before anything is written), what
the audit trail records, and the review sign-off."""

import json

import pytest

from apps.accounts.choices import Role
from apps.audit.models import AuditEntry
from apps.core.exceptions import ApplicationError, Forbidden, NotInScope
from apps.policies import services
from apps.policies.choices import GrantPermission, PrincipalType
from apps.policies.models import AccessPolicy, PolicyGrant
from tests.accounts.factories import UserFactory
from tests.registry.factories import TeamFactory, TeamMembershipFactory

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int, int]:
    return AccessPolicy.objects.count(), PolicyGrant.objects.count(), AuditEntry.objects.count()


# --- Creating -----------------------------------------------------------------------------------


def test_data_scientist_of_the_team_creates_a_policy_with_grants(data_scientist, model, team,
                                                                  auditor):
    policy = services.policy_create(
        actor=data_scientist, asset=model, notes="Only us.",
        grants=[{"permission": "download", "team": team.pk},
                {"permission": "view", "role": "auditor"},
                {"permission": "deploy", "user": str(data_scientist.pk)},
                {"permission": "download", "team": team.pk}],  # a duplicate collapses
    )
    assert policy.team == team and policy.model == model and policy.created_by == data_scientist
    grants = sorted(policy.grants.values_list("permission", "principal_type"))
    assert grants == [("deploy", "user"), ("download", "team"), ("view", "role")]
    entry = AuditEntry.objects.get(action="create", object_type="policies.accesspolicy")
    assert entry.object_id == str(policy.pk) and entry.team_id == team.pk
    changes = json.loads(entry.changes)
    assert changes["grants"][1] == ["deploy: user dana", "download: team Credit Risk",
                                    "view: role auditor"]


def test_compliance_officer_creates_a_policy_for_any_team(compliance_officer, model):
    policy = services.policy_create(actor=compliance_officer, asset=model)
    assert policy.grants.count() == 0


def test_auditor_may_not_create_a_policy(auditor, model):
    with pytest.raises(Forbidden):
        services.policy_create(actor=auditor, asset=model)
    assert counts()[:2] == (0, 0)


def test_outsider_does_not_see_the_asset(outsider, model):
    with pytest.raises(NotInScope):
        services.policy_create(actor=outsider, asset=model)


def test_an_asset_has_one_policy(data_scientist, model):
    services.policy_create(actor=data_scientist, asset=model)
    with pytest.raises(ApplicationError, match="already has an access policy") as exc:
        services.policy_create(actor=data_scientist, asset=model)
    assert exc.value.status == 400 and exc.value.field == "model"


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        ({"permission": "download", "group": 3}, "unknown principal"),
        ({"permission": "download"}, "exactly one principal"),
        ({"permission": "download", "team": 1, "role": "auditor"}, "exactly one principal"),
        ({"permission": "download", "role": "intern"}, "unknown role"),
        ({"permission": "download", "team": 999_999}, "team 999999 does not exist"),
        ({"permission": "download", "user": 999_999}, "user 999999 does not exist"),
        ({"permission": "download", "team": "abc"}, "team must be an id"),
        ({"permission": "download", "user": True}, "user must be an id"),
        ({"permission": "admin", "team": 1}, "unknown permission 'admin'"),
        ({"permission": None, "team": 1}, "unknown permission"),
        ("download", "a grant is an object"),
    ],
)
def test_bad_grants_are_refused_with_400_and_nothing_is_saved(data_scientist, model, team,
                                                              grant, message):
    before = counts()
    good = {"permission": "view", "team": team.pk}
    with pytest.raises(ApplicationError) as exc:
        services.policy_create(actor=data_scientist, asset=model, grants=[good, grant])
    assert exc.value.status == 400 and exc.value.field == "grants"
    assert message in exc.value.message
    assert "Grant 2" in exc.value.message
    assert counts() == before


def test_permissions_that_do_not_apply_to_the_kind_of_asset_are_refused(data_scientist, dataset,
                                                                        deployment, team):
    with pytest.raises(ApplicationError, match="'query' does not apply to a dataset"):
        services.policy_create(actor=data_scientist, asset=dataset,
                               grants=[{"permission": "query", "team": team.pk}])
    with pytest.raises(ApplicationError, match="'download' does not apply to a deployment"):
        services.policy_create(actor=data_scientist, asset=deployment,
                               grants=[{"permission": "download", "team": team.pk}])
    assert AccessPolicy.objects.count() == 0


def test_query_logging_is_for_deployments_only(data_scientist, model, deployment):
    with pytest.raises(ApplicationError) as exc:
        services.policy_create(actor=data_scientist, asset=model, query_logging_enabled=True)
    assert exc.value.field == "query_logging_enabled"
    policy = services.policy_create(actor=data_scientist, asset=deployment,
                                    query_logging_enabled=True)
    assert policy.query_logging_enabled and policy.team == deployment.model_version.model.team


def test_a_data_scientist_cannot_name_a_team_or_colleague_they_cannot_see(data_scientist, model,
                                                                          other_team, outsider,
                                                                          compliance_officer):
    for grant in ({"permission": "view", "team": other_team.pk},
                  {"permission": "view", "user": outsider.pk}):
        with pytest.raises(ApplicationError, match="does not exist"):
            services.policy_create(actor=data_scientist, asset=model, grants=[grant])
    # Organisation-wide roles are always nameable; compliance officers name anyone.
    services.policy_create(actor=data_scientist, asset=model,
                           grants=[{"permission": "view", "user": compliance_officer.pk}])
    other = UserFactory(username="teammate")
    TeamMembershipFactory(team=model.team, user=other)
    assert services.grants_resolve(actor=data_scientist, kind="model",
                                   grants=[{"permission": "view", "user": other.pk}])


# --- Updating -----------------------------------------------------------------------------------


@pytest.fixture
def policy(data_scientist, model, team):
    return services.policy_create(actor=data_scientist, asset=model,
                                  grants=[{"permission": "download", "team": team.pk}])


def test_update_replaces_grants_clears_the_review_and_is_audited(policy, compliance_officer,
                                                                 data_scientist):
    services.policy_mark_reviewed(actor=compliance_officer, policy=policy)
    assert policy.reviewed_by == compliance_officer
    services.policy_update(actor=data_scientist, policy=policy, data={
        "notes": "Auditors need the artifact.",
        "grants": [{"permission": "download", "role": Role.AUDITOR}],
    })
    policy.refresh_from_db()
    assert policy.reviewed_at is None and policy.updated_by == data_scientist
    assert list(policy.grants.values_list("principal_type", "principal_role")) == [
        (PrincipalType.ROLE, Role.AUDITOR)]
    entry = AuditEntry.objects.filter(action="update").latest("seq")
    changes = json.loads(entry.changes)
    assert changes["grants"] == [["download: team Credit Risk"], ["download: role auditor"]]


def test_update_with_a_bad_grant_changes_nothing(policy, data_scientist):
    before = counts()
    with pytest.raises(ApplicationError):
        services.policy_update(actor=data_scientist, policy=policy, data={
            "notes": "changed", "grants": [{"permission": "download", "user": 424242}],
        })
    policy.refresh_from_db()
    assert policy.notes == "" and counts() == before


def test_update_refuses_unknown_fields_and_read_only_roles(policy, data_scientist, auditor,
                                                           outsider):
    with pytest.raises(ApplicationError, match="cannot be set: team"):
        services.policy_update(actor=data_scientist, policy=policy, data={"team": 3})
    with pytest.raises(Forbidden):
        services.policy_update(actor=auditor, policy=policy, data={"notes": "x"})
    with pytest.raises(NotInScope):
        services.policy_update(actor=outsider, policy=policy, data={"notes": "x"})


def test_an_update_that_changes_nothing_keeps_the_review(policy, compliance_officer,
                                                         data_scientist, team):
    services.policy_mark_reviewed(actor=compliance_officer, policy=policy)
    services.policy_update(actor=data_scientist, policy=policy,
                           data={"grants": [{"permission": "download", "team": team.pk}]})
    policy.refresh_from_db()
    assert policy.reviewed_by == compliance_officer


def test_grant_add_and_remove(policy, data_scientist, team):
    grant = services.policy_grant_add(actor=data_scientist, policy=policy,
                                      grant={"permission": "view", "team": str(team.pk)})
    assert grant.permission == GrantPermission.VIEW
    with pytest.raises(ApplicationError, match="already grants"):
        services.policy_grant_add(actor=data_scientist, policy=policy,
                                  grant={"permission": "view", "team": team.pk})
    services.policy_grant_remove(actor=data_scientist, grant=grant)
    assert policy.grants.count() == 1


def test_auditor_cannot_touch_grants_and_outsider_cannot_see_them(policy, auditor, outsider):
    grant = policy.grants.get()
    with pytest.raises(Forbidden):
        services.policy_grant_remove(actor=auditor, grant=grant)
    with pytest.raises(NotInScope):
        services.policy_grant_add(actor=outsider, policy=policy,
                                  grant={"permission": "view", "role": "auditor"})
    assert policy.grants.count() == 1


def test_delete_falls_back_to_the_default_rule_and_is_audited(policy, data_scientist, auditor):
    with pytest.raises(Forbidden):
        services.policy_delete(actor=auditor, policy=policy)
    pk = policy.pk
    services.policy_delete(actor=data_scientist, policy=policy)
    assert not AccessPolicy.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.filter(action="delete", object_id=str(pk)).exists()


def test_only_compliance_officers_mark_a_policy_reviewed(policy, data_scientist, auditor,
                                                         outsider):
    with pytest.raises(Forbidden):
        services.policy_mark_reviewed(actor=data_scientist, policy=policy)
    with pytest.raises(Forbidden):
        services.policy_mark_reviewed(actor=auditor, policy=policy)
    with pytest.raises(NotInScope):
        services.policy_mark_reviewed(actor=outsider, policy=policy)
    policy.refresh_from_db()
    assert policy.reviewed_at is None


def test_a_deleted_team_takes_its_grants_with_it(data_scientist, model, compliance_officer):
    extra = TeamFactory(name="Partners")
    policy = services.policy_create(actor=compliance_officer, asset=model,
                                    grants=[{"permission": "view", "team": extra.pk}])
    extra.delete()
    assert policy.grants.count() == 0
