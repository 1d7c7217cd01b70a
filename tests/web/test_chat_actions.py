"""What one does with a message in a group: react (the counts reach everyone), pin (the bar
above the chat), forward to another chat; and the search box, which finds messages
(messages.search) and public chats (contacts.search) beyond the chat list."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, api, sign_up
from tests.web.ui import bubble, iso, open_key, post_api, send_api


def test_reactions_pins_forwarding_and_search(server: ServerProcess, browsing: Browsing) -> None:
    ana = sign_up(server.url, "Ana")
    ben = sign_up(server.url, "Ben")
    chat = api(
        server.url, "channels.createChannel", {"title": "Book club", "broadcast": False}, ana.token
    )["chat"]
    api(
        server.url,
        "channels.inviteToChannel",
        {"channel": {"chat_id": chat["id"]}, "users": [ben.id]},
        ana.token,
    )
    post_api(server.url, ana, chat["id"], "Which book next month?")
    post_api(server.url, ben, chat["id"], "The Blind Owl, by Hedayat")
    send_api(server.url, ben, ana, "See you at the club")
    key = f"c{chat['id']}"
    a = browsing.page(server.url, account=ana)
    b = browsing.page(server.url, account=ben)
    open_key(a, key)
    open_key(b, key)

    # Reactions: Ben picks 👍 from the message menu; Ana sees it and adds hers from the chip.
    question_a = bubble(a, "Which book next month?")
    question_b = bubble(b, "Which book next month?")
    question_b.locator(".bubble").click(button="right")
    b.get_by_role("menuitemradio", name="React with 👍").click()
    question_a.get_by_role("button", name="1 reacted with 👍").click()
    mine = question_a.get_by_role("button", name="2 reacted with 👍")
    expect(mine).to_have_attribute("aria-pressed", "true")
    expect(question_b.get_by_role("button", name="2 reacted with 👍")).to_be_visible()
    # Ben changes his to ❤️ from the keyboard: focus the message, Enter opens the menu.
    question_b.focus()
    b.keyboard.press("Enter")
    b.get_by_role("menuitemradio", name="React with ❤️").click()
    for page in (a, b):
        q = bubble(page, "Which book next month?")
        expect(q.get_by_role("button", name="1 reacted with 👍")).to_be_visible()
        expect(q.get_by_role("button", name="1 reacted with ❤️")).to_be_visible()
    assert question_a.locator(".reaction").count() == 2

    # Ana (the owner) pins Ben's answer: a bar above the chat for both; a click on it goes
    # to the message.
    bubble(a, "The Blind Owl, by Hedayat").locator(".bubble").click(button="right")
    a.get_by_role("menuitem", name="Pin").click()
    bar = b.locator(".pinned-bar")
    expect(bar).to_contain_text("The Blind Owl, by Hedayat")
    bar.get_by_role("button", name="Pinned message: The Blind Owl, by Hedayat").click()
    expect(bubble(b, "The Blind Owl, by Hedayat")).to_be_focused()
    a.locator(".pinned-bar").get_by_role("button", name="Unpin").click()
    expect(bar).to_be_hidden()

    # Ben forwards his answer to Ana privately; both see where it came from.
    bubble(b, "The Blind Owl, by Hedayat").locator(".bubble").click(button="right")
    b.get_by_role("menuitem", name="Forward").click()
    pick = b.locator("dialog.pick")
    pick.get_by_label("Search chats").fill("an")
    pick.get_by_role("button", name="Ana").click()
    expect(b).to_have_url(f"{server.url}/#u{ana.id}")
    forwarded = bubble(b, "The Blind Owl, by Hedayat")
    expect(forwarded.locator(".fwd")).to_have_text("Forwarded from Ben")
    row = a.locator(f'.chat-row[data-chat="u{ben.id}"]')
    expect(row.locator(".chat-preview")).to_have_text("The Blind Owl, by Hedayat")

    # The search box finds messages in every chat, and public chats not in the list.
    other = sign_up(server.url, "Reading", "Room")
    public = api(
        server.url,
        "channels.createChannel",
        {"title": "Book lovers", "broadcast": True},
        other.token,
    )["chat"]
    name = f"book_lovers_{public['id']}"
    api(
        server.url,
        "channels.updateUsername",
        {"channel": {"chat_id": public["id"]}, "username": name},
        other.token,
    )
    search = a.get_by_label("Search chats")
    search.fill("blind owl")
    found = a.locator(".found-messages .result-row")
    expect(found).to_have_count(2)
    found.and_(a.locator(f'[data-chat="{key}"]')).click()
    expect(a).to_have_url(f"{server.url}/#{key}")
    expect(bubble(a, "The Blind Owl, by Hedayat")).to_be_focused()
    search.fill("book")
    expect(a.locator(".chat-row")).to_have_count(1)  # Book club, from the list itself
    result = a.locator(".search-section .result-row", has_text="Book lovers")
    expect(result).to_contain_text(f"@{name}")
    result.click()
    expect(a.locator(".chat-title")).to_have_text("Book lovers")
    expect(a.get_by_role("button", name="Join channel")).to_be_visible()
    expect(a.locator(".service")).to_have_text(f"Channel «{iso('Book lovers')}» created")
