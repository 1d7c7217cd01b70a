"""Groups and channels: creation, membership, roles and rights, invite links, chat info,
and the chat's own update log (updates.getChannelDifference).

Membership changes go to the user's own log (updateChannel) and are announced on the bus
topic ``membership`` so every node re-points its live fan-out (api/fanout.py).
See docs/chats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar, cast

import msgspec

from chapar.db import chats as db
from chapar.db import log
from chapar.db import users as users_db
from chapar.domain import text as texts
from chapar.domain.rights import ALL, Member, Restriction, Right, from_mask, to_mask
from chapar.errors import BadRequest, Forbidden
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol.types import (
    Chat,
    MessageAction,
    Peer,
    Update,
    UpdateChannel,
    UpdateChatInfo,
    UpdateNewChannelMessage,
)
from chapar.services.auth import AuthContext
from chapar.services.deps import Deps, Moves

T = TypeVar("T")
MAX_GROUP_MEMBERS = 200_000
Role = Literal["creator", "admin", "member", "banned"]
_ROLES: dict[str | None, Role] = {
    "creator": "creator",
    "admin": "admin",
    "member": "member",
    "banned": "banned",
}


def chat_id_of(peer: Peer) -> int:
    if peer.chat_id is None or peer.user_id is not None:
        raise BadRequest("CHANNEL_INVALID", 'give the chat as {"chat_id": N}')
    return peer.chat_id


def chat_wire(chat: db.ChatRow, m: Member) -> Chat:
    admin = m.role in ("creator", "admin")
    return Chat(
        id=chat.id,
        type="channel" if chat.broadcast else "group",
        title=chat.title,
        username=chat.username,
        about=chat.about,
        members_count=chat.members_count,
        pts=chat.pts,
        role=_ROLES.get(m.role),
        admin_rights=from_mask(ALL if m.role == "creator" else m.rights) if admin else None,
        slow_mode_seconds=chat.slow_mode_seconds,
        signatures=chat.signatures,
        pinned_msg_id=chat.pinned_msg_id,
    )


def load_visible(tx: Tx, chat_id: int, user_id: int, now: int) -> tuple[db.ChatRow, Member]:
    """The chat and the user's standing, if the user may read it: members always,
    others only public (username) chats they are not banned from."""
    chat = db.get(tx, chat_id)
    if chat is None:
        raise BadRequest("CHANNEL_INVALID", "no such group or channel")
    m = db.member(tx, chat_id, user_id)
    if m.is_banned(now):
        raise Forbidden("CHANNEL_PRIVATE", "you were banned from this chat")
    if not m.is_member() and chat.username is None:
        raise Forbidden("CHANNEL_PRIVATE", "this chat is private: join by invite link")
    return chat, m


def load_member(tx: Tx, chat_id: int, user_id: int, now: int) -> tuple[db.ChatRow, Member]:
    chat, m = load_visible(tx, chat_id, user_id, now)
    if not m.is_member():
        raise Forbidden("USER_NOT_PARTICIPANT", "join the chat first")
    return chat, m


def require(m: Member, right: Right, what: str) -> None:
    if not m.has(right):
        raise Forbidden("CHAT_ADMIN_REQUIRED", f"you need the right to {what}")


def post_service(
    tx: Tx, chat: db.ChatRow, from_id: int, action: MessageAction, now: int, pushes: log.Pushes
) -> None:
    """A service message (joined, left, title changed…) in the chat's history and log."""
    pts, msg_id = db.allocate_message(tx, chat.id, now)
    action_json = db.encode_json(action)
    row = db.ChatMessageRow(
        chat.id, msg_id, from_id, "", now, None, None, None, action_json, None, 0, None, pts
    )
    db.insert_message(tx, row, None)
    upd = UpdateNewChannelMessage(chat.id, row.to_wire(broadcast=chat.broadcast), pts)
    db.append(tx, chat.id, pts, upd, pushes)


def tell_user(tx: Tx, chat_id: int, user_id: int, pushes: log.Pushes, moves: Moves) -> None:
    """Log updateChannel in the user's own log with how they now see the chat."""
    chat = db.get(tx, chat_id)
    assert chat is not None
    m = db.member(tx, chat_id, user_id)
    pts = log.next_pts(tx, user_id)
    upd = UpdateChannel(Peer(chat_id=chat_id), chat_wire(chat, m) if m.is_member() else None, pts)
    log.append(tx, user_id, pts, upd, pushes)
    moves.append((user_id, chat_id, m.is_member()))


def log_info(tx: Tx, chat_id: int, pushes: log.Pushes) -> db.ChatRow:
    pts = db.next_pts(tx, chat_id)
    chat = db.get(tx, chat_id)
    assert chat is not None
    upd = UpdateChatInfo(
        chat_id, chat.title, chat.username, chat.about, chat.slow_mode_seconds, chat.signatures, pts
    )
    db.append(tx, chat_id, pts, upd, pushes)
    return chat


class ChatsService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def write(self, fn: Callable[[Tx, log.Pushes, Moves], T]) -> T:
        return await self.d.transact(fn)

    # -- creation and membership ---------------------------------------------------------
    async def create(self, ctx: AuthContext, p: cm.CreateChannel) -> cm.ChatResult:
        me, now = ctx.user_id, self.d.now()
        title = texts.chat_title(p.title)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ChatResult:
            chat_id = db.create(tx, p.broadcast, title, p.about.strip(), me, now)
            db.put_member(tx, chat_id, me, "creator", now, rights=int(ALL))
            chat = db.get(tx, chat_id)
            assert chat is not None
            post_service(tx, chat, me, MessageAction(type="chat_create", title=title), now, pushes)
            db.set_read(tx, chat_id, me, 1)
            tell_user(tx, chat_id, me, pushes, moves)
            return self._result(tx, chat_id, me)

        return await self.write(fn)

    def _result(self, tx: Tx, chat_id: int, me: int) -> cm.ChatResult:
        chat = db.get(tx, chat_id)
        assert chat is not None
        return cm.ChatResult(chat=chat_wire(chat, db.member(tx, chat_id, me)))

    def _add(
        self,
        tx: Tx,
        chat: db.ChatRow,
        user_id: int,
        inviter: int | None,
        now: int,
        pushes: log.Pushes,
        moves: Moves,
    ) -> None:
        if not chat.broadcast and chat.members_count >= MAX_GROUP_MEMBERS:
            raise BadRequest("USERS_TOO_MUCH", f"a group holds at most {MAX_GROUP_MEMBERS} members")
        db.put_member(tx, chat.id, user_id, "member", now, inviter_id=inviter)
        if not chat.broadcast:  # channels announce no joins, as in Telegram
            kind: Literal["chat_add_user", "chat_join"] = (
                "chat_join" if inviter is None else "chat_add_user"
            )
            post_service(
                tx, chat, inviter or user_id, MessageAction(type=kind, users=[user_id]), now, pushes
            )
        # What was posted before someone joined is not unread for them.
        current = db.get(tx, chat.id)
        assert current is not None
        db.set_read(tx, chat.id, user_id, current.last_msg_id)
        tell_user(tx, chat.id, user_id, pushes, moves)

    async def invite(self, ctx: AuthContext, p: cm.InviteToChannel) -> cm.ChatResult:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ChatResult:
            chat, m = load_member(tx, chat_id, me, now)
            if not m.may_invite(chat.broadcast):
                raise Forbidden("CHAT_ADMIN_REQUIRED", "you may not add members here")
            for uid in dict.fromkeys(p.users):
                if not users_db.exists(tx, uid):
                    raise BadRequest("USER_ID_INVALID", f"no such user {uid}")
                target = db.member(tx, chat_id, uid)
                if target.is_member():
                    continue
                if target.is_banned(now) and not m.has(Right.BAN):
                    raise Forbidden("USER_BANNED_IN_CHANNEL", f"user {uid} is banned here")
                current = db.get(tx, chat_id)
                assert current is not None
                self._add(tx, current, uid, me, now, pushes, moves)
            return self._result(tx, chat_id, me)

        return await self.write(fn)

    async def join(self, ctx: AuthContext, p: cm.ChannelOnly) -> cm.ChatResult:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ChatResult:
            chat, m = load_visible(tx, chat_id, me, now)
            if m.is_member():
                raise BadRequest("USER_ALREADY_PARTICIPANT", "you are a member already")
            self._add(tx, chat, me, None, now, pushes, moves)
            return self._result(tx, chat_id, me)

        return await self.write(fn)

    async def leave(self, ctx: AuthContext, p: cm.ChannelOnly) -> bool:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            chat, m = load_member(tx, chat_id, me, now)
            if m.role == "creator":
                raise BadRequest(
                    "CREATOR_CANNOT_LEAVE", "the creator cannot leave; hand the chat over first"
                )
            if not chat.broadcast:
                post_service(
                    tx, chat, me, MessageAction(type="chat_leave", users=[me]), now, pushes
                )
            db.remove_member(tx, chat_id, me)
            tell_user(tx, chat_id, me, pushes, moves)
            return True

        return await self.write(fn)

    async def import_invite(self, ctx: AuthContext, p: cm.ImportChatInvite) -> cm.ChatResult:
        me, now = ctx.user_id, self.d.now()
        hash_ = p.hash.rsplit("/", 1)[-1].removeprefix("+")

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ChatResult:
            inv = db.get_invite(tx, hash_)
            if inv is None or inv[4]:
                raise BadRequest("INVITE_HASH_INVALID", "this invite link is not valid")
            chat_id, expire, limit, usage, _ = inv
            if (expire is not None and now >= expire) or (limit is not None and usage >= limit):
                raise BadRequest("INVITE_HASH_EXPIRED", "this invite link expired or was used up")
            chat = db.get(tx, chat_id)
            assert chat is not None
            m = db.member(tx, chat_id, me)
            if m.is_banned(now):
                raise Forbidden("CHANNEL_PRIVATE", "you were banned from this chat")
            if m.is_member():
                raise BadRequest("USER_ALREADY_PARTICIPANT", "you are a member already")
            db.use_invite(tx, hash_)
            self._add(tx, chat, me, None, now, pushes, moves)
            return self._result(tx, chat_id, me)

        return await self.write(fn)

    async def export_invite(self, ctx: AuthContext, p: cm.ExportChatInvite) -> cm.ExportedInvite:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.peer)
        hash_ = self.d.random.token(12)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ExportedInvite:
            _, m = load_member(tx, chat_id, me, now)
            require(m, Right.INVITE, "invite users")
            if p.expire_date is not None and p.expire_date <= now:
                raise BadRequest("EXPIRE_DATE_INVALID", "expire_date is in the past")
            db.create_invite(tx, hash_, chat_id, me, now, p.expire_date, p.usage_limit)
            return cm.ExportedInvite(
                link=f"/join/{hash_}",
                hash=hash_,
                expire_date=p.expire_date,
                usage_limit=p.usage_limit,
            )

        return await self.write(fn)

    async def edit_invite(self, ctx: AuthContext, p: cm.EditExportedChatInvite) -> bool:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.peer)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            _, m = load_member(tx, chat_id, me, now)
            require(m, Right.INVITE, "manage invite links")
            if not p.revoked:
                raise BadRequest("INVITE_NOT_MODIFIED", "only revoking is supported")
            if not db.revoke_invite(tx, p.hash, chat_id):
                raise BadRequest("INVITE_HASH_INVALID", "no such invite link in this chat")
            return True

        return await self.write(fn)

    # -- rights ----------------------------------------------------------------------------
    async def edit_banned(self, ctx: AuthContext, p: cm.EditBanned) -> bool:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)
        r = p.banned_rights

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            chat, m = load_member(tx, chat_id, me, now)
            require(m, Right.BAN, "ban users")
            if p.user_id == me:
                raise BadRequest("USER_ID_INVALID", "you cannot ban yourself")
            if not users_db.exists(tx, p.user_id):
                raise BadRequest("USER_ID_INVALID", "no such user")
            target = db.member(tx, chat_id, p.user_id)
            if target.role == "creator" or (target.role == "admin" and m.role != "creator"):
                raise Forbidden("USER_ADMIN_INVALID", "only the creator can ban an admin")
            if r.view_messages:
                was_member = target.is_member()
                db.put_member(tx, chat_id, p.user_id, "banned", now, until_date=r.until_date)
                if was_member and not chat.broadcast:
                    action = MessageAction(type="chat_delete_user", users=[p.user_id])
                    post_service(tx, chat, me, action, now, pushes)
            elif r.send_messages:
                if not target.is_member() or chat.broadcast:
                    raise BadRequest("USER_NOT_PARTICIPANT", "only group members can be restricted")
                db.put_member(
                    tx,
                    chat_id,
                    p.user_id,
                    "member",
                    now,
                    restrictions=int(Restriction.SEND),
                    until_date=r.until_date,
                )
            elif target.role == "banned":
                db.remove_member(tx, chat_id, p.user_id)  # unbanned: may join again
            elif target.is_member():
                db.put_member(tx, chat_id, p.user_id, "member", now)  # restrictions lifted
            else:
                raise BadRequest("USER_NOT_PARTICIPANT", "this user is neither banned nor a member")
            tell_user(tx, chat_id, p.user_id, pushes, moves)
            return True

        return await self.write(fn)

    async def edit_admin(self, ctx: AuthContext, p: cm.EditAdmin) -> bool:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)
        mask = to_mask(p.admin_rights)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            _, m = load_member(tx, chat_id, me, now)
            require(m, Right.ADD_ADMINS, "add admins")
            target = db.member(tx, chat_id, p.user_id)
            if not target.is_member():
                raise BadRequest("USER_NOT_PARTICIPANT", "only members can be made admins")
            if target.role == "creator":
                raise Forbidden("USER_CREATOR", "the creator's rights cannot be changed")
            if m.role != "creator" and mask & ~m.rights:
                raise Forbidden("RIGHT_FORBIDDEN", "you cannot grant rights you do not have")
            role = "admin" if mask else "member"
            db.put_member(
                tx, chat_id, p.user_id, role, now, rights=mask, rank=p.rank if mask else ""
            )
            tell_user(tx, chat_id, p.user_id, pushes, moves)
            return True

        return await self.write(fn)

    async def participants(self, ctx: AuthContext, p: cm.GetParticipants) -> cm.Participants:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)
        roles = {
            "recent": ("creator", "admin", "member"),
            "admins": ("creator", "admin"),
            "banned": ("banned",),
        }[p.filter]

        def read(tx: Tx) -> cm.Participants:
            chat, m = load_member(tx, chat_id, me, now)
            if p.filter == "banned":
                require(m, Right.BAN, "see banned users")
            elif p.filter == "recent" and chat.broadcast and m.role == "member":
                raise Forbidden("CHAT_ADMIN_REQUIRED", "only admins see a channel's subscribers")
            rows = db.participants(tx, chat_id, roles, p.offset, p.limit)
            return cm.Participants(
                participants=[
                    cm.Participant(
                        user_id=uid,
                        role=role,
                        date=joined,
                        rank=rank,
                        until_date=until,
                        admin_rights=from_mask(ALL if role == "creator" else rights)
                        if role in ("creator", "admin")
                        else None,
                    )
                    for uid, role, rights, joined, rank, until in rows
                ],
                count=db.count_role(tx, chat_id, roles),
                users=users_db.load(tx, me, [r[0] for r in rows]),
            )

        return await self.d.store.read(read)

    async def get_full(self, ctx: AuthContext, p: cm.ChannelOnly) -> cm.ChatResult:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)

        def read(tx: Tx) -> cm.ChatResult:
            chat, m = load_visible(tx, chat_id, me, now)
            return cm.ChatResult(chat=chat_wire(chat, m))

        return await self.d.store.read(read)

    # -- chat info -------------------------------------------------------------------------
    async def _edit_info(self, ctx: AuthContext, peer: Peer, **fields: object) -> cm.ChatResult:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(peer)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ChatResult:
            chat, m = load_member(tx, chat_id, me, now)
            require(m, Right.CHANGE_INFO, "change the chat's info")
            if "username_key" in fields and fields["username_key"] is not None:
                taken = db.by_username(tx, str(fields["username_key"]))
                if (taken is not None and taken.id != chat_id) or users_db.id_by_username(
                    tx, str(fields["username_key"])
                ) is not None:
                    raise BadRequest("USERNAME_OCCUPIED", "this username is taken")
            db.set_fields(tx, chat_id, **fields)
            if "title" in fields and fields["title"] != chat.title and not chat.broadcast:
                action = MessageAction(type="chat_edit_title", title=str(fields["title"]))
                post_service(tx, chat, me, action, now, pushes)
            log_info(tx, chat_id, pushes)
            return self._result(tx, chat_id, me)

        return await self.write(fn)

    async def edit_title(self, ctx: AuthContext, p: cm.EditTitle) -> cm.ChatResult:
        return await self._edit_info(ctx, p.channel, title=texts.chat_title(p.title))

    async def edit_about(self, ctx: AuthContext, p: cm.EditAbout) -> cm.ChatResult:
        return await self._edit_info(ctx, p.channel, about=p.about.strip())

    async def update_username(self, ctx: AuthContext, p: cm.UpdateChannelUsername) -> cm.ChatResult:
        if p.username == "":
            return await self._edit_info(ctx, p.channel, username=None, username_key=None)
        key = texts.username_key(p.username)
        return await self._edit_info(ctx, p.channel, username=p.username, username_key=key)

    async def toggle_slow_mode(self, ctx: AuthContext, p: cm.ToggleSlowMode) -> cm.ChatResult:
        return await self._edit_info(ctx, p.channel, slow_mode_seconds=p.seconds)

    async def toggle_signatures(self, ctx: AuthContext, p: cm.ToggleSignatures) -> cm.ChatResult:
        return await self._edit_info(ctx, p.channel, signatures=int(p.enabled))

    # -- the chat's log --------------------------------------------------------------------
    async def difference(
        self, ctx: AuthContext, p: cm.GetChannelDifference
    ) -> cm.ChannelDifference:
        me, now, chat_id = ctx.user_id, self.d.now(), chat_id_of(p.channel)
        too_long = self.d.settings.channel_too_long

        def read(tx: Tx) -> cm.ChannelDifference:
            chat, _ = load_visible(tx, chat_id, me, now)
            if p.pts > chat.pts:
                raise BadRequest(
                    "PERSISTENT_TIMESTAMP_INVALID", f"pts {p.pts} is ahead of the chat ({chat.pts})"
                )
            if chat.pts - p.pts > too_long:
                return cm.ChannelDifference(updates=[], pts=chat.pts, final=True, too_long=True)
            rows = db.read_after(tx, chat_id, p.pts, p.limit)
            last = rows[-1][0] if rows else chat.pts
            updates = [msgspec.Raw(data.encode()) for _, data in rows]
            return cm.ChannelDifference(
                updates=cast(list[Update], updates), pts=last, final=last >= chat.pts
            )

        return await self.d.store.read(read)
