"""The scan page in a real browser: the progress bar follows the scan without a page reload,
under a strict Content-Security-Policy, and the findings table appears when the scan finishes.

The test moves the scan forward itself (as a worker would, by writing to the database), so what
is tested is the page: static/scans/js/scan_progress.js polling GET /api/v1/scans/{id}/.
"""

import re

import pytest
from playwright.sync_api import expect

from apps.scans.choices import ScanStatus, Severity
from apps.scans.models import ScanRun
from tests.e2e.conftest import assert_no_inline_scripts, snap
from tests.registry.factories import ModelVersionFactory
from tests.scans.factories import FindingFactory

pytestmark = pytest.mark.browser

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def progress_value(page) -> int:
    return page.eval_on_selector("[data-testid=scan-progress] progress", "el => el.value")


def test_progress_bar_updates_live_and_findings_appear_when_done(
    transactional_db, live_server, page, sign_in, console_errors, screenshot, data_scientist,
    team,
):
    def add_csp(route):
        response = route.fetch(max_redirects=0)
        route.fulfill(response=response,
                      headers={**response.headers, "content-security-policy": STRICT_CSP})

    page.context.route(re.compile(r"^" + re.escape(live_server.url)), add_csp)
    version = ModelVersionFactory(model__team=team)
    run = ScanRun.objects.create(
        model_version=version, team=team, scanners=["integrity"], status=ScanStatus.RUNNING,
        progress=5, attempts=1, worker="worker-1@host",
    )
    sign_in("dana")
    page.goto(f"{live_server.url}/scans/{run.pk}/")
    assert_no_inline_scripts(page)
    assert progress_value(page) == 5
    # A marker on the window: it disappears if the page is reloaded.
    page.evaluate("window.__sameDocument = true")

    for progress in (30, 75):
        ScanRun.objects.filter(pk=run.pk).update(progress=progress)
        expect(page.locator("[data-testid=scan-progress]")).to_have_attribute(
            "data-progress", str(progress), timeout=15_000)
        assert progress_value(page) == progress
        expect(page.locator("[data-scan-progress-text]")).to_have_text(f"{progress} %")
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    snap(page, "scan-progress-running")

    # The worker finishes: a finding is written and the scan succeeds.
    FindingFactory(scan=run, scanner="integrity", severity=Severity.CRITICAL,
                   title="The stored artifact differs from the one registered")
    ScanRun.objects.filter(pk=run.pk).update(status=ScanStatus.SUCCEEDED, progress=100,
                                             findings_count=1)
    table = page.locator("[data-testid=findings-table]")
    expect(table).to_contain_text("The stored artifact differs from the one registered",
                                  timeout=15_000)
    expect(page.locator("[data-scan-status]")).to_have_text("Succeeded")
    assert progress_value(page) == 100
    assert_no_inline_scripts(page)
    assert console_errors == []
