"""Two-factor sign-in in a real browser, under the Content-Security-Policy mlgov sends: a
compliance officer sets up an authenticator app (the code computed here from the secret the
page shows), keeps the backup codes, signs out and back in with a code, makes an API token,
and opens the API documentation. No page may log an error or need inline code.
"""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_no_inline_scripts, snap

pytestmark = pytest.mark.browser


def code_from_secret(secret_text: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the typed-in secret (base32, spaces ignored)."""
    key = b32decode(secret_text.replace(" ", "").upper())
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def assert_strict_csp(response) -> None:
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy


def test_set_up_two_factor_and_sign_in_with_a_code(
    transactional_db, live_server, page, console_errors, screenshot, compliance_officer,
):
    response = page.goto(live_server.url + "/models/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert_strict_csp(response)
    page.get_by_label("Username").fill("cora")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Password accepted; the role requires a second factor, which cora has not set up yet.
    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] > 100 and abs(box["width"] - box["height"]) < 2
    uri = page.get_by_test_id("otpauth-uri").text_content()
    secret = page.get_by_test_id("totp-secret").text_content()
    assert uri.startswith("otpauth://totp/") and secret.replace(" ", "") in uri
    assert_no_inline_scripts(page)
    snap(page, "two-factor-setup")
    # Other pages are out of reach until the set-up is done.
    page.goto(live_server.url + "/datasets/")
    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
    assert page.get_by_test_id("totp-secret").text_content() == secret  # same secret

    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("[data-field=otp] .field-error")).to_contain_text("does not match")
    page.get_by_label("Code from the app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    codes = page.get_by_test_id("backup-codes").locator("code").all_text_contents()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(user=compliance_officer).confirmed
    snap(page, "two-factor-backup-codes")
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_url(re.compile(r"/datasets/$"))

    # An API token, shown once.
    page.goto(live_server.url + "/accounts/tokens/")
    page.get_by_label("Name").fill("evidence export")
    page.get_by_label("Read-only (may only read: GET requests)").check()
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile(r"/accounts/tokens/created/"))
    token = page.get_by_test_id("new-token").input_value()
    assert len(token) == 64
    assert_no_inline_scripts(page)
    page.get_by_role("link", name="Done").click()
    expect(page.locator("table")).to_contain_text("evidence export")
    expect(page.locator("table")).to_contain_text("Read-only")
    assert token not in page.content()

    # Sign out, and back in: now the second step asks for a code.
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("cora")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/accounts/two-factor/verify/"))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert_no_inline_scripts(page)
    # The code used for the set-up is spent: the next one is accepted (one step of drift).
    page.get_by_label("Code").fill(code_from_secret(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(live_server.url + "/")
    expect(page.locator(".user-menu__role")).to_have_text("Compliance officer")

    response = page.goto(live_server.url + "/accounts/security/")
    assert response.status == 200
    assert_strict_csp(response)
    expect(page.locator(".card").first).to_contain_text("10 of 10")
    # The wrong set-up code's 400 is the only console message (Chromium logs failed loads).
    assert len(console_errors) == 1 and "400" in console_errors[0], console_errors


def test_api_documentation_works_under_the_csp(
    transactional_db, live_server, page, console_errors, screenshot, sign_in, data_scientist,
):
    sign_in("dana")
    response = page.goto(live_server.url + "/api/v1/docs/")
    assert response.status == 200
    assert_strict_csp(response)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("mlgov API")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    # The page's own stylesheet (formerly inline) applies.
    margin = page.eval_on_selector("body", "el => getComputedStyle(el).marginTop")
    assert margin == "0px"
    # Every script is a file. (Swagger UI itself sets styles through the DOM, which CSP allows;
    # so the style-attribute half of assert_no_inline_scripts does not apply to this page.)
    sources = page.eval_on_selector_all("script", "nodes => nodes.map(n => n.getAttribute('src'))")
    assert sources and all(sources), sources
    snap(page, "api-docs")
    assert console_errors == []
