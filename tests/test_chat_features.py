"""Message features of groups and channels through the running server: public chats by
username, invite links, replies, forwards, mentions, pins, reactions, read positions, edit
and delete, slow mode, service messages, signatures and views, typing; and bad input,
which must get a 4xx with a clear type and change nothing."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server import Api, ServerProcess
from tests.test_chat_rights import upload_small_file
from tests.test_chat_sync import Live, barrier, channel_log, own_log
from tests.test_chats import U, chat, create, new, post

Json = dict[str, Any]
_rids = itertools.count(30_000_000)


def uname(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def group_with(api: Api, owner: U, *members: U, broadcast: bool = False) -> int:
    cid = int((await create(api, owner, broadcast=broadcast, title="features"))["id"])
    if members:
        ids = [m.id for m in members]
        await api.ok("channels.inviteToChannel", {"channel": chat(cid), "users": ids}, owner.token)
    return cid


async def head(api: Api, who: U, cid: int) -> Json:
    """The chat's info and full history as ``who`` sees them: what 'changed nothing' means."""
    full = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, who.token)
    hist = await api.ok("messages.getHistory", {"peer": chat(cid), "limit": 100}, who.token)
    return {"chat": full["chat"], "history": hist["messages"], "count": hist["count"]}


async def refused(api: Api, method: str, params: Json, who: U, status: int, kind: str) -> Json:
    code, body = await api.call(method, params, who.token)
    assert body["ok"] is False, (method, body)
    assert (code, body["error"]["type"]) == (status, kind), body["error"]
    assert body["error"]["message"]
    return dict(body["error"])


def actions(history: list[Json]) -> list[Json]:
    """The service messages of a history page, oldest first."""
    return [m["action"] for m in reversed(history) if "action" in m]


# -- public chats and usernames -----------------------------------------------------------
async def test_public_chats_by_username_share_the_namespace_with_users(api: Api) -> None:
    owner, person, reader = await new(api, "Owner"), await new(api, "Person"), await new(api, "R")
    cid = await group_with(api, owner)
    name = uname("Pub")
    res = await api.ok(
        "channels.updateUsername", {"channel": chat(cid), "username": name}, owner.token
    )
    assert res["chat"]["username"] == name
    # Found by name, joined without an invite.
    found = await api.ok("contacts.search", {"q": name}, reader.token)
    assert [c["id"] for c in found["chats"]] == [cid]
    joined = await api.ok("channels.joinChannel", {"channel": chat(cid)}, reader.token)
    assert joined["chat"]["role"] == "member" and joined["chat"]["members_count"] == 2
    # One namespace for people and chats, whatever the case.
    await refused(
        api, "account.updateUsername", {"username": name.upper()}, person, 400, "USERNAME_OCCUPIED"
    )
    taken = uname("person")
    await api.ok("account.updateUsername", {"username": taken}, person.token)
    other = await group_with(api, owner)
    before = await head(api, owner, other)
    await refused(
        api,
        "channels.updateUsername",
        {"channel": chat(other), "username": taken},
        owner,
        400,
        "USERNAME_OCCUPIED",
    )
    await refused(
        api,
        "channels.updateUsername",
        {"channel": chat(other), "username": name.lower()},
        owner,
        400,
        "USERNAME_OCCUPIED",
    )
    await refused(
        api,
        "channels.updateUsername",
        {"channel": chat(other), "username": "no spaces"},
        owner,
        400,
        "USERNAME_INVALID",
    )
    assert await head(api, owner, other) == before
    # Made private again, the name is free and strangers are out.
    await api.ok("channels.updateUsername", {"channel": chat(cid), "username": ""}, owner.token)
    await api.ok("account.updateUsername", {"username": name}, person.token)
    stranger = await new(api, "Stranger")
    await refused(
        api, "channels.joinChannel", {"channel": chat(cid)}, stranger, 403, "CHANNEL_PRIVATE"
    )


# -- invite links -------------------------------------------------------------------------
async def test_invite_links_export_import_limit_revoke(api: Api) -> None:
    owner = await new(api, "Owner")
    a, b, c, d = [await new(api, n) for n in "ABCD"]
    cid = await group_with(api, owner)
    limited = await api.ok(
        "messages.exportChatInvite", {"peer": chat(cid), "usage_limit": 2}, owner.token
    )
    assert limited["usage_limit"] == 2 and limited["link"].endswith(limited["hash"])
    # By hash or by the whole link.
    await api.ok("messages.importChatInvite", {"hash": limited["hash"]}, a.token)
    await refused(
        api,
        "messages.importChatInvite",
        {"hash": limited["hash"]},
        a,
        400,
        "USER_ALREADY_PARTICIPANT",
    )
    joined = await api.ok("messages.importChatInvite", {"hash": limited["link"]}, b.token)
    assert joined["chat"]["id"] == cid and joined["chat"]["members_count"] == 3
    before = await head(api, owner, cid)
    await refused(
        api, "messages.importChatInvite", {"hash": limited["hash"]}, c, 400, "INVITE_HASH_EXPIRED"
    )
    # Revoked, or never issued: invalid. Expiry in the past: refused at export.
    spare = await api.ok("messages.exportChatInvite", {"peer": chat(cid)}, owner.token)
    assert await api.ok(
        "messages.editExportedChatInvite", {"peer": chat(cid), "hash": spare["hash"]}, owner.token
    )
    await refused(
        api, "messages.importChatInvite", {"hash": spare["hash"]}, c, 400, "INVITE_HASH_INVALID"
    )
    await refused(
        api, "messages.importChatInvite", {"hash": "nosuchlink"}, c, 400, "INVITE_HASH_INVALID"
    )
    await refused(
        api,
        "messages.editExportedChatInvite",
        {"peer": chat(cid), "hash": "nosuchlink"},
        owner,
        400,
        "INVITE_HASH_INVALID",
    )
    await refused(
        api,
        "messages.exportChatInvite",
        {"peer": chat(cid), "expire_date": int(time.time()) - 60},
        owner,
        400,
        "EXPIRE_DATE_INVALID",
    )
    # A link of one chat cannot be revoked through another.
    elsewhere = await group_with(api, owner)
    await refused(
        api,
        "messages.editExportedChatInvite",
        {"peer": chat(elsewhere), "hash": limited["hash"]},
        owner,
        400,
        "INVITE_HASH_INVALID",
    )
    assert await head(api, owner, cid) == before
    # A link with a future expiry works; the joins are service messages.
    later = await api.ok(
        "messages.exportChatInvite",
        {"peer": chat(cid), "expire_date": int(time.time()) + 3600},
        owner.token,
    )
    await api.ok("messages.importChatInvite", {"hash": f"https://t.me/+{later['hash']}"}, d.token)
    hist = await api.ok("messages.getHistory", {"peer": chat(cid)}, owner.token)
    assert actions(hist["messages"]) == [
        {"type": "chat_create", "title": "features"},
        {"type": "chat_join", "users": [a.id]},
        {"type": "chat_join", "users": [b.id]},
        {"type": "chat_join", "users": [d.id]},
    ]


# -- replies and forwards -----------------------------------------------------------------
async def test_replies_point_into_the_same_chat(api: Api) -> None:
    a, b = await new(api, "A"), await new(api, "B")
    cid = await group_with(api, a, b)
    first = await post(api, a, cid, "question")
    body = {"peer": chat(cid), "text": "answer", "random_id": next(_rids)}
    answer = await api.ok(
        "messages.sendMessage", {**body, "reply_to": first["message"]["id"]}, b.token
    )
    assert answer["message"]["reply_to"] == first["message"]["id"]
    # An id of a bigger chat that does not exist here is refused.
    big = await group_with(api, a)
    for i in range(5):
        await post(api, a, big, f"b{i}")
    before = await head(api, a, cid)
    await refused(
        api,
        "messages.sendMessage",
        {"peer": chat(cid), "text": "x", "random_id": next(_rids), "reply_to": 6},
        b,
        400,
        "REPLY_MESSAGE_ID_INVALID",
    )
    assert await head(api, a, cid) == before


async def test_forwards_keep_their_first_origin_and_are_idempotent(api: Api) -> None:
    alice, bob, carol = await new(api, "Alice"), await new(api, "Bob"), await new(api, "Carol")
    group = await group_with(api, bob, carol)
    channel = await group_with(api, alice, bob, broadcast=True)
    # Private to group: the origin is the private sender.
    pm = await api.ok(
        "messages.sendMessage",
        {"peer": {"user_id": bob.id}, "text": "psst", "random_id": next(_rids)},
        alice.token,
    )
    inbox = await api.ok("messages.getHistory", {"peer": {"user_id": alice.id}}, bob.token)
    bobs_copy = inbox["messages"][0]["id"]
    fwd = {
        "from_peer": {"user_id": alice.id},
        "id": [bobs_copy],
        "to_peer": chat(group),
        "random_id": [next(_rids)],
    }
    first = await api.ok("messages.forwardMessages", fwd, bob.token)
    [msg] = first["messages"]
    assert msg["text"] == "psst" and msg["peer"] == chat(group)
    assert msg["fwd_from"]["from_id"] == alice.id
    assert msg["fwd_from"]["date"] == pm["message"]["date"]
    # Repeating it (same random_id) returns the same message and changes nothing.
    before = await head(api, bob, group)
    again = await api.ok("messages.forwardMessages", fwd, bob.token)
    assert again["messages"] == first["messages"]
    assert await head(api, bob, group) == before

    # Channel to private: the origin is the channel post.
    news = await post(api, alice, channel, "news")
    to_carol = await api.ok(
        "messages.forwardMessages",
        {
            "from_peer": chat(channel),
            "id": [news["message"]["id"]],
            "to_peer": {"user_id": carol.id},
            "random_id": [next(_rids)],
        },
        bob.token,
    )
    origin = {"chat_id": channel, "msg_id": news["message"]["id"]}
    sent = to_carol["messages"][0]
    assert {k: sent["fwd_from"].get(k) for k in origin} == origin
    assert "from_id" not in sent["fwd_from"]
    carols = await api.ok("messages.getHistory", {"peer": {"user_id": bob.id}}, carol.token)
    assert carols["messages"][0]["fwd_from"] == sent["fwd_from"]
    # A forward of that forward still names the channel post.
    onward = await api.ok(
        "messages.forwardMessages",
        {
            "from_peer": {"user_id": bob.id},
            "id": [carols["messages"][0]["id"]],
            "to_peer": chat(group),
            "random_id": [next(_rids)],
        },
        carol.token,
    )
    assert onward["messages"][0]["fwd_from"] == sent["fwd_from"]
    # One random_id per message, all distinct.
    await refused(
        api,
        "messages.forwardMessages",
        {**fwd, "id": [bobs_copy, bobs_copy], "random_id": [1, 1]},
        bob,
        400,
        "RANDOM_ID_INVALID",
    )


async def test_a_repeated_send_returns_the_first_message_and_its_pts(
    api: Api, http: aiohttp.ClientSession
) -> None:
    a, b = await new(api, "A"), await new(api, "B")
    cid = await group_with(api, a, b)
    body = {"peer": chat(cid), "text": "once", "random_id": next(_rids)}
    first = await api.ok("messages.sendMessage", body, a.token)
    fid = await upload_small_file(http, api, a)
    media = {
        "peer": chat(cid),
        "random_id": next(_rids),
        "file": {"id": fid, "parts": 1, "mime_type": "text/plain", "name": "a.txt"},
    }
    first_media = await api.ok("messages.sendMedia", media, a.token)
    await post(api, b, cid, "later")  # the chat moves on
    before = await head(api, a, cid)
    assert await api.ok("messages.sendMessage", body, a.token) == first
    assert await api.ok("messages.sendMedia", media, a.token) == first_media
    assert await head(api, a, cid) == before
    log = {u["pts"]: u for u in (await channel_log(api, b, cid))["updates"]}
    assert log[first["pts"]]["message"]["id"] == first["message"]["id"]
    assert log[first_media["pts"]]["message"]["id"] == first_media["message"]["id"]


# -- mentions -----------------------------------------------------------------------------
async def test_mentions_reach_the_mentioned_members_own_log(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b, out = await new(api, "A"), await new(api, "B"), await new(api, "Out")
    b_name, out_name = uname("bee"), uname("out")
    await api.ok("account.updateUsername", {"username": b_name}, b.token)
    await api.ok("account.updateUsername", {"username": out_name}, out.token)
    cid = await group_with(api, a, b)
    b_pts = (await api.ok("updates.getState", {}, b.token))["pts"]
    out_pts = (await api.ok("updates.getState", {}, out.token))["pts"]
    live = await Live.open(http, server, b.token)
    try:
        sent = await post(api, a, cid, f"hey @{b_name.upper()} and @{out_name}, see this")
        pushed = await live.wait_for(lambda u: u["type"] == "updateMention")
    finally:
        await live.close()
    mention = {
        "type": "updateMention",
        "peer": chat(cid),
        "msg_id": sent["message"]["id"],
        "from_id": a.id,
        "pts": b_pts + 1,
    }
    assert pushed == mention
    assert await own_log(api, b, since=b_pts) == [mention]
    assert await own_log(api, out, since=out_pts) == [], "a non-member was told of a mention"
    # Mentioning oneself notifies no one.
    a_name = uname("aaa")
    await api.ok("account.updateUsername", {"username": a_name}, a.token)
    a_pts = (await api.ok("updates.getState", {}, a.token))["pts"]
    await post(api, a, cid, f"note to @{a_name}")
    assert await own_log(api, a, since=a_pts) == []


# -- pins ---------------------------------------------------------------------------------
async def test_pins_are_logged_and_announced_in_groups(api: Api) -> None:
    owner, member = await new(api, "Owner"), await new(api, "Member")
    for broadcast in (False, True):
        cid = await group_with(api, owner, member, broadcast=broadcast)
        target = (await post(api, owner, cid, "read the rules"))["message"]["id"]
        start = (await head(api, owner, cid))["chat"]["pts"]
        assert await api.ok(
            "messages.updatePinnedMessage", {"peer": chat(cid), "id": target}, owner.token
        )
        full = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, member.token)
        assert full["chat"]["pinned_msg_id"] == target
        log = (await channel_log(api, member, cid, since=start))["updates"]
        assert log[0] == {
            "type": "updatePinnedChannelMessage",
            "chat_id": cid,
            "msg_id": target,
            "pts": start + 1,
        }
        if broadcast:
            assert len(log) == 1
        else:
            assert log[1]["message"]["action"] == {"type": "pin_message", "msg_id": target}
        await api.ok(
            "messages.updatePinnedMessage",
            {"peer": chat(cid), "id": target, "unpin": True},
            owner.token,
        )
        log = (await channel_log(api, member, cid, since=start))["updates"]
        assert log[-1]["type"] == "updatePinnedChannelMessage" and log[-1]["msg_id"] is None
        full = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, member.token)
        assert full["chat"].get("pinned_msg_id") is None


# -- reactions ----------------------------------------------------------------------------
async def test_reactions_one_per_user_counted_per_emoji(api: Api) -> None:
    owner, a, b, c = [await new(api, n) for n in ("Owner", "A", "B", "C")]
    cid = await group_with(api, owner, a, b, c, broadcast=True)
    msg = (await post(api, owner, cid, "vote"))["message"]["id"]
    start = (await head(api, owner, cid))["chat"]["pts"]

    async def react(who: U, emoji: str) -> list[Json]:
        res = await api.ok(
            "messages.sendReaction",
            {"peer": chat(cid), "msg_id": msg, "reaction": emoji},
            who.token,
        )
        assert res["msg_id"] == msg
        return sorted(res["reactions"], key=lambda r: r["emoji"])

    assert await react(a, "👍") == [{"emoji": "👍", "count": 1}]
    assert await react(b, "👍") == [{"emoji": "👍", "count": 2}]
    assert await react(c, "❤️") == [{"emoji": "❤️", "count": 1}, {"emoji": "👍", "count": 2}]
    assert await react(a, "👍") == [{"emoji": "❤️", "count": 1}, {"emoji": "👍", "count": 2}]
    assert await react(a, "❤️") == [{"emoji": "❤️", "count": 2}, {"emoji": "👍", "count": 1}]
    assert await react(b, "") == [{"emoji": "❤️", "count": 2}]
    hist = await api.ok("messages.getHistory", {"peer": chat(cid)}, owner.token)
    assert hist["messages"][0]["reactions"] == [{"emoji": "❤️", "count": 2}]
    log = (await channel_log(api, owner, cid, since=start))["updates"]
    assert {u["type"] for u in log} == {"updateChannelMessageReactions"}
    assert log[-1]["reactions"] == [{"emoji": "❤️", "count": 2}] and log[-1]["msg_id"] == msg
    before = await head(api, owner, cid)
    for bad in ("abc", "👍 x"):
        await refused(
            api,
            "messages.sendReaction",
            {"peer": chat(cid), "msg_id": msg, "reaction": bad},
            a,
            400,
            "REACTION_INVALID",
        )
    await refused(
        api,
        "messages.sendReaction",
        {"peer": chat(cid), "msg_id": 1, "reaction": "👍"},  # the chat_create message
        a,
        400,
        "MESSAGE_ID_INVALID",
    )
    assert await head(api, owner, cid) == before


# -- read positions -----------------------------------------------------------------------
async def test_read_positions_and_unread_counts_per_member(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b, c = await new(api, "A"), await new(api, "B"), await new(api, "C")
    cid = await group_with(api, a, b, c)
    for who in (b, c):  # "C joined" is unread for B: start both from a clean slate
        await api.ok("messages.readHistory", {"peer": chat(cid), "max_id": 0}, who.token)
    ids = [(await post(api, a, cid, f"m{i}"))["message"]["id"] for i in range(3)]

    async def dialog(who: U) -> Json:
        ds = await api.ok("messages.getDialogs", {}, who.token)
        return dict(next(d for d in ds["dialogs"] if d["peer"] == chat(cid)))

    assert (await dialog(b))["unread_count"] == 3 and (await dialog(c))["unread_count"] == 3
    assert (await dialog(a))["unread_count"] == 0  # one's own posts are read
    live = await Live.open(http, server, b.token)
    try:
        res = await api.ok("messages.readHistory", {"peer": chat(cid), "max_id": ids[1]}, b.token)
        pushed = await live.wait_for(lambda u: u["type"] == "updateReadChannelInbox")
    finally:
        await live.close()
    read = {
        "type": "updateReadChannelInbox",
        "peer": chat(cid),
        "max_id": ids[1],
        "still_unread_count": 1,
        "pts": res["pts"],
    }
    assert pushed == read and res["pts_count"] == 1
    assert (await own_log(api, b, since=res["pts"] - 1)) == [read]
    d = await dialog(b)
    assert (d["read_inbox_max_id"], d["unread_count"]) == (ids[1], 1)
    assert (await dialog(c))["unread_count"] == 3, "one member's reading moved another's"
    # Reading backwards changes nothing; max_id 0 reads everything.
    again = await api.ok("messages.readHistory", {"peer": chat(cid), "max_id": ids[0]}, b.token)
    assert again == {"pts": res["pts"], "pts_count": 0}
    await api.ok("messages.readHistory", {"peer": chat(cid), "max_id": 0}, b.token)
    d = await dialog(b)
    assert (d["read_inbox_max_id"], d["unread_count"]) == (ids[2], 0)
    # A chat's log holds no read positions.
    log = await channel_log(api, c, cid)
    assert not any("Read" in u["type"] for u in log["updates"])


# -- edit and delete ----------------------------------------------------------------------
async def test_edit_and_delete_follow_rights_and_reach_the_chat_log(api: Api) -> None:
    owner, editor, a, b = [await new(api, n) for n in ("Owner", "Editor", "A", "B")]
    cid = await group_with(api, owner, editor, a, b)
    await api.ok(
        "channels.editAdmin",
        {
            "channel": chat(cid),
            "user_id": editor.id,
            "admin_rights": {"edit_messages": True, "delete_messages": True},
        },
        owner.token,
    )
    mine = (await post(api, a, cid, "typo"))["message"]["id"]
    theirs = (await post(api, b, cid, "b's words"))["message"]["id"]
    start = (await head(api, owner, cid))["chat"]["pts"]
    edited = await api.ok(
        "messages.editMessage", {"peer": chat(cid), "id": mine, "text": "fixed"}, a.token
    )
    assert edited["message"]["text"] == "fixed" and edited["message"]["edit_date"] >= 1
    await api.ok(
        "messages.editMessage", {"peer": chat(cid), "id": theirs, "text": "moderated"}, editor.token
    )
    before = await head(api, owner, cid)
    await refused(
        api,
        "messages.editMessage",
        {"peer": chat(cid), "id": theirs, "text": "mine now"},
        a,
        403,
        "MESSAGE_AUTHOR_REQUIRED",
    )
    await refused(
        api,
        "messages.editMessage",
        {"peer": chat(cid), "id": mine, "text": "fixed"},
        a,
        400,
        "MESSAGE_NOT_MODIFIED",
    )
    await refused(
        api,
        "messages.editMessage",
        {"peer": chat(cid), "id": 1, "text": "new title"},
        owner,
        400,
        "MESSAGE_EDIT_FORBIDDEN",
    )
    await refused(
        api,
        "messages.deleteMessages",
        {"peer": chat(cid), "id": [theirs]},
        a,
        403,
        "MESSAGE_DELETE_FORBIDDEN",
    )
    assert await head(api, owner, cid) == before
    gone = await api.ok("messages.deleteMessages", {"peer": chat(cid), "id": [mine]}, a.token)
    await api.ok("messages.deleteMessages", {"peer": chat(cid), "id": [theirs]}, editor.token)
    log = (await channel_log(api, b, cid, since=start))["updates"]
    assert [(u["type"], u.get("message", {}).get("text"), u.get("messages")) for u in log] == [
        ("updateEditChannelMessage", "fixed", None),
        ("updateEditChannelMessage", "moderated", None),
        ("updateDeleteChannelMessages", None, [mine]),
        ("updateDeleteChannelMessages", None, [theirs]),
    ]
    assert gone["pts"] == start + 3
    hist = await api.ok("messages.getHistory", {"peer": chat(cid)}, b.token)
    assert not {mine, theirs} & {m["id"] for m in hist["messages"]}


# -- slow mode ----------------------------------------------------------------------------
async def test_slow_mode_holds_members_back_but_not_admins(api: Api) -> None:
    owner, member = await new(api, "Owner"), await new(api, "Member")
    cid = await group_with(api, owner, member)
    res = await api.ok(
        "channels.toggleSlowMode", {"channel": chat(cid), "seconds": 60}, owner.token
    )
    assert res["chat"]["slow_mode_seconds"] == 60
    body = {"peer": chat(cid), "text": "first", "random_id": next(_rids)}
    first = await api.ok("messages.sendMessage", body, member.token)
    before = await head(api, owner, cid)
    status, answer = await api.call(
        "messages.sendMessage",
        {"peer": chat(cid), "text": "second", "random_id": next(_rids)},
        member.token,
    )
    assert (status, answer["error"]["type"]) == (429, "FLOOD_WAIT")
    assert 1 <= answer["error"]["retry_after"] <= 60
    assert await head(api, owner, cid) == before
    # A retry of the first post is no second post; admins post freely.
    assert await api.ok("messages.sendMessage", body, member.token) == first
    await post(api, owner, cid, "one")
    await post(api, owner, cid, "two")
    # Slow mode off: the member posts again.
    await api.ok("channels.toggleSlowMode", {"channel": chat(cid), "seconds": 0}, owner.token)
    await post(api, member, cid, "free again")
    await refused(
        api,
        "channels.toggleSlowMode",
        {"channel": chat(cid), "seconds": 7},
        owner,
        400,
        "INPUT_INVALID",
    )


async def test_slow_mode_retry_after_is_also_a_header(
    server: ServerProcess, http: aiohttp.ClientSession, api: Api
) -> None:
    owner, member = await new(api, "Owner"), await new(api, "Member")
    cid = await group_with(api, owner, member)
    await api.ok("channels.toggleSlowMode", {"channel": chat(cid), "seconds": 30}, owner.token)
    await post(api, member, cid, "one")
    async with http.post(
        f"{server.url}/api/messages.sendMessage",
        json={"peer": chat(cid), "text": "two", "random_id": next(_rids)},
        headers={"Authorization": f"Bearer {member.token}"},
    ) as r:
        body = await r.json()
        assert r.status == 429 and r.headers["Retry-After"] == str(body["error"]["retry_after"])


# -- service messages ---------------------------------------------------------------------
async def test_service_messages_record_membership_and_title(api: Api) -> None:
    owner, added, joiner, ghost = [await new(api, n) for n in ("Owner", "Added", "Joiner", "G")]
    cid = int((await create(api, owner, broadcast=False, title="Original"))["id"])
    await api.ok(
        "channels.inviteToChannel", {"channel": chat(cid), "users": [added.id]}, owner.token
    )
    link = await api.ok("messages.exportChatInvite", {"peer": chat(cid)}, owner.token)
    await api.ok("messages.importChatInvite", {"hash": link["hash"]}, joiner.token)
    await api.ok("messages.importChatInvite", {"hash": link["hash"]}, ghost.token)
    await api.ok("channels.leaveChannel", {"channel": chat(cid)}, joiner.token)
    await api.ok("channels.editTitle", {"channel": chat(cid), "title": "Renamed"}, owner.token)
    await api.ok(
        "channels.editBanned",
        {"channel": chat(cid), "user_id": ghost.id, "banned_rights": {"view_messages": True}},
        owner.token,
    )
    hist = await api.ok("messages.getHistory", {"peer": chat(cid)}, added.token)
    assert actions(hist["messages"]) == [
        {"type": "chat_create", "title": "Original"},
        {"type": "chat_add_user", "users": [added.id]},
        {"type": "chat_join", "users": [joiner.id]},
        {"type": "chat_join", "users": [ghost.id]},
        {"type": "chat_leave", "users": [joiner.id]},
        {"type": "chat_edit_title", "title": "Renamed"},
        {"type": "chat_delete_user", "users": [ghost.id]},
    ]
    senders = [m["from_id"] for m in reversed(hist["messages"])]
    assert senders == [owner.id, owner.id, joiner.id, ghost.id, joiner.id, owner.id, owner.id]
    full = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, added.token)
    assert full["chat"]["title"] == "Renamed" and full["chat"]["members_count"] == 2
    # The chat's log says the info changed, for clients to update their copy.
    log = (await channel_log(api, added, cid))["updates"]
    info = [u for u in log if u["type"] == "updateChatInfo"]
    assert [u["title"] for u in info] == ["Renamed"]
    # Channels announce no joins or leaves.
    ch = int((await create(api, owner, broadcast=True, title="Quiet"))["id"])
    await api.ok(
        "channels.inviteToChannel", {"channel": chat(ch), "users": [added.id]}, owner.token
    )
    await api.ok("channels.leaveChannel", {"channel": chat(ch)}, added.token)
    hist = await api.ok("messages.getHistory", {"peer": chat(ch)}, owner.token)
    assert actions(hist["messages"]) == [{"type": "chat_create", "title": "Quiet"}]


# -- signatures and views -----------------------------------------------------------------
async def test_channel_signatures_and_views(api: Api) -> None:
    owner, reader = await new(api, "Olga"), await new(api, "Reader")
    await api.ok("account.updateProfile", {"last_name": "Smith"}, owner.token)
    cid = await group_with(api, owner, reader, broadcast=True)
    unsigned = (await post(api, owner, cid, "plain"))["message"]
    assert "post_author" not in unsigned and unsigned["views"] == 0
    res = await api.ok(
        "channels.toggleSignatures", {"channel": chat(cid), "enabled": True}, owner.token
    )
    assert res["chat"]["signatures"] is True
    signed = (await post(api, owner, cid, "signed"))["message"]
    assert signed["post_author"] == "Olga Smith"
    ids = [unsigned["id"], signed["id"]]
    for expected in ([1, 1], [2, 2]):
        views = await api.ok(
            "messages.getMessagesViews", {"peer": chat(cid), "id": ids}, reader.token
        )
        assert views["views"] == expected
    peek = await api.ok(
        "messages.getMessagesViews",
        {"peer": chat(cid), "id": ids, "increment": False},
        owner.token,
    )
    assert peek["views"] == [2, 2]
    hist = await api.ok("messages.getHistory", {"peer": chat(cid)}, reader.token)
    assert [m["views"] for m in hist["messages"][:2]] == [2, 2]
    # Groups have neither.
    g = await group_with(api, owner, reader)
    msg = (await post(api, owner, g, "group talk"))["message"]
    assert "views" not in msg and "post_author" not in msg
    await refused(
        api,
        "channels.toggleSignatures",
        {"channel": chat(cid), "enabled": True},
        reader,
        403,
        "CHAT_ADMIN_REQUIRED",
    )


# -- typing -------------------------------------------------------------------------------
async def test_typing_in_groups_reaches_other_members_live_without_pts(
    server: ServerProcess, api: Api, http: aiohttp.ClientSession
) -> None:
    a, b, out, helper = [await new(api, n) for n in ("A", "B", "Out", "Helper")]
    cid = await group_with(api, a, b)
    pts = (await head(api, a, cid))["chat"]["pts"]
    b_live = await Live.open(http, server, b.token)
    out_live = await Live.open(http, server, out.token)
    try:
        assert await api.ok("messages.setTyping", {"peer": chat(cid)}, a.token) is True
        typing = await b_live.wait_for(lambda u: u["type"] == "updateChatUserTyping")
        assert typing == {
            "type": "updateChatUserTyping",
            "peer": chat(cid),
            "user_id": a.id,
            "action": "typing",
        }
        await barrier(api, out_live, out, helper)
        assert not [u for u in out_live.pushes if u["type"] == "updateChatUserTyping"]
    finally:
        await b_live.close()
        await out_live.close()
    # Ephemeral: nothing in the chat's log.
    assert (await head(api, a, cid))["chat"]["pts"] == pts


# -- bad input ----------------------------------------------------------------------------
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(api: Api) -> None:
    owner, member, stranger = await new(api, "Owner"), await new(api, "Member"), await new(api, "S")
    small = await group_with(api, owner, member)
    big = await group_with(api, owner, member)
    for i in range(8):
        await post(api, owner, big, f"b{i}")
    other_id = 9  # a message of the big chat; the small one has fewer
    unknown = {"chat_id": 2**62}
    rid = next(_rids)
    # fmt: off
    cases: list[tuple[str, Json, U, int, str]] = [
        # unknown chat
        ("messages.sendMessage", {"peer": unknown, "text": "x", "random_id": rid}, owner, 400, "CHANNEL_INVALID"),
        ("messages.getHistory", {"peer": unknown}, owner, 400, "CHANNEL_INVALID"),
        ("channels.joinChannel", {"channel": unknown}, owner, 400, "CHANNEL_INVALID"),
        ("channels.getFullChannel", {"channel": unknown}, owner, 400, "CHANNEL_INVALID"),
        ("updates.getChannelDifference", {"channel": unknown, "pts": 0}, owner, 400, "CHANNEL_INVALID"),
        ("channels.inviteToChannel", {"channel": unknown, "users": [member.id]}, owner, 400, "CHANNEL_INVALID"),
        ("messages.exportChatInvite", {"peer": unknown}, owner, 400, "CHANNEL_INVALID"),
        # a chat the caller is not in
        ("messages.sendMessage", {"peer": chat(small), "text": "x", "random_id": rid}, stranger, 403, "CHANNEL_PRIVATE"),
        ("messages.getHistory", {"peer": chat(small)}, stranger, 403, "CHANNEL_PRIVATE"),
        # another chat's message ids
        ("messages.editMessage", {"peer": chat(small), "id": other_id, "text": "x"}, owner, 400, "MESSAGE_ID_INVALID"),
        ("messages.deleteMessages", {"peer": chat(small), "id": [other_id]}, owner, 400, "MESSAGE_ID_INVALID"),
        ("messages.deleteMessages", {"peer": chat(small), "id": [1, other_id]}, owner, 400, "MESSAGE_ID_INVALID"),
        ("messages.updatePinnedMessage", {"peer": chat(small), "id": other_id}, owner, 400, "MESSAGE_ID_INVALID"),
        ("messages.sendReaction", {"peer": chat(small), "msg_id": other_id, "reaction": "👍"}, member, 400, "MESSAGE_ID_INVALID"),
        ("messages.forwardMessages", {"from_peer": chat(small), "id": [other_id], "to_peer": chat(big), "random_id": [rid]}, owner, 400, "MESSAGE_ID_INVALID"),
        ("messages.sendMessage", {"peer": chat(small), "text": "x", "random_id": rid, "reply_to": other_id}, owner, 400, "REPLY_MESSAGE_ID_INVALID"),
        # titles
        ("channels.createChannel", {"title": "x" * 129}, owner, 400, "INPUT_INVALID"),
        ("channels.createChannel", {"title": "   "}, owner, 400, "CHAT_TITLE_EMPTY"),
        ("channels.createChannel", {"title": ""}, owner, 400, "INPUT_INVALID"),
        ("channels.editTitle", {"channel": chat(small), "title": "x" * 129}, owner, 400, "INPUT_INVALID"),
        ("channels.editTitle", {"channel": chat(small), "title": " \n "}, owner, 400, "CHAT_TITLE_EMPTY"),
        ("channels.editAbout", {"channel": chat(small), "about": "x" * 256}, owner, 400, "INPUT_INVALID"),
        # invite links
        ("messages.importChatInvite", {"hash": "not-a-link"}, stranger, 400, "INVITE_HASH_INVALID"),
        ("messages.importChatInvite", {"hash": "https://t.me/+"}, stranger, 400, "INVITE_HASH_INVALID"),
        ("messages.importChatInvite", {"hash": ""}, stranger, 400, "INPUT_INVALID"),
        ("messages.importChatInvite", {"hash": "h" * 129}, stranger, 400, "INPUT_INVALID"),
        ("messages.exportChatInvite", {"peer": chat(small), "usage_limit": 0}, owner, 400, "INPUT_INVALID"),
        # peers of the wrong shape
        ("channels.getFullChannel", {"channel": {"user_id": member.id}}, owner, 400, "CHANNEL_INVALID"),
        ("channels.getFullChannel", {"channel": {"chat_id": small, "user_id": member.id}}, owner, 400, "CHANNEL_INVALID"),
        ("channels.getFullChannel", {"channel": {"chat_id": 0}}, owner, 400, "INPUT_INVALID"),
        ("channels.getFullChannel", {"channel": {"chat_id": -small}}, owner, 400, "INPUT_INVALID"),
        ("channels.getFullChannel", {"channel": {"chat_id": 2**63}}, owner, 400, "INPUT_INVALID"),
        ("messages.sendReaction", {"peer": {"user_id": member.id}, "msg_id": 1, "reaction": "👍"}, owner, 400, "PEER_ID_INVALID"),
        # the log
        ("updates.getChannelDifference", {"channel": chat(small), "pts": 10**6}, owner, 400, "PERSISTENT_TIMESTAMP_INVALID"),
        ("updates.getChannelDifference", {"channel": chat(small), "pts": 0, "limit": 0}, owner, 400, "INPUT_INVALID"),
        # members: a bad id late in the list undoes the good ones before it
        ("channels.inviteToChannel", {"channel": chat(small), "users": [stranger.id, 2**62]}, owner, 400, "USER_ID_INVALID"),
        ("channels.editBanned", {"channel": chat(small), "user_id": 2**62, "banned_rights": {"view_messages": True}}, owner, 400, "USER_ID_INVALID"),
        ("channels.editAdmin", {"channel": chat(small), "user_id": stranger.id, "admin_rights": {"pin_messages": True}}, owner, 400, "USER_NOT_PARTICIPANT"),
    ]
    # fmt: on
    users = (owner, member, stranger)

    async def world() -> Json:
        return {
            "small": await head(api, owner, small),
            "big": await head(api, owner, big),
            "states": [(await api.ok("updates.getState", {}, u.token))["pts"] for u in users],
            "dialogs": [
                len((await api.ok("messages.getDialogs", {}, u.token))["dialogs"]) for u in users
            ],
        }

    before = await world()
    for method, params, who, status, kind in cases:
        await refused(api, method, params, who, status, kind)
    assert await world() == before


PEERS: st.SearchStrategy[Any] = st.one_of(
    st.fixed_dictionaries({"chat_id": st.integers(-5, 2**63 + 5)}),
    st.fixed_dictionaries({"user_id": st.integers(-5, 2**63 + 5)}),
    st.just({}),
    st.integers(),
    st.text(max_size=5),
)
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.text(max_size=20),
    PEERS,
    st.lists(st.integers(-5, 2**63 + 5), max_size=3),
)
CHAT_METHODS = sorted(
    [
        "channels.createChannel",
        "channels.inviteToChannel",
        "channels.joinChannel",
        "channels.leaveChannel",
        "channels.editBanned",
        "channels.editAdmin",
        "channels.getParticipants",
        "channels.getFullChannel",
        "channels.editTitle",
        "channels.editAbout",
        "channels.updateUsername",
        "channels.toggleSlowMode",
        "channels.toggleSignatures",
        "messages.exportChatInvite",
        "messages.importChatInvite",
        "messages.editExportedChatInvite",
        "updates.getChannelDifference",
        "messages.sendReaction",
        "messages.updatePinnedMessage",
        "messages.getMessagesViews",
        "messages.forwardMessages",
        "messages.sendMessage",
        "messages.getHistory",
        "messages.readHistory",
        "messages.editMessage",
        "messages.deleteMessages",
        "messages.setTyping",
    ]
)
FIELDS = [
    "channel",
    "peer",
    "from_peer",
    "to_peer",
    "id",
    "msg_id",
    "user_id",
    "users",
    "pts",
    "limit",
    "title",
    "hash",
    "text",
    "random_id",
    "reaction",
    "seconds",
    "max_id",
    "banned_rights",
    "admin_rights",
    "filter",
    "offset",
    "expire_date",
    "usage_limit",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(CHAT_METHODS),
    params=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5),
    use_chat=st.booleans(),
)
def test_no_params_make_a_chat_method_fail_with_5xx(
    server: ServerProcess, method: str, params: Json, use_chat: bool
) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as http:
            api = Api(http, server.url)
            token = await fuzz_token(api)
            if use_chat:  # aim at a real chat the caller owns, so checks go deeper
                for k in ("channel", "peer", "from_peer", "to_peer"):
                    if k in params:
                        params[k] = {"chat_id": FUZZ["chat"]}
            status, body = await api.call(method, params, token)
            assert status < 500, (method, params, body)
            assert body["ok"] is (status == 200)

    asyncio.run(run())


FUZZ: dict[str, Any] = {}


async def fuzz_token(api: Api) -> str:
    """One user and one chat for every fuzz example (the server outlives the event loops)."""
    if "token" not in FUZZ:
        token, _ = await api.sign_up("Fuzz")
        FUZZ["token"] = token
        res = await api.ok("channels.createChannel", {"title": "fuzz", "broadcast": False}, token)
        FUZZ["chat"] = res["chat"]["id"]
    return str(FUZZ["token"])
