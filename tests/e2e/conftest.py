"""Fixtures for the real-browser tests: a fake sipgate, Chromium through Playwright, pages.

The pages are served by pytest-django's `live_server` (with `transactional_db`, so the server
thread sees the rows the test writes), and the site sends its SMS with the real sipgate
backend to `FakeSipgate` on loopback. Every page keeps a log of the requests it made; a
request that would leave the live server is blocked and fails the test. Each test leaves a
full-page screenshot in test-output/screenshots/<test name>.png.
"""

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from pytest_django.live_server_helper import LiveServer

from accounts.sms.backends import sipgate as sipgate_backend
from tests.e2e.fake_sipgate import FakeSipgate

# Playwright's sync API keeps an asyncio event loop running in the test thread, and Django
# refuses ORM calls from a thread with a running loop unless this is set.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 375, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
# Waits for expect() and locators; generous enough for a loaded CI machine.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)
SCREENSHOT_DIR = Path("test-output") / "screenshots"
# Every URL that is not on loopback; such requests are aborted by `_block` (and recorded,
# so the test fails). A pattern, not a Python predicate: Chromium intercepts only these.
NOT_LOOPBACK_URL = re.compile(r"^(?!https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$))")


@dataclass
class NetworkLog:
    """Method and URL of every request the browser made during one test, oldest first."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.requests.append((request.method, request.url))

    @property
    def urls(self) -> list[str]:
        return [url for _method, url in self.requests]

    def outside(self, origin: str) -> list[str]:
        """Return the recorded URLs whose scheme, host or port differ from `origin`."""
        want = urlsplit(origin)
        return [
            url
            for url in self.urls
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (want.scheme, want.netloc)
        ]

    def assert_same_origin(self, origin: str) -> None:
        """Fail unless at least one request was made and every one went to `origin`."""
        assert self.urls, "the browser made no request at all"
        outside = self.outside(origin)
        assert not outside, f"requests left {origin}: {outside}"


# -- the fake sipgate and the real backend -------------------------------------------------


@pytest.fixture
def fake_sipgate() -> Iterator[FakeSipgate]:
    """A fake sipgate of its own for each test, so no message, outage or latency carries
    over (a fresh server also drops queued `fail_next` failures, which `clear()` keeps)."""
    fake = FakeSipgate().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def sipgate_live(settings, fake_sipgate: FakeSipgate) -> Iterator[FakeSipgate]:
    """Switch the site to the production sipgate backend, pointed at `fake_sipgate`."""
    settings.SMS_BACKEND = "accounts.sms.backends.sipgate.SmsBackend"
    settings.SIPGATE_API_URL = fake_sipgate.base_url
    settings.SIPGATE_TOKEN_ID = fake_sipgate.token_id
    settings.SIPGATE_TOKEN = fake_sipgate.token
    settings.SIPGATE_SMS_ID = "s0"
    sipgate_backend.shared_client.cache_clear()
    yield fake_sipgate
    sipgate_backend.shared_client.cache_clear()


# -- Chromium --------------------------------------------------------------------------------


# Package scope, not session scope: one Chromium serves every test in tests/e2e/, and it is
# shut down before the rest of the suite runs. While Playwright's sync API is started it
# keeps an event loop running in the main thread, which would break `async_to_sync` (async
# views, AsyncClient, async signal receivers) in every test collected after this package.
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright's own browser download is not used."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's "
            "chromium package (`make browser`, or `apt-get install chromium`).",
            pytrace=False,
        )
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def network_log() -> NetworkLog:
    """Every request of this test's pages; see `NetworkLog.assert_same_origin`."""
    return NetworkLog()


def _block(route: Route) -> None:
    route.abort("blockedbyclient")


def _screenshot_path(request: pytest.FixtureRequest, suffix: str = "") -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-") + suffix
    folder = request.config.rootpath / SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def _open_page(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_server: LiveServer,
    network_log: NetworkLog,
    options: dict,
    screenshot_suffix: str = "",
) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=live_server.url, locale="en-US", timezone_id="UTC", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.on("request", network_log.record)
    context.route(NOT_LOOPBACK_URL, _block)
    page = context.new_page()
    try:
        yield page
    finally:
        try:
            page.wait_for_load_state()  # images and styles of the last navigation
            page.screenshot(path=_screenshot_path(request, screenshot_suffix), full_page=True)
        except PlaywrightError as err:  # a crashed page must not hide the test's own result
            warnings.warn(f"no screenshot for {request.node.name}: {err}", stacklevel=1)
        context.close()
    outside = network_log.outside(live_server.url)
    assert not outside, f"requests left the live server {live_server.url}: {outside}"


@pytest.fixture
def page(request, browser, live_server, transactional_db, network_log) -> Iterator[Page]:
    """A desktop tab (1280x800) in a fresh browser context, with relative URLs allowed."""
    yield from _open_page(request, browser, live_server, network_log, DESKTOP)


@pytest.fixture
def no_script_page(request, browser, live_server, transactional_db, network_log) -> Iterator[Page]:
    """A desktop tab with JavaScript off, to check the pages work without their script."""
    options = {**DESKTOP, "java_script_enabled": False}
    yield from _open_page(request, browser, live_server, network_log, options)


@pytest.fixture
def phone_page(request, browser, live_server, transactional_db, network_log) -> Iterator[Page]:
    """A phone tab (375x740, touch, mobile viewport rules) in a fresh browser context."""
    suffix = "-phone" if "page" in request.fixturenames else ""
    yield from _open_page(request, browser, live_server, network_log, PHONE, suffix)
