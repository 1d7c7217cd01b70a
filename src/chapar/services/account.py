"""The account itself: two-step verification settings and deleting the account.
See docs/auth.md.

Two-step verification (Telegram's "cloud password"): an optional password asked after the
code at sign-in (services/auth.py), with a hint and an optional recovery email that must
be confirmed with a code before it counts, so a typo cannot lock anyone out. Changing or
removing the password, and deleting the account, need the current one.
"""

from __future__ import annotations

import structlog

from chapar.db import auth as db
from chapar.db import chats as chats_db
from chapar.db import log
from chapar.domain.rights import ALL
from chapar.errors import BadRequest
from chapar.ports.mail import Mailer
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.services import passwords
from chapar.services.auth import CODE_DIGITS, EMAIL_CODE_TTL, AuthContext, AuthService
from chapar.services.chats import tell_user
from chapar.services.deps import Deps, Moves

log_ = structlog.get_logger(__name__)


def settings_of(pw: db.PasswordRow | None) -> m.PasswordSettings:
    if pw is None:
        return m.PasswordSettings(has_password=False)
    pending = passwords.email_pattern(pw.pending_email) if pw.pending_email else None
    return m.PasswordSettings(
        has_password=True,
        hint=pw.hint,
        has_recovery=bool(pw.email),
        email_unconfirmed_pattern=pending,
    )


class AccountService:
    def __init__(self, deps: Deps, auth: AuthService, mailer: Mailer) -> None:
        self.d = deps
        self.auth = auth
        self.guard = auth.guard
        self.limits = auth.guard.limits
        self.mailer = mailer

    async def _password(self, user_id: int) -> db.PasswordRow | None:
        return await self.d.store.read(lambda tx: db.get_password(tx, user_id))

    async def _verify(self, user_id: int, pw: db.PasswordRow, given: str) -> None:
        """The password the caller gave must be the account's; spends its attempt limits."""
        if not given:
            raise BadRequest("PASSWORD_HASH_INVALID", "two-step verification is on: give it")
        L = self.limits
        key = str(user_id)
        await self.guard.spend(
            (L.check_password_per_user, key), (L.check_password_per_user_day, key)
        )
        ok, _ = await passwords.verify_password(pw.hash, given)
        if not ok:
            raise BadRequest("PASSWORD_HASH_INVALID", "the password is wrong")
        await self.guard.forget(L.check_password_per_user, key)

    # -- two-step verification ------------------------------------------------------------
    async def get_password(self, ctx: AuthContext) -> m.PasswordSettings:
        return settings_of(await self._password(ctx.user_id))

    async def update_password_settings(
        self, ctx: AuthContext, p: m.UpdatePasswordSettings
    ) -> m.PasswordSettings:
        me, now = ctx.user_id, self.d.now()
        hint = " ".join(p.hint.split())
        email = passwords.check_email(p.email) if p.email.strip() else ""
        if p.new_password and hint and p.new_password.casefold() in hint.casefold():
            raise BadRequest("PASSWORD_HINT_INVALID", "the hint must not give the password away")
        pw = await self._password(me)
        if not p.new_password and pw is None:
            raise BadRequest("PASSWORD_EMPTY", "no password is set; give new_password")
        await self.guard.spend((self.limits.update_password_per_user, str(me)))
        if pw is not None:
            await self._verify(me, pw, p.current_password)
        before = pw.hash if pw is not None else None

        def unchanged(tx: Tx) -> None:
            now_pw = db.get_password(tx, me)
            if (now_pw.hash if now_pw is not None else None) != before:
                raise BadRequest("PASSWORD_HASH_INVALID", "the password just changed; retry")

        if not p.new_password:

            def remove(tx: Tx) -> None:
                unchanged(tx)
                db.delete_password(tx, me)

            await self.d.store.write(remove)
            log_.info("password_removed", user_id=me)
            return settings_of(None)

        new_hash = await passwords.hash_password(p.new_password)
        # An address already confirmed stays confirmed; a new one waits for its code.
        confirmed = pw.email if pw is not None and email.casefold() == pw.email.casefold() else ""
        pending = email if email and not confirmed else ""
        code, salt = self.d.random.digits(CODE_DIGITS), self.d.random.token(16)
        if pending:
            await self.guard.spend((self.limits.email_per_user, str(me)))

        def write(tx: Tx) -> db.PasswordRow | None:
            unchanged(tx)
            db.put_password(tx, me, new_hash, hint, confirmed, pending, now)
            if pending:
                db.put_email_code(tx, me, "confirm", pending, salt, code, now + EMAIL_CODE_TTL)
            return db.get_password(tx, me)

        stored = await self.d.store.write(write)
        if pending:
            await passwords.send_mail(
                self.mailer,
                pending,
                "Confirm your Chapar recovery email",
                f"Your code: {code}\n\nEnter it in Chapar to use this address to recover"
                " your account if you forget your two-step verification password.",
            )
        log_.info("password_set", user_id=me, changed=pw is not None)
        return settings_of(stored)

    async def confirm_password_email(
        self, ctx: AuthContext, p: m.ConfirmPasswordEmail
    ) -> m.PasswordSettings:
        me, now = ctx.user_id, self.d.now()
        await self.guard.spend((self.limits.check_email_code_per_user, str(me)))

        def write(tx: Tx) -> tuple[db.EmailCheck, db.PasswordRow | None]:
            check, email = db.check_email_code(tx, me, "confirm", p.code, now)
            if check is db.EmailCheck.OK and not db.confirm_email(tx, me, email):
                check = db.EmailCheck.EXPIRED  # the address was changed since
            return check, db.get_password(tx, me)

        check, pw = await self.d.store.write(write)
        if check is db.EmailCheck.INVALID:
            raise BadRequest(check.value, "the code is wrong")
        if check is db.EmailCheck.EXPIRED:
            raise BadRequest(check.value, "the code expired or was used up; set the email again")
        return settings_of(pw)

    # -- deletion -------------------------------------------------------------------------
    async def delete_account(self, ctx: AuthContext, p: m.DeleteAccount) -> bool:
        """Delete the account as Telegram does: its sessions end, its profile, username,
        contacts and own message box go, it leaves every chat (a creator's chat passes to
        its longest-serving admin), and the other side of each private chat keeps its
        copies, shown as from a deleted account. The number can sign up anew."""
        me, now = ctx.user_id, self.d.now()
        pw = await self._password(me)
        if pw is not None:
            await self._verify(me, pw, p.password)

        def fn(tx: Tx, pushes: log.Pushes, moves: Moves) -> list[int]:
            for chat_id, role in db.chat_roles(tx, me):
                if role == "creator":
                    heir = db.heir_of(tx, chat_id)
                    if heir is not None:
                        chats_db.put_member(tx, chat_id, heir, "creator", now, rights=int(ALL))
                        chats_db.set_fields(tx, chat_id, creator_id=heir)
                        tell_user(tx, chat_id, heir, pushes, moves)
                chats_db.remove_member(tx, chat_id, me)
                moves.append((me, chat_id, False))
            return db.delete_account(tx, me)

        gone = await self.d.transact(fn)
        await self.auth.announce_revoked(gone)
        log_.info("account_deleted", user_id=me, reason=p.reason)
        return True
