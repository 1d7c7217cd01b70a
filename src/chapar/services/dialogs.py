"""messages.getDialogs: private dialogs and the user's groups and channels, in one list
ordered by the date of their last message (newest first).

Private dialogs are rows of their own (db.messages); a chat dialog is the membership row
plus the chat's last message, since a post touches no member's row (fan-out on read)."""

from __future__ import annotations

from chapar.db import chats as chats_db
from chapar.db import log
from chapar.db import messages as db
from chapar.db import users as users_db
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import Message, Peer, State
from chapar.services.chat_messages import with_reactions
from chapar.services.chats import chat_wire

# Sort key, compared newest first: (date, top message id, kind 0 private / 1 chat, peer id)
Key = tuple[int, int, int, int]
_MAX = 2**63 - 1


def _bound(tx: Tx, me: int, p: m.GetDialogs) -> Key | None:
    if p.offset_peer is not None:
        kind = 1 if p.offset_peer.chat_id is not None else 0
        pid = p.offset_peer.chat_id or p.offset_peer.user_id or 0
        return (p.offset_date or _MAX, p.offset_id or _MAX, kind, pid)
    if p.offset_id and not p.offset_date:
        top = db.get(tx, me, p.offset_id)  # offset_id alone names a private dialog's top
        date = top.date if top is not None else _MAX
        return (date, p.offset_id, 0, top.peer_id if top else _MAX)
    if p.offset_date:
        return (
            (p.offset_date, _MAX, 0, 0)
            if not p.offset_id
            else (p.offset_date, p.offset_id, 1, _MAX)
        )
    return None


def list_dialogs(tx: Tx, me: int, p: m.GetDialogs, now: int) -> m.Dialogs:
    bound = _bound(tx, me, p)
    private = db.list_dialogs(tx, me, (bound[0], bound[1]) if bound else None, p.limit)
    entries: list[tuple[Key, m.Dialog, Message | None]] = []
    tops = {t.id: t for t in db.get_many(tx, me, [r.top_message for r in private])}
    for r in private:
        key = (r.top_date, r.top_message, 0, r.peer_id)
        dialog = m.Dialog(
            peer=Peer(user_id=r.peer_id),
            top_message=r.top_message,
            read_inbox_max_id=r.read_inbox_max_id,
            read_outbox_max_id=r.read_outbox_max_id,
            unread_count=r.unread_count,
        )
        top = tops.get(r.top_message)
        entries.append((key, dialog, top.to_wire() if top else None))
    memberships = {ms.chat_id: ms for ms in chats_db.memberships(tx, me)}
    chats = {c.id: c for c in chats_db.get_many(tx, list(memberships))}
    for chat in chats.values():
        key = (chat.last_msg_date, chat.last_msg_id, 1, chat.id)
        if bound is not None and key >= bound:
            continue
        ms = memberships[chat.id]
        top_row = chats_db.get_message(tx, chat.id, chat.last_msg_id) if chat.last_msg_id else None
        dialog = m.Dialog(
            peer=Peer(chat_id=chat.id),
            top_message=chat.last_msg_id,
            read_inbox_max_id=ms.read_inbox_max_id,
            read_outbox_max_id=0,
            unread_count=chats_db.count_unread(tx, chat.id, me, ms.read_inbox_max_id),
            pts=chat.pts,
        )
        top_wire = with_reactions(tx, chat, [top_row], me)[0] if top_row else None
        entries.append((key, dialog, top_wire))
    entries.sort(key=lambda e: e[0], reverse=True)
    entries = entries[: p.limit]
    shown_chats = [e[1].peer.chat_id for e in entries if e[1].peer.chat_id is not None]
    user_ids = {me, *(e[1].peer.user_id for e in entries if e[1].peer.user_id is not None)}
    user_ids |= {e[2].from_id for e in entries if e[2] is not None}
    return m.Dialogs(
        dialogs=[e[1] for e in entries],
        messages=[e[2] for e in entries if e[2] is not None],
        users=users_db.load(tx, me, user_ids),
        chats=[chat_wire(chats[c], chats_db.member(tx, c, me)) for c in shown_chats],
        state=State(pts=log.current_pts(tx, me), date=now),
    )
