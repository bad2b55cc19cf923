"""API tokens: read-only tokens, expiry, revocation (API and the tokens page), hashed storage."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from apps.accounts import services
from apps.accounts.models import ApiTokenInfo
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
TEAMS_URL = "/api/v1/teams/"
MODELS_URL = "/api/v1/models/"


def issue(api_client, username, **extra):
    response = api_client.post(TOKEN_URL, {"username": username, "password": PASSWORD, **extra},
                               format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def with_token(api_client, token):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client


# --- Read-only tokens ---------------------------------------------------------------------------


def test_a_read_only_token_reads_but_cannot_write(api_client, data_scientist, team):
    body = issue(api_client, "dana", read_only=True, name="nightly report")
    assert body["read_only"] is True and body["name"] == "nightly report"
    client = with_token(api_client, body["token"])
    assert client.get(TEAMS_URL).status_code == 200
    assert client.options(TEAMS_URL).status_code == 200
    response = client.post(MODELS_URL, {"name": "blocked", "team": team.pk}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert client.patch(f"{TEAMS_URL}{team.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"{TEAMS_URL}{team.pk}/").status_code == 403
    from apps.registry.models import MLModel

    assert not MLModel.objects.filter(name="blocked").exists()


def test_a_read_write_token_writes(api_client, data_scientist, team):
    token = issue(api_client, "dana")["token"]
    response = with_token(api_client, token).post(MODELS_URL, {"name": "allowed", "team": team.pk},
                                                  format="json")
    assert response.status_code == 201


def test_read_only_flag_and_name_are_stored_beside_knox_row(api_client, data_scientist):
    issue(api_client, "dana", read_only=True, name="  ci  ")
    info = ApiTokenInfo.objects.select_related("token").get()
    assert info.is_read_only and info.name == "ci"
    assert info.token.user == data_scientist


@pytest.mark.parametrize("payload", [{"read_only": "maybe"}, {"name": "x" * 101},
                                     {"otp": "1" * 33}])
def test_bad_optional_fields_are_400_naming_them(api_client, data_scientist, payload):
    response = api_client.post(TOKEN_URL, {"username": "dana", "password": PASSWORD, **payload},
                               format="json")
    assert response.status_code == 400
    assert set(payload) <= set(response.json())
    assert not AuthToken.objects.exists()


def test_last_used_is_recorded_at_most_once_a_minute(api_client, data_scientist):
    token = issue(api_client, "dana")["token"]
    info = ApiTokenInfo.objects.get()
    assert info.last_used_at is None
    client = with_token(api_client, token)
    client.get(TEAMS_URL)
    info.refresh_from_db()
    first = info.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get(TEAMS_URL)
    assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)
    info.refresh_from_db()
    assert info.last_used_at == first


# --- Expiry, revocation, storage --------------------------------------------------------------


def test_an_expired_token_is_401(api_client, data_scientist):
    token = issue(api_client, "dana", read_only=True)["token"]
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert with_token(api_client, token).get(TEAMS_URL).status_code == 401
    # knox deletes the expired row; its side row goes with it.
    assert not ApiTokenInfo.objects.exists()


def test_a_token_revoked_by_the_service_is_401(api_client, data_scientist):
    token = issue(api_client, "dana")["token"]
    client = with_token(api_client, token)
    assert client.get(TEAMS_URL).status_code == 200
    services.token_revoke(actor=data_scientist, token=AuthToken.objects.get())
    assert client.get(TEAMS_URL).status_code == 401
    assert not AuthToken.objects.exists() and not ApiTokenInfo.objects.exists()


def test_the_raw_token_is_never_stored(api_client, data_scientist):
    token = issue(api_client, "dana", name="pipeline")["token"]
    with_token(api_client, token).get(TEAMS_URL)
    tables = [AuthToken._meta.db_table, ApiTokenInfo._meta.db_table, "django_session",
              "audit_auditentry"]
    with connection.cursor() as cursor:
        for table in tables:
            if table not in connection.introspection.table_names(cursor):
                continue
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            values = [str(value) for row in cursor.fetchall() for value in row]
            assert all(token not in value for value in values), table


# --- Tokens page ------------------------------------------------------------------------------


@pytest.fixture
def web(client):
    def make(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make


def make_token(user, name="t", read_only=False):
    info, raw = services.token_create(user=user, name=name, read_only=read_only)
    return info, raw


TOKEN_PAGES = [("get", "accounts:token-list", None), ("post", "accounts:token-list", None),
               ("get", "accounts:token-created", None), ("post", "accounts:token-revoke", 1)]


@pytest.mark.parametrize(("method", "name", "arg"), TOKEN_PAGES)
def test_token_pages_send_anonymous_to_sign_in(client, method, name, arg):
    url = reverse(name, args=[arg] if arg else [])
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_page_creates_a_token_shown_once(web, data_scientist, api_client):
    client = web(data_scientist)
    page = client.get(reverse("accounts:token-list"))
    assert page.status_code == 200 and "No API tokens." in page.content.decode()
    response = client.post(reverse("accounts:token-list"), {"name": "scorer CI", "read_only": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:token-created")
    shown = client.get(response["Location"])
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    raw = shown.context["token"]
    assert f'value="{raw}"' in shown.content.decode()
    assert "only time" in shown.content.decode()
    # Once: reloading the page does not show it again.
    again = client.get(reverse("accounts:token-created"))
    assert again.status_code == 302 and raw not in again.content.decode()
    listing = client.get(reverse("accounts:token-list")).content.decode()
    assert "scorer CI" in listing and "Read-only" in listing and raw not in listing
    # The token works, read-only.
    api = with_token(api_client, raw)
    assert api.get(TEAMS_URL).status_code == 200
    assert api.post(TEAMS_URL, {"name": "x"}, format="json").status_code == 403


def test_the_page_requires_a_name(web, data_scientist):
    response = web(data_scientist).post(reverse("accounts:token-list"), {"name": "  "})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert not AuthToken.objects.exists()


def test_users_see_only_their_own_tokens(web, data_scientist, compliance_officer, auditor):
    make_token(data_scientist, "dana-token")
    make_token(compliance_officer, "cora-token")
    for user, mine, theirs in [(data_scientist, "dana-token", "cora-token"),
                               (compliance_officer, "cora-token", "dana-token"),
                               (auditor, None, "dana-token")]:
        html = web(user).get(reverse("accounts:token-list")).content.decode()
        assert theirs not in html
        if mine:
            assert mine in html


def test_administrators_see_everyones_tokens_with_the_owner(web, administrator, data_scientist):
    make_token(data_scientist, "dana-token")
    response = web(administrator).get(reverse("accounts:token-list"))
    html = response.content.decode()
    assert "dana-token" in html and "Owner" in html and ">dana<" in html


def test_owner_revokes_own_token(web, data_scientist, api_client):
    info, raw = make_token(data_scientist)
    client = web(data_scientist)
    response = client.post(reverse("accounts:token-revoke", args=[info.pk]))
    assert response.status_code == 302
    assert not ApiTokenInfo.objects.exists() and not AuthToken.objects.exists()
    assert with_token(api_client, raw).get(TEAMS_URL).status_code == 401
    assert "revoked" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("role", ["outsider", "compliance_officer", "auditor"])
def test_others_cannot_revoke_a_token_404(web, request, data_scientist, role):
    info, raw = make_token(data_scientist)
    user = request.getfixturevalue(role)
    response = web(user).post(reverse("accounts:token-revoke", args=[info.pk]))
    assert response.status_code == 404
    assert ApiTokenInfo.objects.filter(pk=info.pk).exists()


def test_administrator_revokes_anyones_token(web, administrator, data_scientist):
    info, _ = make_token(data_scientist)
    response = web(administrator).post(reverse("accounts:token-revoke", args=[info.pk]))
    assert response.status_code == 302
    assert not ApiTokenInfo.objects.exists()


def test_revoke_needs_post_and_unknown_is_404(web, data_scientist):
    info, _ = make_token(data_scientist)
    client = web(data_scientist)
    assert client.get(reverse("accounts:token-revoke", args=[info.pk])).status_code == 405
    assert client.post(reverse("accounts:token-revoke", args=[999999])).status_code == 404


def test_expired_tokens_are_listed_as_expired(web, data_scientist):
    info, _ = make_token(data_scientist, "old")
    AuthToken.objects.update(expiry=timezone.now() - timedelta(minutes=1))
    assert "Expired" in web(data_scientist).get(reverse("accounts:token-list")).content.decode()


def test_service_refuses_another_users_revocation(data_scientist, outsider):
    info, _ = make_token(data_scientist)
    with pytest.raises(services.NotInScope):
        services.token_revoke(actor=outsider, token=info.token)
    assert ApiTokenInfo.objects.exists()


def test_token_list_query_count_does_not_grow(web, administrator):
    client = web(administrator)
    owners = UserFactory.create_batch(3)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("accounts:token-list")).status_code == 200
        return len(queries)

    for owner in owners:
        make_token(owner)
    small = count()
    for owner in owners:
        for _ in range(6):
            make_token(owner)
    assert ApiTokenInfo.objects.count() == 21
    assert count() == small
