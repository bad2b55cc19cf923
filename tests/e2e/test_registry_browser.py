"""The registry in a real browser: sign in, register a model, upload a version with progress,
see errors without a reload, and check that no page needs inline code or logs an error.
"""

import hashlib
import io
import re
from pathlib import Path

import joblib
import pytest
from django.conf import settings
from playwright.sync_api import expect
from sklearn.linear_model import LogisticRegression

from apps.registry.models import DatasetVersion, MLModel, ModelVersion
from tests.e2e.conftest import assert_no_inline_scripts, snap
from tests.registry.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    DeploymentFactory,
    LineageLinkFactory,
    MLModelFactory,
    ModelVersionFactory,
)

pytestmark = pytest.mark.browser


def joblib_model_bytes() -> bytes:
    """A real scikit-learn model dumped by joblib."""
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    return buffer.getvalue()


# Records every state the progress bar goes through in sessionStorage, which survives the
# redirect to the new version's page (the bar itself is gone by then).
WATCH_PROGRESS = """() => {
  const bar = document.querySelector('progress');
  sessionStorage.setItem('progress-states', '');
  new MutationObserver(() => {
    const seen = sessionStorage.getItem('progress-states');
    sessionStorage.setItem('progress-states',
      seen + ' ' + bar.dataset.state + ':' + bar.value + '/' + bar.max);
  }).observe(bar, {attributes: true, attributeFilter: ['data-state', 'value', 'max']});
}"""

# A strict policy: any inline script, inline style or foreign resource would be blocked and
# reported on the console, which the tests require to be clean.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def test_sign_in_register_a_model_and_upload_a_version(
    transactional_db, live_server, page, sign_in, console_errors, screenshot, data_scientist,
    tmp_path,
):
    page.goto(live_server.url + "/accounts/login/")
    snap(page, "login-page")
    sign_in("dana")
    expect(page.get_by_role("heading", name="Registry overview")).to_be_visible()
    expect(page.locator(".user-menu__role")).to_have_text("Data scientist")

    page.get_by_role("link", name="Register a model").first.click()
    page.get_by_label("Name").fill("credit-scorer")
    page.get_by_label("Risk tier").select_option("high")
    page.get_by_label("Intended use").fill("Score consumer loan applications.")
    page.get_by_role("button", name="Register model").click()
    expect(page.get_by_role("heading", name="credit-scorer")).to_be_visible()
    expect(page.locator(".message--success")).to_contain_text("Model credit-scorer registered.")
    model = MLModel.objects.get(name="credit-scorer")
    assert model.created_by == data_scientist

    page.get_by_role("link", name="Upload a version").click()
    artifact = tmp_path / "credit-scorer.joblib"
    artifact.write_bytes(joblib_model_bytes())
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    page.get_by_label("Version").fill("1.0.0")
    page.get_by_label("Artifact").set_input_files(str(artifact))
    page.get_by_label("Expected SHA-256").fill(digest)
    page.get_by_label("Framework").select_option("scikit-learn")
    page.get_by_label("Dependencies").fill("scikit-learn==1.5.2\njoblib==1.4.2")
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Upload and register").click()

    page.wait_for_url(re.compile(r"/versions/\d+/$"))
    states = page.evaluate("sessionStorage.getItem('progress-states')")
    done = re.search(r"done:(\d+)/(\d+)", states)
    assert done, states
    assert done.group(1) == done.group(2)  # the bar is full when it says done
    expect(page.get_by_test_id("detected-format")).to_have_text("joblib")
    expect(page.get_by_test_id("sha256")).to_have_text(digest)
    expect(page.locator(".message--success")).to_contain_text("Version 1.0.0 registered")

    version = ModelVersion.objects.get(model=model, version="1.0.0")
    assert (version.format, version.sha256, version.registered_by) == (
        "joblib", digest, data_scientist)
    stored = Path(settings.MEDIA_ROOT) / version.artifact
    assert stored.is_file() and stored.read_bytes() == artifact.read_bytes()
    assert_no_inline_scripts(page)
    assert console_errors == []


def test_upload_errors_are_shown_without_leaving_the_page(
    transactional_db, live_server, page, sign_in, console_errors, screenshot, team,
    data_scientist, tmp_path,
):
    dataset = DatasetFactory(team=team, name="loan-applications")
    sign_in("dana")
    upload_url = f"{live_server.url}/datasets/{dataset.pk}/versions/new/"
    page.goto(upload_url)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"id,age\n1,34\n2\n")
    page.get_by_label("Version").fill("2026-11")
    page.get_by_label("CSV file").set_input_files(str(broken))
    page.get_by_role("button", name="Upload and register").click()

    alert = page.locator("[data-upload-error]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Line 3: expected 2 fields, found 1.")
    expect(page.locator("progress")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-field=file] .field-error")).to_contain_text("Line 3")
    expect(page.get_by_role("button", name="Upload and register")).to_be_enabled()
    assert page.url == upload_url
    assert not DatasetVersion.objects.exists()
    snap(page, "upload-error-state")

    # Fixing the file and sending again works from the same page.
    good = tmp_path / "good.csv"
    good.write_bytes(b"id,age\n1,34\n2,51\n")
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Upload and register").click()
    page.wait_for_url(re.compile(r"/dataset-versions/\d+/$"))
    expect(page.get_by_test_id("row-count")).to_have_text("2")
    # The 400 of the first attempt is the only console message (Chromium logs failed loads).
    assert all("400" in error for error in console_errors), console_errors


def test_oversized_file_is_refused_before_sending(
    transactional_db, live_server, page, sign_in, console_errors, screenshot, team,
    data_scientist, tmp_path, settings,
):
    settings.MLGOV_MAX_ARTIFACT_BYTES = 1024
    model = MLModelFactory(team=team, name="big-model")
    sign_in("dana")
    page.goto(f"{live_server.url}/models/{model.pk}/versions/new/")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * 4096)
    page.get_by_label("Version").fill("1")
    page.get_by_label("Artifact").set_input_files(str(big))
    page.get_by_role("button", name="Upload and register").click()
    expect(page.locator("[data-upload-error]")).to_contain_text("the limit is 1.0 KB")
    assert not ModelVersion.objects.exists()
    assert console_errors == []


def test_pages_have_no_inline_code_and_log_no_errors_under_a_strict_csp(
    transactional_db, live_server, page, sign_in, console_errors, screenshot, team,
    data_scientist,
):
    version = ModelVersionFactory(model=MLModelFactory(team=team, name="credit-scorer"),
                                  registered_by=data_scientist, dependencies="numpy==2.1.0")
    dataset_version = DatasetVersionFactory(dataset=DatasetFactory(team=team, name="loans",
                                                                   has_personal_data=True))
    LineageLinkFactory(model_version=version, dataset_version=dataset_version)
    deployment = DeploymentFactory(model_version=version, endpoint_url="https://x.example.org")

    def add_csp(route):
        response = route.fetch(max_redirects=0)  # let the browser follow redirects itself
        route.fulfill(response=response,
                      headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.context.route(re.compile(r"^" + re.escape(live_server.url)), add_csp)
    page.goto(live_server.url + "/accounts/login/")
    assert_no_inline_scripts(page)
    sign_in("dana")
    paths = [
        "/", "/models/", f"/models/{version.model_id}/", f"/versions/{version.pk}/",
        f"/models/{version.model_id}/versions/new/", "/datasets/",
        f"/datasets/{dataset_version.dataset_id}/", f"/dataset-versions/{dataset_version.pk}/",
        "/deployments/", f"/deployments/{deployment.pk}/", "/teams/", f"/teams/{team.pk}/",
        "/models/new/",
    ]
    for path in paths:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert response.headers["content-security-policy"] == STRICT_CSP
        assert_no_inline_scripts(page)
        # Stylesheet applied (a blocked or missing CSS file would leave the header unstyled).
        header_background = page.eval_on_selector(
            ".site-header", "el => getComputedStyle(el).backgroundColor")
        assert header_background == "rgb(29, 58, 110)", path
    page.locator(".user-menu summary").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(live_server.url + "/")
    assert console_errors == []
