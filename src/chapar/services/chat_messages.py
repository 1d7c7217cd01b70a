"""Messages in groups and channels: post, history, edit, delete, read, typing, reactions,
pins and views. A post is written once to the chat's log (fan-out on read); the only
per-user writes are mentions and read positions, which go to the users' own logs."""

from __future__ import annotations

import msgspec

from chapar import metrics
from chapar.db import chats as db
from chapar.db import log, search
from chapar.db import users as users_db
from chapar.domain import text as texts
from chapar.domain.rights import Member, Right
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
from chapar.services.deps import Deps, Moves, WrittenTogether

_CHAT = metrics.MESSAGES.labels("chat")
_enc = msgspec.json.Encoder()


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
        # The writes that need no answer first, then the search index (whose statement
        # waits): on PostgreSQL the writer's pipeline sends them all in one round trip.
        db.insert_message(tx, row, random_id)
        db.set_last_post(tx, chat_id, me, now)
        db.append(
            tx,
            chat_id,
            pts,
            UpdateNewChannelMessage(chat_id, row.to_wire(None, None, chat.broadcast), pts),
            pushes,
        )
        search.index(tx, [f"c{chat_id}"], search.chat_doc(chat_id, msg_id), text)
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
        if p.reply_to is not None:

            def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.SentMessage:
                return self.post(
                    tx, ctx.user_id, chat_id, body, p.random_id, p.reply_to, None, now, pushes
                )

            result = await self.chats.write(fn)
            _CHAT.inc()
            return result
        # An operation the writer may write together with its neighbours (ChatPost); a
        # post moves no one, so no membership announcements are needed.
        result = await self.d.write_grouped(
            lambda: ChatPost(self, ctx.user_id, chat_id, body, p.random_id, now)
        )
        _CHAT.inc()
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


class _RunAlone(Exception):
    """A group of posts needs the one-at-a-time path (a post must fail alone)."""


class ChatPost:
    """A plain post (no reply, forward or media) to a group or channel, as an operation
    for the store's writer. Alone it is ChatMessagesService.post; neighbours in one group
    commit are written together by run_many (see adapters/group_commit.py): the same
    rows, in about eight statements for the whole group instead of about ten per post."""

    __slots__ = ("body", "chat_id", "group", "me", "now", "pushes", "random_id", "svc")

    def __init__(
        self, svc: ChatMessagesService, me: int, chat_id: int, body: str, random_id: int, now: int
    ) -> None:
        self.svc, self.me, self.chat_id, self.body = svc, me, chat_id, body
        self.random_id, self.now = random_id, now
        self.pushes: log.Pushes = []
        self.group: WrittenTogether | None = None  # set by run_many

    def __call__(self, tx: Tx) -> m.SentMessage:
        return self.svc.post(
            tx, self.me, self.chat_id, self.body, self.random_id, None, None, self.now, self.pushes
        )

    @staticmethod
    def run_many(tx: Tx, ops: list[ChatPost]) -> list[m.SentMessage]:
        return post_many(tx, ops)


def post_many(tx: Tx, ops: list[ChatPost]) -> list[m.SentMessage]:
    """ChatMessagesService.post for many plain posts at once, with the same outcome as
    running them one after another in this order: the same rows, pts and ids (gapless per
    chat), the same answers to repeated random_ids (also within the group), the same
    pushes. Raises _RunAlone (having pushed nothing) when a post must fail (no such chat,
    not a member, may not post, slow mode), so that each one runs alone and only it fails."""
    first = db.messages_by_random_ids(
        tx, list(dict.fromkeys((op.chat_id, op.me, op.random_id) for op in ops))
    )
    chats = {c.id: c for c in db.get_many(tx, list(dict.fromkeys(op.chat_id for op in ops)))}
    members = db.members_with_last_post(tx, list(dict.fromkeys((op.chat_id, op.me) for op in ops)))
    last_post = {k: last for k, (_, last) in members.items()}
    counts: dict[int, tuple[int, int]] = {}  # chat -> (new posts, date of the last)
    seen: set[tuple[int, int, int]] = set()
    for op in ops:  # the checks of post (load_member, rights, slow mode), in order
        chat = chats.get(op.chat_id)
        if chat is None:
            raise _RunAlone("no such chat")
        member, _ = members.get((op.chat_id, op.me), (Member(None), 0))
        if member.is_banned(op.now) or not member.is_member():
            raise _RunAlone("not a member")
        key = (op.chat_id, op.me, op.random_id)
        if key in first or key in seen:
            continue  # a retry: answered below, nothing new
        if not member.may_post(chat.broadcast, op.now):
            raise _RunAlone("may not post")
        slow = chat.slow_mode_seconds if member.role == "member" else 0
        if slow and last_post[(op.chat_id, op.me)] + slow - op.now > 0:
            raise _RunAlone("slow mode")
        seen.add(key)
        last_post[(op.chat_id, op.me)] = op.now
        n, _ = counts.get(op.chat_id, (0, 0))
        counts[op.chat_id] = (n + 1, op.now)
    heads = db.allocate_messages(tx, counts) if counts else {}
    if len(heads) != len(counts):
        raise _RunAlone("a chat is gone")
    # Each chat's range of pts and ids ends at the head allocate_messages returned.
    nxt = {c: (pts - counts[c][0], mid - counts[c][0]) for c, (pts, mid) in heads.items()}
    rows: list[tuple[object, ...]] = []
    updates: list[tuple[int, int, str]] = []
    docs: list[tuple[list[str], int, str]] = []
    posted: dict[tuple[int, int], int] = {}
    pushed: list[tuple[ChatPost, int, log.Pushes]] = []
    answers: dict[tuple[int, int, int], m.SentMessage] = {}
    results: list[m.SentMessage] = []
    for op in ops:
        chat = chats[op.chat_id]
        key = (op.chat_id, op.me, op.random_id)
        if key in answers:
            results.append(answers[key])
            continue
        row_first = first.get(key)
        if row_first is not None:  # sent before the group: its first result
            pts = row_first.pts or nxt.get(op.chat_id, (chat.pts, 0))[0]
            wire = row_first.to_wire(op.me, None, chat.broadcast)
            results.append(m.SentMessage(message=wire, pts=pts))
            continue
        pts, msg_id = nxt[op.chat_id]
        pts, msg_id = pts + 1, msg_id + 1
        nxt[op.chat_id] = (pts, msg_id)
        author = None
        if chat.broadcast and chat.signatures:
            me_user = users_db.get(tx, op.me, op.me)
            author = f"{me_user.first_name} {me_user.last_name}".strip() if me_user else None
        row = db.ChatMessageRow(
            op.chat_id, msg_id, op.me, op.body, op.now, None, None, None, None, author, 0, None, pts
        )
        rows.append((
            op.chat_id, msg_id, op.me, op.body, op.now, None, None, op.random_id, None, None,
            author, 0, None, pts,
        ))  # fmt: skip
        docs.append(([f"c{op.chat_id}"], search.chat_doc(op.chat_id, msg_id), op.body))
        posted[(op.chat_id, op.me)] = op.now
        data = _enc.encode(
            UpdateNewChannelMessage(op.chat_id, row.to_wire(None, None, chat.broadcast), pts)
        )
        updates.append((op.chat_id, pts, data.decode()))
        pushed.append((op, msg_id, [(chat_topic(op.chat_id), data)]))
        answers[key] = m.SentMessage(message=row.to_wire(op.me, None, chat.broadcast), pts=pts)
        results.append(answers[key])
    db.insert_messages(tx, rows)
    db.set_last_posts(tx, posted)
    db.append_many(tx, updates)
    search.index_many(tx, docs)
    for op, msg_id, items in pushed:  # each post's mentions, after its own push, in order
        op.svc._mentions(tx, op.chat_id, op.me, msg_id, op.body, items)
    # Everything is written: only now hand the pushes over (see _RunAlone).
    for op, _, items in pushed:
        op.pushes += items
    group = WrittenTogether([op for op, _, _ in pushed])
    for op in ops:
        op.group = group
    return results
