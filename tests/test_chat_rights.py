"""Roles and rights in groups and channels, through the running server.

One table holds a refusal for every method that touches a group or channel (a test checks
that the table keeps up with the method table): who calls, with what, and the error it
must get. Each refusal runs against a fresh little world and must change nothing: the
chats (info, pts, history, participants), every user's log and every user's dialogs are
the same before and after. Further tests show the rights working where they are held.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from chapar.protocol.methods import METHODS
from tests.server import Api
from tests.test_chats import U, chat, create, err, new, post

Json = dict[str, Any]
_rids = itertools.count(20_000_000)
ROLES = ("owner", "admin", "pinner", "member", "restricted", "outsider", "banned", "subscriber")
ALL_RIGHTS = (
    "post_messages",
    "edit_messages",
    "delete_messages",
    "ban_users",
    "invite_users",
    "pin_messages",
    "add_admins",
    "change_info",
)
ADMIN_RIGHTS = {
    "ban_users": True,
    "invite_users": True,
    "add_admins": True,
    "delete_messages": True,
}


@dataclass
class World:
    """A private group and a public channel, with one user of each standing.

    group: owner (creator), admin (ban, invite, add admins, delete), pinner (admin who may
    only pin), member, restricted (may not post), banned (was a member). channel: owner,
    subscriber, banned. The outsider is in neither."""

    users: dict[str, U]
    group: int
    channel: int
    channel_username: str
    g_owner_msg: int
    g_member_msg: int
    c_post: int
    invite: str
    file_id: int

    def __getattr__(self, role: str) -> U:
        if role in ROLES:
            return self.users[role]
        raise AttributeError(role)


def ban(user_id: int, **rights: bool) -> Json:
    return {"user_id": user_id, "banned_rights": rights}


async def upload_small_file(http: aiohttp.ClientSession, api: Api, who: U) -> int:
    fid = next(_rids)
    async with http.put(
        f"{api.base}/api/files/{fid}/parts/0?total=1",
        data=b"a small document",
        headers={"Authorization": f"Bearer {who.token}"},
    ) as r:
        assert r.status == 200, await r.text()
    return fid


async def build(api: Api, http: aiohttp.ClientSession) -> World:
    users = {role: await new(api, role.title()) for role in ROLES}
    owner = users["owner"]
    g = (await create(api, owner, broadcast=False, title="Private group"))["id"]
    ids = [users[r].id for r in ("admin", "pinner", "member", "restricted", "banned")]
    await api.ok("channels.inviteToChannel", {"channel": chat(g), "users": ids}, owner.token)
    for role, rights in (("admin", ADMIN_RIGHTS), ("pinner", {"pin_messages": True})):
        params = {"channel": chat(g), "user_id": users[role].id, "admin_rights": rights}
        await api.ok("channels.editAdmin", params, owner.token)
    g_owner_msg = (await post(api, owner, g, "from the owner"))["message"]["id"]
    g_member_msg = (await post(api, users["member"], g, "from a member"))["message"]["id"]
    await post(api, users["banned"], g, "before the ban")
    await api.ok(
        "channels.editBanned",
        {"channel": chat(g), **ban(users["restricted"].id, send_messages=True)},
        owner.token,
    )
    await api.ok(
        "channels.editBanned",
        {"channel": chat(g), **ban(users["banned"].id, view_messages=True)},
        owner.token,
    )
    c = (await create(api, owner, broadcast=True, title="Public channel"))["id"]
    username = f"rights{uuid.uuid4().hex[:12]}"
    await api.ok("channels.updateUsername", {"channel": chat(c), "username": username}, owner.token)
    for role in ("subscriber", "banned"):
        await api.ok("channels.joinChannel", {"channel": chat(c)}, users[role].token)
    await api.ok(
        "channels.editBanned",
        {"channel": chat(c), **ban(users["banned"].id, view_messages=True)},
        owner.token,
    )
    c_post = (await post(api, owner, c, "a post"))["message"]["id"]
    invite = (await api.ok("messages.exportChatInvite", {"peer": chat(g)}, owner.token))["hash"]
    # Everyone who might send media in a case holds a finished upload.
    file_id = await upload_small_file(http, api, users["subscriber"])
    return World(users, g, c, username, g_owner_msg, g_member_msg, c_post, invite, file_id)


async def snapshot(api: Api, w: World) -> Json:
    """Everything a refusal could have changed, as the owner and each user see it."""
    owner = w.owner.token
    out: Json = {}
    for cid in (w.group, w.channel):
        out[f"chat{cid}"] = await api.ok("channels.getFullChannel", {"channel": chat(cid)}, owner)
        out[f"history{cid}"] = await api.ok(
            "messages.getHistory", {"peer": chat(cid), "limit": 100}, owner
        )
        for f in ("recent", "admins", "banned"):
            out[f"{f}{cid}"] = await api.ok(
                "channels.getParticipants", {"channel": chat(cid), "filter": f}, owner
            )
    for role, u in w.users.items():
        out[f"state-{role}"] = (await api.ok("updates.getState", {}, u.token))["pts"]
        dialogs = await api.ok("messages.getDialogs", {}, u.token)
        del dialogs["state"]["date"]
        out[f"dialogs-{role}"] = dialogs
    return out


@dataclass(frozen=True)
class Case:
    actor: str
    method: str
    params: Callable[[World], Json]
    status: int
    type: str

    @property
    def id(self) -> str:
        return f"{self.method}:{self.actor}:{self.type}"


def send_to(which: str) -> Callable[[World], Json]:
    return lambda w: {"peer": chat(getattr(w, which)), "text": "x", "random_id": next(_rids)}


def in_group(**extra: Any) -> Callable[[World], Json]:
    return lambda w: {"channel": chat(w.group), **extra}


def in_channel(**extra: Any) -> Callable[[World], Json]:
    return lambda w: {"channel": chat(w.channel), **extra}


def msg_in(which: str, attr: str, **extra: Any) -> Callable[[World], Json]:
    """{"peer": <the chat>, "id": <one of its messages>, ...}"""
    return lambda w: {"peer": chat(getattr(w, which)), "id": getattr(w, attr), **extra}


def forward(src: str, attr: str, to: str) -> Callable[[World], Json]:
    """Forward a message of chat ``src`` to chat ``to``, or to the caller's saved messages."""

    def params(w: World) -> Json:
        dst = {"user_id": w.outsider.id} if to == "outsider" else chat(getattr(w, to))
        rid = [next(_rids)]
        return {
            "from_peer": chat(getattr(w, src)),
            "id": [getattr(w, attr)],
            "to_peer": dst,
            "random_id": rid,
        }

    return params


def ban_in(which: str, target: str, **rights: bool) -> Callable[[World], Json]:
    return lambda w: {"channel": chat(getattr(w, which)), **ban(getattr(w, target).id, **rights)}


def promote(target: str, **rights: bool) -> Callable[[World], Json]:
    return lambda w: {
        "channel": chat(w.group),
        "user_id": getattr(w, target).id,
        "admin_rights": rights,
    }


def media_to(which: str) -> Callable[[World], Json]:
    file = {"parts": 1, "mime_type": "text/plain", "name": "a.txt"}
    return lambda w: {
        "peer": chat(getattr(w, which)),
        "random_id": next(_rids),
        "file": {"id": w.file_id, **file},
    }


FORBIDDEN_WRITE = (403, "CHAT_WRITE_FORBIDDEN")
ADMIN_REQUIRED = (403, "CHAT_ADMIN_REQUIRED")
PRIVATE = (403, "CHANNEL_PRIVATE")
NOT_PARTICIPANT = (403, "USER_NOT_PARTICIPANT")


def case(
    actor: str, method: str, params: Callable[[World], Json], outcome: tuple[int, str]
) -> Case:
    return Case(actor, method, params, *outcome)


# fmt: off
CASES = [
    # -- posting
    case("subscriber", "messages.sendMessage", send_to("channel"), FORBIDDEN_WRITE),
    case("restricted", "messages.sendMessage", send_to("group"), FORBIDDEN_WRITE),
    case("outsider", "messages.sendMessage", send_to("group"), PRIVATE),
    case("banned", "messages.sendMessage", send_to("group"), PRIVATE),
    case("banned", "messages.sendMessage", send_to("channel"), PRIVATE),
    case("outsider", "messages.sendMessage", send_to("channel"), NOT_PARTICIPANT),
    case("subscriber", "messages.sendMedia", media_to("channel"), FORBIDDEN_WRITE),
    case("subscriber", "messages.forwardMessages", forward("channel", "c_post", "channel"), FORBIDDEN_WRITE),
    case("restricted", "messages.forwardMessages", forward("group", "g_owner_msg", "group"), FORBIDDEN_WRITE),
    case("outsider", "messages.forwardMessages", forward("group", "g_owner_msg", "outsider"), PRIVATE),
    # -- reading a private group from outside, or after a ban
    case("outsider", "messages.getHistory", lambda w: {"peer": chat(w.group)}, PRIVATE),
    case("banned", "messages.getHistory", lambda w: {"peer": chat(w.group)}, PRIVATE),
    case("banned", "messages.getHistory", lambda w: {"peer": chat(w.channel)}, PRIVATE),
    case("outsider", "updates.getChannelDifference", in_group(pts=0), PRIVATE),
    case("banned", "updates.getChannelDifference", in_group(pts=0), PRIVATE),
    case("banned", "updates.getChannelDifference", in_channel(pts=0), PRIVATE),
    case("outsider", "channels.getFullChannel", in_group(), PRIVATE),
    case("banned", "channels.getFullChannel", in_group(), PRIVATE),
    case("banned", "channels.getFullChannel", in_channel(), PRIVATE),
    case("outsider", "messages.search", lambda w: {"q": "owner", "peer": chat(w.group)}, PRIVATE),
    case("banned", "messages.search", lambda w: {"q": "owner", "peer": chat(w.group)}, PRIVATE),
    case("outsider", "messages.getMessagesViews", lambda w: {"peer": chat(w.group), "id": [w.g_owner_msg]}, PRIVATE),
    case("banned", "messages.getMessagesViews", lambda w: {"peer": chat(w.channel), "id": [w.c_post]}, PRIVATE),
    case("outsider", "messages.getMediaUrl", lambda w: {"peer": chat(w.group), "msg_id": w.g_owner_msg}, PRIVATE),
    case("outsider", "messages.readHistory", lambda w: {"peer": chat(w.group), "max_id": 0}, PRIVATE),
    case("banned", "messages.readHistory", lambda w: {"peer": chat(w.group), "max_id": 0}, PRIVATE),
    case("outsider", "messages.setTyping", lambda w: {"peer": chat(w.group)}, PRIVATE),
    case("outsider", "messages.sendReaction", lambda w: {"peer": chat(w.group), "msg_id": w.g_owner_msg, "reaction": "👍"}, PRIVATE),
    case("banned", "messages.sendReaction", lambda w: {"peer": chat(w.channel), "msg_id": w.c_post, "reaction": "👍"}, PRIVATE),
    case("outsider", "channels.getParticipants", in_group(), PRIVATE),
    case("outsider", "channels.getParticipants", in_channel(filter="admins"), NOT_PARTICIPANT),
    # -- joining: private chats only by link, banned users not at all, members not twice
    case("outsider", "channels.joinChannel", in_group(), PRIVATE),
    case("banned", "channels.joinChannel", in_group(), PRIVATE),
    case("banned", "channels.joinChannel", in_channel(), PRIVATE),
    case("member", "channels.joinChannel", in_group(), (400, "USER_ALREADY_PARTICIPANT")),
    case("banned", "messages.importChatInvite", lambda w: {"hash": w.invite}, PRIVATE),
    case("member", "messages.importChatInvite", lambda w: {"hash": w.invite}, (400, "USER_ALREADY_PARTICIPANT")),
    case("owner", "channels.leaveChannel", in_group(), (400, "CREATOR_CANNOT_LEAVE")),
    case("outsider", "channels.leaveChannel", in_group(), PRIVATE),
    case("outsider", "channels.leaveChannel", in_channel(), NOT_PARTICIPANT),
    # -- adding people
    case("subscriber", "channels.inviteToChannel", lambda w: {"channel": chat(w.channel), "users": [w.outsider.id]}, ADMIN_REQUIRED),
    case("member", "channels.inviteToChannel", lambda w: {"channel": chat(w.group), "users": [w.banned.id]}, (403, "USER_BANNED_IN_CHANNEL")),
    case("outsider", "channels.inviteToChannel", lambda w: {"channel": chat(w.group), "users": [w.outsider.id]}, PRIVATE),
    case("member", "messages.exportChatInvite", lambda w: {"peer": chat(w.group)}, ADMIN_REQUIRED),
    case("subscriber", "messages.exportChatInvite", lambda w: {"peer": chat(w.channel)}, ADMIN_REQUIRED),
    case("member", "messages.editExportedChatInvite", lambda w: {"peer": chat(w.group), "hash": w.invite}, ADMIN_REQUIRED),
    # -- banning and promoting
    case("member", "channels.editBanned", ban_in("group", "outsider", view_messages=True), ADMIN_REQUIRED),
    case("pinner", "channels.editBanned", ban_in("group", "member", view_messages=True), ADMIN_REQUIRED),
    case("subscriber", "channels.editBanned", ban_in("channel", "outsider", view_messages=True), ADMIN_REQUIRED),
    # only the creator can ban an admin, and nobody the creator
    case("admin", "channels.editBanned", ban_in("group", "pinner", view_messages=True), (403, "USER_ADMIN_INVALID")),
    case("admin", "channels.editBanned", ban_in("group", "owner", send_messages=True), (403, "USER_ADMIN_INVALID")),
    case("pinner", "channels.editBanned", ban_in("group", "banned"), ADMIN_REQUIRED),
    case("member", "channels.editAdmin", promote("member", pin_messages=True), ADMIN_REQUIRED),
    case("pinner", "channels.editAdmin", promote("member", pin_messages=True), ADMIN_REQUIRED),
    # an admin cannot grant a right it lacks, nor change the creator
    case("admin", "channels.editAdmin", promote("member", change_info=True), (403, "RIGHT_FORBIDDEN")),
    case("admin", "channels.editAdmin", promote("member", invite_users=True, pin_messages=True), (403, "RIGHT_FORBIDDEN")),
    case("admin", "channels.editAdmin", promote("owner"), (403, "USER_CREATOR")),
    case("owner", "channels.editAdmin", promote("owner", pin_messages=True), (403, "USER_CREATOR")),
    # -- chat info
    case("member", "channels.editTitle", in_group(title="mine now"), ADMIN_REQUIRED),
    case("admin", "channels.editTitle", in_group(title="mine now"), ADMIN_REQUIRED),
    case("subscriber", "channels.editTitle", in_channel(title="mine now"), ADMIN_REQUIRED),
    case("member", "channels.editAbout", in_group(about="mine now"), ADMIN_REQUIRED),
    case("member", "channels.updateUsername", in_group(username="takeover1"), ADMIN_REQUIRED),
    case("subscriber", "channels.updateUsername", in_channel(username=""), ADMIN_REQUIRED),
    case("member", "channels.toggleSlowMode", in_group(seconds=60), ADMIN_REQUIRED),
    case("subscriber", "channels.toggleSignatures", in_channel(enabled=True), ADMIN_REQUIRED),
    case("pinner", "channels.toggleSignatures", in_group(enabled=True), ADMIN_REQUIRED),
    # -- pins, edits, deletes of others' messages
    case("member", "messages.updatePinnedMessage", msg_in("group", "g_owner_msg"), ADMIN_REQUIRED),
    case("admin", "messages.updatePinnedMessage", msg_in("group", "g_owner_msg"), ADMIN_REQUIRED),
    case("subscriber", "messages.updatePinnedMessage", msg_in("channel", "c_post"), ADMIN_REQUIRED),
    case("member", "messages.editMessage", msg_in("group", "g_owner_msg", text="rewritten"), (403, "MESSAGE_AUTHOR_REQUIRED")),
    case("admin", "messages.editMessage", msg_in("group", "g_member_msg", text="rewritten"), (403, "MESSAGE_AUTHOR_REQUIRED")),
    case("subscriber", "messages.editMessage", msg_in("channel", "c_post", text="rewritten"), (403, "MESSAGE_AUTHOR_REQUIRED")),
    case("outsider", "messages.editMessage", msg_in("group", "g_owner_msg", text="rewritten"), PRIVATE),
    case("member", "messages.deleteMessages", lambda w: {"peer": chat(w.group), "id": [w.g_owner_msg]}, (403, "MESSAGE_DELETE_FORBIDDEN")),
    case("pinner", "messages.deleteMessages", lambda w: {"peer": chat(w.group), "id": [w.g_member_msg]}, (403, "MESSAGE_DELETE_FORBIDDEN")),
    case("member", "messages.deleteMessages", lambda w: {"peer": chat(w.group), "id": [w.g_member_msg, w.g_owner_msg]}, (403, "MESSAGE_DELETE_FORBIDDEN")),
    case("subscriber", "messages.deleteMessages", lambda w: {"peer": chat(w.channel), "id": [w.c_post]}, (403, "MESSAGE_DELETE_FORBIDDEN")),
    case("banned", "messages.deleteMessages", lambda w: {"peer": chat(w.group), "id": [w.g_member_msg]}, PRIVATE),
    # -- who sees the members
    case("subscriber", "channels.getParticipants", in_channel(), ADMIN_REQUIRED),
    case("member", "channels.getParticipants", in_group(filter="banned"), ADMIN_REQUIRED),
    case("pinner", "channels.getParticipants", in_group(filter="banned"), ADMIN_REQUIRED),
    # -- one's own dialog settings: only for chats one is in
    case("outsider", "messages.toggleDialogPin", lambda w: {"peer": chat(w.group), "pinned": True}, PRIVATE),
    case("banned", "messages.toggleDialogPin", lambda w: {"peer": chat(w.channel), "pinned": True}, PRIVATE),
    case("outsider", "account.updateNotifySettings", lambda w: {"peer": chat(w.channel), "mute_until": 2**31 - 1}, NOT_PARTICIPANT),
    case("banned", "account.updateNotifySettings", lambda w: {"peer": chat(w.group), "mute_until": 2**31 - 1}, PRIVATE),
]
# fmt: on

# Methods that touch a chat but need no row: why.
EXEMPT = {
    "channels.createChannel": "anyone may create a group or channel",
    "messages.getDialogs": "lists only the caller's own chats (test_non_members_see_no_trace)",
    "upload.getUploadedParts": "an upload of one's own, no chat involved",
    "contacts.search": "finds public chats only (test_non_members_see_no_trace)",
}
PEER_FIELDS = {"peer", "channel", "from_peer", "to_peer", "offset_peer"}


def test_every_chat_method_has_a_refusal_in_the_table() -> None:
    chat_methods = {
        name
        for name, spec in METHODS.items()
        if PEER_FIELDS & set(spec.params.__struct_fields__)
        or spec.params.__module__.endswith("chat_methods")
    }
    covered = {c.method for c in CASES}
    missing = chat_methods - covered - set(EXEMPT)
    assert not missing, f"add a refusal for {sorted(missing)}"
    assert covered <= set(METHODS)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
async def test_refusal_changes_nothing(c: Case, api: Api, http: aiohttp.ClientSession) -> None:
    w = await build(api, http)
    before = await snapshot(api, w)
    status, body = await api.call(c.method, c.params(w), w.users[c.actor].token)
    assert body["ok"] is False, body
    assert (status, body["error"]["type"]) == (c.status, c.type), body["error"]
    assert body["error"]["message"]
    after = await snapshot(api, w)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"a refused {c.method} changed {changed}"


# -- the rights where they are held ------------------------------------------------------
async def test_admins_act_within_their_rights(api: Api, http: aiohttp.ClientSession) -> None:
    w = await build(api, http)
    g = chat(w.group)
    # The admin may grant what it holds...
    await api.ok(
        "channels.editAdmin",
        {"channel": g, "user_id": w.member.id, "admin_rights": {"invite_users": True}},
        w.admin.token,
    )
    link = await api.ok("messages.exportChatInvite", {"peer": g}, w.member.token)
    assert link["hash"] and link["link"].endswith(link["hash"])
    # ...delete others' messages, ban members (a service message says so), not admins...
    await api.ok("messages.deleteMessages", {"peer": g, "id": [w.g_owner_msg]}, w.admin.token)
    for target, outcome in ((w.member, (403, "USER_ADMIN_INVALID")), (w.restricted, None)):
        status, body = await api.call(
            "channels.editBanned",
            {"channel": g, **ban(target.id, view_messages=True)},
            w.admin.token,
        )
        assert (status, body.get("error", {}).get("type")) == (outcome or (200, None))
    hist = await api.ok("messages.getHistory", {"peer": g}, w.owner.token)
    ids = [m["id"] for m in hist["messages"]]
    assert w.g_owner_msg not in ids
    assert hist["messages"][0]["action"] == {"type": "chat_delete_user", "users": [w.restricted.id]}
    assert (await err(api, "messages.getHistory", {"peer": g}, w.restricted)) == PRIVATE
    # ...while the creator alone bans an admin, and may change any admin's rights.
    await api.ok(
        "channels.editBanned", {"channel": g, **ban(w.pinner.id, view_messages=True)}, w.owner.token
    )
    await api.ok(
        "channels.editAdmin",
        {"channel": g, "user_id": w.admin.id, "admin_rights": {"change_info": True}},
        w.owner.token,
    )
    await api.ok("channels.editTitle", {"channel": g, "title": "renamed"}, w.admin.token)
    banned = await api.ok(
        "channels.getParticipants", {"channel": g, "filter": "banned"}, w.owner.token
    )
    assert {p["user_id"] for p in banned["participants"]} == {
        w.restricted.id,
        w.pinner.id,
        w.banned.id,
    }
    admins = await api.ok(
        "channels.getParticipants", {"channel": g, "filter": "admins"}, w.owner.token
    )
    roles = {p["user_id"]: (p["role"], p.get("admin_rights")) for p in admins["participants"]}
    assert roles == {
        w.owner.id: ("creator", {k: True for k in ALL_RIGHTS}),
        w.admin.id: ("admin", {"change_info": True}),
        w.member.id: ("admin", {"invite_users": True}),
    }
    # Demoted, the admin lost what it had: no more deleting others' messages.
    status, body = await api.call(
        "messages.deleteMessages", {"peer": g, "id": [w.g_member_msg]}, w.admin.token
    )
    assert (status, body["error"]["type"]) == (403, "MESSAGE_DELETE_FORBIDDEN")


async def test_unban_lets_them_back_by_link_and_username(
    api: Api, http: aiohttp.ClientSession
) -> None:
    w = await build(api, http)
    lift = ban(w.banned.id)  # both rights false: the ban is lifted
    await api.ok("channels.editBanned", {"channel": chat(w.group), **lift}, w.owner.token)
    await api.ok("channels.editBanned", {"channel": chat(w.channel), **lift}, w.owner.token)
    joined = await api.ok("messages.importChatInvite", {"hash": w.invite}, w.banned.token)
    assert joined["chat"]["role"] == "member" and joined["chat"]["id"] == w.group
    resolved = await api.ok("channels.joinChannel", {"channel": chat(w.channel)}, w.banned.token)
    assert resolved["chat"]["role"] == "member"
    hist = await api.ok("messages.getHistory", {"peer": chat(w.group)}, w.banned.token)
    assert hist["messages"][0]["action"] == {"type": "chat_join", "users": [w.banned.id]}
    await post(api, w.banned, w.group, "back again")


async def test_restricted_member_reads_but_cannot_post_until_lifted(
    api: Api, http: aiohttp.ClientSession
) -> None:
    w = await build(api, http)
    g = chat(w.group)
    hist = await api.ok("messages.getHistory", {"peer": g}, w.restricted.token)
    assert "from the owner" in [m["text"] for m in hist["messages"]]
    diff = await api.ok(
        "updates.getChannelDifference", {"channel": g, "pts": 0}, w.restricted.token
    )
    assert diff["updates"]
    full = await api.ok("channels.getFullChannel", {"channel": g}, w.restricted.token)
    assert full["chat"]["role"] == "member"
    await api.ok("messages.readHistory", {"peer": g, "max_id": 0}, w.restricted.token)
    await api.ok(
        "messages.sendReaction",
        {"peer": g, "msg_id": w.g_owner_msg, "reaction": "👍"},
        w.restricted.token,
    )
    assert (await err(api, "messages.sendMessage", send_to("group")(w), w.restricted)) == (
        FORBIDDEN_WRITE
    )
    await api.ok("channels.editBanned", {"channel": g, **ban(w.restricted.id)}, w.owner.token)
    await post(api, w.restricted, w.group, "free to speak")


async def test_channel_subscribers_list_only_for_admins(
    api: Api, http: aiohttp.ClientSession
) -> None:
    w = await build(api, http)
    c = chat(w.channel)
    assert (await err(api, "channels.getParticipants", {"channel": c}, w.subscriber)) == (
        ADMIN_REQUIRED
    )
    admins = await api.ok(
        "channels.getParticipants", {"channel": c, "filter": "admins"}, w.subscriber.token
    )
    assert [p["user_id"] for p in admins["participants"]] == [w.owner.id]
    await api.ok(
        "channels.editAdmin",
        {"channel": c, "user_id": w.subscriber.id, "admin_rights": {"post_messages": True}},
        w.owner.token,
    )
    everyone = await api.ok("channels.getParticipants", {"channel": c}, w.subscriber.token)
    assert {p["user_id"] for p in everyone["participants"]} == {w.owner.id, w.subscriber.id}
    assert everyone["count"] == 2
    # In a group every member sees the others.
    members = await api.ok("channels.getParticipants", {"channel": chat(w.group)}, w.member.token)
    assert members["count"] == 5


async def test_non_members_see_no_trace_of_private_chats(
    api: Api, http: aiohttp.ClientSession
) -> None:
    w = await build(api, http)
    for role in ("outsider", "banned"):
        token = w.users[role].token
        dialogs = await api.ok("messages.getDialogs", {}, token)
        shown = {d["peer"].get("chat_id") for d in dialogs["dialogs"]}
        assert w.group not in shown and w.group not in {c["id"] for c in dialogs["chats"]}
        found = await api.ok("messages.search", {"q": "owner"}, token)
        assert all(m["peer"] != chat(w.group) for m in found["messages"]), found
        # Public chats are found by name; private ones are not, even by their members.
        peers = await api.ok("contacts.search", {"q": "Private group"}, token)
        assert w.group not in {c["id"] for c in peers["chats"]}
        peers = await api.ok("contacts.search", {"q": w.channel_username}, w.outsider.token)
        assert w.channel in {c["id"] for c in peers["chats"]}
    # The banned user's own log said it lost the group: the chat, as it sees it, is gone.
    log = await api.ok("updates.getDifference", {"pts": 0}, w.banned.token)
    lost = [u for u in log["updates"] if u["type"] == "updateChannel" and u["chat"] is None]
    assert {u["peer"]["chat_id"] for u in lost} == {w.group, w.channel}
    # Members do see it.
    dialogs = await api.ok("messages.getDialogs", {}, w.member.token)
    assert w.group in {d["peer"].get("chat_id") for d in dialogs["dialogs"]}
