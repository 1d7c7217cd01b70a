"""The logs of groups and channels (sans-I/O): one pts cursor per chat, as Telegram keeps.

A post is written once, to the chat's own log (fan-out on read, docs/chats.md), so the
client follows one sequence per chat besides the user's. :class:`ChatSequencer` holds a
:class:`~chapar.client.core.sequencer.Sequencer` per chat and decides which chat to fetch
with ``updates.getChannelDifference``; the transport only performs the calls.

Where a chat's cursor comes from:

* the saved cursors the app passes to the Client (to resume where it stopped);
* ``updateChannel`` in the user's own log — joined: start at ``chat.pts`` (the chat as it
  was at the join; what came after is fetched or pushed); left, banned: forget the chat;
* ``messages.getDialogs`` (paged by :class:`DialogPager`) after every (re)connect, poll
  and ``updatesTooLong``: a chat the client did not know yet starts at its listed pts (its
  history is the app's to load); a known one that moved is fetched from the local pts.

Listing and user log race: a page of dialogs is a snapshot taken when the user's log stood
at ``state.pts`` (same transaction), while ``updateChannel`` entries stream in through the
user's log. So the transport delivers the user's log up to every page's ``state.pts``
before :meth:`ChatSequencer.reconcile`, which then ignores a listed chat whose membership
changed in the user's log after that page was read: the later fact wins.

Pushes of a chat with no cursor yet (its ``updateChannel`` has not been delivered: the two
travel separately) are kept, a bounded number, and replayed when the cursor appears.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chapar.client.core.sequencer import FetchDifference, Sequencer, Step
from chapar.client.core.updates import AnyUpdate, ChannelDifference, ChatReset, chat_of
from chapar.protocol import methods as m
from chapar.protocol.types import UpdateChannel


@dataclass(frozen=True)
class FetchChannelDifference:
    """Call updates.getChannelDifference for ``chat_id`` from ``pts`` and hand the answer
    to :meth:`ChatSequencer.difference` together with this object. ``wait``: the last
    answer made no progress although a gap remains, so pause before asking again.
    ``token`` names the sync that asked: an answer to a superseded one is ignored."""

    chat_id: int
    pts: int
    wait: bool = False
    token: int = 0


@dataclass
class ChatStep:
    """Chat updates to deliver now (each chat's in pts order), and the fetches to start."""

    deliver: list[AnyUpdate] = field(default_factory=list)
    fetch: list[FetchChannelDifference] = field(default_factory=list)

    def extend(self, other: ChatStep) -> None:
        self.deliver.extend(other.deliver)
        self.fetch.extend(other.fetch)


@dataclass(frozen=True)
class ChatHead:
    """A chat's pts as a dialog listing showed it; ``seen_at``: the user's pts then."""

    chat_id: int
    pts: int
    seen_at: int


def _chat_key(chat_id: int) -> Callable[[AnyUpdate], int | None]:
    def key(u: AnyUpdate) -> int | None:
        c = chat_of(u)
        return c[1] if c is not None and c[0] == chat_id else None

    return key


@dataclass
class _Chat:
    seq: Sequencer
    token: int = 0  # of the fetch in flight; 0: none


class ChatSequencer:
    """Every chat's log delivered exactly once, in that chat's pts order."""

    def __init__(
        self,
        chats: Mapping[int, int] | None = None,
        *,
        stray_limit: int = 256,
        stray_chats: int = 64,
    ) -> None:
        self._chats: dict[int, _Chat] = {cid: self._new(cid, p) for cid, p in (chats or {}).items()}
        self._strays: dict[int, dict[int, AnyUpdate]] = {}
        self._stray_limit = stray_limit
        self._stray_chats = stray_chats
        self._moved: dict[int, int] = {}  # chat -> user pts of its latest updateChannel
        self._tokens = itertools.count(1)

    @staticmethod
    def _new(chat_id: int, pts: int) -> _Chat:
        return _Chat(Sequencer(pts, key=_chat_key(chat_id)))

    # -- reading ------------------------------------------------------------------------
    @property
    def cursors(self) -> dict[int, int]:
        """chat id -> pts of the chat's last delivered update (save it to resume)."""
        return {cid: c.seq.pts or 0 for cid, c in self._chats.items()}

    def pts(self, chat_id: int) -> int | None:
        c = self._chats.get(chat_id)
        return None if c is None else c.seq.pts

    def syncing(self, chat_id: int) -> bool:
        c = self._chats.get(chat_id)
        return c is not None and c.seq.syncing

    @property
    def holes(self) -> list[tuple[int, int, int]]:
        """(chat id, first, last) ranges a chat's log never supplied; normally empty."""
        return [(cid, a, b) for cid, c in self._chats.items() for a, b in c.seq.holes]

    @property
    def strays(self) -> int:
        return sum(len(s) for s in self._strays.values())

    # -- events -------------------------------------------------------------------------
    def push(self, updates: Iterable[AnyUpdate]) -> ChatStep:
        """Pushed chat-log updates (others are ignored: route them to the user's log)."""
        out = ChatStep()
        for u in updates:
            entry = chat_of(u)
            if entry is None:
                continue
            chat_id, pts = entry
            chat = self._chats.get(chat_id)
            if chat is None:
                self._keep_stray(chat_id, pts, u)
            else:
                out.extend(self._step(chat_id, chat, chat.seq.push([u]), new_sync=True))
        return out

    def membership(self, update: UpdateChannel) -> ChatStep:
        """An ``updateChannel`` the user's log just delivered: joined, changed or left."""
        chat_id = update.peer.chat_id
        if chat_id is None:
            return ChatStep()
        self._moved[chat_id] = max(self._moved.get(chat_id, 0), update.pts)
        if update.chat is None:
            self.forget(chat_id)
            return ChatStep()
        return self._track(chat_id, update.chat.pts)

    def reconcile(self, heads: Iterable[ChatHead], seen_at: int, complete: bool) -> ChatStep:
        """Compare a dialog listing with the cursors; the user's log must have been
        delivered up to ``seen_at`` (the highest ``state.pts`` of the listing's pages).

        ``complete``: the listing is one consistent snapshot (a single page), so a known
        chat missing from it is no longer the user's. A listing of several pages can miss
        a chat that moved up while it was paged, so such a chat is fetched instead: the
        server then says whether the user may still read it."""
        out = ChatStep()
        listed: set[int] = set()
        for h in heads:
            listed.add(h.chat_id)
            if self._moved.get(h.chat_id, 0) > h.seen_at:
                continue  # the user's log knows better than this page
            chat = self._chats.get(h.chat_id)
            if chat is None:
                out.extend(self._track(h.chat_id, h.pts))
            elif chat.seq.syncing or h.pts > (chat.seq.pts or 0):
                out.extend(self._resync(h.chat_id, chat))
        for chat_id, chat in list(self._chats.items()):
            if chat_id in listed or self._moved.get(chat_id, 0) > seen_at:
                continue
            if complete:
                self.forget(chat_id)
            else:
                out.extend(self._resync(chat_id, chat))
        return out

    def difference(self, fetch: FetchChannelDifference, diff: ChannelDifference) -> ChatStep:
        """Apply the answer to ``fetch``; a next fetch of the same chat may follow."""
        chat = self._chats.get(fetch.chat_id)
        if chat is None or chat.token != fetch.token or not chat.seq.syncing:
            return ChatStep()  # the chat was forgotten or its sync superseded meanwhile
        out = ChatStep()
        if diff.too_long:
            chat.seq.reset(diff.pts)
            out.deliver.append(ChatReset(fetch.chat_id, diff.pts))
        step = chat.seq.difference(diff.updates, diff.pts, more=not diff.final)
        out.extend(self._step(fetch.chat_id, chat, step, new_sync=False))
        return out

    def abandon(self, fetch: FetchChannelDifference) -> None:
        """The fetch failed without an answer; the chat keeps buffering pushes until a
        later :meth:`reconcile` (after the reconnect) fetches it again."""
        chat = self._chats.get(fetch.chat_id)
        if chat is not None and chat.token == fetch.token:
            chat.token = 0

    def connection_lost(self) -> None:
        """Every fetch in flight is gone with the socket."""
        for chat in self._chats.values():
            chat.token = 0

    def forget(self, chat_id: int) -> None:
        """Stop following a chat (left, banned, or the server refuses to show it)."""
        self._chats.pop(chat_id, None)
        self._strays.pop(chat_id, None)

    # -- internals ----------------------------------------------------------------------
    def _track(self, chat_id: int, pts: int) -> ChatStep:
        chat = self._chats.get(chat_id)
        if chat is not None:
            # Already followed (rights changed, or a listing): catch up if it moved on.
            if chat.seq.syncing or pts > (chat.seq.pts or 0):
                return self._resync(chat_id, chat)
            return ChatStep()
        chat = self._chats[chat_id] = self._new(chat_id, pts)
        strays = self._strays.pop(chat_id, {})
        step = chat.seq.push([strays[p] for p in sorted(strays)])
        return self._step(chat_id, chat, step, new_sync=True)

    def _resync(self, chat_id: int, chat: _Chat) -> ChatStep:
        if chat.token:
            return ChatStep()  # a fetch is in flight; it runs to the chat's head
        return self._step(chat_id, chat, Step(fetch=chat.seq.begin_sync()), new_sync=True)

    def _step(self, chat_id: int, chat: _Chat, step: Step, *, new_sync: bool) -> ChatStep:
        out = ChatStep(list(step.deliver))
        f: FetchDifference | None = step.fetch
        if f is None:
            if not chat.seq.syncing:
                chat.token = 0
            return out
        if new_sync or not chat.token:
            chat.token = next(self._tokens)
        out.fetch.append(FetchChannelDifference(chat_id, f.pts, f.wait, chat.token))
        return out

    def _keep_stray(self, chat_id: int, pts: int, u: AnyUpdate) -> None:
        strays = self._strays.get(chat_id)
        if strays is None:
            if len(self._strays) >= self._stray_chats:
                del self._strays[next(iter(self._strays))]  # the oldest stranger goes
            strays = self._strays[chat_id] = {}
        if len(strays) < self._stray_limit:
            strays.setdefault(pts, u)


# -- the dialog listing ---------------------------------------------------------------------
class DialogPager:
    """Pages messages.getDialogs to its end and collects every chat's pts.

    ``params`` is the next request (None: done); feed each answer to :meth:`feed`. Pages
    are keyed by the last dialog whose top message came along (its date, id and peer), as
    the server's paging expects; a page that brings no new dialog ends the listing, so a
    server that keeps answering the same page cannot make it loop."""

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self.params: dict[str, Any] | None = {"limit": limit}
        self.heads: dict[int, ChatHead] = {}
        self.seen_at = 0
        self.pages = 0
        self._peers: set[tuple[int, int]] = set()

    @property
    def complete(self) -> bool:
        """The whole listing came in one page: one consistent snapshot."""
        return self.params is None and self.pages == 1

    def feed(self, page: m.Dialogs) -> None:
        self.pages += 1
        self.seen_at = max(self.seen_at, page.state.pts)
        new = False
        for d in page.dialogs:
            peer = (d.peer.user_id or 0, d.peer.chat_id or 0)
            if peer in self._peers:
                continue
            self._peers.add(peer)
            new = True
            if d.peer.chat_id is not None and d.pts is not None:
                self.heads[d.peer.chat_id] = ChatHead(d.peer.chat_id, d.pts, page.state.pts)
        more = new and len(page.dialogs) >= self.limit
        self.params = self._next(page) if more else None

    def _next(self, page: m.Dialogs) -> dict[str, Any] | None:
        dates = {
            (msg.peer.user_id or 0, msg.peer.chat_id or 0, msg.id): msg.date
            for msg in page.messages
        }
        for d in reversed(page.dialogs):
            date = dates.get((d.peer.user_id or 0, d.peer.chat_id or 0, d.top_message))
            if date is None:
                continue
            peer = {"chat_id": d.peer.chat_id} if d.peer.chat_id else {"user_id": d.peer.user_id}
            return {
                "limit": self.limit,
                "offset_date": date,
                "offset_id": d.top_message,
                "offset_peer": peer,
            }
        return None
