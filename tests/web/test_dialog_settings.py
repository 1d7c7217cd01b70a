"""Pinned and muted chats in the chat list: pinned from a row's menu (mouse and keyboard)
the chat goes to the top with a pin mark; muted it shows a muted mark and a grey unread
badge; another tab of the same account (in Persian) follows each change live; the order
survives a reload; a sixth pin is refused with a readable notice."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, api, sign_up
from tests.web.ui import Shots, post_api, send_api

ROWS = ".chat-list-wrap > .chat-list > li > .chat-row"


def row(page: Page, key: str) -> Locator:
    return page.locator(f'{ROWS}[data-chat="{key}"]')


def first_rows(page: Page, keys: list[str]) -> None:
    """The list starts with these chats, in this order."""
    for i, key in enumerate(keys):
        expect(page.locator(ROWS).nth(i)).to_have_attribute("data-chat", key)


def test_pin_and_mute_from_the_chat_list(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    # Where a group falls among chats whose last messages share a second depends on ids,
    # not on the order they were written: only orders that do not hang on that are checked.
    ana = sign_up(server.url, "Ana")
    ben = sign_up(server.url, "Ben")
    cy = sign_up(server.url, "Cy")
    dee = sign_up(server.url, "Dee")
    group = api(
        server.url, "channels.createChannel", {"title": "Runners", "broadcast": False}, dee.token
    )["chat"]
    api(
        server.url,
        "channels.inviteToChannel",
        {"channel": {"chat_id": group["id"]}, "users": [ana.id]},
        dee.token,
    )
    send_api(server.url, ben, ana, "Ben here")  # the oldest
    post_api(server.url, dee, group["id"], "Run at six?")
    send_api(server.url, cy, ana, "Cy here")  # the newest
    g, b, c = f"c{group['id']}", f"u{ben.id}", f"u{cy.id}"

    page = browsing.page(server.url, account=ana)
    other = browsing.page(server.url, account=ana, lang="fa")  # another tab, in Persian
    expect(row(page, b)).to_be_visible()
    expect(row(other, b)).to_be_visible()

    # Right click on Ben's chat, Pin: it goes to the top with the mark, in both tabs.
    row(page, b).click(button="right")
    menu = page.get_by_role("menu", name="Chat actions")
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["Pin", "Mute for 1 hour", "Mute for 8 hours", "Mute forever"]
    )
    menu.get_by_role("menuitem", name="Pin").click()
    for p in (page, other):
        first_rows(p, [b])
    expect(row(page, b).get_by_role("img", name="Pinned")).to_be_visible()
    expect(row(other, b).get_by_role("img", name="سنجاق‌شده")).to_be_visible()
    expect(row(page, c).get_by_role("img", name="Pinned")).to_have_count(0)
    # A new message elsewhere does not move it.
    send_api(server.url, cy, ana, "Cy again")
    expect(row(page, c).locator(".chat-preview")).to_have_text("Cy again")
    first_rows(page, [b])

    # From the keyboard: the group's row, the context-menu key, Mute forever. The muted
    # mark shows in both tabs and its unread badge turns grey.
    row(page, g).focus()
    page.keyboard.press("Shift+F10")
    page.get_by_role("menuitem", name="Mute forever").click()
    expect(row(page, g)).to_be_focused()
    expect(row(page, g).get_by_role("img", name="Muted")).to_be_visible()
    expect(row(other, g).get_by_role("img", name="بی‌صدا")).to_be_visible()
    badge = row(page, g).locator(".badge")
    expect(badge).to_have_class("badge muted")
    expect(row(page, c).locator(".badge")).to_have_class("badge")
    grey = badge.evaluate("e => getComputedStyle(e).backgroundColor")
    green = row(page, c).locator(".badge").evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey != green
    d = next(
        d
        for d in api(server.url, "messages.getDialogs", {}, ana.token)["dialogs"]
        if d["peer"] == {"chat_id": group["id"]}
    )
    assert d["mute_until"] == 2**31 - 1 and "pinned" not in d
    # Pinned on top of Ben from the keyboard too: the most recently pinned comes first.
    page.keyboard.press("Shift+F10")
    page.get_by_role("menuitem", name="Pin").click()
    for p in (page, other):
        first_rows(p, [g, b, c])
    shots(page, "pinned-muted-en")

    # The order and the marks come back from the server after a reload.
    page.reload()
    first_rows(page, [g, b, c])
    expect(row(page, g).get_by_role("img", name="Muted")).to_be_visible()
    expect(row(page, b).get_by_role("img", name="Pinned")).to_be_visible()

    # Unmute and unpin from the Persian tab: the English one follows.
    row(other, g).click(button="right")
    other.get_by_role("menuitem", name="صدادار کردن").click()
    row(other, b).click(button="right")
    other.get_by_role("menuitem", name="برداشتن سنجاق").click()
    expect(row(page, g).get_by_role("img", name="Muted")).to_have_count(0)
    expect(row(page, b).get_by_role("img", name="Pinned")).to_have_count(0)
    expect(row(page, g).locator(".badge")).to_have_class("badge")
    first_rows(page, [g, c, b])

    # Five pins at most: four more over the API (the tabs follow), the sixth is refused.
    extra = [sign_up(server.url, f"Friend {i}") for i in range(4)]
    for f in extra:
        send_api(server.url, f, ana, f"hi from {f.user['first_name']}")
    for f in extra:
        params = {"peer": {"user_id": f.id}, "pinned": True}
        api(server.url, "messages.toggleDialogPin", params, ana.token)
    first_rows(page, [f"u{f.id}" for f in reversed(extra)] + [g])
    row(page, c).click(button="right")
    page.get_by_role("menuitem", name="Pin").click()
    expect(page.locator(".toast")).to_have_text("You can pin up to 5 chats. Unpin one first.")
    expect(row(page, c).get_by_role("img", name="Pinned")).to_have_count(0)
    expect(page.locator(f"{ROWS} .chat-pin")).to_have_count(5)
