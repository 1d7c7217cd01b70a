"""Helpers the browser tests share: driving the screens as a person would, and reading
what they show."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.server import TEST_CODE
from tests.web.conftest import Account, api

Shots = Callable[[Page, str], None]  # the `shots` fixture

_random_ids = itertools.count(7_000_000)
# The tick or clock of an own message (its hidden twin only reserves room for it).
STATUS = ".meta:not(.ghost) .status"


def iso(text: str) -> str:
    """Text isolated inside a sentence of the other direction (U+2068 ... U+2069), as the
    client writes names and titles into its notes."""
    return f"\u2068{text}\u2069"


def random_id() -> int:
    return next(_random_ids)


def sign_in_ui(page: Page, phone: str, first_name: str = "", last_name: str = "") -> None:
    """Sign in through the screens; a first name means a new account is expected."""
    page.locator("#phone").fill(phone)
    page.locator("#phone").press("Enter")
    page.locator("#code").fill(TEST_CODE)
    page.locator("#code").press("Enter")
    if first_name:
        page.locator("#first-name").fill(first_name)
        page.locator("#last-name").fill(last_name)
        page.locator("#last-name").press("Enter")
    expect(page.locator(".sidebar")).to_be_visible()


def start_chat(page: Page, query: str) -> None:
    page.locator(".fab").click()
    page.locator("#new-chat-query").fill(query)
    page.locator("#new-chat-query").press("Enter")
    expect(page.locator(".chat .composer-input")).to_be_visible()


def open_chat(page: Page, who: Account) -> None:
    open_key(page, f"u{who.id}")


def open_key(page: Page, key: str) -> None:
    """Open a chat from the list by its key: u<user id> or c<chat id>."""
    page.locator(f'.chat-row[data-chat="{key}"]').click()
    expect(page.locator(".chat .chat-title")).to_be_visible()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#{key}")


def send(page: Page, text: str) -> None:
    box = page.locator(".chat .composer-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def msg(page: Page, text: str) -> Locator:
    """The message bodies in the open chat whose text is exactly `text`."""
    return page.locator(".messages").get_by_text(text, exact=True)


def bubble(page: Page, text: str) -> Locator:
    return page.locator(".msg", has=page.get_by_text(text, exact=True))


def direction(loc: Locator) -> str:
    return str(loc.evaluate("e => getComputedStyle(e).direction"))


def send_api(base: str, frm: Account, to: Account, text: str) -> None:
    params = {"peer": {"user_id": to.id}, "text": text, "random_id": random_id()}
    api(base, "messages.sendMessage", params, frm.token)


def post_api(base: str, frm: Account, chat_id: int, text: str) -> dict[str, Any]:
    """Post in a group or channel over the API; returns the message."""
    params = {"peer": {"chat_id": chat_id}, "text": text, "random_id": random_id()}
    return dict(api(base, "messages.sendMessage", params, frm.token)["message"])


def server_copies(base: str, who: Account, peer: Account, text: str) -> int:
    """How many messages with this text the server holds in who's chat with peer."""
    hist = api(base, "messages.getHistory", {"peer": {"user_id": peer.id}, "limit": 100}, who.token)
    return sum(1 for m in hist["messages"] if m["text"] == text)


def wait_outbox_empty(page: Page, who: Account) -> None:
    """The outbox is emptied when the send's answer comes back (a bounded wait)."""
    page.wait_for_function(f"localStorage.getItem('chapar.outbox.{who.id}') === null")
