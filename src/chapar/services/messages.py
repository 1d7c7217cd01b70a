"""Private chats: send, history, dialogs, read receipts, edit, delete, typing.

Every change is written with its updates to the users' logs in one transaction (db.log),
then pushed (Deps.push). See docs/architecture.md, "Delivery".
"""

from __future__ import annotations

import msgspec

from chapar import metrics
from chapar.db import chats as chats_db
from chapar.db import log, search
from chapar.db import messages as db
from chapar.db import users as users_db
from chapar.db.chats import encode_json
from chapar.domain import text as texts
from chapar.errors import BadRequest, Forbidden
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol import methods as m
from chapar.protocol.envelope import encode_push
from chapar.protocol.types import (
    FwdFrom,
    Message,
    Peer,
    UpdateDeleteMessages,
    UpdateEditMessage,
    UpdateNewMessage,
    UpdateReadHistoryInbox,
    UpdateReadHistoryOutbox,
    UpdateUserTyping,
)
from chapar.services.auth import AuthContext
from chapar.services.chat_messages import ChatMessagesService
from chapar.services.chats import load_visible
from chapar.services.deps import Deps, Moves, WrittenTogether, user_topic
from chapar.services.dialogs import list_dialogs
from chapar.services.peers import check_user, peer_user_id

_PRIVATE = metrics.MESSAGES.labels("private")


def post_private(
    tx: Tx,
    me: int,
    peer: int,
    body: str,
    random_id: int,
    reply_to: int | None,
    fwd_from: FwdFrom | None,
    now: int,
    pushes: log.Pushes,
    media: str | None = None,
) -> m.SentMessage:
    """Write a private message: a copy in each side's box and each side's log."""
    first = db.by_random_id(tx, me, random_id)
    if first is not None:  # a retry: answer with the first result, change nothing
        return m.SentMessage(message=first.to_wire(), pts=first.pts)
    peer_reply: int | None = None
    if reply_to is not None:
        replied = db.get(tx, me, reply_to)
        if replied is None or replied.peer_id != peer:
            raise BadRequest("REPLY_MESSAGE_ID_INVALID", "no such message in this chat")
        peer_reply = replied.peer_msg_id
    fwd = encode_json(fwd_from)
    s_pts, s_id = db.allocate(tx, me)
    r_id: int | None = None
    if peer != me:  # Saved Messages (a chat with oneself) keep one copy
        r_pts, r_id = db.allocate(tx, peer)
        theirs = db.MessageRow(
            peer, r_id, me, me, False, body, now, None, peer_reply, s_id, r_pts, fwd, media
        )
        db.insert(tx, theirs, None)
        db.bump_dialog(tx, peer, me, r_id, now, 1)
        log.append(tx, peer, r_pts, UpdateNewMessage(theirs.to_wire(), r_pts), pushes)
    mine = db.MessageRow(
        me, s_id, peer, me, True, body, now, None, reply_to, r_id, s_pts, fwd, media
    )
    db.insert(tx, mine, random_id)
    search.index(tx, [f"u{me}", f"u{peer}"], search.private_doc(me, s_id), body)
    db.bump_dialog(tx, me, peer, s_id, now, 0)
    log.append(tx, me, s_pts, UpdateNewMessage(mine.to_wire(), s_pts), pushes)
    return m.SentMessage(message=mine.to_wire(), pts=s_pts)


class _RunAlone(Exception):
    """A group of sends needs the one-at-a-time path (an operation must fail alone)."""


_enc = msgspec.json.Encoder()


class PrivateSend:
    """A plain private send (no reply, forward or media), as an operation for the store's
    writer. Alone it is post_private; neighbours in one group commit are written together
    by run_many (see adapters/group_commit.py): the same rows, in a handful of statements
    for the whole group instead of about ten per message."""

    __slots__ = ("body", "group", "me", "now", "peer", "pushes", "random_id")

    def __init__(self, me: int, peer: int, body: str, random_id: int, now: int) -> None:
        self.me, self.peer, self.body, self.random_id, self.now = me, peer, body, random_id, now
        self.pushes: log.Pushes = []
        self.group: WrittenTogether | None = None  # set by run_many

    def __call__(self, tx: Tx) -> m.SentMessage:
        return post_private(
            tx, self.me, self.peer, self.body, self.random_id, None, None, self.now, self.pushes
        )

    @staticmethod
    def run_many(tx: Tx, ops: list[PrivateSend]) -> list[m.SentMessage]:
        return post_private_many(tx, ops)


def post_private_many(tx: Tx, ops: list[PrivateSend]) -> list[m.SentMessage]:
    """post_private for many sends at once, with the same outcome as running them one
    after another in this order: the same rows, pts and ids, the same answers to repeated
    random_ids (also within the group), the same pushes. Raises _RunAlone (having pushed
    nothing) when a send must fail, so that each one runs alone and only it fails."""
    first = db.by_random_ids(tx, list(dict.fromkeys((op.me, op.random_id) for op in ops)))
    results: list[m.SentMessage | None] = []
    fresh: list[PrivateSend] = []
    counts: dict[int, int] = {}
    same: dict[tuple[int, int], int] = {}  # a random_id repeated within the group
    for op in ops:
        key = (op.me, op.random_id)
        row = first.get(key)
        if row is not None:  # a retry: answer with the first result, change nothing
            results.append(m.SentMessage(message=row.to_wire(), pts=row.pts))
        elif key in same:
            results.append(None)  # filled in below with the first one's answer
        else:
            same[key] = len(results)
            results.append(None)
            fresh.append(op)
            counts[op.me] = counts.get(op.me, 0) + 1
            if op.peer != op.me:
                counts[op.peer] = counts.get(op.peer, 0) + 1
    if not fresh:
        return [r for r in results if r is not None]
    heads = db.allocate_many(tx, counts)
    if len(heads) != len(counts):
        raise _RunAlone("a peer has no box")  # post_private refuses that send alone
    # Each user's range of pts and ids ends at the head allocate_many returned.
    nxt = {u: (pts - counts[u], mid - counts[u]) for u, (pts, mid) in heads.items()}
    rows: list[tuple[object, ...]] = []
    updates: list[tuple[int, int, str]] = []
    docs: list[tuple[list[str], int, str]] = []
    dialogs: dict[tuple[int, int], tuple[int, int, int]] = {}
    pushed: list[tuple[log.Pushes, list[tuple[str, bytes]]]] = []
    answers: dict[tuple[int, int], m.SentMessage] = {}
    for op in fresh:
        me, peer, body, now = op.me, op.peer, op.body, op.now
        s_pts, s_id = nxt[me]
        s_pts, s_id = s_pts + 1, s_id + 1
        nxt[me] = (s_pts, s_id)
        mine_pushes: list[tuple[str, bytes]] = []
        r_id: int | None = None
        if peer != me:
            r_pts, r_id = nxt[peer]
            r_pts, r_id = r_pts + 1, r_id + 1
            nxt[peer] = (r_pts, r_id)
            theirs = Message(
                id=r_id, peer=Peer(user_id=me), from_id=me, out=False, text=body, date=now
            )
            data = _enc.encode(UpdateNewMessage(theirs, r_pts))
            rows.append(
                (peer, r_id, me, me, 0, body, now, None, None, None, s_id, r_pts, None, None)
            )
            updates.append((peer, r_pts, data.decode()))
            mine_pushes.append((user_topic(peer), data))
            unread = dialogs.get((peer, me), (0, 0, 0))[2]
            dialogs[(peer, me)] = (r_id, now, unread + 1)
        mine = Message(id=s_id, peer=Peer(user_id=peer), from_id=me, out=True, text=body, date=now)
        data = _enc.encode(UpdateNewMessage(mine, s_pts))
        rows.append(
            (me, s_id, peer, me, 1, body, now, None, None, op.random_id, r_id, s_pts, None, None)
        )
        updates.append((me, s_pts, data.decode()))
        mine_pushes.append((user_topic(me), data))
        docs.append(([f"u{me}", f"u{peer}"], search.private_doc(me, s_id), body))
        unread = dialogs.get((me, peer), (0, 0, 0))[2]
        dialogs[(me, peer)] = (s_id, now, unread)
        answers[(me, op.random_id)] = m.SentMessage(message=mine, pts=s_pts)
        pushed.append((op.pushes, mine_pushes))
    db.insert_many(tx, rows)
    search.index_many(tx, docs)
    db.bump_dialogs(tx, dialogs)
    log.append_many(tx, updates)
    # Everything is written: only now hand the pushes over (see _RunAlone).
    for target, items in pushed:
        target += items
    group = WrittenTogether(fresh)
    for op in ops:
        op.group = group
    return [
        r if r is not None else answers[(op.me, op.random_id)]
        for op, r in zip(ops, results, strict=True)
    ]


def _unindex_orphans(tx: Tx, gone: list[db.MessageRow]) -> None:
    """A private message stays searchable while either copy exists (one index entry
    serves both sides); drop the entry once both copies are gone."""
    orphans = []
    for r in gone:
        doc = search.private_doc(r.owner_id, r.id) if r.out else None
        if not r.out and r.peer_msg_id is not None:
            doc = search.private_doc(r.peer_id, r.peer_msg_id)
        other_left = (
            r.peer_msg_id is not None
            and r.peer_id != r.owner_id
            and db.get(tx, r.peer_id, r.peer_msg_id) is not None
        )
        if doc is not None and not other_left:
            orphans.append(doc)
    search.unindex(tx, orphans)


class MessagesService:
    """Private chats here; chat peers ({"chat_id": N}) are handed to ChatMessagesService."""

    def __init__(self, deps: Deps, chat: ChatMessagesService) -> None:
        self.d = deps
        self.chat = chat

    async def send(self, ctx: AuthContext, p: m.SendMessage) -> m.SentMessage:
        if p.peer.chat_id is not None and p.peer.user_id is None:
            return await self.chat.send(ctx, p.peer.chat_id, p)
        me, peer = ctx.user_id, peer_user_id(p.peer)
        body = texts.message_text(p.text, self.d.settings.max_message_length)
        now = self.d.now()

        if p.reply_to is not None:

            def write(tx: Tx, pushes: log.Pushes, moves: Moves) -> m.SentMessage:
                return post_private(tx, me, peer, body, p.random_id, p.reply_to, None, now, pushes)

            result = await self.d.transact(write)
            _PRIVATE.inc()
            return result
        # An operation the writer may write together with its neighbours (PrivateSend).
        result = await self.d.write_grouped(lambda: PrivateSend(me, peer, body, p.random_id, now))
        _PRIVATE.inc()
        return result

    async def edit(self, ctx: AuthContext, p: m.EditMessage) -> m.SentMessage:
        if p.peer.chat_id is not None and p.peer.user_id is None:
            return await self.chat.edit(ctx, p.peer.chat_id, p)
        me, peer = ctx.user_id, peer_user_id(p.peer)
        body = texts.message_text(p.text, self.d.settings.max_message_length)
        now = self.d.now()
        pushes: log.Pushes = []

        def write(tx: Tx) -> m.SentMessage:
            mine = db.get(tx, me, p.id)
            if mine is None or mine.peer_id != peer:
                raise BadRequest("MESSAGE_ID_INVALID", "no such message in this chat")
            if not mine.out:
                raise Forbidden("MESSAGE_AUTHOR_REQUIRED", "only the sender can edit a message")
            if mine.text == body:
                raise BadRequest("MESSAGE_NOT_MODIFIED", "the text is the same")
            search.reindex(tx, [f"u{me}", f"u{peer}"], search.private_doc(me, mine.id), body)
            copies = [(me, mine.id)]
            if mine.peer_msg_id is not None:
                copies.append((peer, mine.peer_msg_id))
            result: m.SentMessage | None = None
            for owner, msg_id in copies:
                db.set_text(tx, owner, msg_id, body, now)
                row = db.get(tx, owner, msg_id)
                if row is None:  # the peer deleted their copy for themself
                    continue
                pts = log.next_pts(tx, owner)
                log.append(tx, owner, pts, UpdateEditMessage(row.to_wire(), pts), pushes)
                if owner == me:
                    result = m.SentMessage(message=row.to_wire(), pts=pts)
            assert result is not None
            return result

        result = await self.d.store.write(write)
        await self.d.push(pushes)
        return result

    async def delete(self, ctx: AuthContext, p: m.DeleteMessages) -> m.AffectedMessages:
        if p.peer is not None:
            if p.peer.chat_id is None or p.peer.user_id is not None:
                raise BadRequest("PEER_ID_INVALID", "peer is only for chats; private ids need none")
            return await self.chat.delete(ctx, p.peer.chat_id, sorted(set(p.id)))
        me = ctx.user_id
        ids = sorted(set(p.id))
        pushes: log.Pushes = []

        def write(tx: Tx) -> m.AffectedMessages:
            rows = db.get_many(tx, me, ids)
            if len(rows) != len(ids):
                raise BadRequest("MESSAGE_ID_INVALID", "some of these messages do not exist")
            targets: dict[tuple[int, int], list[int]] = {}  # (owner, peer) -> ids
            for r in rows:
                targets.setdefault((me, r.peer_id), []).append(r.id)
                if p.revoke and r.peer_msg_id is not None and r.peer_id != me:
                    targets.setdefault((r.peer_id, me), []).append(r.peer_msg_id)
            by_owner: dict[int, list[int]] = {}
            gone: list[db.MessageRow] = []
            for (owner, peer), owner_ids in targets.items():
                found = db.get_many(tx, owner, owner_ids)
                if not found:
                    continue
                present = [x.id for x in found]
                db.delete(tx, owner, present)
                gone.extend(found)
                db.refresh_dialog(tx, owner, peer)
                by_owner.setdefault(owner, []).extend(present)
            _unindex_orphans(tx, gone)
            my_pts = 0
            for owner, owner_ids in by_owner.items():
                pts = log.next_pts(tx, owner)
                log.append(tx, owner, pts, UpdateDeleteMessages(sorted(owner_ids), pts), pushes)
                if owner == me:
                    my_pts = pts
            return m.AffectedMessages(pts=my_pts, pts_count=1)

        result = await self.d.store.write(write)
        await self.d.push(pushes)
        return result

    async def read_history(self, ctx: AuthContext, p: m.ReadHistory) -> m.AffectedMessages:
        if p.peer.chat_id is not None and p.peer.user_id is None:
            return await self.chat.read_history(ctx, p.peer.chat_id, p.max_id)
        me, peer = ctx.user_id, peer_user_id(p.peer)
        pushes: log.Pushes = []

        def write(tx: Tx) -> m.AffectedMessages:
            dialog = db.get_dialog(tx, me, peer)
            if dialog is None:
                check_user(tx, peer)
                return m.AffectedMessages(pts=log.current_pts(tx, me), pts_count=0)
            upto = dialog.top_message if p.max_id == 0 else min(p.max_id, dialog.top_message)
            if upto <= dialog.read_inbox_max_id:
                return m.AffectedMessages(pts=log.current_pts(tx, me), pts_count=0)
            unread = db.count_unread(tx, me, peer, upto)
            db.set_read_inbox(tx, me, peer, upto, unread)
            pts = log.next_pts(tx, me)
            log.append(
                tx, me, pts, UpdateReadHistoryInbox(Peer(user_id=peer), upto, unread, pts), pushes
            )
            theirs = db.max_peer_copy_read(tx, me, peer, upto)
            if theirs is not None and peer != me:
                their_dialog = db.get_dialog(tx, peer, me)
                if their_dialog is not None and theirs > their_dialog.read_outbox_max_id:
                    db.set_read_outbox(tx, peer, me, theirs)
                    ppts = log.next_pts(tx, peer)
                    upd = UpdateReadHistoryOutbox(Peer(user_id=me), theirs, ppts)
                    log.append(tx, peer, ppts, upd, pushes)
            return m.AffectedMessages(pts=pts, pts_count=1)

        result = await self.d.store.write(write)
        await self.d.push(pushes)
        return result

    async def history(self, ctx: AuthContext, p: m.GetHistory) -> m.History:
        if p.peer.chat_id is not None and p.peer.user_id is None:
            return await self.chat.history(ctx, p.peer.chat_id, p)
        me, peer = ctx.user_id, peer_user_id(p.peer)
        if p.add_offset < -p.limit:
            raise BadRequest("ADD_OFFSET_INVALID", "add_offset must not be below -limit")

        def read(tx: Tx) -> m.History:
            check_user(tx, peer)
            rows = db.history(tx, me, peer, p.offset_id, p.add_offset, p.limit)
            return m.History(
                messages=[r.to_wire() for r in rows],
                users=users_db.load(tx, me, {me, peer}),
                count=db.count(tx, me, peer),
            )

        return await self.d.store.read(read)

    async def dialogs(self, ctx: AuthContext, p: m.GetDialogs) -> m.Dialogs:
        me, now = ctx.user_id, self.d.now()
        return await self.d.store.read(lambda tx: list_dialogs(tx, me, p, now))

    async def forward(self, ctx: AuthContext, p: cm.ForwardMessages) -> cm.ForwardedMessages:
        """Forward messages from any chat the user can read to any chat they may post in;
        the origin is kept (a forward of a forward names the first sender)."""
        if len(p.random_id) != len(p.id) or len(set(p.random_id)) != len(p.random_id):
            raise BadRequest("RANDOM_ID_INVALID", "give one distinct random_id per message")
        me, now = ctx.user_id, self.d.now()
        src, dst = p.from_peer, p.to_peer

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> cm.ForwardedMessages:
            origins = self._origins(tx, me, src, p.id, now)
            sent: list[Message] = []
            for (text, origin, media), rid in zip(origins, p.random_id, strict=True):
                if dst.chat_id is not None and dst.user_id is None:
                    r = self.chat.post(
                        tx, me, dst.chat_id, text, rid, None, origin, now, pushes, media
                    )
                else:
                    peer = peer_user_id(dst)
                    if not users_db.exists(tx, peer):
                        raise BadRequest("PEER_ID_INVALID", "no such user")
                    r = post_private(tx, me, peer, text, rid, None, origin, now, pushes, media)
                sent.append(r.message)
            return cm.ForwardedMessages(messages=sent)

        return await self.chat.chats.write(fn)

    def _origins(
        self, tx: Tx, me: int, src: Peer, ids: list[int], now: int
    ) -> list[tuple[str, FwdFrom, str | None]]:
        """(text, origin, media) of each message; the media's file is reused, not copied."""
        found: dict[int, tuple[str, FwdFrom, str | None]] = {}
        if src.chat_id is not None and src.user_id is None:
            chat, _ = load_visible(tx, src.chat_id, me, now)
            for r in chats_db.get_messages(tx, chat.id, ids):
                if r.action is not None:
                    continue
                wire = r.to_wire(me, None, chat.broadcast)
                found[r.id] = (
                    r.text,
                    wire.fwd_from
                    or FwdFrom(
                        date=r.date,
                        from_id=None if chat.broadcast else r.from_id,
                        chat_id=chat.id if chat.broadcast else None,
                        msg_id=r.id if chat.broadcast else None,
                    ),
                    r.media,
                )
        else:
            peer = peer_user_id(src)
            for pr in db.get_many(tx, me, ids):
                if pr.peer_id == peer:
                    origin = pr.to_wire().fwd_from or FwdFrom(date=pr.date, from_id=pr.from_id)
                    found[pr.id] = (pr.text, origin, pr.media)
        if len(found) != len(set(ids)):
            raise BadRequest("MESSAGE_ID_INVALID", "some of these messages do not exist here")
        return [found[i] for i in ids]

    async def set_typing(self, ctx: AuthContext, p: m.SetTyping) -> bool:
        if p.peer.chat_id is not None and p.peer.user_id is None:
            return await self.chat.typing(ctx, p.peer.chat_id, p.action)
        peer = peer_user_id(p.peer)
        if not await self.d.store.read(lambda tx: users_db.exists(tx, peer)):
            raise BadRequest("PEER_ID_INVALID", "no such user")
        if peer != ctx.user_id:  # ephemeral: pushed, never logged
            frame = encode_push([UpdateUserTyping(user_id=ctx.user_id, action=p.action)])
            await self.d.bus.publish(user_topic(peer), frame)
        return True
