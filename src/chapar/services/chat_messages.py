"""Messages in groups and channels: post, history, edit, delete, read, typing, reactions,
pins and views. A post is written once to the chat's log (fan-out on read); the only
per-user writes are mentions and read positions, which go to the users' own logs."""

from __future__ import annotations

from chapar import metrics
from chapar.db import chats as db
from chapar.db import log, search
from chapar.db import users as users_db
from chapar.domain import text as texts
from chapar.domain.rights import Right
from chapar.errors import BadRequest, FloodWait, Forbidden
from chapar.ports.bus import chat_topic
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol import methods as m
from chapar.protocol.envelope import encode_push
from chapar.protocol.types import (
    FwdFrom,
    Message,
    MessageAction,
    Peer,
    TypingAction,
    UpdateChannelMessageReactions,
    UpdateChatUserTyping,
    UpdateDeleteChannelMessages,
    UpdateEditChannelMessage,
    UpdateMention,
    UpdateNewChannelMessage,
    UpdatePinnedChannelMessage,
    UpdateReadChannelInbox,
)
from chapar.services.auth import AuthContext
from chapar.services.chats import ChatsService, load_member, load_visible, post_service
from chapar.services.deps import Deps, Moves


def with_reactions(
    tx: Tx, chat: db.ChatRow, rows: list[db.ChatMessageRow], viewer: int
) -> list[Message]:
    counts = db.reactions(tx, chat.id, [r.id for r in rows])
    return [r.to_wire(viewer, counts.get(r.id), chat.broadcast) for r in rows]


class ChatMessagesService:
    def __init__(self, deps: Deps, chats: ChatsService) -> None:
        self.d = deps
        self.chats = chats

    def post(
        self,
        tx: Tx,
        me: int,
        chat_id: int,
        text: str,
        random_id: int,
        reply_to: int | None,
        fwd_from: FwdFrom | None,
        now: int,
        pushes: log.Pushes,
        media: str | None = None,
    ) -> m.SentMessage:
        """Write one post (inside the caller's transaction)."""
        first = db.message_by_random_id(tx, chat_id, me, random_id)
        chat, member = load_member(tx, chat_id, me, now)
        if first is not None:  # a retry: the first result (and its pts), nothing new
            pts = db.post_pts(tx, chat_id, first.id) or chat.pts
            return m.SentMessage(message=first.to_wire(me, None, chat.broadcast), pts=pts)
        if not member.may_post(chat.broadcast, now):
            raise Forbidden("CHAT_WRITE_FORBIDDEN", "you may not post in this chat")
        if chat.slow_mode_seconds and member.role == "member":
            _, last = db.read_state(tx, chat_id, me)
            wait = last + chat.slow_mode_seconds - now
            if wait > 0:
                raise FloodWait(wait, f"slow mode: post again in {wait} s")
        if reply_to is not None and db.get_message(tx, chat_id, reply_to) is None:
            raise BadRequest("REPLY_MESSAGE_ID_INVALID", "no such message in this chat")
        pts, msg_id = db.allocate_message(tx, chat_id, now)
        author = None
        if chat.broadcast and chat.signatures:
            me_user = users_db.get(tx, me, me)
            author = f"{me_user.first_name} {me_user.last_name}".strip() if me_user else None
        row = db.ChatMessageRow(
            chat_id,
            msg_id,
            me,
            text,
            now,
            None,
            reply_to,
            db.encode_json(fwd_from),
            None,
            author,
            0,
            media,
            pts,
        )
        db.insert_message(tx, row, random_id)
        search.index(tx, [f"c{chat_id}"], search.chat_doc(chat_id, msg_id), text)
        db.set_last_post(tx, chat_id, me, now)
        db.append(
            tx,
            chat_id,
            pts,
            UpdateNewChannelMessage(chat_id, row.to_wire(None, None, chat.broadcast), pts),
            pushes,
        )
        self._mentions(tx, chat_id, me, msg_id, text, pushes)
        return m.SentMessage(message=row.to_wire(me, None, chat.broadcast), pts=pts)

    def _mentions(
        self, tx: Tx, chat_id: int, me: int, msg_id: int, text: str, pushes: log.Pushes
    ) -> None:
        for key in texts.mentions(text)[:20]:  # a bound, so one post cannot fan out widely
            uid = users_db.id_by_username(tx, key)
            if uid is None or uid == me or not db.member(tx, chat_id, uid).is_member():
                continue
            pts = log.next_pts(tx, uid)
            log.append(tx, uid, pts, UpdateMention(Peer(chat_id=chat_id), msg_id, me, pts), pushes)

    async def send(self, ctx: AuthContext, chat_id: int, p: m.SendMessage) -> m.SentMessage:
        body = texts.message_text(p.text, self.d.settings.max_message_length)
        now = self.d.now()

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.SentMessage:
            return self.post(
                tx, ctx.user_id, chat_id, body, p.random_id, p.reply_to, None, now, pushes
            )

        result = await self.chats.write(fn)
        metrics.MESSAGES.labels("chat").inc()
        return result

    async def history(self, ctx: AuthContext, chat_id: int, p: m.GetHistory) -> m.History:
        me, now = ctx.user_id, self.d.now()

        def read(tx: Tx) -> m.History:
            chat, _ = load_visible(tx, chat_id, me, now)
            rows = db.history(tx, chat_id, p.offset_id, p.add_offset, p.limit)
            return m.History(
                messages=with_reactions(tx, chat, rows, me),
                users=users_db.load(tx, me, {me, *(r.from_id for r in rows)}),
                count=db.count_messages(tx, chat_id),
            )

        return await self.d.store.read(read)

    async def edit(self, ctx: AuthContext, chat_id: int, p: m.EditMessage) -> m.SentMessage:
        me, now = ctx.user_id, self.d.now()
        body = texts.message_text(p.text, self.d.settings.max_message_length)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.SentMessage:
            chat, member = load_member(tx, chat_id, me, now)
            row = db.get_message(tx, chat_id, p.id)
            if row is None:
                raise BadRequest("MESSAGE_ID_INVALID", "no such message in this chat")
            if row.action is not None:
                raise BadRequest("MESSAGE_EDIT_FORBIDDEN", "service messages cannot be edited")
            own = row.from_id == me and member.may_post(chat.broadcast, now)
            if not own and not member.has(Right.EDIT_OTHERS):
                raise Forbidden("MESSAGE_AUTHOR_REQUIRED", "you may not edit this message")
            if row.text == body:
                raise BadRequest("MESSAGE_NOT_MODIFIED", "the text is the same")
            db.set_message_text(tx, chat_id, p.id, body, now)
            search.reindex(tx, [f"c{chat_id}"], search.chat_doc(chat_id, p.id), body)
            edited = db.get_message(tx, chat_id, p.id)
            assert edited is not None
            pts = db.next_pts(tx, chat_id)
            wire = with_reactions(tx, chat, [edited], me)[0]
            db.append(
                tx,
                chat_id,
                pts,
                UpdateEditChannelMessage(
                    chat_id, edited.to_wire(None, wire.reactions, chat.broadcast), pts
                ),
                pushes,
            )
            return m.SentMessage(message=wire, pts=pts)

        return await self.chats.write(fn)

    async def delete(self, ctx: AuthContext, chat_id: int, ids: list[int]) -> m.AffectedMessages:
        me, now = ctx.user_id, self.d.now()

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.AffectedMessages:
            _, member = load_member(tx, chat_id, me, now)
            rows = db.get_messages(tx, chat_id, ids)
            if len(rows) != len(ids):
                raise BadRequest("MESSAGE_ID_INVALID", "some of these messages do not exist")
            if not member.has(Right.DELETE_OTHERS) and any(r.from_id != me for r in rows):
                raise Forbidden("MESSAGE_DELETE_FORBIDDEN", "you may delete only your own messages")
            db.delete_messages(tx, chat_id, ids)
            search.unindex(tx, [search.chat_doc(chat_id, i) for i in ids])
            pts = db.next_pts(tx, chat_id)
            db.append(
                tx, chat_id, pts, UpdateDeleteChannelMessages(chat_id, sorted(ids), pts), pushes
            )
            return m.AffectedMessages(pts=pts, pts_count=1)

        return await self.chats.write(fn)

    async def read_history(self, ctx: AuthContext, chat_id: int, max_id: int) -> m.AffectedMessages:
        me, now = ctx.user_id, self.d.now()

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.AffectedMessages:
            chat, _ = load_member(tx, chat_id, me, now)
            read, _ = db.read_state(tx, chat_id, me)
            upto = chat.last_msg_id if max_id == 0 else min(max_id, chat.last_msg_id)
            if upto <= read:
                return m.AffectedMessages(pts=log.current_pts(tx, me), pts_count=0)
            db.set_read(tx, chat_id, me, upto)
            unread = db.count_unread(tx, chat_id, me, upto)
            pts = log.next_pts(tx, me)
            log.append(
                tx,
                me,
                pts,
                UpdateReadChannelInbox(Peer(chat_id=chat_id), upto, unread, pts),
                pushes,
            )
            return m.AffectedMessages(pts=pts, pts_count=1)

        return await self.chats.write(fn)

    async def typing(self, ctx: AuthContext, chat_id: int, action: TypingAction) -> bool:
        me, now = ctx.user_id, self.d.now()

        def read(tx: Tx) -> bool:
            chat, member = load_member(tx, chat_id, me, now)
            return member.may_post(chat.broadcast, now)

        if await self.d.store.read(read):
            frame = encode_push([UpdateChatUserTyping(Peer(chat_id=chat_id), me, action)])
            await self.d.bus.publish(chat_topic(chat_id), frame)
        return True

    async def react(self, ctx: AuthContext, p: cm.SendReaction) -> cm.MessageReactions:
        me, now = ctx.user_id, self.d.now()
        chat_id = p.peer.chat_id
        if chat_id is None:
            raise BadRequest("PEER_ID_INVALID", "reactions are available in groups and channels")
        emoji = texts.reaction(p.reaction)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.MessageReactions:
            load_member(tx, chat_id, me, now)
            row = db.get_message(tx, chat_id, p.msg_id)
            if row is None or row.action is not None:
                raise BadRequest("MESSAGE_ID_INVALID", "no such message in this chat")
            db.set_reaction(tx, chat_id, p.msg_id, me, emoji)
            counts = db.reactions(tx, chat_id, [p.msg_id]).get(p.msg_id, [])
            pts = db.next_pts(tx, chat_id)
            db.append(
                tx,
                chat_id,
                pts,
                UpdateChannelMessageReactions(chat_id, p.msg_id, counts, pts),
                pushes,
            )
            return cm.MessageReactions(msg_id=p.msg_id, reactions=counts)

        return await self.chats.write(fn)

    async def pin(self, ctx: AuthContext, p: cm.UpdatePinnedMessage) -> bool:
        me, now = ctx.user_id, self.d.now()
        chat_id = p.peer.chat_id
        if chat_id is None:
            raise BadRequest("PEER_ID_INVALID", "pins are available in groups and channels")

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            chat, member = load_member(tx, chat_id, me, now)
            if not member.has(Right.PIN):
                raise Forbidden("CHAT_ADMIN_REQUIRED", "you need the right to pin messages")
            if db.get_message(tx, chat_id, p.id) is None:
                raise BadRequest("MESSAGE_ID_INVALID", "no such message in this chat")
            pinned = None if p.unpin else p.id
            db.set_fields(tx, chat_id, pinned_msg_id=pinned)
            pts = db.next_pts(tx, chat_id)
            db.append(tx, chat_id, pts, UpdatePinnedChannelMessage(chat_id, pinned, pts), pushes)
            if pinned is not None and not chat.broadcast:
                post_service(
                    tx, chat, me, MessageAction(type="pin_message", msg_id=pinned), now, pushes
                )
            return True

        return await self.chats.write(fn)

    async def views(self, ctx: AuthContext, p: cm.GetMessagesViews) -> cm.MessagesViews:
        me, now = ctx.user_id, self.d.now()
        chat_id = p.peer.chat_id
        if chat_id is None:
            raise BadRequest("PEER_ID_INVALID", "views are counted in channels")
        ids = list(dict.fromkeys(p.id))

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.MessagesViews:
            load_visible(tx, chat_id, me, now)
            if p.increment:
                db.add_views(tx, chat_id, ids)
            found = {r.id: r.views for r in db.get_messages(tx, chat_id, ids)}
            return cm.MessagesViews(views=[found.get(i, 0) for i in ids])

        return await self.chats.write(fn)
