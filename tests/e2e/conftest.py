"""Browser tests: Playwright for Python drives Debian's Chromium against pytest-django's
live_server.

Never `playwright install` (it downloads a browser): the system Chromium is launched by path.
Where it is missing, `require_service` fails the tests in CI and skips them elsewhere.
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, require_service

# Playwright's sync API runs an event loop in the test's thread; Django refuses ORM calls from
# such a thread unless told that this is intended (the test body is still plain sync code).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Override pytest-playwright's launch options: the system Chromium, headless, offline."""
    require_service("Chromium", CHROMIUM.exists(), f"{CHROMIUM} missing: apt-get install chromium")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def console_errors(page):
    """Errors the pages log (console.error, uncaught exceptions, CSP violations, failed loads)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


@pytest.fixture
def screenshot(page, request):
    """After the test, keep a full-page screenshot of where it ended (also when it failed).

    It depends on `page`, so it is torn down (and shoots) before the page is closed.
    """
    yield
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    except Exception:  # noqa: BLE001, S110 - a closed page must not hide the test's own result
        pass


@pytest.fixture
def sign_in(page, live_server):
    """Sign in through the real login page, as a person would."""

    def do(username: str, password: str = PASSWORD) -> None:
        page.goto(live_server.url + "/")
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(live_server.url + "/")

    return do


def assert_no_inline_scripts(page) -> None:
    """Each <script> is a file (src) or JSON data (json_script): nothing a strict CSP blocks."""
    scripts = page.eval_on_selector_all(
        "script", "nodes => nodes.map(n => ({src: n.getAttribute('src'), type: n.type}))"
    )
    assert scripts, "expected at least the app.js script"
    for script in scripts:
        assert script["src"] or script["type"] == "application/json", script
    handlers = page.evaluate(
        """() => Array.from(document.querySelectorAll('*')).flatMap(el =>
             Array.from(el.attributes).filter(a => /^on/i.test(a.name) || a.name === 'style')
               .map(a => el.tagName + ' ' + a.name))"""
    )
    assert handlers == []


def snap(page, name: str) -> None:
    """An extra screenshot in the middle of a test (for states the final one does not show)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
