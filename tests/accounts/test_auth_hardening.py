"""Sign-in throttling and lock-out (django-axes), password strength, security headers and the
production cookie settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from knox.models import AuthToken

from apps.accounts import services
from apps.accounts.choices import Role
from apps.accounts.models import User
from apps.core.exceptions import ApplicationError
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
TOKEN_URL = "/api/v1/auth/token/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def low_limit(settings):
    """Three failures lock a (username, address) pair out; the database handler keeps attempts
    in tables that each test's transaction rolls back, so tests never see each other's."""
    settings.AXES_FAILURE_LIMIT = 3


WRONG = "wrong-password"


def web_login(client, username="dana", password=WRONG, **headers):
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def api_login(api_client, username="dana", password=WRONG, **headers):
    return api_client.post(TOKEN_URL, {"username": username, "password": password},
                           format="json", **headers)


# --- Lock-out on the web ------------------------------------------------------------------------


def test_web_sign_in_locks_out_after_the_limit(client, data_scientist):
    assert web_login(client).status_code == 200
    assert web_login(client).status_code == 200
    locked = web_login(client)
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Sign-in locked" in html and "15 minutes" in html
    assert "<script>" not in html
    # The right password does not help while locked out, and signs nobody in.
    assert web_login(client, password=PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.get().failures_since_start >= 3


def test_a_lockout_is_per_username_and_address(client, data_scientist, outsider):
    for _ in range(3):
        web_login(client)
    # Another user from the same address, and the same user from another address, go on.
    assert web_login(client, "oscar", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    response = web_login(client, "dana", PASSWORD, REMOTE_ADDR="198.51.100.9")
    assert response.status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, data_scientist):
    web_login(client)
    web_login(client)
    assert web_login(client, password=PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    assert not AccessAttempt.objects.exists()
    assert web_login(client).status_code == 200


def test_the_lockout_page_answers_json_to_scripts(client, data_scientist):
    for _ in range(3):
        web_login(client)
    response = web_login(client, HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.json()["detail"]
    assert response.json()["retry_after"] == 15 * 60


def test_the_lockout_ends_after_the_cool_off(client, data_scientist, settings):
    from datetime import timedelta

    for _ in range(3):
        web_login(client)
    assert web_login(client, password=PASSWORD).status_code == 429
    settings.AXES_COOLOFF_TIME = timedelta(seconds=0)
    assert web_login(client, password=PASSWORD).status_code == 302


# --- Lock-out on the API token endpoint -----------------------------------------------------------


def test_token_endpoint_answers_400_then_429(api_client, data_scientist):
    for _ in range(2):
        response = api_login(api_client)
        assert response.status_code == 400
        assert "credentials" in response.json()["detail"]
    locked = api_login(api_client)
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.json()["detail"]
    assert locked.json()["retry_after"] == 15 * 60
    good = api_login(api_client, password=PASSWORD)
    assert good.status_code == 429
    assert not AuthToken.objects.exists()


def test_web_and_api_failures_count_together(client, api_client, data_scientist):
    web_login(client)
    api_login(api_client)
    assert web_login(client).status_code == 429


def test_a_token_login_resets_the_count(api_client, data_scientist):
    api_login(api_client)
    api_login(api_client)
    assert api_login(api_client, password=PASSWORD).status_code == 200
    assert not AccessAttempt.objects.exists()


# --- The client address behind proxies ------------------------------------------------------------


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, data_scientist, settings):
    """A client cannot dodge the lock-out by sending a new X-Forwarded-For each time."""
    settings.MLGOV_TRUSTED_PROXY_COUNT = 0
    for n in range(3):
        web_login(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = web_login(client, password=PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "127.0.0.1"


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, data_scientist, settings):
    settings.MLGOV_TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        # The left-most entry is whatever the client wrote; the proxy appended the real one.
        web_login(client, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.5"
    locked = web_login(client, password=PASSWORD, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    assert locked.status_code == 429
    other = web_login(client, password=PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7")
    assert other.status_code == 302


# --- Password strength ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [("short1", "too short"), ("password1234", "too common"), ("738492017364", "entirely numeric"),
     ("rita.regulator", "too similar")],
)
def test_user_create_refuses_weak_passwords(administrator, password, message):
    with pytest.raises(ApplicationError) as exc:
        services.user_create(actor=administrator, username="rita.regulator", password=password,
                             email="rita.regulator@example.org", role=Role.AUDITOR)
    assert exc.value.field == "password" and message in exc.value.message
    assert not User.objects.filter(username="rita.regulator").exists()


def test_user_create_accepts_a_strong_password(administrator):
    user = services.user_create(actor=administrator, username="rita", role=Role.AUDITOR,
                                password="a-long-unusual-passphrase")
    assert user.check_password("a-long-unusual-passphrase")


@pytest.mark.parametrize("password", ["password1234", "12345678901234", "rita"])
def test_users_page_refuses_weak_passwords(client, administrator, password):
    client.force_login(administrator)
    response = client.post(reverse("accounts:user-create"), {
        "username": "rita", "role": Role.AUDITOR, "password": password,
        "password_confirm": password,
    })
    assert response.status_code == 400
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(username="rita").exists()


# --- Security headers -----------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", [LOGIN, "/healthz", "/api/v1/teams/"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    policy = csp_directives(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"] and policy["img-src"] == ["'self'", "data:"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_api_docs_page_has_no_inline_code(client, data_scientist):
    client.force_login(data_scientist)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<style" not in html and " style=" not in html
    assert html.count("<script") == html.count("<script src=")
    assert "accounts/css/api-docs.css" in html
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "javascript" in script["Content-Type"]


def test_production_settings_pass_the_deploy_checks():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mlgov.settings.production",
        "DJANGO_SECRET_KEY": "k" * 20 + "-production-check-only-" + "q" * 30,
        "DJANGO_ALLOWED_HOSTS": "mlgov.example.org",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    }
    # The browser tests' conftest relaxes async safety for the live server in this process;
    # a production process never has that variable.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    show = (
        "from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_SAMESITE, s.SESSION_COOKIE_HTTPONLY)"
    )
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", show], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.split() == ["__Host-mlgov_session", "True", "True", "Lax", "Lax", "True"]
