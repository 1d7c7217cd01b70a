"""Channels and joining: a subscriber finds a public channel by its name, joins it, sees
posts live with their views and signatures and cannot post; invite links join a private
group from the address bar or pasted into the new-chat panel."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, api, sign_up
from tests.web.ui import Shots, bubble, iso, msg, post_api, send


def test_channel_subscriber_sees_posts_live_and_cannot_post(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    owner = sign_up(server.url, "خبرگزاری", "چاپار")
    reader = sign_up(server.url, "نیلوفر", "رحیمی")
    o = browsing.page(server.url, lang="fa", account=owner)
    n = browsing.page(server.url, lang="fa", account=reader)

    # The owner creates the channel from the pencil button, then makes it public and signs
    # its posts from its info panel.
    o.locator(".fab").click()
    o.get_by_role("button", name="کانال تازه").click()
    o.get_by_label("نام کانال").fill("اخبار چاپار")
    o.get_by_label("توضیحات (اختیاری)").fill("تازه‌ترین خبرها")
    o.get_by_role("button", name="ساختن").click()
    expect(o.locator(".chat-title")).to_have_text("اخبار چاپار")
    m = re.search(r"#(c(\d+))$", o.url)
    assert m is not None
    key, name = m.group(1), f"chapar_news_{m.group(2)}"
    expect(o.locator(".composer-input")).to_be_visible()
    o.get_by_role("button", name="باز کردن اطلاعات گفتگو").click()
    edit = o.locator(".chat-info .chat-edit")
    edit.get_by_label("نام عمومی").fill(name)
    edit.get_by_label("امضای پست‌ها با نام نویسنده").check()
    edit.get_by_role("button", name="ذخیره").click()
    expect(edit.locator(".form-status")).to_have_text("ذخیره شد")
    expect(o.locator(".chat-info .profile-username")).to_have_text(f"@{name}")
    o.keyboard.press("Escape")
    send(o, "نسخه‌ی تازه‌ی چاپار منتشر شد 🎉")

    # The reader finds the channel by its public name: a preview with a Join button.
    n.locator(".fab").click()
    n.locator("#new-chat-query").fill(f"@{name}")
    n.locator("#new-chat-query").press("Enter")
    expect(n.locator(".chat-title")).to_have_text("اخبار چاپار")
    expect(msg(n, "نسخه‌ی تازه‌ی چاپار منتشر شد 🎉")).to_be_visible()
    expect(n.locator(".composer-input")).to_be_hidden()
    n.get_by_role("button", name="پیوستن به کانال").click()

    # A subscriber cannot post: a note instead of the composer.
    expect(n.locator(".composer-note")).to_have_text("فقط مدیران در این کانال پست می‌گذارند.")
    expect(n.locator(".composer-input")).to_be_hidden()
    expect(n.locator(".chat-subtitle")).to_have_text("۲ مشترک")
    expect(n.locator(f'.chat-row[data-chat="{key}"]')).to_be_visible()
    channel = {"chat_id": int(key[1:])}

    # The owner posts again: it arrives live, signed, with its views counted.
    send(o, "جلسه‌ی معرفی امروز ساعت ۱۷ برگزار می‌شود.")
    post = bubble(n, "جلسه‌ی معرفی امروز ساعت ۱۷ برگزار می‌شود.")
    expect(post).to_be_visible()
    expect(post.locator(".meta:not(.ghost) .signature")).to_have_text("خبرگزاری چاپار")
    expect(post.locator(".meta:not(.ghost) .views")).to_have_text(re.compile(r"^[۱-۹][۰-۹]*$"))
    # Channel posts read as the channel's, not as bubbles of one side.
    expect(post).to_have_class(re.compile(r"\bin\b"))
    expect(post.locator(".status")).to_have_count(0)
    row = n.locator(f'.chat-row[data-chat="{key}"]')
    expect(row.locator(".chat-preview")).to_have_text("جلسه‌ی معرفی امروز ساعت ۱۷ برگزار می‌شود.")

    # Views counted by the reader reach the server.
    hist = api(server.url, "messages.getHistory", {"peer": channel, "limit": 5}, owner.token)
    newest = hist["messages"][0]
    assert newest["text"] == "جلسه‌ی معرفی امروز ساعت ۱۷ برگزار می‌شود."
    assert newest["views"] >= 1

    # The subscriber sees the channel's info, but not its subscribers (admins only).
    n.get_by_role("button", name="باز کردن اطلاعات گفتگو").click()
    info = n.locator(".chat-info")
    expect(info.locator(".profile-name")).to_have_text("اخبار چاپار")
    expect(info.locator(".profile-username")).to_have_text(f"@{name}")
    expect(info.locator(".chat-about")).to_have_text("تازه‌ترین خبرها")
    expect(info.locator(".member")).to_have_count(0)
    expect(info.get_by_role("button", name="ترک کانال")).to_be_visible()
    n.keyboard.press("Escape")
    expect(info).to_have_count(0)
    n.locator(".messages").focus()
    n.mouse.move(600, 300)
    shots(n, "channel-fa")


def test_join_by_invite_link(server: ServerProcess, browsing: Browsing) -> None:
    owner = sign_up(server.url, "Omid")
    ali = sign_up(server.url, "Ali")
    bita = sign_up(server.url, "Bita")
    chat = api(
        server.url,
        "channels.createChannel",
        {"title": "Hiking club", "broadcast": False},
        owner.token,
    )["chat"]
    post_api(server.url, owner, chat["id"], "Saturday: Darband at 7")
    link = api(
        server.url, "messages.exportChatInvite", {"peer": {"chat_id": chat["id"]}}, owner.token
    )
    assert re.fullmatch(r"/join/[\w-]+", link["link"])
    key = f"c{chat['id']}"

    # The link opened in the address bar: asked, joined, the chat opens.
    a = browsing.page(server.url, account=ali, path=link["link"])
    dialog = a.locator("dialog[open]")
    expect(dialog).to_contain_text("Join the chat this invite link leads to?")
    dialog.get_by_role("button", name="Join").click()
    expect(a.locator(".chat-title")).to_have_text("Hiking club")
    expect(a).to_have_url(re.compile(rf"/#{key}$"))
    expect(msg(a, "Saturday: Darband at 7")).to_be_visible()
    expect(a.locator(".service", has_text=f"{iso('Ali')} joined by invite link")).to_have_count(1)
    send(a, "Count me in")

    # The whole link pasted into the new-chat panel does the same.
    b = browsing.page(server.url, account=bita)
    b.locator(".fab").click()
    b.locator("#new-chat-query").fill(f"{server.url}{link['link']}")
    b.locator("#new-chat-query").press("Enter")
    b.locator("dialog[open]").get_by_role("button", name="Join").click()
    expect(b.locator(".chat-title")).to_have_text("Hiking club")
    expect(msg(b, "Count me in")).to_be_visible()
    expect(b.locator(".chat-subtitle")).to_have_text("3 members")
    send(b, "Me too")
    expect(msg(a, "Me too")).to_have_count(1)

    # A link that leads nowhere says so.
    b.locator(".fab").click()
    b.locator("#new-chat-query").fill("/join/nosuchlink")
    b.locator("#new-chat-query").press("Enter")
    b.locator("dialog[open]").get_by_role("button", name="Join").click()
    expect(b.locator(".toast")).to_have_text("This invite link is not valid.")
