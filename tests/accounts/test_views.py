"""Sign-in, sign-out and the administrators' users page."""

import pytest
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.choices import Role
from apps.accounts.models import User
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client):
    def make(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make


# --- Sign-in and sign-out -----------------------------------------------------------------------


def test_login_page_is_public_and_has_no_inline_script(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'autocomplete="current-password"' in html
    assert "<script>" not in html and " style=" not in html
    assert "Example Organisation" in html or "organisation" in html.lower()


def test_login_with_good_credentials_goes_to_next(client, data_scientist):
    models_url = reverse("registry:model-list")
    response = client.post(reverse("accounts:login"),
                           {"username": "dana", "password": PASSWORD, "next": models_url})
    assert response.status_code == 302
    assert response["Location"] == models_url
    assert client.get(models_url).status_code == 200


def test_login_without_next_goes_home(client, data_scientist):
    response = client.post(reverse("accounts:login"), {"username": "dana", "password": PASSWORD})
    assert response["Location"] == reverse("registry:home")


def test_login_with_bad_password_shows_an_error(client, data_scientist):
    response = client.post(reverse("accounts:login"),
                           {"username": "dana", "password": "wrong-password"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_refuses_an_offsite_next(client, data_scientist):
    response = client.post(reverse("accounts:login"), {
        "username": "dana", "password": PASSWORD, "next": "https://evil.example.com/"})
    assert response["Location"] == reverse("registry:home")


def test_logout_needs_post(web, data_scientist):
    client = web(data_scientist)
    assert client.get(reverse("accounts:logout")).status_code == 405
    page = client.get(reverse("registry:home")).content.decode()
    assert f'action="{reverse("accounts:logout")}"' in page and "Sign out" in page
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("registry:home")).status_code == 302


def test_header_shows_organisation_user_and_role(web, compliance_officer, settings):
    settings.ORGANISATION_NAME = "Acme Bank"
    html = web(compliance_officer).get(reverse("registry:home")).content.decode()
    assert "Acme Bank" in html and "cora" in html and "Compliance officer" in html
    assert reverse("accounts:user-list") not in html  # nav: users page only for administrators


# --- Users page ---------------------------------------------------------------------------------

USER_PAGES = [("get", "accounts:user-list"), ("get", "accounts:user-create"),
              ("post", "accounts:user-create")]


@pytest.mark.parametrize(("method", "name"), USER_PAGES)
def test_users_pages_send_anonymous_to_sign_in(client, method, name):
    response = getattr(client, method)(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_role_change_sends_anonymous_to_sign_in(client, data_scientist):
    response = client.post(reverse("accounts:user-set-role", args=[data_scientist.pk]),
                           {"role": Role.ADMINISTRATOR})
    assert response.status_code == 302
    data_scientist.refresh_from_db()
    assert data_scientist.role == Role.DATA_SCIENTIST


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer", "auditor"])
@pytest.mark.parametrize(("method", "name"), USER_PAGES)
def test_users_pages_are_403_for_non_administrators(web, request, role, method, name):
    user = request.getfixturevalue(role)
    response = getattr(web(user), method)(reverse(name), {"username": "new", "role": "auditor"})
    assert response.status_code == 403
    assert not User.objects.filter(username="new").exists()


@pytest.mark.parametrize("role", ["data_scientist", "compliance_officer", "auditor"])
def test_non_administrators_cannot_change_roles(web, request, role):
    user = request.getfixturevalue(role)
    response = web(user).post(reverse("accounts:user-set-role", args=[user.pk]),
                              {"role": Role.ADMINISTRATOR})
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.role == role


def test_administrator_lists_and_searches_users(web, administrator, data_scientist, auditor):
    client = web(administrator)
    response = client.get(reverse("accounts:user-list"))
    assert response.status_code == 200
    assert {u.username for u in response.context["page_obj"]} == {"adam", "dana", "audrey"}
    html = response.content.decode()
    assert 'name="role"' in html and "New user" in html
    found = client.get(reverse("accounts:user-list"), {"q": "aud"}).context["page_obj"]
    assert [u.username for u in found] == ["audrey"]
    found = client.get(reverse("accounts:user-list"),
                       {"role": Role.DATA_SCIENTIST}).context["page_obj"]
    assert [u.username for u in found] == ["dana"]


def test_administrator_changes_a_role(web, administrator, data_scientist):
    client = web(administrator)
    url = reverse("accounts:user-set-role", args=[data_scientist.pk])
    response = client.post(url, {"role": Role.AUDITOR})
    assert response.status_code == 302
    data_scientist.refresh_from_db()
    assert data_scientist.role == Role.AUDITOR
    assert "dana is now Auditor." in client.get(response["Location"]).content.decode()
    bad = client.post(url, {"role": "overlord"})
    assert bad.status_code == 400
    assert "was not changed" in bad.content.decode()
    assert client.post(reverse("accounts:user-set-role", args=[999999]),
                       {"role": Role.AUDITOR}).status_code == 404


def test_administrator_creates_a_user(web, administrator):
    client = web(administrator)
    assert client.get(reverse("accounts:user-create")).status_code == 200
    response = client.post(reverse("accounts:user-create"), {
        "username": "rita", "email": "rita@example.org", "first_name": "Rita",
        "last_name": "Regulator", "role": Role.AUDITOR, "password": "a-long-unusual-passphrase",
        "password_confirm": "a-long-unusual-passphrase",
    })
    assert response.status_code == 302
    rita = User.objects.get(username="rita")
    assert rita.role == Role.AUDITOR and rita.check_password("a-long-unusual-passphrase")
    # axes needs the request of a sign-in (to count failures per address): the test client
    # builds none unless given one.
    assert client.login(request=HttpRequest(), username="rita",
                        password="a-long-unusual-passphrase")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"username": "dana", "password": "a-long-unusual-passphrase",
          "password_confirm": "a-long-unusual-passphrase"}, "username", "already exists"),
        ({"username": "new", "password": "short", "password_confirm": "short"}, "password",
         "too short"),
        ({"username": "new", "password": "a-long-unusual-passphrase",
          "password_confirm": "different-passphrase"}, "password_confirm", "differ"),
        ({"username": "bad name!", "password": "a-long-unusual-passphrase",
          "password_confirm": "a-long-unusual-passphrase"}, "username", "valid username"),
    ],
)
def test_bad_new_users_are_shown_on_the_form(web, administrator, data_scientist, data, field,
                                             message):
    response = web(administrator).post(reverse("accounts:user-create"),
                                       {"role": Role.DATA_SCIENTIST, **data})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert User.objects.count() == 2


def test_users_list_query_count_does_not_grow(web, administrator):
    client = web(administrator)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("accounts:user-list")).status_code == 200
        return len(queries)

    UserFactory.create_batch(3)
    small = count()
    UserFactory.create_batch(27)
    assert count() == small
