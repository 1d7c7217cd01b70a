"""Groups in the web client: three people in three browsers, in Persian.

The group is created through the screens, its posts arrive live in each browser, a member
who was offline catches up from the group's own log (updates.getChannelDifference), and the
owner promotes and removes members from the member list.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, sign_up
from tests.web.ui import Shots, bubble, iso, msg, open_key, post_api, send


def chat_key(page: Page) -> str:
    """The open chat's key, from the address bar (#c123)."""
    m = re.search(r"#(c\d+)$", page.url)
    assert m is not None, page.url
    return m.group(1)


def test_group_of_three_chats_live_and_catches_up(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    sara = sign_up(server.url, "سارا", "محمدی")
    reza = sign_up(server.url, "رضا", "کریمی")
    mina = sign_up(server.url, "مینا", "احمدی")
    s = browsing.page(server.url, lang="fa", account=sara)
    r = browsing.page(server.url, lang="fa", account=reza)
    m = browsing.page(server.url, lang="fa", account=mina)

    # Sara creates the group from the pencil button and adds the others by number.
    s.locator(".fab").click()
    s.get_by_role("button", name="گروه تازه").click()
    s.get_by_label("نام گروه").fill("باشگاه کتاب")
    who = s.get_by_label("افزودن اعضا")
    for person in (reza, mina):
        who.fill(person.phone)
        who.press("Enter")
        expect(who).to_have_value("")
    expect(s.locator(".chips .chip")).to_have_count(2)
    s.get_by_role("button", name="ساختن").click()
    expect(s.locator(".chat-title")).to_have_text("باشگاه کتاب")
    key = chat_key(s)
    expect(s.locator(".chat-subtitle")).to_have_text("۳ عضو")
    notes = s.locator(".service")
    sara_name = iso("سارا محمدی")
    expect(notes.first).to_have_text(f"{sara_name} گروه «{iso('باشگاه کتاب')}» را ساخت")
    for name in ("رضا کریمی", "مینا احمدی"):
        expect(notes.filter(has_text=f"{sara_name} {iso(name)} را افزود")).to_have_count(1)

    # The others see the new group in their lists; a post shows with its sender, unread
    # (for Reza, so is the note that Mina was added after him, as the server counts).
    send(s, "سلام به همه! کتاب این ماه «بوف کور» است 📚")
    for page, unread in ((r, "۲"), (m, "۱")):
        row = page.locator(f'.chat-row[data-chat="{key}"]')
        expect(row.locator(".chat-name")).to_have_text("باشگاه کتاب")
        expect(row.locator(".chat-preview")).to_have_text(
            "سارا محمدی: سلام به همه! کتاب این ماه «بوف کور» است 📚"
        )
        expect(row.locator(".badge")).to_have_text(unread)

    # Reza opens it (which reads it), types (Sara sees who) and answers.
    open_key(r, key)
    expect(r.locator(f'.chat-row[data-chat="{key}"] .badge')).to_have_count(0)
    box = r.locator(".composer-input")
    box.press_sequentially("من خوانده‌ام")
    expect(s.locator(".chat-subtitle")).to_have_text("رضا کریمی در حال نوشتن")
    box.press("Enter")
    expect(box).to_have_value("")
    answer = bubble(s, "من خوانده‌ام")
    expect(answer.locator(".sender")).to_have_text("رضا کریمی")
    expect(answer).to_have_class(re.compile(r"\bin\b"))
    expect(bubble(r, "من خوانده‌ام")).to_have_class(re.compile(r"\bout\b"))

    # Mina opens the group, then loses the network while the others post: when she is
    # back, the group's log fills the gap, each message once.
    open_key(m, key)
    expect(msg(m, "من خوانده‌ام")).to_have_count(1)
    m.context.set_offline(True)
    expect(m.locator("#conn-banner")).to_contain_text("در انتظار شبکه")
    chat_id = int(key[1:])
    post_api(server.url, sara, chat_id, "جلسه پنجشنبه ساعت ۱۸")
    post_api(server.url, reza, chat_id, "من می‌آیم")
    expect(msg(s, "من می‌آیم")).to_have_count(1)
    m.context.set_offline(False)
    expect(m.locator("#conn-banner")).to_be_hidden()
    expect(msg(m, "جلسه پنجشنبه ساعت ۱۸")).to_have_count(1)
    expect(msg(m, "من می‌آیم")).to_have_count(1)
    send(m, "من هم هستم 🙋‍♀️")
    for page in (s, r):
        expect(msg(page, "من هم هستم 🙋‍♀️")).to_have_count(1)
    for text in ("من خوانده‌ام", "جلسه پنجشنبه ساعت ۱۸", "من می‌آیم"):
        expect(msg(m, text)).to_have_count(1)
    expect(bubble(s, "من هم هستم 🙋‍♀️").locator(".sender")).to_have_text("مینا احمدی")
    s.locator(".composer-input").fill("پیش‌نویس")
    shots(s, "group-chat-fa")
    s.locator(".composer-input").fill("")

    # The member list: Sara (the owner) makes Reza an admin, who can then pin.
    s.get_by_role("button", name="باز کردن اطلاعات گفتگو").click()
    members = s.locator(".chat-info .member")
    expect(members).to_have_count(3)
    expect(members.filter(has_text="سارا محمدی").locator(".role")).to_have_text("مالک")
    s.get_by_role("button", name="کارهای رضا کریمی").click()
    s.get_by_role("menuitem", name="مدیر کردن").click()
    expect(members.filter(has_text="رضا کریمی").locator(".role")).to_have_text("مدیر")
    bubble(r, "جلسه پنجشنبه ساعت ۱۸").locator(".bubble").click(button="right")
    r.get_by_role("menuitem", name="سنجاق کردن").click()
    for page in (s, r, m):
        expect(page.locator(".pinned-bar")).to_contain_text("جلسه پنجشنبه ساعت ۱۸")

    # ... and removes Mina: the group leaves her list, and the others see a note.
    s.get_by_role("button", name="کارهای مینا احمدی").click()
    s.get_by_role("menuitem", name="بیرون کردن").click()
    s.locator("dialog[open]").get_by_role("button", name="بیرون کردن").click()
    expect(members).to_have_count(2)
    expect(s.locator(".chat-subtitle")).to_have_text("۲ عضو")
    expect(m.locator(f'.chat-row[data-chat="{key}"]')).to_have_count(0)
    expect(m.locator(".composer-input")).to_be_hidden()
    expect(r.locator(".service", has_text=f"{iso('مینا احمدی')} را بیرون کرد")).to_have_count(1)
