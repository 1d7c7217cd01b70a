"""Sign-in by phone and one-time code, two-step verification, sessions. See docs/auth.md.

Codes: 6 digits from a CSPRNG, stored as a salted hash, valid for code_ttl_seconds, dead
after code_max_attempts wrong tries, single use. A number gets a new code at most once per
code_resend_seconds.

Delivery follows Telegram's ``auth.sentCode``: a number whose account is signed in
somewhere gets the code there first, as a message from the system account (type ``app``);
``auth.resendCode`` moves to SMS, then (where a provider calls) a voice call. Each answer
says the current type, the next one and the seconds before it may be asked for.

Every step that costs money or can be guessed first spends the limits of
services/limits.py (per number, address, network, number range, a global SMS budget; per
code request and number for checks; per account for passwords). Reserved test numbers are
exempt from the code limits, so load tests can sign in at full speed.

Answers to auth.sendCode do not depend on whether the number has an account, except that
with ``code_in_app`` an account signed in elsewhere gets type ``app`` (as in Telegram;
switch it off to answer every number alike).
"""

from __future__ import annotations

import asyncio
import datetime
import enum
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import structlog

from chapar.db import auth as db
from chapar.db import log as log_db
from chapar.db import users as users_db
from chapar.domain import phone as phones
from chapar.domain import text
from chapar.errors import BadRequest, FloodWait, Unauthorized
from chapar.ports.mail import Mailer
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import User
from chapar.services import passwords
from chapar.services.deps import SESSIONS_TOPIC, Deps
from chapar.services.limits import LimitGuard, ip_key, number_range, subnet_key
from chapar.services.sms_delivery import PendingSms, SmsDelivery

log = structlog.get_logger(__name__)
CODE_DIGITS = 6
TOKEN_CACHE_SIZE = 100_000
EMAIL_CODE_TTL = 3600
_TYPES: dict[str, m.CodeType] = {"app": "app", "sms": "sms", "call": "call"}


@dataclass(frozen=True)
class AuthContext:
    user_id: int
    session_id: int


class _Check(enum.Enum):
    OK = "ok"
    INVALID = "PHONE_CODE_INVALID"
    EXPIRED = "PHONE_CODE_EXPIRED"
    HASH_INVALID = "PHONE_CODE_HASH_INVALID"
    UNOCCUPIED = "PHONE_NUMBER_UNOCCUPIED"
    OCCUPIED = "PHONE_NUMBER_OCCUPIED"
    PASSWORD_NEEDED = "SESSION_PASSWORD_NEEDED"


_MESSAGES = {
    _Check.INVALID: "the code is wrong",
    _Check.EXPIRED: "the code expired or was used up; request a new one",
    _Check.HASH_INVALID: "phone_code_hash does not belong to this number",
    _Check.UNOCCUPIED: "no account has this number; call auth.signUp",
    _Check.OCCUPIED: "an account has this number already; call auth.signIn",
}
_EMAIL_MESSAGES = {
    db.EmailCheck.INVALID: "the email code is wrong",
    db.EmailCheck.EXPIRED: "the email code expired or was used up; request a new one",
}


# -- what users read ------------------------------------------------------------------------
def sms_text(code: str, type_: m.CodeType) -> str:
    if type_ == "call":  # read out by a voice provider: digit by digit, twice
        spoken = " ".join(code)
        return f"Your Chapar code is {spoken}. Again: {spoken}."
    return f"Chapar code: {code}\nDo not give this code to anyone."


def app_code_text(code: str) -> str:
    return (
        f"Login code: {code}. Do not give this code to anyone, even if they say they are"
        " from Chapar!\n\nIt only signs in to your account. If you did not ask for it,"
        " ignore this message: no one can sign in without it.\n\n"
        f"کد ورود: {code}. این کد را به هیچ‌کس ندهید، حتی اگر بگوید از طرف چاپار است."
    )


def _shown(value: str) -> str:
    """A client-chosen string made safe to quote: one line, no control or direction
    characters (which could make the alert say something else), at most 64 characters."""
    kept = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    return " ".join(kept.split())[:64] or "unknown"


def login_alert_text(first_name: str, device: str, app: str, now: int, note: str = "") -> str:
    """The alert every other session of the account gets on a new sign-in. It names the
    device and app the new session gave and the time, never the address: the message
    stays in the account's history, where an address would be one more thing to leak."""
    when = datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    dev, app_ = _shown(device), _shown(app)
    extra = f"\n\n{note}" if note else ""
    return (
        f"{_shown(first_name)}, someone signed in to your account.\n"
        f"Device: {dev}\nApp: {app_}\nTime: {when}{extra}\n\n"
        "If this was not you, end that session in Settings › Devices and turn on"
        " two-step verification.\n\n"
        f"ورود تازه به حساب شما — دستگاه: {dev}، برنامه: {app_}. اگر شما نبودید، این نشست را"
        " در تنظیمات › دستگاه‌ها پایان دهید."
    )


RECOVERED_NOTE = (
    "Two-step verification was turned off with a code sent to your recovery email."
    " / تأیید دومرحله‌ای با کدی که به ایمیل بازیابی فرستاده شد خاموش شد."
)


def _cooldown(wait: int) -> FloodWait:
    return FloodWait(wait, f"a code was sent to this number; ask again in {wait} s")


class AuthService:
    def __init__(self, deps: Deps, guard: LimitGuard, mailer: Mailer, sms: SmsDelivery) -> None:
        self.d = deps
        self.sms = sms
        self.s = deps.settings
        self.guard = guard
        self.limits = guard.limits
        self.mailer = mailer
        # token -> context; dropped on revocation (bus topic "sessions").
        self._cache: OrderedDict[str, AuthContext] = OrderedDict()
        self._cache_by_session: dict[int, str] = {}
        # Sessions revoked recently: a lookup that raced with the revocation must not put
        # the token back into the cache.
        self._revoked: OrderedDict[int, None] = OrderedDict()

    # -- numbers ------------------------------------------------------------------------
    def _phone(self, raw: str) -> str:
        prefix = self.s.test_number_prefix if self.s.test_numbers else None
        return phones.normalize(raw, self.s.default_region, prefix)

    def _is_test(self, phone: str) -> bool:
        return self.s.test_numbers and phones.is_test_number(phone, self.s.test_number_prefix)

    def _sendable(self, raw: str) -> str:
        """The number in E.164, if codes may go to it."""
        phone = self._phone(raw)
        if phone.startswith(self.guard.blocked):
            raise BadRequest("PHONE_NUMBER_BLOCKED", "codes are not sent to this number range")
        return phone

    def _next_type(self, type_: m.CodeType) -> m.CodeType | None:
        if type_ == "app":
            return "sms"
        if type_ == "sms" and self.s.code_voice_calls:  # a provider that calls is configured
            return "call"
        return None

    # -- limits -------------------------------------------------------------------------
    async def _spend_request(self, ip: str) -> None:
        L = self.limits
        await self.guard.spend(
            (L.send_code_per_ip, ip_key(ip)), (L.send_code_per_subnet, subnet_key(ip))
        )

    async def _spend_send(self, phone: str, type_: m.CodeType) -> None:
        L = self.limits
        await self.guard.spend((L.send_code_per_phone, phone))
        if type_ != "app":  # only SMS and calls cost money
            await self.guard.spend((L.sms_per_range, number_range(phone)), (L.sms_global, "all"))

    # -- delivery -----------------------------------------------------------------------
    def _outbox(self, phone: str, code: str, type_: m.CodeType) -> PendingSms | None:
        """The outbox row of an SMS or call code (services/sms_delivery.py), to be written in
        the same transaction as the code itself: one commit per request, and a code that is
        stored is a code that will be sent. Providers, failover and retries happen in the
        background and survive a restart. None for in-app codes (nothing to send)."""
        if type_ == "app":
            return None
        kind: Literal["sms", "call"] = "call" if type_ == "call" else "sms"
        return self.sms.outbox_write(
            phone, sms_text(code, type_), kind, code=code, ttl=self.s.code_ttl_seconds
        )

    async def _queued(self, pending: PendingSms | None) -> None:
        """After the commit: start the send (and in development wait for its first attempt,
        so the console outbox can be read as soon as the call returns)."""
        if pending is None:
            return
        task = self.sms.queued(pending)
        wait = self.s.sms_send_wait_ms / 1000
        if task is not None and wait > 0:
            await asyncio.wait({task}, timeout=wait)

    # -- codes --------------------------------------------------------------------------
    async def send_code(self, p: m.SendCode, ip: str = "") -> m.SentCode:
        phone = self._sendable(p.phone)
        test = self._is_test(phone)
        if not test:
            await self._spend_request(ip)
        now = self.d.now()
        resend, ttl = self.s.code_resend_seconds, self.s.code_ttl_seconds

        def look(tx: Tx) -> tuple[int | None, bool]:
            return db.latest_code_at(tx, phone), db.account_of(tx, phone)[1]

        last, signed_in = await self.d.store.read(look)
        if not test and last is not None and now < last + resend:
            raise _cooldown(last + resend - now)
        # Test numbers get no in-app message: they send nothing, anywhere.
        type_: m.CodeType = "app" if signed_in and self.s.code_in_app and not test else "sms"
        next_type = self._next_type(type_)
        if not test:
            await self._spend_send(phone, type_)
        code = self.s.test_code if test else self.d.random.digits(CODE_DIGITS)
        hash_ = self.d.random.token(16)
        pushes: log_db.Pushes = []
        outbox = None if test else self._outbox(phone, code, type_)

        def write(tx: Tx) -> int | None:
            last = db.latest_code_at(tx, phone)
            if not test and last is not None and now < last + resend:
                return last + resend - now
            db.insert_code(tx, hash_, phone, code, now, ttl, type_, next_type)
            if type_ == "app":
                uid, _ = db.account_of(tx, phone)
                if uid is not None:
                    db.post_system_message(tx, uid, app_code_text(code), now, pushes)
            if outbox is not None:
                outbox(tx)
            return None

        wait = await self.d.store.write(write)
        if wait is not None:
            raise _cooldown(wait)
        await self.d.push(pushes)
        await self._queued(outbox)
        return m.SentCode(phone_code_hash=hash_, type=type_, next_type=next_type, timeout=resend)

    async def resend_code(self, p: m.ResendCode, ip: str = "") -> m.SentCode:
        """Send the code of an outstanding request the next way (a new code: the old one
        may never have arrived, or arrived somewhere the user cannot reach)."""
        phone = self._sendable(p.phone)
        test = self._is_test(phone)
        if not test:
            await self._spend_request(ip)
        now = self.d.now()
        resend, ttl = self.s.code_resend_seconds, self.s.code_ttl_seconds
        row = await self.d.store.read(lambda tx: db.get_code(tx, p.phone_code_hash))
        if row is None or row.phone != phone:
            raise BadRequest(_Check.HASH_INVALID.value, _MESSAGES[_Check.HASH_INVALID])
        if row.used or now >= row.expires_at:
            raise BadRequest(_Check.EXPIRED.value, _MESSAGES[_Check.EXPIRED])
        if row.next_type not in _TYPES:
            raise BadRequest("SEND_CODE_UNAVAILABLE", "there is no other way left to send it")
        if not test and now < row.sent_at + resend:
            raise FloodWait(row.sent_at + resend - now, "the code went out just now; wait")
        type_ = _TYPES[row.next_type]
        next_type = self._next_type(type_)
        if not test:
            await self._spend_send(phone, type_)
        code = self.s.test_code if test else self.d.random.digits(CODE_DIGITS)
        outbox = None if test else self._outbox(phone, code, type_)

        def write(tx: Tx) -> bool:
            renewed = db.resend_code(
                tx, p.phone_code_hash, row.type, code, type_, next_type, now, ttl
            )
            if renewed and outbox is not None:
                outbox(tx)
            return renewed

        if not await self.d.store.write(write):
            raise FloodWait(resend, "the code was just sent again; wait")
        await self._queued(outbox)
        return m.SentCode(
            phone_code_hash=p.phone_code_hash, type=type_, next_type=next_type, timeout=resend
        )

    def _check_code(self, tx: Tx, phone: str, hash_: str, code: str, now: int) -> _Check:
        row = db.get_code(tx, hash_)
        if row is None or row.phone != phone:
            return _Check.HASH_INVALID
        if row.used or now >= row.expires_at or row.attempts >= self.s.code_max_attempts:
            return _Check.EXPIRED
        if db.code_digest(hash_, code) != row.code_hash:
            db.count_attempt(tx, hash_)  # committed: the caller sees an error, not a raise
            return _Check.INVALID
        return _Check.OK

    # -- sign in / up -------------------------------------------------------------------
    async def sign_in(self, p: m.SignIn, ip: str) -> m.Authorization:
        return await self._authorize(p, ip, sign_up=None)

    async def sign_up(self, p: m.SignUp, ip: str) -> m.Authorization:
        names = (text.first_name(p.first_name), text.last_name(p.last_name))
        return await self._authorize(p, ip, sign_up=names)

    async def _authorize(
        self, p: m.SignIn, ip: str, sign_up: tuple[str, str] | None
    ) -> m.Authorization:
        phone = self._phone(p.phone)
        code = p.code.strip()
        if not code:
            raise BadRequest("PHONE_CODE_EMPTY", "give the code")
        if not self._is_test(phone):
            L = self.limits
            await self.guard.spend(
                (L.check_code_per_phone, phone), (L.check_code_per_hash, p.phone_code_hash)
            )
        now = self.d.now()
        token = self.d.random.token(32)
        pushes: log_db.Pushes = []

        def write(tx: Tx) -> tuple[_Check, User | None]:
            check = self._check_code(tx, phone, p.phone_code_hash, code, now)
            if check is not _Check.OK:
                return check, None
            uid = users_db.id_by_phone(tx, phone)
            if sign_up is None:
                if uid is None:
                    return _Check.UNOCCUPIED, None  # the code stays valid for auth.signUp
                if db.get_password(tx, uid) is not None:
                    db.mark_verified(tx, p.phone_code_hash, now + self.s.code_ttl_seconds)
                    return _Check.PASSWORD_NEEDED, None
            else:
                if uid is not None:
                    return _Check.OCCUPIED, None
                uid = users_db.create(tx, phone, sign_up[0], sign_up[1], now)
            db.mark_used(tx, p.phone_code_hash)
            return _Check.OK, self._open_session(tx, uid, token, p.device, p.app, ip, now, pushes)

        check, user = await self.d.store.write(write)
        await self.d.push(pushes)
        if check is _Check.PASSWORD_NEEDED:
            raise Unauthorized(
                "SESSION_PASSWORD_NEEDED",
                "two-step verification is on: finish with auth.checkPassword",
            )
        if check is not _Check.OK or user is None:
            raise BadRequest(check.value, _MESSAGES[check])
        log.info("signed_in", user_id=user.id, new=sign_up is not None)
        return m.Authorization(token=token, user=user)

    def _open_session(
        self,
        tx: Tx,
        uid: int,
        token: str,
        device: str,
        app: str,
        ip: str,
        now: int,
        pushes: log_db.Pushes,
        note: str = "",
    ) -> User:
        """Create the session and, when the account is signed in elsewhere (or something
        worth knowing happened), tell its sessions through the system account."""
        others = db.session_ids(tx, uid)
        db.create_session(tx, uid, token, device[:256], app[:256], ip, now)
        user = users_db.get(tx, uid, uid)
        assert user is not None
        if others or note:
            alert = login_alert_text(user.first_name, device, app, now, note)
            db.post_system_message(tx, uid, alert, now, pushes)
        return user

    # -- two-step verification at sign-in -------------------------------------------------
    def _awaiting_password(
        self, tx: Tx, phone: str, hash_: str, now: int
    ) -> tuple[int, db.PasswordRow]:
        """The account and password of a code request whose code was accepted. The code
        request is checked first, so nothing here tells a stranger about the account."""
        row = db.get_code(tx, hash_)
        if row is None or row.phone != phone:
            raise BadRequest(_Check.HASH_INVALID.value, _MESSAGES[_Check.HASH_INVALID])
        if row.used or now >= row.expires_at:
            raise BadRequest(_Check.EXPIRED.value, _MESSAGES[_Check.EXPIRED])
        if not row.verified:
            raise BadRequest("PHONE_CODE_UNVERIFIED", "call auth.signIn with the code first")
        uid = users_db.id_by_phone(tx, phone)
        pw = db.get_password(tx, uid) if uid is not None else None
        if uid is None or pw is None:
            raise BadRequest("PASSWORD_EMPTY", "two-step verification is off; call auth.signIn")
        return uid, pw

    async def get_password_hint(self, p: m.CodeRequest) -> m.PasswordSettings:
        phone, now = self._phone(p.phone), self.d.now()
        _, pw = await self.d.store.read(
            lambda tx: self._awaiting_password(tx, phone, p.phone_code_hash, now)
        )
        return m.PasswordSettings(has_password=True, hint=pw.hint, has_recovery=bool(pw.email))

    async def check_password(self, p: m.CheckPassword, ip: str) -> m.Authorization:
        phone, now = self._phone(p.phone), self.d.now()
        uid, pw = await self.d.store.read(
            lambda tx: self._awaiting_password(tx, phone, p.phone_code_hash, now)
        )
        L = self.limits
        await self.guard.spend(
            (L.check_password_per_user, str(uid)), (L.check_password_per_user_day, str(uid))
        )
        ok, rehashed = await passwords.verify_password(pw.hash, p.password)
        if not ok:
            raise BadRequest("PASSWORD_HASH_INVALID", "the password is wrong")
        token = self.d.random.token(32)
        pushes: log_db.Pushes = []

        def write(tx: Tx) -> User:
            again, now_pw = self._awaiting_password(tx, phone, p.phone_code_hash, now)
            if again != uid or now_pw.hash != pw.hash:
                raise BadRequest("PASSWORD_HASH_INVALID", "the password just changed; retry")
            if rehashed is not None:
                db.rehash_password(tx, uid, pw.hash, rehashed)
            db.mark_used(tx, p.phone_code_hash)
            return self._open_session(tx, uid, token, p.device, p.app, ip, now, pushes)

        user = await self.d.store.write(write)
        await self.d.push(pushes)
        await self.guard.forget(L.check_password_per_user, str(uid))
        log.info("signed_in", user_id=uid, password=True)
        return m.Authorization(token=token, user=user)

    async def request_password_recovery(self, p: m.CodeRequest) -> m.PasswordRecovery:
        phone, now = self._phone(p.phone), self.d.now()
        uid, pw = await self.d.store.read(
            lambda tx: self._awaiting_password(tx, phone, p.phone_code_hash, now)
        )
        if not pw.email:
            raise BadRequest("PASSWORD_RECOVERY_NA", "no confirmed recovery email is set")
        await self.guard.spend((self.limits.email_per_user, str(uid)))
        code, salt = self.d.random.digits(CODE_DIGITS), self.d.random.token(16)

        def write(tx: Tx) -> None:
            db.put_email_code(tx, uid, "recover", pw.email, salt, code, now + EMAIL_CODE_TTL)
            # The pending sign-in waits as long as the email code is good.
            db.mark_verified(tx, p.phone_code_hash, now + EMAIL_CODE_TTL)

        await self.d.store.write(write)
        await passwords.send_mail(
            self.mailer,
            pw.email,
            "Chapar account recovery code",
            f"Your Chapar recovery code: {code}\n\nIt turns off two-step verification and"
            " signs in. If you did not ask for it, someone who has your SMS code is trying"
            " to get in: end their session in Settings › Devices.",
        )
        return m.PasswordRecovery(email_pattern=passwords.email_pattern(pw.email))

    async def recover_password(self, p: m.RecoverPassword, ip: str) -> m.Authorization:
        phone, now = self._phone(p.phone), self.d.now()
        uid, _ = await self.d.store.read(
            lambda tx: self._awaiting_password(tx, phone, p.phone_code_hash, now)
        )
        await self.guard.spend((self.limits.check_email_code_per_user, str(uid)))
        token = self.d.random.token(32)
        pushes: log_db.Pushes = []

        def write(tx: Tx) -> tuple[db.EmailCheck, User | None]:
            self._awaiting_password(tx, phone, p.phone_code_hash, now)
            check, _email = db.check_email_code(tx, uid, "recover", p.code, now)
            if check is not db.EmailCheck.OK:
                return check, None
            db.delete_password(tx, uid)
            db.mark_used(tx, p.phone_code_hash)
            user = self._open_session(
                tx, uid, token, p.device, p.app, ip, now, pushes, note=RECOVERED_NOTE
            )
            return check, user

        check, user = await self.d.store.write(write)
        await self.d.push(pushes)
        if check is not db.EmailCheck.OK or user is None:
            raise BadRequest(check.value, _EMAIL_MESSAGES[check])
        log.info("password_recovered", user_id=uid)
        return m.Authorization(token=token, user=user)

    # -- sessions -----------------------------------------------------------------------
    async def resolve_token(self, token: str) -> AuthContext:
        ctx = self._cache.get(token)
        if ctx is not None:
            self._cache.move_to_end(token)
            return ctx
        if not token or len(token) > 256:
            raise Unauthorized("AUTH_KEY_UNREGISTERED", "the token is not valid")
        found = await self.d.store.read(lambda tx: db.session_by_token(tx, token))
        if found is None:
            raise Unauthorized("AUTH_KEY_UNREGISTERED", "the token is not valid or was revoked")
        ctx = AuthContext(user_id=found[1], session_id=found[0])
        if ctx.session_id in self._revoked:
            raise Unauthorized("AUTH_KEY_UNREGISTERED", "the token was revoked")
        self._cache[token] = ctx
        self._cache_by_session[ctx.session_id] = token
        if len(self._cache) > TOKEN_CACHE_SIZE:
            _, old = self._cache.popitem(last=False)
            self._cache_by_session.pop(old.session_id, None)
        return ctx

    def forget_session(self, session_id: int) -> None:
        self._revoked[session_id] = None
        if len(self._revoked) > TOKEN_CACHE_SIZE:
            self._revoked.popitem(last=False)
        token = self._cache_by_session.pop(session_id, None)
        if token is not None:
            self._cache.pop(token, None)

    async def announce_revoked(self, session_ids: list[int]) -> None:
        """After the sessions' rows are gone: drop them here and tell every node (which
        closes their WebSockets with 4401)."""
        for sid in session_ids:
            self.forget_session(sid)
            await self.d.bus.publish(SESSIONS_TOPIC, str(sid).encode())

    async def _revoke(self, user_id: int, session_id: int) -> bool:
        ok = await self.d.store.write(lambda tx: db.delete_session(tx, user_id, session_id))
        if ok:
            await self.announce_revoked([session_id])
        return ok

    async def log_out(self, ctx: AuthContext) -> bool:
        await self._revoke(ctx.user_id, ctx.session_id)
        return True

    async def reset_authorization(self, ctx: AuthContext, p: m.ResetAuthorization) -> bool:
        if not await self._revoke(ctx.user_id, p.id):
            raise BadRequest("HASH_INVALID", "no such session of yours")
        return True

    async def reset_authorizations(self, ctx: AuthContext) -> bool:
        """End every session of the account but the caller's."""
        gone = await self.d.store.write(
            lambda tx: db.delete_other_sessions(tx, ctx.user_id, ctx.session_id)
        )
        await self.announce_revoked(gone)
        return True

    async def get_authorizations(self, ctx: AuthContext) -> m.Authorizations:
        rows = await self.d.store.read(lambda tx: db.list_sessions(tx, ctx.user_id))
        return m.Authorizations(
            authorizations=[
                m.AuthorizationInfo(
                    id=r[0],
                    device=r[1],
                    app=r[2],
                    ip=r[3],
                    created_at=r[4],
                    active_at=r[5],
                    current=r[0] == ctx.session_id,
                )
                for r in rows
            ]
        )

    async def touch(self, ctx: AuthContext) -> None:
        now = self.d.now()
        await self.d.store.write(lambda tx: db.touch_session(tx, ctx.session_id, now))
