"""The web client end to end, in headless Chromium against a real server.

Each test drives the pages as a person would (clicks, keys) and waits with Playwright's
auto-waiting ``expect``; counts that must stay at one are checked after a later message
has arrived, so a late duplicate would be seen.
"""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from tests.server import TEST_CODE, ServerProcess, next_test_phone
from tests.web.conftest import PHONE, Account, Browsing, api, sign_up
from tests.web.ui import (
    STATUS,
    Shots,
    bubble,
    direction,
    msg,
    open_chat,
    random_id,
    send,
    send_api,
    server_copies,
    sign_in_ui,
    start_chat,
    wait_outbox_empty,
)


# -- sign-in --------------------------------------------------------------------------------
def test_sign_in_forms_explain_bad_input(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    page = browsing.page(server.url, lang="fa", viewport=PHONE)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("ورود به چاپار")
    shots(page, "sign-in-phone-fa")

    # Not a number at all: caught before asking the server, in Persian.
    page.locator("#phone").fill("12")
    page.locator("#phone").press("Enter")
    expect(page.locator("#auth-error")).to_contain_text("شماره‌ی تلفن درست نیست")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")

    # Shaped like a number but not one: the server's PHONE_NUMBER_INVALID, same message.
    page.locator("#phone").fill("+999 123")
    page.locator("#phone").press("Enter")
    expect(page.locator("#auth-error")).to_contain_text("شماره‌ی تلفن درست نیست")

    # In English, a wrong code says so; the resend timer counts down from `timeout`.
    page.locator(".lang-switch").click()
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    page.locator("#phone").fill(next_test_phone())
    page.locator("#phone").press("Enter")
    expect(page.locator(".resend")).to_contain_text(re.compile(r"Resend in \d:\d\d"))
    page.locator("#code").fill("111111")
    page.locator("#code").press("Enter")
    expect(page.locator("#auth-error")).to_have_text("The code is wrong. Please try again.")

    # The right code for a new number asks for a name, and an empty one is refused.
    page.locator("#code").fill(TEST_CODE)
    page.locator("#code").press("Enter")
    page.locator("#first-name").press("Enter")
    expect(page.locator("#auth-error")).to_have_text("Enter your first name.")
    page.locator("#first-name").fill("Nima")
    page.locator("#first-name").press("Enter")
    expect(page.locator(".sidebar")).to_be_visible()


# -- chatting -------------------------------------------------------------------------------
def test_two_users_chat_both_ways(server: ServerProcess, browsing: Browsing, shots: Shots) -> None:
    a = browsing.page(server.url)
    b = browsing.page(server.url)
    phone_b = next_test_phone()
    sign_in_ui(a, next_test_phone(), "Alice", "Smith")
    sign_in_ui(b, phone_b, "Bob")

    # Alice finds Bob by his number and writes first.
    start_chat(a, phone_b)
    expect(a.locator(".chat-title")).to_have_text("Bob")
    send(a, "Hi Bob! 👋")
    expect(bubble(a, "Hi Bob! 👋").locator(STATUS + ".sent")).to_be_visible()

    # Bob sees a new chat with one unread message; opening it reads it.
    row = b.locator(".chat-row", has_text="Alice Smith")
    expect(row.locator(".badge")).to_have_text("1")
    expect(row.locator(".chat-preview")).to_have_text("Hi Bob! 👋")
    row.click()
    expect(msg(b, "Hi Bob! 👋")).to_have_count(1)
    expect(row.locator(".badge")).to_have_count(0)
    expect(bubble(a, "Hi Bob! 👋").locator(STATUS + ".read")).to_be_visible()

    # Bob types (Alice sees it), breaks a line with Shift+Enter and sends with Enter.
    box = b.locator(".composer-input")
    box.press_sequentially("Hello Alice")
    expect(a.locator(".chat-subtitle.typing")).to_be_visible()
    box.press("Shift+Enter")
    box.press_sequentially("How are you?")
    box.press("Enter")
    expect(box).to_have_value("")
    two_lines = a.locator(".messages .body", has_text="How are you?")
    expect(two_lines).to_have_count(1)
    assert two_lines.evaluate("e => e.textContent") == "Hello Alice\nHow are you?"
    expect(a.locator(".chat-subtitle.typing")).to_have_count(0)

    # Alice replies to it from the message menu; Bob sees the quote.
    two_lines.click(button="right")
    a.get_by_role("menuitem", name="Reply").click()
    expect(a.locator(".composer-bar")).to_contain_text("Reply to Bob")
    send(a, "Fine, thanks!")
    quote = bubble(b, "Fine, thanks!").locator(".reply-quote")
    expect(quote).to_contain_text("How are you?")

    # Alice edits her last message (up arrow in the empty composer); Bob sees the change.
    a.locator(".composer-input").press("ArrowUp")
    expect(a.locator(".composer-bar")).to_contain_text("Editing message")
    send(a, "Fine, thanks! And you?")
    edited = bubble(b, "Fine, thanks! And you?")
    expect(edited.locator(".meta:not(.ghost) .edited")).to_have_text("edited")
    expect(msg(b, "Fine, thanks!")).to_have_count(0)
    shots(b, "chat-en")

    # Bob deletes his message for both, from the keyboard: focus it, Enter opens the menu.
    b.locator(".msg", has=b.locator(".body", has_text="How are you?")).focus()
    b.keyboard.press("Enter")
    b.get_by_role("menuitem", name="Delete").click()
    dialog = b.locator("dialog[open]")
    expect(dialog.get_by_label("Also delete for Alice Smith")).to_be_checked()
    dialog.get_by_role("button", name="Delete").click()
    expect(b.locator(".messages .body", has_text="How are you?")).to_have_count(0)
    expect(a.locator(".messages .body", has_text="How are you?")).to_have_count(0)

    # The chat list search filters by name and by message text.
    send(b, "See you tomorrow")
    expect(msg(a, "See you tomorrow")).to_have_count(1)
    search = a.get_by_label("Search chats")
    search.fill("tomorrow")
    expect(a.locator(".chat-row")).to_have_count(1)
    search.fill("nobody here")
    expect(a.locator(".chat-row")).to_have_count(0)
    expect(a.locator(".list-empty")).to_have_text("Nothing found.")
    search.fill("")
    expect(a.locator(".chat-row")).to_have_count(1)


def test_persian_conversation_is_right_to_left(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    sara = sign_up(server.url, "سارا", "محمدی")
    reza = sign_up(server.url, "رضا", "کریمی")
    s = browsing.page(server.url, lang="fa", account=sara)
    r = browsing.page(server.url, lang="fa", account=reza)
    expect(s.locator("html")).to_have_attribute("dir", "rtl")
    expect(s.locator("html")).to_have_attribute("lang", "fa")

    # Reza finds Sara by her number, typed with Persian digits as a Persian keyboard does.
    start_chat(r, sara.phone.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")))
    send(r, "سلام سارا! امروز ۳ کتاب خریدم 📚")
    send(r, "کتاب\u200cها را فردا می\u200cآورم.")

    row = s.locator(f'.chat-row[data-chat="u{reza.id}"]')
    expect(row.locator(".badge")).to_have_text("۲")  # Persian digits
    expect(row.locator(".chat-time")).to_have_text(re.compile(r"^[۰-۹]{2}:[۰-۹]{2}$"))
    open_chat(s, reza)
    incoming = bubble(s, "سلام سارا! امروز ۳ کتاب خریدم 📚")
    expect(incoming).to_be_visible()
    assert direction(incoming.locator(".text")) == "rtl"
    expect(incoming.locator(".meta:not(.ghost) time")).to_have_text(
        re.compile(r"^[۰-۹]{2}:[۰-۹]{2}$")
    )
    expect(s.locator(".day-sep")).to_have_text("امروز")

    # A message's own text decides its direction: English stays left-to-right.
    send(s, "Hello! This one is in English.")
    mine = bubble(s, "Hello! This one is in English.")
    expect(mine.locator(f"{STATUS}.read, {STATUS}.sent")).to_be_visible()
    assert direction(mine.locator(".text")) == "ltr"
    send(s, "ممنون رضا، منتظرم 🌷")
    expect(msg(r, "ممنون رضا، منتظرم 🌷")).to_be_visible()

    # Own messages sit at the reading end: the left in a right-to-left interface.
    own_box = bubble(s, "ممنون رضا، منتظرم 🌷").locator(".bubble").bounding_box()
    their_box = incoming.locator(".bubble").bounding_box()
    assert own_box is not None and their_box is not None
    assert own_box["x"] < their_box["x"]
    assert own_box["x"] + own_box["width"] < their_box["x"] + their_box["width"]
    s.locator(".composer-input").fill("پیش‌نویس")
    shots(s, "chat-fa")

    # The dark theme, from the settings panel (in Persian).
    s.get_by_label("منو و تنظیمات").click()
    expect(s.locator("#settings-title")).to_have_text("تنظیمات")
    s.locator(".settings").get_by_text("تیره").click()
    expect(s.locator("html")).to_have_attribute("data-theme", "dark")
    shots(s, "settings-fa-dark")
    s.keyboard.press("Escape")
    expect(s.locator(".settings")).to_have_count(0)
    shots(s, "chat-fa-dark")


# -- staying in sync ------------------------------------------------------------------------
WS_REFUSED = re.compile(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/api/ws\?token=.*' failed")
FETCH_REFUSED = re.compile(r"Failed to load resource: net::ERR_CONNECTION_REFUSED")


def test_server_restart_loses_and_repeats_nothing(
    own_server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    srv = own_server
    srv.start()
    ana = sign_up(srv.url, "Ana")
    ben = sign_up(srv.url, "Ben")
    send_api(srv.url, ana, ben, "before the restart")
    a = browsing.page(srv.url, account=ana)
    b = browsing.page(srv.url, account=ben)
    open_chat(a, ben)
    open_chat(b, ana)
    expect(msg(b, "before the restart")).to_have_count(1)

    # While the server is down the clients say so, and what Ana sends waits in her outbox.
    browsing.allowed += [WS_REFUSED, FETCH_REFUSED]
    srv.stop()
    for page in (a, b):
        expect(page.locator("#conn-banner")).to_be_visible()
        expect(page.locator("#conn-banner")).to_contain_text("Connecting")
    send(a, "written while the server was down")
    pending = bubble(a, "written while the server was down")
    expect(pending.locator(STATUS + ".pending")).to_be_visible()
    shots(a, "reconnecting")

    # Back on the same port and data: Ben writes at once, maybe before the clients are
    # back, so Ana may get it only from the log (getDifference) and not as a push.
    srv.start()
    send_api(srv.url, ben, ana, "written right after the restart")
    for page in (a, b):
        expect(page.locator("#conn-banner")).to_be_hidden()
    expect(msg(b, "written while the server was down")).to_have_count(1)
    expect(msg(a, "written right after the restart")).to_have_count(1)
    expect(pending.locator(f"{STATUS}.read, {STATUS}.sent")).to_be_visible()

    # Live again both ways; then nothing was doubled anywhere.
    send(b, "all good?")
    expect(msg(a, "all good?")).to_have_count(1)
    send(a, "all good.")
    expect(msg(b, "all good.")).to_have_count(1)
    for page in (a, b):
        for text in (
            "before the restart",
            "written while the server was down",
            "written right after the restart",
        ):
            expect(msg(page, text)).to_have_count(1)
    assert server_copies(srv.url, ana, ben, "written while the server was down") == 1


def test_message_sent_offline_arrives_once(server: ServerProcess, browsing: Browsing) -> None:
    ana = sign_up(server.url, "Ana")
    ben = sign_up(server.url, "Ben")
    send_api(server.url, ben, ana, "are you there?")
    a = browsing.page(server.url, account=ana)
    b = browsing.page(server.url, account=ben)
    open_chat(a, ben)
    open_chat(b, ana)

    a.context.set_offline(True)
    expect(a.locator("#conn-banner")).to_contain_text("Waiting for network")
    send(a, "typed with no network")
    expect(bubble(a, "typed with no network").locator(STATUS + ".pending")).to_be_visible()
    outbox = a.evaluate(f"localStorage.getItem('chapar.outbox.{ana.id}')")
    assert outbox is not None and "typed with no network" in outbox
    assert server_copies(server.url, ana, ben, "typed with no network") == 0

    # Meanwhile Ben writes: Ana has to fetch it from the log when she is back.
    send(b, "I'll wait")
    a.context.set_offline(False)
    expect(a.locator("#conn-banner")).to_be_hidden()
    expect(msg(b, "typed with no network")).to_have_count(1)
    expect(msg(a, "I'll wait")).to_have_count(1)
    expect(a.locator(".msg[data-rid]")).to_have_count(0)

    send(a, "back online")
    expect(msg(b, "back online")).to_have_count(1)
    expect(msg(b, "typed with no network")).to_have_count(1)
    expect(msg(a, "typed with no network")).to_have_count(1)
    assert server_copies(server.url, ana, ben, "typed with no network") == 1
    wait_outbox_empty(a, ana)


def test_outbox_resent_after_a_lost_answer_makes_one_message(
    server: ServerProcess, browsing: Browsing
) -> None:
    """The server took a message but its answer never came back (the tab closed, say): the
    outbox still holds it and sends it again with the same random_id, which the server
    recognises, so it stays one message."""
    ana = sign_up(server.url, "Ana")
    ben = sign_up(server.url, "Ben")
    text = "applied, but the answer was lost"
    params = {"peer": {"user_id": ben.id}, "text": text, "random_id": random_id()}
    api(server.url, "messages.sendMessage", params, ana.token)
    item = {**params, "reply_to": None, "date": 1_700_000_000, "failed": None}
    outbox = {f"chapar.outbox.{ana.id}": json.dumps([item])}
    a = browsing.page(server.url, account=ana, storage=outbox)
    open_chat(a, ben)
    expect(a.locator(".msg[data-rid]")).to_have_count(0)
    send(a, "and one more")
    expect(bubble(a, "and one more").locator(f"{STATUS}.sent")).to_be_visible()
    expect(msg(a, text)).to_have_count(1)
    assert server_copies(server.url, ana, ben, text) == 1
    wait_outbox_empty(a, ana)


# -- layout and settings --------------------------------------------------------------------
def test_phone_width_layout(server: ServerProcess, browsing: Browsing, shots: Shots) -> None:
    mina = sign_up(server.url, "مینا", "احمدی")
    omid = sign_up(server.url, "امید")
    api(server.url, "account.updateUsername", {"username": f"omid_{omid.id}"}, omid.token)
    send_api(server.url, omid, mina, "سلام مینا، فردا جلسه ساعت ۱۰ است.")
    page = browsing.page(server.url, lang="fa", viewport=PHONE, account=mina)

    # The list alone fills the screen.
    row = page.locator(f'.chat-row[data-chat="u{omid.id}"]')
    expect(row).to_be_visible()
    expect(page.locator(".pane")).to_be_hidden()
    shots(page, "phone-list-fa")

    # A chat replaces it, with a back button; nothing is wider than the screen.
    row.click()
    expect(page.locator(".sidebar")).to_be_hidden()
    expect(page.locator(".chat-subtitle")).to_have_text(f"@omid_{omid.id}")
    long = "این یک پیام بلند است که باید در عرض صفحه‌ی گوشی بشکند و بیرون نزند. " * 3
    send(page, long.strip())
    mine = bubble(page, long.strip()).locator(".bubble")
    expect(mine).to_be_visible()
    box = mine.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shots(page, "phone-chat-fa")
    page.get_by_label("بازگشت").click()
    expect(page.locator(".sidebar")).to_be_visible()
    expect(page.locator(".pane")).to_be_hidden()


def test_settings_profile_sessions_and_log_out(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    acc = sign_up(server.url, "Old", "Name")
    sent = api(server.url, "auth.sendCode", {"phone": acc.phone})
    other = api(
        server.url,
        "auth.signIn",
        {
            "phone": acc.phone,
            "phone_code_hash": sent["phone_code_hash"],
            "code": TEST_CODE,
            "device": "Second device",
        },
    )
    page = browsing.page(server.url, account=acc)
    second = browsing.page(server.url, account=Account(acc.phone, other["token"], acc.user))
    expect(second.locator(".sidebar")).to_be_visible()

    page.get_by_label("Menu and settings").click()
    settings = page.locator(".settings")
    settings.get_by_label("First name").fill("Parisa")
    settings.get_by_label("Last name (optional)").fill("Tehrani")
    settings.get_by_label("Bio").fill("Writes from Tehran 🌆")
    settings.locator(".profile").get_by_role("button", name="Save").click()
    expect(settings.locator(".profile .form-status")).to_have_text("Saved")
    expect(settings.locator(".profile-name")).to_have_text("Parisa Tehrani")

    username = settings.get_by_label("Username")
    username.fill("ab")
    settings.locator(".username").get_by_role("button", name="Save").click()
    expect(settings.locator(".username .form-status")).to_contain_text("5–32")
    username.fill(f"parisa_{acc.id}")
    settings.locator(".username").get_by_role("button", name="Save").click()
    expect(settings.locator(".username .form-status")).to_have_text("Saved")
    expect(settings.locator(".profile-username")).to_have_text(f"@parisa_{acc.id}")
    # The other device follows the profile through the update log.
    second.get_by_label("Menu and settings").click()
    expect(second.locator(".settings .profile-name")).to_have_text("Parisa Tehrani")

    # Sessions: this one is marked, the other can be ended, which signs it out there.
    sessions = settings.locator(".session")
    expect(sessions.first).to_contain_text("This device")
    settings.locator(".panel-body").evaluate("e => e.scrollTo(0, 0)")
    shots(page, "settings-en")
    settings.get_by_role("button", name="Terminate the session Second device").click()
    expect(settings.locator(".session", has_text="Second device")).to_have_count(0)
    expect(second.locator("#phone")).to_be_visible()

    # Language switch keeps the panel open; then log out.
    settings.get_by_text("فارسی").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#settings-title")).to_have_text("تنظیمات")
    page.locator(".logout").click()
    page.locator("dialog[open]").get_by_role("button", name="خروج از حساب").click()
    expect(page.locator("#phone")).to_be_visible()
    assert page.evaluate("localStorage.getItem('chapar.auth')") is None


def test_history_pages_in_when_scrolling_up(server: ServerProcess, browsing: Browsing) -> None:
    kian = sign_up(server.url, "Kian")
    lale = sign_up(server.url, "Lale")
    for n in range(1, 121):
        send_api(server.url, *((kian, lale) if n % 2 else (lale, kian)), f"message {n}")
    page = browsing.page(server.url, account=kian)
    open_chat(page, lale)
    bodies = page.locator(".messages .body")
    expect(bodies).to_have_count(50)  # the newest page
    expect(bodies.last).to_have_text("message 120")
    for shown in (100, 120):
        page.locator(".messages").evaluate("e => e.scrollTo(0, 0)")
        expect(bodies).to_have_count(shown)
    expect(bodies.first).to_have_text("message 1")
    texts = bodies.all_inner_texts()
    assert texts == [f"message {n}" for n in range(1, 121)]
