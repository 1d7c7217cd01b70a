"""Per-user dialog settings: pinned (with its order) and muted until a time.

A user has a row only for the dialogs they pinned or muted, so reading all of a user's
rows is cheap; a row that ends up neither pinned nor muted is deleted."""

from __future__ import annotations

from dataclasses import dataclass

from chapar.ports.store import Tx
from chapar.protocol.types import Peer

USER, CHAT = 0, 1
PeerKey = tuple[int, int]  # (USER or CHAT, id)


def key_of(peer: Peer) -> PeerKey:
    """The key of a peer already checked to name exactly one of user_id or chat_id."""
    if peer.chat_id is not None:
        return (CHAT, peer.chat_id)
    assert peer.user_id is not None
    return (USER, peer.user_id)


def peer_of(key: PeerKey) -> Peer:
    return Peer(chat_id=key[1]) if key[0] == CHAT else Peer(user_id=key[1])


@dataclass(frozen=True)
class Setting:
    key: PeerKey
    pinned_order: int  # 0: not pinned; higher: pinned later
    mute_until: int  # 0: not muted

    def muted_until(self, now: int) -> int:
        """The mute as the user sees it now: 0 once it has run out."""
        return self.mute_until if self.mute_until > now else 0


_COLS = "peer_kind, peer_id, pinned_order, mute_until"


def get(tx: Tx, user_id: int, key: PeerKey) -> Setting:
    r = tx.fetchone(
        f"SELECT {_COLS} FROM dialog_settings WHERE user_id = ? AND peer_kind = ? AND peer_id = ?",
        (user_id, *key),
    )
    return Setting((int(r[0]), int(r[1])), int(r[2]), int(r[3])) if r else Setting(key, 0, 0)


def all_of(tx: Tx, user_id: int) -> dict[PeerKey, Setting]:
    rows = tx.fetchall(f"SELECT {_COLS} FROM dialog_settings WHERE user_id = ?", (user_id,))
    return {
        (int(r[0]), int(r[1])): Setting((int(r[0]), int(r[1])), int(r[2]), int(r[3])) for r in rows
    }


def pinned(tx: Tx, user_id: int) -> list[Setting]:
    """The user's pinned dialogs, most recently pinned first."""
    rows = tx.fetchall(
        f"SELECT {_COLS} FROM dialog_settings WHERE user_id = ? AND pinned_order > 0"
        " ORDER BY pinned_order DESC, peer_kind, peer_id",
        (user_id,),
    )
    return [Setting((int(r[0]), int(r[1])), int(r[2]), int(r[3])) for r in rows]


def next_pin_order(tx: Tx, user_id: int) -> int:
    r = tx.fetchone(
        "SELECT COALESCE(MAX(pinned_order), 0) FROM dialog_settings WHERE user_id = ?",
        (user_id,),
    )
    return int(r[0]) + 1 if r else 1


def put(tx: Tx, user_id: int, s: Setting) -> None:
    """Store a setting; one that is neither pinned nor muted leaves no row."""
    if s.pinned_order == 0 and s.mute_until == 0:
        tx.execute(
            "DELETE FROM dialog_settings WHERE user_id = ? AND peer_kind = ? AND peer_id = ?",
            (user_id, *s.key),
        )
        return
    tx.execute(
        "INSERT INTO dialog_settings (user_id, peer_kind, peer_id, pinned_order, mute_until)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, peer_kind, peer_id) DO UPDATE SET"
        " pinned_order = excluded.pinned_order, mute_until = excluded.mute_until",
        (user_id, *s.key, s.pinned_order, s.mute_until),
    )


def lock_user(tx: Tx, user_id: int) -> None:
    """Take the user's row lock (PostgreSQL; SQLite has one writer anyway), so changes of
    one user's settings through several nodes at once run one after the other: the limit
    on pins cannot be passed by a race."""
    tx.execute("UPDATE users SET pts = pts WHERE id = ?", (user_id,))
