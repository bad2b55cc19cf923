"""Events recorded outside the write services: logins, refusals, and the request context."""

import json

import pytest
from celery import shared_task
from django.test import RequestFactory
from django.urls import reverse

from apps.accounts import permissions as perms
from apps.audit import context
from apps.audit.choices import AuditAction, Interface
from apps.audit.middleware import client_ip
from apps.audit.services import audit_record
from apps.core.exceptions import Forbidden, NotInScope
from apps.registry import services
from tests.audit.conftest import entries
from tests.conftest import PASSWORD
from tests.registry.factories import MLModelFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
TOKEN = "/api/v1/auth/token/"


def only(action) -> object:
    found = entries(action=action)
    assert len(found) == 1, found
    return found[0]


# --- Logins -------------------------------------------------------------------------------------


def test_web_login_success_is_recorded_with_where_from(client, data_scientist):
    response = client.post(LOGIN, {"username": "dana", "password": PASSWORD},
                           HTTP_X_REQUEST_ID="req-123", REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302
    entry = only(AuditAction.LOGIN_SUCCEEDED)
    assert (entry.actor_id, entry.actor_name) == (data_scientist.pk, "dana")
    assert (entry.ip, entry.request_id, entry.interface) == ("192.0.2.7", "req-123", "web")
    client.post(reverse("accounts:logout"))
    assert only(AuditAction.LOGOUT).actor_name == "dana"


def test_web_login_failure_is_recorded_without_the_password(client, data_scientist):
    response = client.post(LOGIN, {"username": "dana", "password": "wrong-guess-1"})
    assert response.status_code == 200
    entry = only(AuditAction.LOGIN_FAILED)
    assert (entry.actor_id, entry.actor_name, entry.interface) == (None, "dana", "web")
    assert "wrong-guess" not in entry.changes
    assert not entries(action=AuditAction.LOGIN_SUCCEEDED)


def test_api_token_login_success_and_failure_are_recorded_once(api_client, data_scientist):
    assert api_client.post(TOKEN, {"username": "dana", "password": PASSWORD}).status_code == 200
    assert api_client.post(TOKEN, {"username": "dana", "password": "nope"}).status_code == 400
    succeeded, failed = only(AuditAction.LOGIN_SUCCEEDED), only(AuditAction.LOGIN_FAILED)
    assert succeeded.interface == failed.interface == Interface.API
    assert json.loads(succeeded.changes)["method"] == "api_token"
    assert failed.actor_name == "dana"


# --- Refused authorizations ----------------------------------------------------------------------


def test_api_refusal_by_the_permission_layer_is_recorded_once(client_for, auditor, team):
    model = MLModelFactory(team=team)
    response = client_for(auditor).patch(f"/api/v1/models/{model.pk}/", {"description": "x"})
    assert response.status_code == 403
    entry = only(AuditAction.ACCESS_DENIED)
    assert (entry.actor_name, entry.object_type, entry.object_id, entry.team_id) == (
        "audrey", "registry.mlmodel", str(model.pk), team.pk)
    assert json.loads(entry.changes) == {
        "permission": "change", "reason": "forbidden", "method": "PATCH",
        "path": f"/api/v1/models/{model.pk}/"}
    assert entry.interface == Interface.API


def test_refusal_inside_a_rolled_back_service_waits_for_the_request_to_end(data_scientist,
                                                                          other_team):
    """The service's transaction rolls back on the refusal; the entry must not go with it."""
    scope = context.AuditScope(interface=Interface.WEB, path="/models/new/", method="POST")
    token = context.bind(scope)
    try:
        with pytest.raises(NotInScope):
            services.model_create(actor=data_scientist, team=other_team, name="sneaky")
        assert not entries(action=AuditAction.ACCESS_DENIED)
        scope.flush()
    finally:
        context.reset(token)
    entry = only(AuditAction.ACCESS_DENIED)
    assert (entry.object_type, entry.team_id, entry.actor_name) == (
        "registry.mlmodel", other_team.pk, "dana")
    assert json.loads(entry.changes) == {"permission": "create", "reason": "not_in_scope",
                                         "method": "POST", "path": "/models/new/"}


def test_refusal_outside_any_request_is_written_at_once(auditor, team):
    with pytest.raises(Forbidden):
        perms.require(auditor, perms.CHANGE, team)
    assert only(AuditAction.ACCESS_DENIED).interface == Interface.COMMAND


def test_api_refusal_outside_the_permission_layer_is_recorded(client_for, auditor, team):
    response = client_for(auditor).post("/api/v1/models/", {"name": "x", "team": team.pk},
                                        format="json")
    assert response.status_code == 403
    entry = only(AuditAction.ACCESS_DENIED)
    assert json.loads(entry.changes) == {"reason": "forbidden", "method": "POST",
                                         "path": "/api/v1/models/"}


def test_page_refusals_are_recorded_once(client, data_scientist, auditor, team):
    client.force_login(data_scientist)
    assert client.get(reverse("accounts:user-list")).status_code == 403
    client.force_login(auditor)
    model = MLModelFactory(team=team)
    assert client.get(reverse("registry:model-update", args=[model.pk])).status_code == 403
    first, second = entries(action=AuditAction.ACCESS_DENIED)
    assert (first.actor_name, first.interface) == ("dana", "web")
    assert json.loads(first.changes)["path"] == reverse("accounts:user-list")
    assert (second.actor_name, second.object_id) == ("audrey", str(model.pk))


def test_refusals_of_anonymous_callers_are_not_attributed(api_client, team):
    assert api_client.get("/api/v1/models/").status_code == 401
    assert not entries(action=AuditAction.ACCESS_DENIED)  # unauthenticated, not refused


# --- Context: IP, request id, interface ---------------------------------------------------------


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "203.0.113.9", "10.0.0.1"),  # no trusted proxy: the header is the client's to forge
    (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
    (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
    (3, "203.0.113.9", "10.0.0.1"),  # fewer entries than proxies: misconfigured, fall back
    (1, "not-an-ip", "10.0.0.1"),
])
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.MLGOV_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_api_writes_carry_the_request_context(client_for, data_scientist, team):
    client = client_for(data_scientist)
    response = client.post("/api/v1/models/", {"name": "churn", "team": team.pk}, format="json",
                           HTTP_X_REQUEST_ID="pipeline-42", REMOTE_ADDR="198.51.100.3")
    assert response.status_code == 201
    entry = only(AuditAction.CREATE)
    assert (entry.interface, entry.request_id, entry.ip) == ("api", "pipeline-42", "198.51.100.3")
    assert entry.actor_name == "dana"


@shared_task(name="tests.audit.record")
def record_in_a_task(model_id: int) -> int:
    from apps.registry.models import MLModel

    return audit_record(action=AuditAction.UPDATE, obj=MLModel.objects.get(pk=model_id)).seq


def test_tasks_record_with_the_worker_interface(team):
    model = MLModelFactory(team=team)
    result = record_in_a_task.apply(args=[model.pk], task_id="task-7")
    entry = only(AuditAction.UPDATE)
    assert result.get() == entry.seq
    assert (entry.interface, entry.request_id, entry.actor_id) == ("worker", "task-7", None)
