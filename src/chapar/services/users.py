"""Profiles, usernames, contacts."""

from __future__ import annotations

from chapar.db import chats as chats_db
from chapar.db import log
from chapar.db import users as db
from chapar.domain import phone as phones
from chapar.domain import text
from chapar.errors import BadRequest, Conflict
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import Peer, UpdateUserName, User
from chapar.services.auth import AuthContext
from chapar.services.chats import chat_wire
from chapar.services.deps import Deps


class UsersService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    async def get_full_user(self, ctx: AuthContext, p: m.GetFullUser) -> m.UserFull:
        def read(tx: Tx) -> m.UserFull:
            user = db.get(tx, ctx.user_id, p.user_id)
            if user is None:
                raise BadRequest("USER_ID_INVALID", "no such user")
            return m.UserFull(user=user, about=db.about(tx, p.user_id))

        return await self.d.store.read(read)

    async def _change_self(self, ctx: AuthContext, sql: str, params: tuple[object, ...]) -> User:
        """Apply an UPDATE to the user's row and log updateUserName for their other devices."""
        me = ctx.user_id
        pushes: log.Pushes = []

        def write(tx: Tx) -> User:
            tx.execute(sql, (*params, me))
            db.refresh_name_key(tx, me)
            user = db.get(tx, me, me)
            assert user is not None

            pts = log.next_pts(tx, me)
            upd = UpdateUserName(me, user.first_name, user.last_name, user.username, pts)
            log.append(tx, me, pts, upd, pushes)
            return user

        user = await self.d.store.write(write)
        await self.d.push(pushes)
        return user

    async def update_profile(self, ctx: AuthContext, p: m.UpdateProfile) -> User:
        sets: list[str] = []
        values: list[object] = []
        if p.first_name is not None:
            sets.append("first_name = ?")
            values.append(text.first_name(p.first_name))
        if p.last_name is not None:
            sets.append("last_name = ?")
            values.append(text.last_name(p.last_name))
        if p.about is not None:
            sets.append("about = ?")
            values.append(p.about.strip())
        if not sets:
            raise BadRequest("PROFILE_NOT_MODIFIED", "give first_name, last_name or about")
        return await self._change_self(
            ctx, f"UPDATE users SET {', '.join(sets)} WHERE id = ?", tuple(values)
        )

    async def update_username(self, ctx: AuthContext, p: m.UpdateUsername) -> User:
        if p.username == "":
            return await self._change_self(
                ctx, "UPDATE users SET username = NULL, username_key = NULL WHERE id = ?", ()
            )
        key = text.username_key(p.username)
        me = ctx.user_id

        def taken(tx: Tx) -> bool:
            # Users, groups and channels share one namespace of usernames, as in Telegram.
            owner = db.id_by_username(tx, key)
            return (owner is not None and owner != me) or chats_db.by_username(tx, key) is not None

        if await self.d.store.read(taken):
            raise BadRequest("USERNAME_OCCUPIED", "this username is taken")
        try:
            return await self._change_self(
                ctx,
                "UPDATE users SET username = ?, username_key = ? WHERE id = ?",
                (p.username, key),
            )
        except Conflict as e:  # a race with another taker: the unique index decides
            raise BadRequest("USERNAME_OCCUPIED", "this username is taken") from e

    async def resolve_username(self, ctx: AuthContext, p: m.ResolveUsername) -> m.ResolvedPeer:
        key = p.username.removeprefix("@").lower()

        def read(tx: Tx) -> m.ResolvedPeer:
            uid = db.id_by_username(tx, key)
            user = db.get(tx, ctx.user_id, uid) if uid is not None else None
            if user is not None:
                return m.ResolvedPeer(peer=Peer(user_id=user.id), user=user)
            chat = chats_db.by_username(tx, key)
            if chat is not None:
                member = chats_db.member(tx, chat.id, ctx.user_id)
                if not member.is_banned(self.d.now()):
                    return m.ResolvedPeer(peer=Peer(chat_id=chat.id), chat=chat_wire(chat, member))
            raise BadRequest("USERNAME_NOT_OCCUPIED", "no one has this username")

        return await self.d.store.read(read)

    async def import_contacts(self, ctx: AuthContext, p: m.ImportContacts) -> m.ImportedContacts:
        me = ctx.user_id
        s = self.d.settings
        prefix = s.test_number_prefix if s.test_numbers else None
        wanted: list[tuple[str, str, str]] = []
        for c in p.contacts:
            try:
                e164 = phones.normalize(c.phone, s.default_region, prefix)
            except BadRequest:
                continue  # like Telegram: numbers that are not numbers are skipped, not fatal
            wanted.append((e164, c.first_name.strip(), c.last_name.strip()))

        def write(tx: Tx) -> m.ImportedContacts:
            imported: list[m.ImportedContact] = []
            for e164, first, last in wanted:
                uid = db.id_by_phone(tx, e164)
                if uid is None or uid == me:
                    continue
                tx.execute(
                    "INSERT INTO contacts (owner_id, user_id, first_name, last_name) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (owner_id, user_id) DO UPDATE SET first_name = excluded.first_name,"
                    " last_name = excluded.last_name",
                    (me, uid, first, last),
                )
                imported.append(m.ImportedContact(phone=e164, user_id=uid))
            users = db.load(tx, me, [i.user_id for i in imported])
            return m.ImportedContacts(imported=imported, users=users)

        return await self.d.store.write(write)
