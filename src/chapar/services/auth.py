"""Sign-in by phone and one-time code; sessions and their tokens.

Codes: 6 digits from a CSPRNG, stored as a salted hash, valid for code_ttl_seconds, dead
after code_max_attempts wrong tries, single use. A number gets a new code at most once per
code_resend_seconds. See docs/auth.md.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

import structlog

from chapar.db import auth as db
from chapar.db import users as users_db
from chapar.domain import phone as phones
from chapar.domain import text
from chapar.errors import BadRequest, FloodWait, Unauthorized, Unavailable
from chapar.ports.store import Tx
from chapar.protocol import methods as m
from chapar.protocol.types import User
from chapar.services.deps import SESSIONS_TOPIC, Deps

log = structlog.get_logger(__name__)
CODE_DIGITS = 6
TOKEN_CACHE_SIZE = 100_000


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


_MESSAGES = {
    _Check.INVALID: "the code is wrong",
    _Check.EXPIRED: "the code expired or was used up; request a new one",
    _Check.HASH_INVALID: "phone_code_hash does not belong to this number",
    _Check.UNOCCUPIED: "no account has this number; call auth.signUp",
    _Check.OCCUPIED: "an account has this number already; call auth.signIn",
}


class AuthService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.s = deps.settings
        # token -> context; dropped on revocation (bus topic "sessions").
        self._cache: OrderedDict[str, AuthContext] = OrderedDict()
        self._cache_by_session: dict[int, str] = {}
        # Sessions revoked recently: a lookup that raced with the revocation must not put
        # the token back into the cache.
        self._revoked: OrderedDict[int, None] = OrderedDict()

    # -- codes --------------------------------------------------------------------------
    def _phone(self, raw: str) -> str:
        prefix = self.s.test_number_prefix if self.s.test_numbers else None
        return phones.normalize(raw, self.s.default_region, prefix)

    def _is_test(self, phone: str) -> bool:
        return self.s.test_numbers and phones.is_test_number(phone, self.s.test_number_prefix)

    async def send_code(self, p: m.SendCode) -> m.SentCode:
        phone = self._phone(p.phone)
        test = self._is_test(phone)
        now = self.d.now()
        code = self.s.test_code if test else self.d.random.digits(CODE_DIGITS)
        hash_ = self.d.random.token(16)
        resend, ttl = self.s.code_resend_seconds, self.s.code_ttl_seconds

        def write(tx: Tx) -> int | None:
            last = db.latest_code_at(tx, phone)
            if not test and last is not None and now < last + resend:
                return last + resend - now
            db.insert_code(tx, hash_, phone, code, now, ttl)
            return None

        wait = await self.d.store.write(write)
        if wait is not None:
            raise FloodWait(wait, f"a code was sent to this number; ask again in {wait} s")
        if not test:
            try:
                await self.d.sms.send(
                    phone, f"Chapar code: {code}\nDo not give this code to anyone."
                )
            except Exception as e:
                log.error("sms_send_failed", error=str(e))
                raise Unavailable("SMS_SEND_FAILED", "the code could not be sent; retry") from e
        return m.SentCode(phone_code_hash=hash_, type="sms", next_type=None, timeout=resend)

    def _check_code(self, tx: Tx, phone: str, hash_: str, code: str, now: int) -> _Check:
        row = db.get_code(tx, hash_)
        if row is None or row.phone != phone:
            return _Check.HASH_INVALID
        if row.used or now >= row.expires_at or row.attempts >= self.s.code_max_attempts:
            return _Check.EXPIRED
        if db.code_digest(hash_, code.strip()) != row.code_hash:
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
        now = self.d.now()
        token = self.d.random.token(32)

        def write(tx: Tx) -> tuple[_Check, User | None]:
            check = self._check_code(tx, phone, p.phone_code_hash, p.code, now)
            if check is not _Check.OK:
                return check, None
            uid = users_db.id_by_phone(tx, phone)
            if sign_up is None:
                if uid is None:
                    return _Check.UNOCCUPIED, None  # the code stays valid for auth.signUp
            else:
                if uid is not None:
                    return _Check.OCCUPIED, None
                uid = users_db.create(tx, phone, sign_up[0], sign_up[1], now)
            db.mark_used(tx, p.phone_code_hash)
            db.create_session(tx, uid, token, p.device[:256], p.app[:256], ip, now)
            return _Check.OK, users_db.get(tx, uid, uid)

        check, user = await self.d.store.write(write)
        if check is not _Check.OK or user is None:
            raise BadRequest(check.value, _MESSAGES[check])
        log.info("signed_in", user_id=user.id, new=sign_up is not None)
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

    async def _revoke(self, user_id: int, session_id: int) -> bool:
        ok = await self.d.store.write(lambda tx: db.delete_session(tx, user_id, session_id))
        if ok:
            self.forget_session(session_id)
            await self.d.bus.publish(SESSIONS_TOPIC, str(session_id).encode())
        return ok

    async def log_out(self, ctx: AuthContext) -> bool:
        await self._revoke(ctx.user_id, ctx.session_id)
        return True

    async def reset_authorization(self, ctx: AuthContext, p: m.ResetAuthorization) -> bool:
        if not await self._revoke(ctx.user_id, p.id):
            raise BadRequest("HASH_INVALID", "no such session of yours")
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
