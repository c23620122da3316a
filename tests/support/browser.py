"""Headless Chromium (Debian's) driven by Playwright, for tests marked `browser`.

Registered for the session by tests/conftest.py. The browser is
started once per session; every test gets a fresh context (no shared cookies) and a page, and a
failing test leaves a full-page screenshot under test-artifacts/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

_reports = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so the page fixture can tell whether the test failed.
    outcome = yield
    report = outcome.get_result()
    item.stash.setdefault(_reports, {})[report.when] = report


@pytest.fixture(scope="session")
def browser() -> Browser:
    # Playwright's sync API keeps an asyncio loop marked as running in this thread for as long
    # as it is started, and Django refuses ORM calls while it sees one. The tests and the
    # product are synchronous code, so the guard is lifted while the browser lives.
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def csp_violations() -> list[str]:
    """The Content-Security-Policy violations the page met; any left at the end fails the test."""
    return []


@pytest.fixture
def csp_expected() -> list[str]:
    """Substrings of violations a test expects (and accepts), e.g. a blocked remote image."""
    return []


@pytest.fixture
def page(browser: Browser, request, csp_violations, csp_expected) -> Page:
    context = browser.new_context(locale="en-US")
    # Every Content-Security-Policy violation fails the test: Chromium logs each one as a
    # console error, and the DOM event catches those it does not (e.g. in workers).
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    violations = csp_violations

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(message.text)

    page = context.new_page()
    page.on("console", on_console)
    page.set_default_timeout(15_000)
    yield page
    report = request.node.stash.get(_reports, {}).get("call")
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    unexpected = [v for v in violations if not any(e in v for e in csp_expected)]
    if unexpected:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(unexpected))


@pytest.fixture
def site_url(live_server, settings) -> str:
    """Links built by subscriptions.consent.tokens point at the live server during the test."""
    settings.SITE_URL = live_server.url
    return live_server.url


# axe-core as the axe-playwright-python package installs it (never a copy in this repository).
AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")
BLOCKING_IMPACTS = ("critical", "serious")


def axe(page: Page, *, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """Run axe-core on the page as it is now; the violations of these impacts.

    Playwright's evaluate runs outside the page's Content-Security-Policy, so the strict policy
    of our pages stays as it is. Each violation keeps axe's id, impact, help and the offending
    nodes' selectors, enough to find the element from the test's failure message.
    """
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text())
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [", ".join(node["target"]) for node in v["nodes"]][:5],
        }
        for v in results["violations"]
        if v["impact"] in impacts
    ]
