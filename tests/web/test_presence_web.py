"""The private chat's header says whether the person is online, or when they were last
seen, refreshed by pushes (Persian and English)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, api, sign_up
from tests.web.ui import open_chat, random_id


def test_the_chat_header_shows_online_then_last_seen(
    server: ServerProcess, browsing: Browsing
) -> None:
    mina = sign_up(server.url, "مینا")
    omid = sign_up(server.url, "Omid")
    params = {"peer": {"user_id": mina.id}, "text": "salam", "random_id": random_id()}
    api(server.url, "messages.sendMessage", params, omid.token)

    m = browsing.page(server.url, lang="fa", account=mina)
    open_chat(m, omid)
    header = m.locator(".chat-subtitle")
    expect(header).to_have_text("")  # never seen, no public username or phone

    o = browsing.page(server.url, lang="en", account=omid)
    expect(m.locator(".chat-subtitle.online")).to_have_text("آنلاین")
    open_chat(o, mina)
    expect(o.locator(".chat-subtitle.online")).to_have_text("online")

    o.close()  # Omid's only socket closes
    expect(header).to_have_text("لحظاتی پیش آنلاین بود")
    expect(m.locator(".chat-subtitle.online")).to_have_count(0)
