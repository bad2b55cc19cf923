"""Two-factor sign-in (TOTP apps and backup codes): set-up, the second step, enforcement for the
roles that require it, the API token endpoint's `otp`, and administrators' reset."""

import re
import time
from binascii import unhexlify
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from apps.accounts import services, twofactor
from apps.accounts.choices import Role
from apps.audit.choices import AuditAction
from apps.audit.models import AuditEntry
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:two-factor-verify")
SETUP = reverse("accounts:two-factor-setup")
HOME = reverse("registry:home")
TOKEN_URL = "/api/v1/auth/token/"


def code_for(key_hex: str, steps_ahead: int = 0) -> str:
    """The TOTP code of `key_hex`, now or `steps_ahead` 30-second steps later (the verifier
    accepts one step of drift, and never a step it has already accepted)."""
    totp = TOTP(unhexlify(key_hex))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def enrol(user) -> tuple[str, list[str]]:
    """Give `user` an authenticator app (as the set-up page does); returns its key and codes."""
    key = "3132333435363738393031323334353637383930"
    services.totp_device_confirm(user=user, key=key, code=code_for(key))
    TOTPDevice.objects.filter(user=user).update(last_t=-1)  # the set-up code may be used again
    return key, list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def sign_in(client, username: str, next_url: str = ""):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


# --- Who needs a second factor ---------------------------------------------------------------


def test_data_scientists_without_a_device_sign_in_with_a_password(client, data_scientist):
    response = sign_in(client, "dana")
    assert response["Location"] == HOME
    assert client.get(HOME).status_code == 200
    assert twofactor.PENDING_SESSION_KEY not in client.session


@pytest.mark.parametrize("role", ["compliance_officer", "administrator"])
def test_required_roles_without_a_device_are_sent_to_set_up(client, request, role):
    user = request.getfixturevalue(role)
    response = sign_in(client, user.username, next_url="/models/")
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next={quote('/models/', safe='')}"
    # Every other page leads there too, until it is done.
    for path in (HOME, "/models/", reverse("accounts:token-list"), "/audit/"):
        blocked = client.get(path)
        assert blocked.status_code == 302 and blocked["Location"].startswith(SETUP), path


def test_superusers_need_a_second_factor_whatever_their_role(client):
    UserFactory(username="root", role=Role.DATA_SCIENTIST, is_superuser=True, is_staff=True)
    assert sign_in(client, "root")["Location"].startswith(SETUP)


def test_the_required_roles_come_from_settings(client, compliance_officer, settings):
    settings.MLGOV_REQUIRE_2FA_ROLES = ["administrator"]
    assert sign_in(client, "cora")["Location"] == HOME


def test_an_unknown_role_in_settings_is_a_configuration_error(settings):
    from apps.accounts.checks import check_two_factor_roles

    settings.MLGOV_REQUIRE_2FA_ROLES = ["administrator", "admins"]
    errors = check_two_factor_roles(None)
    assert [e.id for e in errors] == ["accounts.E001"] and "admins" in errors[0].msg


def test_force_login_sessions_are_not_stopped(client, compliance_officer):
    """Only sign-ins through a login page mark the session (apps.accounts.twofactor): the test
    client's force_login, used by most tests, goes straight in."""
    client.force_login(compliance_officer)
    assert client.get(HOME).status_code == 200


@pytest.mark.parametrize("role", ["compliance_officer", "data_scientist"])
def test_anyone_with_a_device_gets_the_second_step(client, request, role):
    user = request.getfixturevalue(role)
    enrol(user)
    response = sign_in(client, user.username)
    assert response["Location"] == f"{VERIFY}?next={quote(HOME, safe='')}"
    assert client.get(HOME)["Location"].startswith(VERIFY)


# --- Setting up an authenticator app -----------------------------------------------------------


def test_set_up_page_shows_qr_code_uri_and_secret(client, compliance_officer):
    sign_in(client, "cora")
    response = client.get(SETUP)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<svg class="qr__image"' in html and "<path" in html
    assert "<script>" not in html and " style=" not in html and "data:image" not in html
    uri = response.context["otpauth_uri"]
    assert uri.startswith("otpauth://totp/") and "cora" in uri and "issuer=" in uri
    key = client.session[twofactor.ENROLMENT_KEY_SESSION_KEY]
    secret = response.context["secret"].replace(" ", "")
    assert f"secret={secret}" in uri
    # Reloading shows the same secret (nothing is stored until a code confirms it).
    assert client.get(SETUP).context["secret"].replace(" ", "") == secret
    assert client.session[twofactor.ENROLMENT_KEY_SESSION_KEY] == key
    assert not TOTPDevice.objects.exists()


def test_a_wrong_set_up_code_is_400_and_stores_nothing(client, compliance_officer):
    sign_in(client, "cora")
    client.get(SETUP)
    for code in ("000000", "abc", "12345"):
        response = client.post(SETUP, {"otp": code})
        assert response.status_code == 400
        assert response.context["form"].errors["otp"]
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()


def test_confirming_the_app_shows_ten_backup_codes_once_and_signs_in(client, compliance_officer):
    sign_in(client, "cora", next_url="/models/")
    client.get(f"{SETUP}?next=/models/")
    key = client.session[twofactor.ENROLMENT_KEY_SESSION_KEY]
    response = client.post(SETUP, {"otp": code_for(key), "next": "/models/"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    html = response.content.decode()
    assert all(code in html for code in codes) and 'href="/models/"' in html
    device = TOTPDevice.objects.get(user=compliance_officer)
    assert device.confirmed and device.key == key
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(codes)
    # Signed in for good: the pages open, the secret left the session.
    assert client.get("/models/").status_code == 200
    assert twofactor.PENDING_SESSION_KEY not in client.session
    assert twofactor.ENROLMENT_KEY_SESSION_KEY not in client.session
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    # The code used to confirm cannot be replayed to sign in.
    client.post(reverse("accounts:logout"))
    sign_in(client, "cora")
    assert client.post(VERIFY, {"otp": code_for(key)}).status_code == 400
    entry = AuditEntry.objects.filter(action=AuditAction.CREATE,
                                      object_type="otp_totp.totpdevice").get()
    assert key not in entry.changes


def test_a_user_with_a_device_cannot_set_up_another_one(client, compliance_officer):
    """A stolen password must not be enough to replace the existing second factor."""
    enrol(compliance_officer)
    sign_in(client, "cora")
    response = client.get(SETUP)
    assert response["Location"].startswith(VERIFY)
    response = client.post(SETUP, {"otp": "123456"})
    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.count() == 1


def test_voluntary_set_up_from_the_security_page(client, data_scientist):
    client.force_login(data_scientist)
    page = client.get(reverse("accounts:security")).content.decode()
    assert "Off" in page and SETUP in page
    client.get(SETUP)
    key = client.session[twofactor.ENROLMENT_KEY_SESSION_KEY]
    assert client.post(SETUP, {"otp": code_for(key)}).status_code == 200
    assert TOTPDevice.objects.filter(user=data_scientist, confirmed=True).exists()
    assert "already set up" in client.get(SETUP, follow=True).content.decode()


# --- The second step -----------------------------------------------------------------------------


def test_verify_with_the_app_code_reaches_next(client, compliance_officer):
    key, _ = enrol(compliance_officer)
    sign_in(client, "cora", next_url="/datasets/")
    page = client.get(f"{VERIFY}?next=/datasets/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    session_key = client.session.session_key
    response = client.post(VERIFY, {"otp": code_for(key), "next": "/datasets/"})
    assert response.status_code == 302 and response["Location"] == "/datasets/"
    assert client.session.session_key != session_key  # a new session id after the 2nd step
    assert client.get("/datasets/").status_code == 200


def test_verify_refuses_a_wrong_code_and_an_offsite_next(client, compliance_officer):
    key, _ = enrol(compliance_officer)
    sign_in(client, "cora")
    response = client.post(VERIFY, {"otp": "000000"})
    assert response.status_code == 400
    assert "not valid" in " ".join(response.context["form"].errors["otp"])
    assert client.get(HOME).status_code == 302
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED, actor_name="cora").exists()
    # django-otp slows guessing down: right after a wrong code even the right one waits.
    slowed = client.post(VERIFY, {"otp": code_for(key)})
    assert slowed.status_code == 429 and "wait" in slowed.content.decode()
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(minutes=1))
    done = client.post(VERIFY, {"otp": code_for(key), "next": "https://evil.example/"})
    assert done["Location"] == HOME


def test_a_backup_code_works_once(client, compliance_officer):
    _, codes = enrol(compliance_officer)
    sign_in(client, "cora")
    assert client.post(VERIFY, {"otp": codes[0].upper()})["Location"] == HOME
    assert StaticToken.objects.count() == 9
    client.post(reverse("accounts:logout"))
    sign_in(client, "cora")
    assert client.post(VERIFY, {"otp": codes[0]}).status_code == 400


def test_verify_page_without_a_pending_sign_in_goes_on(client, compliance_officer):
    assert client.get(VERIFY)["Location"].startswith(LOGIN)  # anonymous: sign in first
    client.force_login(compliance_officer)
    assert client.get(f"{VERIFY}?next=/models/")["Location"] == "/models/"


def test_a_password_only_session_gets_403_from_the_api_but_a_token_works(
    client, compliance_officer, api_client
):
    key, _ = enrol(compliance_officer)
    sign_in(client, "cora")
    response = client.get("/api/v1/teams/")
    assert response.status_code == 403
    assert "Two-factor" in response.json()["detail"]
    token = api_client.post(TOKEN_URL, {"username": "cora", "password": PASSWORD,
                                        "otp": code_for(key)}, format="json").json()["token"]
    assert client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_pending_session_may_still_sign_out_and_check_health(client, compliance_officer):
    enrol(compliance_officer)
    sign_in(client, "cora")
    assert client.get("/healthz").status_code in (200, 503)
    assert client.post(reverse("accounts:logout"))["Location"] == LOGIN
    assert client.get(HOME)["Location"].startswith(LOGIN)


def test_the_django_admin_sign_in_also_needs_the_second_step(client):
    UserFactory(username="root", role=Role.ADMINISTRATOR, is_superuser=True, is_staff=True)
    response = client.post("/django-admin/login/?next=/django-admin/",
                           {"username": "root", "password": PASSWORD, "next": "/django-admin/"})
    assert response.status_code == 302
    assert client.get("/django-admin/")["Location"].startswith(SETUP)


def test_wrong_codes_lock_the_sign_in_out(client, compliance_officer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    enrol(compliance_officer)
    sign_in(client, "cora")
    for _ in range(2):
        TOTPDevice.objects.update(throttling_failure_count=0)
        assert client.post(VERIFY, {"otp": "000000"}).status_code == 400
    TOTPDevice.objects.update(throttling_failure_count=0)
    locked = client.post(VERIFY, {"otp": "000000"})
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session  # the half-done sign-in is over
    again = sign_in(client, "cora")
    assert again.status_code == 429


# --- API token endpoint -------------------------------------------------------------------------


def token_login(api_client, username, **extra):
    return api_client.post(TOKEN_URL, {"username": username, "password": PASSWORD, **extra},
                           format="json")


def test_api_needs_the_code_of_accounts_with_a_device(api_client, data_scientist):
    key, codes = enrol(data_scientist)
    missing = token_login(api_client, "dana")
    assert missing.status_code == 400 and "otp" in missing.json()
    wrong = token_login(api_client, "dana", otp="000000")
    assert wrong.status_code == 400 and "otp" in wrong.json()
    assert "not valid" in wrong.json()["otp"][0]
    TOTPDevice.objects.update(throttling_failure_count=0)
    right = token_login(api_client, "dana", otp=code_for(key))
    assert right.status_code == 200 and right.json()["token"]
    backup = token_login(api_client, "dana", otp=codes[3])
    assert backup.status_code == 200
    assert AuthToken.objects.count() == 2


def test_api_refuses_required_roles_without_a_device(api_client, compliance_officer):
    response = token_login(api_client, "cora")
    assert response.status_code == 400
    assert "set it up" in response.json()["otp"][0]
    assert not AuthToken.objects.exists()


def test_api_answers_429_while_the_device_slows_guessing(api_client, data_scientist):
    key, _ = enrol(data_scientist)
    TOTPDevice.objects.update(throttling_failure_count=5,
                              throttling_failure_timestamp=timezone.now())
    response = token_login(api_client, "dana", otp=code_for(key))
    assert response.status_code == 429
    assert "otp" in response.json() and response.json()["retry_after"] >= 1


def test_a_wrong_password_never_reaches_the_code_check(api_client, data_scientist):
    key, _ = enrol(data_scientist)
    response = api_client.post(TOKEN_URL, {"username": "dana", "password": "wrong-password",
                                           "otp": code_for(key)}, format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    assert TOTPDevice.objects.get().last_t == -1  # the code was not spent


# --- Security page: backup codes, turning off -----------------------------------------------------


def test_new_backup_codes_need_a_current_code(client, data_scientist):
    key, old_codes = enrol(data_scientist)
    client.force_login(data_scientist)
    page = client.get(reverse("accounts:security")).content.decode()
    assert "On" in page and "10 of 10" in page
    refused = client.post(reverse("accounts:backup-codes"), {"codes-otp": "000000"})
    assert refused.status_code == 400
    TOTPDevice.objects.update(throttling_failure_count=0)
    response = client.post(reverse("accounts:backup-codes"), {"codes-otp": code_for(key)})
    assert response.status_code == 200
    new_codes = response.context["codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert sorted(StaticToken.objects.values_list("token", flat=True)) == sorted(new_codes)


def test_turning_off_needs_a_code_and_is_refused_to_required_roles(
    client, data_scientist, compliance_officer
):
    key, _ = enrol(data_scientist)
    client.force_login(data_scientist)
    response = client.post(reverse("accounts:two-factor-disable"), {"disable-otp": code_for(key)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=data_scientist).exists()
    assert not StaticDevice.objects.filter(user=data_scientist).exists()

    officer_key, _ = enrol(compliance_officer)
    client.force_login(compliance_officer)
    assert "Turn off" not in client.get(reverse("accounts:security")).content.decode()
    response = client.post(reverse("accounts:two-factor-disable"),
                           {"disable-otp": code_for(officer_key)})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=compliance_officer).exists()


@pytest.mark.parametrize("name", ["accounts:security", "accounts:two-factor-setup",
                                  "accounts:two-factor-verify"])
def test_security_pages_send_anonymous_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


@pytest.mark.parametrize("name", ["accounts:backup-codes", "accounts:two-factor-disable"])
def test_security_changes_need_post(client, data_scientist, name):
    client.force_login(data_scientist)
    assert client.get(reverse(name)).status_code == 405


# --- Administrators reset a lost second factor ---------------------------------------------------


def test_administrator_resets_a_users_second_factor(client, administrator, compliance_officer):
    enrol(compliance_officer)
    client.force_login(administrator)
    listing = client.get(reverse("accounts:user-list")).content.decode()
    assert reverse("accounts:user-two-factor-reset", args=[compliance_officer.pk]) in listing
    response = client.post(reverse("accounts:user-two-factor-reset", args=[compliance_officer.pk]))
    assert response.status_code == 302
    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()
    assert "was reset" in client.get(response["Location"]).content.decode()
    again = client.post(reverse("accounts:user-two-factor-reset", args=[compliance_officer.pk]))
    assert "has no two-factor" in client.get(again["Location"]).content.decode()
    assert client.post(reverse("accounts:user-two-factor-reset", args=[999999])).status_code == 404
    # The user sets up a new app at the next sign-in.
    client.post(reverse("accounts:logout"))
    assert sign_in(client, "cora")["Location"].startswith(SETUP)


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer", "auditor"])
def test_only_administrators_reset_second_factors(client, request, role, outsider):
    enrol(outsider)
    client.force_login(request.getfixturevalue(role))
    response = client.post(reverse("accounts:user-two-factor-reset", args=[outsider.pk]))
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=outsider).exists()


def test_reset_sends_anonymous_to_sign_in(client, outsider):
    response = client.post(reverse("accounts:user-two-factor-reset", args=[outsider.pk]))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_no_secret_reaches_the_audit_trail(client, data_scientist):
    key, codes = enrol(data_scientist)
    client.force_login(data_scientist)
    client.post(reverse("accounts:backup-codes"), {"codes-otp": code_for(key)})
    text = " ".join(AuditEntry.objects.values_list("changes", flat=True))
    assert key not in text and not any(re.search(code, text) for code in codes)


def test_a_pending_sign_in_with_nothing_left_to_ask_goes_on(client, data_scientist):
    enrol(data_scientist)
    sign_in(client, "dana")
    assert client.get(HOME)["Location"].startswith(VERIFY)
    TOTPDevice.objects.all().delete()  # reset meanwhile; a data scientist need not have one
    assert client.get(HOME).status_code == 200
    assert twofactor.PENDING_SESSION_KEY not in client.session
