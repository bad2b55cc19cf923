"""POST /api/v1/auth/token/ (CONTRACT.md "Auth and discovery"): expiring, revocable, hashed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken

from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PROTECTED_URL = "/api/v1/teams/"


def login(client, username: str, password: str = PASSWORD):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def get_with_token(client, token: str):
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(PROTECTED_URL)


def test_login_returns_a_token_and_its_expiry(api_client, data_scientist, settings):
    before = timezone.now()
    response = login(api_client, data_scientist.username)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry", "read_only", "name"}
    assert body["read_only"] is False
    assert len(body["token"]) >= 32
    expiry = parse_datetime(body["expiry"])
    expected = before + timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    assert abs((expiry - expected).total_seconds()) < 60


def test_the_token_authenticates_api_calls(api_client, data_scientist, team):
    token = login(api_client, data_scientist.username).json()["token"]
    response = get_with_token(api_client, token)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [team.pk]


def test_each_login_issues_a_distinct_token(api_client, data_scientist):
    first = login(api_client, data_scientist.username).json()["token"]
    second = login(api_client, data_scientist.username).json()["token"]
    assert first != second
    assert AuthToken.objects.filter(user=data_scientist).count() == 2


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "dana", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "DANA ", "password": "wrong"},
    ],
)
def test_bad_credentials_are_400(api_client, data_scientist, payload):
    response = api_client.post(TOKEN_URL, payload, format="json")
    assert response.status_code == 400
    assert "credentials" in response.json()["detail"]
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("payload", [{}, {"username": "dana"}, {"password": PASSWORD}])
def test_missing_fields_are_400_naming_them(api_client, data_scientist, payload):
    response = api_client.post(TOKEN_URL, payload, format="json")
    assert response.status_code == 400
    assert ({"username", "password"} - set(payload)) <= set(response.json())


def test_inactive_users_get_no_token(api_client):
    user = UserFactory(username="gone", is_active=False)
    assert login(api_client, user.username).status_code == 400
    assert not AuthToken.objects.exists()


def test_an_expired_token_is_401(api_client, data_scientist):
    token = login(api_client, data_scientist.username).json()["token"]
    AuthToken.objects.filter(user=data_scientist).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    response = get_with_token(api_client, token)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_revoked_token_is_401(api_client, data_scientist):
    token = login(api_client, data_scientist.username).json()["token"]
    assert get_with_token(api_client, token).status_code == 200
    AuthToken.objects.filter(user=data_scientist).delete()
    assert get_with_token(api_client, token).status_code == 401


def test_a_token_of_a_deactivated_user_is_401(api_client, data_scientist):
    token = login(api_client, data_scientist.username).json()["token"]
    data_scientist.is_active = False
    data_scientist.save(update_fields=["is_active"])
    assert get_with_token(api_client, token).status_code == 401


@pytest.mark.parametrize("header", ["Token", "Token not-a-real-token", "Bearer abc", "Token a b"])
def test_malformed_or_unknown_tokens_are_401(api_client, data_scientist, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get(PROTECTED_URL).status_code == 401


def test_the_token_is_stored_hashed(api_client, data_scientist):
    token = login(api_client, data_scientist.username).json()["token"]
    row = AuthToken.objects.get(user=data_scientist)
    assert row.digest != token
    assert len(row.token_key) < len(token)  # only a short lookup prefix is kept in clear
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")  # noqa: S608 - fixed name
        stored_values = [str(value) for record in cursor.fetchall() for value in record]
    assert all(token not in value for value in stored_values)


def test_the_token_endpoint_needs_no_credentials_but_only_accepts_post(api_client):
    assert api_client.get(TOKEN_URL).status_code == 405
