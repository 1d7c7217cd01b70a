"""Fixtures for the web client's end-to-end tests: Debian's Chromium driven by Playwright.

The browser is /usr/bin/chromium (``.ci/run`` installs it); Playwright's own browser
downloads are never used. Without it the tests skip, except under CI, where they fail.
Every page's console is watched: an error there fails the test that caused it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from tests.server import TEST_CODE, next_test_phone

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1180, "height": 760}
PHONE = {"width": 375, "height": 740}
REPO = Path(__file__).resolve().parents[2]
# Set to refresh docs/screenshots/ from this run (they are always saved in a tmp dir).
UPDATE_DOCS_ENV = "CHAPAR_UPDATE_SCREENSHOTS"
# A bound on every wait: generous, since a reconnect after a server restart backs off.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = (
            f"the web client tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run installs it)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# -- the API, synchronously (the browser tests are sync: Playwright's sync API) -----------
def api(base: str, method: str, params: dict[str, Any] | None = None, token: str = "") -> Any:
    """Call a method over HTTP and return its result (asserting it succeeded)."""
    req = urllib.request.Request(
        f"{base}/api/{method}",
        data=json.dumps(params or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.loads(r.read())
    assert body["ok"] is True, (method, body)
    return body["result"]


@dataclass(frozen=True)
class Account:
    phone: str
    token: str
    user: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.user["id"])


def sign_up(base: str, first_name: str, last_name: str = "") -> Account:
    """A new account on a reserved test number, made over the API (fast set-up)."""
    phone = next_test_phone()
    sent = api(base, "auth.sendCode", {"phone": phone})
    res = api(
        base,
        "auth.signUp",
        {
            "phone": phone,
            "phone_code_hash": sent["phone_code_hash"],
            "code": TEST_CODE,
            "first_name": first_name,
            "last_name": last_name,
            "device": "API set-up",
        },
    )
    return Account(phone, res["token"], res["user"])


# -- pages whose console is watched -----------------------------------------------------
@dataclass
class Browsing:
    """The contexts and pages a test opened, and what their consoles said."""

    browser: Browser
    errors: list[str] = field(default_factory=list)
    # Console errors a test expects (a refused connection while it has stopped the server).
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(
        self,
        base: str,
        *,
        lang: str = "en",
        account: Account | None = None,
        viewport: dict[str, int] | None = None,
        theme: str | None = None,
        storage: dict[str, str] | None = None,
        path: str = "",
        before: Callable[[Page], None] | None = None,
    ) -> Page:
        """A fresh browser profile at the client (at `path`), optionally already signed in;
        `before` runs on the page before it loads (to install a fake clock, say)."""
        ctx = self.browser.new_context(
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            locale="fa-IR" if lang == "fa" else "en-US",
            timezone_id="Asia/Tehran",
            is_mobile=viewport == PHONE,
            has_touch=viewport == PHONE,
            service_workers="block",
        )
        ctx.set_default_timeout(15_000)
        self.contexts.append(ctx)
        seed: dict[str, str] = {"chapar.lang": lang}
        if theme:
            seed["chapar.theme"] = theme
        if account:
            seed["chapar.auth"] = json.dumps({"token": account.token, "user": account.user})
        seed.update(storage or {})
        # Seeded once per tab (sessionStorage survives reloads), so later changes stick.
        ctx.add_init_script(
            "if (!sessionStorage.getItem('seeded')) {"
            f" for (const [k, v] of Object.entries({json.dumps(seed)})) localStorage.setItem(k, v);"
            " sessionStorage.setItem('seeded', '1'); }"
        )
        page = ctx.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        if before is not None:
            before(page)
        page.goto(base + path)
        return page

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        if any(p.search(msg.text) for p in self.allowed):
            return
        self.errors.append(msg.text)


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    b = Browsing(browser)
    yield b
    for ctx in b.contexts:
        ctx.close()
    assert b.errors == [], f"console errors in the browser: {b.errors}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], None]:
    """Save a screenshot as an artefact (a tmp dir); with CHAPAR_UPDATE_SCREENSHOTS=1 also
    refresh docs/screenshots/."""
    out = tmp_path_factory.mktemp("screenshots")
    docs = REPO / "docs" / "screenshots"

    def take(page: Page, name: str) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), animations="disabled", caret="hide")
        if os.environ.get(UPDATE_DOCS_ENV):
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, docs / path.name)

    return take
