"""A compliance officer takes a demo-like model from "no assessment" to a complete threat model
in a real browser: suggested threats accepted (one dismissed), scored, a mitigation with uploaded
evidence, a risk acceptance approved by a second compliance officer, and an access policy whose
review finds no gap. Every page runs under a strict Content-Security-Policy and logs no error.
"""

import io
import pickle
import re
from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from apps.accounts.choices import Role
from apps.registry import services as registry
from apps.registry.choices import Environment, Exposure, OutputGranularity, RiskTier
from apps.threats.models import Evidence, RiskAcceptance, ThreatAssessment
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.e2e.conftest import assert_no_inline_scripts, snap

pytestmark = pytest.mark.browser

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# What the rules suggest for a high-risk model with a pickle artifact and a public deployment
# that returns full scores (authenticated and rate limited).
SUGGESTED = {
    "AML.T0011.000", "AML.T0010.003", "AML.T0040", "AML.T0024.002", "AML.T0024.001",
    "AML.T0015", "AML.T0024.000", "AML.T0043", "AML.T0048.003",
}
DISMISSED = "AML.T0043"
MITIGATED = "AML.T0024.002"  # scored high: gets a mitigation with evidence
ACCEPTED = "AML.T0011.000"  # scored high: gets a risk acceptance


def demo_like_model(actor, team):
    """Registered as a pipeline would: a real pickle artifact, a public full-scores endpoint."""
    model = registry.model_create(actor=actor, team=team, name="loan-approval",
                                  risk_tier=RiskTier.HIGH,
                                  intended_use="Pre-screens consumer loan applications.")
    buffer = io.BytesIO()
    pickle.dump({"weights": [0.1, 0.2], "bias": 0.3}, buffer)
    version = registry.model_version_register(
        actor=actor, model=model, version="1.0",
        artifact=ContentFile(buffer.getvalue(), name="loan-approval.pkl"),
    )
    assert version.format == "pickle"
    registry.deployment_create(
        actor=actor, model_version=version, environment=Environment.PRODUCTION,
        endpoint_url="https://api.example.org/loans/v1", exposure=Exposure.PUBLIC,
        requires_authentication=True, rate_limit_per_minute=60,
        output_granularity=OutputGranularity.FULL_SCORES,
    )
    return model


def enrol_second_factor(user) -> list[str]:
    """Compliance officers sign in with a second factor: an authenticator app, plus backup
    codes (single use, so each sign-in of the test takes the next one)."""
    TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [f"{user.username}backup{n}" for n in range(3)]
    for code in codes:
        device.token_set.create(token=code)
    return codes


def sign_in_with_code(page, base_url: str, username: str, code: str) -> None:
    """Password, then (when asked) the second factor, through the real sign-in pages."""
    page.goto(base_url + "/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"^{re.escape(base_url)}/(accounts/two-factor/verify/.*)?$"))
    if "/two-factor/verify/" in page.url:
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(base_url + "/")


def sign_out(page):
    page.locator(".user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def completeness(page):
    return page.locator("[data-completeness]")


def row(page, table: str, atlas_id: str):
    return page.locator(f'table[data-table="{table}"] tr[data-technique="{atlas_id}"]')


def test_compliance_officer_completes_a_threat_model(
    transactional_db, live_server, page, console_errors, screenshot, data_scientist,
    compliance_officer, team, tmp_path,
):
    def add_csp(route):
        if route.request.method != "GET":
            # Form posts go straight through: Playwright's route.fetch() re-sends a multipart
            # body without the file's bytes. Their answers are redirects to pages checked here.
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        route.fulfill(response=response,
                      headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.context.route(re.compile(r"^" + re.escape(live_server.url)), add_csp)
    approver = UserFactory(username="carl", role=Role.COMPLIANCE_OFFICER)
    codes = {user.username: enrol_second_factor(user) for user in (compliance_officer, approver)}

    def sign_in(username: str) -> None:
        sign_in_with_code(page, live_server.url, username, codes[username].pop(0))

    model = demo_like_model(data_scientist, team)

    # --- From the navigation to the model's threat model: nothing assessed yet.
    sign_in("cora")
    page.get_by_role("link", name="Threat models").first.click()
    expect(page.get_by_role("heading", name="Threat models")).to_be_visible()
    assert_no_inline_scripts(page)
    page.get_by_role("link", name="loan-approval").click()
    expect(page.get_by_role("heading", name="Threat model of loan-approval")).to_be_visible()
    expect(completeness(page)).to_have_attribute("data-completeness", "incomplete")
    expect(completeness(page)).to_contain_text("No threat has been assessed yet.")
    shown = set(page.locator('table[data-table="suggestions"] tr[data-technique]')
                .evaluate_all("rows => rows.map(r => r.dataset.technique)"))
    assert shown == SUGGESTED
    expect(row(page, "suggestions", "AML.T0011.000")).to_contain_text("pickle")
    assert_no_inline_scripts(page)
    snap(page, "threat-model-suggested")

    # --- Dismiss one suggestion with a reason, accept all the others at once.
    row(page, "suggestions", DISMISSED).get_by_placeholder("Reason to dismiss").fill(
        "Inputs are fixed-format application fields validated upstream.")
    row(page, "suggestions", DISMISSED).get_by_role("button", name="Dismiss").click()
    expect(page.locator(".message--success")).to_contain_text(f"{DISMISSED} dismissed.")
    page.get_by_role("button", name="Accept all suggestions").click()
    expect(page.locator(".message--success")).to_contain_text("8 suggested threat(s) added")
    expect(completeness(page)).to_contain_text("8 open threat(s) are not scored")

    # --- Score every threat: two high risks, the rest low.
    scores = {MITIGATED: ("4", "4"), ACCEPTED: ("3", "5")}
    for atlas_id in sorted(SUGGESTED - {DISMISSED}):
        likelihood, impact = scores.get(atlas_id, ("1", "3"))
        threat = row(page, "assessments", atlas_id)
        threat.get_by_label(f"Likelihood of {atlas_id}").select_option(likelihood)
        threat.get_by_label(f"Impact of {atlas_id}").select_option(impact)
        threat.get_by_role("button", name="Save score").click()
        expect(page.locator(".message--success")).to_contain_text(f"{atlas_id} scored.")
    expect(row(page, "assessments", MITIGATED)).to_contain_text("16 · High")
    expect(row(page, "assessments", ACCEPTED)).to_contain_text("15 · High")
    expect(completeness(page)).to_contain_text(
        "2 high or critical residual risk(s) have neither a mitigation in place nor an "
        "approved acceptance")

    # --- Extraction: an ATLAS mitigation, implemented, with an uploaded evidence file.
    row(page, "assessments", MITIGATED).get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=re.compile(MITIGATED))).to_be_visible()
    page.get_by_label("ATLAS mitigation").select_option("AML.M0004")
    page.get_by_label("Status", exact=True).select_option("implemented")
    page.get_by_label("Owner").select_option(label=data_scientist.username)
    page.get_by_role("button", name="Add mitigation").click()
    expect(page.locator(".message--success")).to_contain_text("Mitigation AML.M0004")
    report = tmp_path / "rate-limit-load-test.txt"
    report.write_text("60 queries/minute enforced at the gateway; 429 beyond.\n")
    page.get_by_label("Evidence file").set_input_files(str(report))
    page.get_by_label("Description").fill("Gateway load test")
    page.get_by_role("button", name="Attach evidence").click()
    expect(page.locator(".message--success")).to_contain_text("Evidence attached")
    expect(page.get_by_role("link", name="rate-limit-load-test.txt")).to_be_visible()
    page.get_by_label(re.compile("^Status of AML.M0004")).select_option("verified")
    page.get_by_role("button", name="Set status").click()
    expect(page.locator("[data-mitigation-status]")).to_have_text("Verified")
    # With the rate limit verified, the residual risk is re-scored and the threat mitigated.
    page.locator("summary", has_text="Edit scores and status").click()
    edit = page.locator("form[action$='/edit/']")
    edit.get_by_label("Residual likelihood").select_option("2")
    edit.get_by_label("Residual impact").select_option("4")
    edit.get_by_label("Status").select_option("mitigated")
    edit.get_by_label("Rationale").fill("Full scores stay (partners need them); 60/min cap.")
    edit.get_by_role("button", name="Save threat").click()
    expect(page.locator(".message--success")).to_contain_text("Threat saved.")
    expect(page.locator("[data-residual]")).to_have_text("8 · Medium")
    expect(page.locator("[data-status]")).to_have_text("Mitigated")
    assert_no_inline_scripts(page)
    evidence = Evidence.objects.get()
    assert evidence.file_name == "rate-limit-load-test.txt" and evidence.size > 0

    # --- Unsafe artifacts: a risk acceptance, requested by this compliance officer...
    page.get_by_role("link", name="loan-approval").first.click()
    row(page, "assessments", ACCEPTED).get_by_role("link", name="Open").click()
    page.locator("summary", has_text="Request a risk acceptance").click()
    page.get_by_label("Why the risk is acceptable").fill(
        "Artifacts come only from our own signed CI; replaced by safetensors next quarter.")
    until = (date.today() + timedelta(days=90)).isoformat()
    page.get_by_label("Accepted until").fill(until)
    page.get_by_role("button", name="Request acceptance").click()
    expect(page.locator(".message--success")).to_contain_text("Acceptance requested")
    expect(page.get_by_text("another compliance officer must approve it")).to_be_visible()
    expect(page.get_by_role("button", name="Approve acceptance")).to_have_count(0)
    acceptance_url = page.url
    sign_out(page)

    # --- ...and approved by a second compliance officer.
    sign_in("carl")
    page.goto(acceptance_url)
    page.get_by_label("Approval note").fill("Agreed until the safetensors migration.")
    page.get_by_role("button", name="Approve acceptance").click()
    expect(page.locator(".message--success")).to_contain_text("Risk acceptance approved.")
    expect(page.locator("[data-status]")).to_have_text("Accepted")
    acceptance = RiskAcceptance.objects.get()
    assert acceptance.requested_by == compliance_officer and acceptance.decided_by == approver
    sign_out(page)

    # --- Back as the first officer: the threat model is complete.
    sign_in("cora")
    page.goto(f"{live_server.url}/threats/models/{model.pk}/")
    expect(completeness(page)).to_have_attribute("data-completeness", "complete")
    expect(completeness(page)).to_contain_text("Threat model complete")
    assert ThreatAssessment.objects.filter(model=model).count() == 8
    snap(page, "threat-model-complete")

    # --- The access policy: the review flags a high-risk model without one; create it.
    page.get_by_role("link", name="access policy").click()
    expect(page.get_by_role("heading", name=re.compile("Access policy"))).to_be_visible()
    expect(page.locator('[data-rule="no-policy-high-risk"]')).to_be_visible()
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator(".message--success")).to_contain_text("Access policy created.")
    expect(page.get_by_test_id("policy-no-gaps")).to_contain_text("No gaps found.")
    expect(page.get_by_test_id("policy-grants")).to_contain_text(team.name)
    assert_no_inline_scripts(page)

    # The matrix shows the model's handled risks; the register lists its eight threats.
    page.goto(f"{live_server.url}/threats/matrix/?model={model.pk}")
    expect(page.locator('[data-technique="AML.T0024"]').first).to_have_attribute(
        "data-band", "low")
    assert_no_inline_scripts(page)
    snap(page, "threat-matrix")
    page.goto(f"{live_server.url}/threats/models/{model.pk}/")
    expect(completeness(page)).to_have_attribute("data-completeness", "complete")
    assert console_errors == []
