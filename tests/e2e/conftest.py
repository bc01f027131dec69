"""Browser tests: Playwright for Python driving Debian's Chromium against real uvicorn (and workers).

Playwright cannot download its own browsers here; it launches CHROMIUM. Without it the
tests fail with one line saying how to install it (`make test` installs it when it can).
Screenshots of every page go to SCREENSHOTS (the test run's output) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / ".data" / "test" / "screenshots"
INSTALL_HINT = "apt-get install -y chromium (as root; `make test` does it when it can)"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One Chromium per module; each test gets its own context (cookies, routes).

    Per module, not per session: while Playwright's sync API is started, its event loop counts as
    running on this thread, and every later test calling asyncio.run() (the WebSocket tests) fails.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Chromium at {CHROMIUM}: install it with {INSTALL_HINT}", pytrace=False)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its event loop on this thread, so Django would refuse the test's own
    # ORM calls (factories, assertions) as "async". Only this process is told otherwise: child_env()
    # never hands this variable to the servers and workers under test.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root in CI, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Any:
    """A tab that records every Content-Security-Policy violation and script error in `page.problems`."""
    tab = browser_context.new_page()
    tab.problems = []
    # HTTP errors are listed by URL below; Chromium's console line for them names none.
    tab.on(
        "console",
        lambda m: m.type == "error" and "Failed to load resource" not in m.text and tab.problems.append(m.text),
    )
    tab.on(
        "response",
        lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and tab.problems.append(f"{r.status} {r.url}"),
    )
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    return tab


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as SCREENSHOTS/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Any, base: str, username: str, password: str, next_path: str = "/ops/") -> None:
    """The admin's login form, as an operator fills it in."""
    page.goto(f"{base}{next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


PASSWORD = "correct horse battery staple"


def operator(*, staff: bool = True, username: str | None = None) -> Any:
    """A user the real server can log in: a cheap PBKDF2 hash, which the server's hashers verify."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from tests.factories import StaffUserFactory, UserFactory

    factory = StaffUserFactory if staff else UserFactory
    user = factory(**({"username": username} if username else {}))
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "e2esalt0123", iterations=1000)
    user.save(update_fields=["password"])
    return user


@pytest.fixture(scope="module")
def console_server(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Any]:
    """uvicorn as production runs it, on the test database, plain-HTTP cookies for the browser."""
    from tests.support.realtime import realtime_server

    log = tmp_path_factory.mktemp("e2e") / "web.log"
    with django_db_blocker.unblock(), realtime_server(log, SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0") as server:
        yield server


def signed_in(context: Any, server: Any, user: Any) -> None:
    """Give the browser `user`'s session cookie, as if they had logged in."""
    from tests.support.realtime import session_cookie

    value = session_cookie(user).partition("=")[2]
    context.add_cookies([{"name": "sessionid", "value": value, "url": server.http}])
