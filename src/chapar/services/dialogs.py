"""The dialog list: messages.getDialogs, and what a user sets on a dialog for themself
(messages.toggleDialogPin, account.updateNotifySettings).

Private dialogs are rows of their own (db.messages); a chat dialog is the membership row
plus the chat's last message, since a post touches no member's row (fan-out on read).
Dialogs are ordered by the date of their last message (newest first), except that the
first page starts with the user's pinned dialogs, most recently pinned first, as in
Telegram. Pinned dialogs are not counted in that page's ``limit`` and never come on a
later page, so paging from the last dialog of a page stays exact.

Pins and mutes are per user (db.dialog_settings); each change goes to the user's own log
(updateDialogPinned, updateNotifySettings) so their other sessions follow it."""

from __future__ import annotations

from chapar.db import chats as chats_db
from chapar.db import dialog_settings as settings_db
from chapar.db import log
from chapar.db import messages as db
from chapar.db import users as users_db
from chapar.db.dialog_settings import CHAT, USER, PeerKey, Setting
from chapar.errors import BadRequest
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import (
    Message,
    Peer,
    State,
    UpdateDialogPinned,
    UpdateNotifySettings,
)
from chapar.services.auth import AuthContext
from chapar.services.chat_messages import with_reactions
from chapar.services.chats import chat_wire, load_member
from chapar.services.deps import Deps, Moves
from chapar.services.peers import check_user, peer_user_id

# Telegram's default limit on pinned dialogs (outside folders).
MAX_PINNED_DIALOGS = 5

# Sort key, compared newest first: (date, top message id, kind 0 private / 1 chat, peer id)
Key = tuple[int, int, int, int]
Entry = tuple[Key, m.Dialog, Message | None]
_MAX = 2**63 - 1
_NONE = Setting((USER, 0), 0, 0)


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
    settings = settings_db.all_of(tx, me)
    pin_of = {k: s.pinned_order for k, s in settings.items() if s.pinned_order}
    pinned_users = [k[1] for k in pin_of if k[0] == USER]
    # Pinned private dialogs are left out of the dated part, so ask for that many more.
    dated = db.list_dialogs(
        tx, me, (bound[0], bound[1]) if bound else None, p.limit + len(pinned_users)
    )
    private = [r for r in dated if (USER, r.peer_id) not in pin_of]
    if bound is None:  # the first page: the pinned ones too
        private += [d for d in (db.get_dialog(tx, me, u) for u in pinned_users) if d is not None]
    entries: list[Entry] = []
    tops = {t.id: t for t in db.get_many(tx, me, [r.top_message for r in private])}
    for r in private:
        s = settings.get((USER, r.peer_id), _NONE)
        dialog = m.Dialog(
            peer=Peer(user_id=r.peer_id),
            top_message=r.top_message,
            read_inbox_max_id=r.read_inbox_max_id,
            read_outbox_max_id=r.read_outbox_max_id,
            unread_count=r.unread_count,
            pinned=s.pinned_order > 0,
            mute_until=s.muted_until(now),
        )
        top = tops.get(r.top_message)
        entries.append(
            ((r.top_date, r.top_message, 0, r.peer_id), dialog, top.to_wire() if top else None)
        )
    memberships = {ms.chat_id: ms for ms in chats_db.memberships(tx, me)}
    chats = {c.id: c for c in chats_db.get_many(tx, list(memberships))}
    for chat in chats.values():
        key = (chat.last_msg_date, chat.last_msg_id, 1, chat.id)
        s = settings.get((CHAT, chat.id), _NONE)
        if bound is not None and (key >= bound or s.pinned_order):
            continue  # pinned ones come on the first page only
        ms = memberships[chat.id]
        top_row = chats_db.get_message(tx, chat.id, chat.last_msg_id) if chat.last_msg_id else None
        dialog = m.Dialog(
            peer=Peer(chat_id=chat.id),
            top_message=chat.last_msg_id,
            read_inbox_max_id=ms.read_inbox_max_id,
            read_outbox_max_id=0,
            unread_count=chats_db.count_unread(tx, chat.id, me, ms.read_inbox_max_id),
            pts=chat.pts,
            pinned=s.pinned_order > 0,
            mute_until=s.muted_until(now),
        )
        top_wire = with_reactions(tx, chat, [top_row], me)[0] if top_row else None
        entries.append((key, dialog, top_wire))
    pinned = [e for e in entries if e[1].pinned]
    pinned.sort(key=lambda e: pin_of[settings_db.key_of(e[1].peer)], reverse=True)
    rest = [e for e in entries if not e[1].pinned]
    rest.sort(key=lambda e: e[0], reverse=True)
    entries = pinned + rest[: p.limit]
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


# -- pins and mutes -----------------------------------------------------------------------
def check_peer(tx: Tx, me: int, peer: Peer, now: int) -> PeerKey:
    """The dialog's key, when the user may have this dialog: any existing user for a
    private chat; a group or channel only while a member (the usual CHANNEL_INVALID,
    CHANNEL_PRIVATE or USER_NOT_PARTICIPANT otherwise)."""
    if peer.chat_id is not None and peer.user_id is None:
        load_member(tx, peer.chat_id, me, now)
        return (CHAT, peer.chat_id)
    user_id = peer_user_id(peer)
    check_user(tx, user_id)
    return (USER, user_id)


def in_list(tx: Tx, me: int, key: PeerKey) -> bool:
    """Whether the dialog is in the user's list now (a pin of one that left it is stale)."""
    if key[0] == CHAT:
        return chats_db.member(tx, key[1], me).is_member()
    return db.get_dialog(tx, me, key[1]) is not None


def set_pinned(tx: Tx, me: int, key: PeerKey, pinned: bool, pushes: log.Pushes) -> bool:
    """Pin (on top of the others) or unpin; False when it already was so."""
    settings_db.lock_user(tx, me)
    cur = settings_db.get(tx, me, key)
    if pinned == (cur.pinned_order > 0):
        return False
    order = 0
    if pinned:
        if not in_list(tx, me, key):
            raise BadRequest("PEER_ID_INVALID", "there is no chat with this peer to pin yet")
        others = settings_db.pinned(tx, me)
        stale = [s for s in others if not in_list(tx, me, s.key)]
        if len(others) - len(stale) >= MAX_PINNED_DIALOGS:
            raise BadRequest(
                "PINNED_DIALOGS_TOO_MUCH", f"at most {MAX_PINNED_DIALOGS} chats can be pinned"
            )
        for s in stale:  # chats left, histories cleared: their pins go, and the log says so
            _log_pin(tx, me, Setting(s.key, 0, s.mute_until), pushes)
        order = settings_db.next_pin_order(tx, me)
    _log_pin(tx, me, Setting(key, order, cur.mute_until), pushes)
    return True


def _log_pin(tx: Tx, me: int, s: Setting, pushes: log.Pushes) -> None:
    settings_db.put(tx, me, s)
    pts = log.next_pts(tx, me)
    upd = UpdateDialogPinned(settings_db.peer_of(s.key), s.pinned_order > 0, pts)
    log.append(tx, me, pts, upd, pushes)


def set_muted(tx: Tx, me: int, key: PeerKey, until: int, now: int, pushes: log.Pushes) -> bool:
    """Mute until a time (0: unmute); False when it already was so."""
    settings_db.lock_user(tx, me)
    cur = settings_db.get(tx, me, key)
    if cur.muted_until(now) == until:
        return False
    settings_db.put(tx, me, Setting(key, cur.pinned_order, until))
    pts = log.next_pts(tx, me)
    log.append(tx, me, pts, UpdateNotifySettings(settings_db.peer_of(key), until, pts), pushes)
    return True


class DialogSettingsService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def toggle_pin(self, ctx: AuthContext, p: m.ToggleDialogPin) -> bool:
        me, now = ctx.user_id, self.d.now()

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            set_pinned(tx, me, check_peer(tx, me, p.peer, now), p.pinned, pushes)
            return True

        return await self.d.transact(fn)

    async def update_notify_settings(self, ctx: AuthContext, p: m.SetNotifySettings) -> bool:
        me, now = ctx.user_id, self.d.now()
        until = p.mute_until if p.mute_until > now else 0  # a time passed means unmuted

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> bool:
            set_muted(tx, me, check_peer(tx, me, p.peer, now), until, now, pushes)
            return True

        return await self.d.transact(fn)
