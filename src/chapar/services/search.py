"""Search: messages in one chat or across all of a user's chats, and people and public
groups/channels by name or username. Normalised the same way as the index (domain/persian.py)."""

from __future__ import annotations

from chapar.db import chats as chats_db
from chapar.db import messages as msgs_db
from chapar.db import search
from chapar.db import users as users_db
from chapar.domain.persian import normalize
from chapar.errors import BadRequest
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol.types import Message
from chapar.services.auth import AuthContext
from chapar.services.chat_messages import with_reactions
from chapar.services.chats import chat_wire, load_visible
from chapar.services.deps import Deps
from chapar.services.peers import not_one_peer

CANDIDATES = 200


def _like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SearchService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def messages(self, ctx: AuthContext, p: cm.SearchMessages) -> cm.FoundMessages:
        me, now = ctx.user_id, self.d.now()
        if not normalize(p.q):
            raise BadRequest("SEARCH_QUERY_EMPTY", "type something to search for")

        def read(tx: Tx) -> cm.FoundMessages:
            also: str | None = None
            if p.peer is None:
                scopes = [f"u{me}"] + [f"c{c}" for c in chats_db.member_chat_ids(tx, me)]
            elif p.peer.chat_id is not None and p.peer.user_id is None:
                load_visible(tx, p.peer.chat_id, me, now)
                scopes = [f"c{p.peer.chat_id}"]
            elif p.peer.user_id is not None and p.peer.chat_id is None:
                scopes, also = [f"u{me}"], f"u{p.peer.user_id}"
            else:
                raise not_one_peer()
            found = self._load(tx, me, search.search(tx, scopes, p.q, CANDIDATES, also))
            if p.peer is not None and p.peer.user_id is not None:
                found = [m for m in found if m.peer.user_id == p.peer.user_id]
            found.sort(key=lambda m: (m.date, m.id), reverse=True)
            found = found[: p.limit]
            user_ids = {me, *(m.from_id for m in found)}
            user_ids |= {m.peer.user_id for m in found if m.peer.user_id is not None}
            shown = list({m.peer.chat_id for m in found if m.peer.chat_id is not None})
            return cm.FoundMessages(
                messages=found,
                users=users_db.load(tx, me, user_ids),
                chats=[
                    chat_wire(c, chats_db.member(tx, c.id, me))
                    for c in chats_db.get_many(tx, shown)
                ],
            )

        return await self.d.store.read(read)

    def _load(self, tx: Tx, me: int, doc_ids: list[int]) -> list[Message]:
        """The viewer's own copies of the matched messages (those they still have)."""
        mine: list[int] = []
        by_chat: dict[int, list[int]] = {}
        for doc_id in doc_ids:
            kind, where, msg_id = search.decode(doc_id)
            if kind == "c":
                by_chat.setdefault(where, []).append(msg_id)
            elif where == me:
                mine.append(msg_id)
            else:  # the sender's copy names ours; if they deleted theirs, find ours by link
                theirs = msgs_db.get(tx, where, msg_id)
                own = (
                    theirs.peer_msg_id
                    if theirs is not None
                    else msgs_db.id_by_peer_copy(tx, me, where, msg_id)
                )
                if own is not None:
                    mine.append(own)
        found = [r.to_wire() for r in msgs_db.get_many(tx, me, mine)]
        for chat in chats_db.get_many(tx, list(by_chat)):
            found.extend(
                with_reactions(tx, chat, chats_db.get_messages(tx, chat.id, by_chat[chat.id]), me)
            )
        return found

    async def contacts(self, ctx: AuthContext, p: cm.SearchContacts) -> cm.FoundPeers:
        """Public usernames, the user's contacts by name, public chats and the user's own
        chats by title; phone numbers are never searched."""
        me = ctx.user_id
        q = normalize(p.q).removeprefix("@")
        if not q:
            raise BadRequest("SEARCH_QUERY_EMPTY", "type something to search for")
        prefix, inner = _like(q) + "%", "%" + _like(q) + "%"

        def read(tx: Tx) -> cm.FoundPeers:
            user_rows = tx.fetchall(
                "SELECT id FROM users WHERE username_key LIKE ? ESCAPE '\\'"
                " UNION SELECT u.id FROM users u JOIN contacts c ON c.user_id = u.id"
                " WHERE c.owner_id = ? AND u.name_norm LIKE ? ESCAPE '\\' LIMIT ?",
                (prefix, me, inner, p.limit),
            )
            chat_rows = tx.fetchall(
                "SELECT id FROM chats WHERE username_key IS NOT NULL AND"
                " (username_key LIKE ? ESCAPE '\\' OR title_norm LIKE ? ESCAPE '\\')"
                " UNION SELECT c.id FROM chats c JOIN chat_members m ON m.chat_id = c.id"
                " WHERE m.user_id = ? AND m.role IN ('creator', 'admin', 'member')"
                " AND c.title_norm LIKE ? ESCAPE '\\' LIMIT ?",
                (prefix, inner, me, inner, p.limit),
            )
            chats = chats_db.get_many(tx, [int(r[0]) for r in chat_rows])
            return cm.FoundPeers(
                users=users_db.load(tx, me, [int(r[0]) for r in user_rows]),
                chats=[chat_wire(c, chats_db.member(tx, c.id, me)) for c in chats],
            )

        return await self.d.store.read(read)
