"""One dispatcher behind both doors: find the method, validate params against its type,
check authentication, call the service, and turn every outcome into an envelope."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from chapar import metrics
from chapar.errors import ChaparError, FloodWait, NotFound, Unauthorized
from chapar.protocol import methods as m
from chapar.protocol.envelope import ErrorBody, encode_error, encode_ok
from chapar.services.account import AccountService
from chapar.services.auth import AuthContext, AuthService
from chapar.services.chats import ChatsService
from chapar.services.dialogs import DialogSettingsService
from chapar.services.media import MediaService
from chapar.services.messages import MessagesService
from chapar.services.presence import PresenceService
from chapar.services.search import SearchService
from chapar.services.updates import UpdatesService
from chapar.services.users import UsersService

log = structlog.get_logger(__name__)


@dataclass
class Call:
    """Who is calling: the session (None before sign-in) and the address it came from."""

    auth: AuthContext | None
    ip: str
    # Set by the sign-in methods so a WebSocket can adopt the new session.
    new_token: str | None = None
    door: str = "http"


Handler = Callable[[Call, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Services:
    auth: AuthService
    users: UsersService
    messages: MessagesService
    updates: UpdatesService
    chats: ChatsService
    search: SearchService
    media: MediaService
    account: AccountService
    presence: PresenceService


def _need(call: Call) -> AuthContext:
    if call.auth is None:
        raise Unauthorized(
            "AUTH_KEY_UNREGISTERED", "sign in first: send Authorization: Bearer <token>"
        )
    return call.auth


def build_handlers(s: Services) -> dict[str, Handler]:
    async def sign_in(c: Call, p: m.SignIn) -> m.Authorization:
        r = await s.auth.sign_in(p, c.ip)
        c.new_token = r.token
        return r

    async def sign_up(c: Call, p: m.SignUp) -> m.Authorization:
        r = await s.auth.sign_up(p, c.ip)
        c.new_token = r.token
        return r

    async def check_password(c: Call, p: m.CheckPassword) -> m.Authorization:
        r = await s.auth.check_password(p, c.ip)
        c.new_token = r.token
        return r

    async def recover_password(c: Call, p: m.RecoverPassword) -> m.Authorization:
        r = await s.auth.recover_password(p, c.ip)
        c.new_token = r.token
        return r

    async def full_user(c: Call, p: m.GetFullUser) -> m.UserFull:
        return await s.presence.with_status(await s.users.get_full_user(_need(c), p))

    # Built from the messages service's deps: Services (filled by app.py) stays as it is.
    dialogs = DialogSettingsService(s.messages.d)

    handlers: dict[str, Handler] = {
        "auth.sendCode": lambda c, p: s.auth.send_code(p, c.ip),
        "auth.resendCode": lambda c, p: s.auth.resend_code(p, c.ip),
        "auth.checkPassword": check_password,
        "auth.getPassword": lambda c, p: s.auth.get_password_hint(p),
        "auth.requestPasswordRecovery": lambda c, p: s.auth.request_password_recovery(p),
        "auth.recoverPassword": recover_password,
        "auth.resetAuthorizations": lambda c, p: s.auth.reset_authorizations(_need(c)),
        "account.getPassword": lambda c, p: s.account.get_password(_need(c)),
        "account.updatePasswordSettings": lambda c, p: s.account.update_password_settings(
            _need(c), p
        ),
        "account.confirmPasswordEmail": lambda c, p: s.account.confirm_password_email(_need(c), p),
        "account.deleteAccount": lambda c, p: s.account.delete_account(_need(c), p),
        "auth.signIn": sign_in,
        "auth.signUp": sign_up,
        "auth.logOut": lambda c, p: s.auth.log_out(_need(c)),
        "account.getAuthorizations": lambda c, p: s.auth.get_authorizations(_need(c)),
        "account.resetAuthorization": lambda c, p: s.auth.reset_authorization(_need(c), p),
        "account.updateProfile": lambda c, p: s.users.update_profile(_need(c), p),
        "account.updateUsername": lambda c, p: s.users.update_username(_need(c), p),
        "users.getFullUser": full_user,
        "users.getStatuses": lambda c, p: s.presence.get_statuses(_need(c), p),
        "account.updateStatus": lambda c, p: s.presence.update_status(_need(c), p),
        "contacts.resolveUsername": lambda c, p: s.users.resolve_username(_need(c), p),
        "contacts.importContacts": lambda c, p: s.users.import_contacts(_need(c), p),
        "messages.sendMessage": lambda c, p: s.messages.send(_need(c), p),
        "messages.getHistory": lambda c, p: s.messages.history(_need(c), p),
        "messages.getDialogs": lambda c, p: s.messages.dialogs(_need(c), p),
        "messages.readHistory": lambda c, p: s.messages.read_history(_need(c), p),
        "messages.editMessage": lambda c, p: s.messages.edit(_need(c), p),
        "messages.deleteMessages": lambda c, p: s.messages.delete(_need(c), p),
        "messages.setTyping": lambda c, p: s.messages.set_typing(_need(c), p),
        "messages.toggleDialogPin": lambda c, p: dialogs.toggle_pin(_need(c), p),
        "account.updateNotifySettings": lambda c, p: dialogs.update_notify_settings(_need(c), p),
        "updates.getState": lambda c, p: s.updates.get_state(_need(c)),
        "updates.getDifference": lambda c, p: s.updates.get_difference(_need(c), p),
        "updates.getChannelDifference": lambda c, p: s.chats.difference(_need(c), p),
        "channels.createChannel": lambda c, p: s.chats.create(_need(c), p),
        "channels.inviteToChannel": lambda c, p: s.chats.invite(_need(c), p),
        "channels.joinChannel": lambda c, p: s.chats.join(_need(c), p),
        "channels.leaveChannel": lambda c, p: s.chats.leave(_need(c), p),
        "channels.editBanned": lambda c, p: s.chats.edit_banned(_need(c), p),
        "channels.editAdmin": lambda c, p: s.chats.edit_admin(_need(c), p),
        "channels.getParticipants": lambda c, p: s.chats.participants(_need(c), p),
        "channels.getFullChannel": lambda c, p: s.chats.get_full(_need(c), p),
        "channels.editTitle": lambda c, p: s.chats.edit_title(_need(c), p),
        "channels.editAbout": lambda c, p: s.chats.edit_about(_need(c), p),
        "channels.updateUsername": lambda c, p: s.chats.update_username(_need(c), p),
        "channels.toggleSlowMode": lambda c, p: s.chats.toggle_slow_mode(_need(c), p),
        "channels.toggleSignatures": lambda c, p: s.chats.toggle_signatures(_need(c), p),
        "messages.exportChatInvite": lambda c, p: s.chats.export_invite(_need(c), p),
        "messages.importChatInvite": lambda c, p: s.chats.import_invite(_need(c), p),
        "messages.editExportedChatInvite": lambda c, p: s.chats.edit_invite(_need(c), p),
        "messages.sendReaction": lambda c, p: s.messages.chat.react(_need(c), p),
        "messages.updatePinnedMessage": lambda c, p: s.messages.chat.pin(_need(c), p),
        "messages.getMessagesViews": lambda c, p: s.messages.chat.views(_need(c), p),
        "messages.forwardMessages": lambda c, p: s.messages.forward(_need(c), p),
        "messages.search": lambda c, p: s.search.messages(_need(c), p),
        "contacts.search": lambda c, p: s.search.contacts(_need(c), p),
        "upload.getUploadedParts": lambda c, p: s.media.uploaded_parts(_need(c), p),
        "messages.sendMedia": lambda c, p: s.media.send(_need(c), p),
        "messages.getMediaUrl": lambda c, p: s.media.signed_url(_need(c), p),
    }
    missing = set(m.METHODS) ^ set(handlers)
    if missing:  # the table and the handlers must match exactly
        raise RuntimeError(f"methods without handler or spec: {sorted(missing)}")
    return handlers


def error_body(e: ChaparError) -> ErrorBody:
    retry = e.retry_after if isinstance(e, FloodWait) else None
    return ErrorBody(code=e.code, type=e.type, message=e.message, retry_after=retry)


INTERNAL = ErrorBody(code=500, type="INTERNAL", message="internal error; it was logged")


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self.handlers = build_handlers(services)
        self._decoders = {
            name: msgspec.json.Decoder(spec.params) for name, spec in m.METHODS.items()
        }
        # Keys are bounded: unknown methods are counted under "unknown".
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def requires_auth(self, method: str) -> bool:
        spec = m.METHODS.get(method)
        return spec is not None and spec.auth

    async def call(
        self, method: str, params: bytes, call: Call, id: int | None = None
    ) -> tuple[int, bytes]:
        """Run a method; return (HTTP status, encoded answer). Never raises."""
        label = method if method in self.handlers else "unknown"
        started = time.perf_counter()
        try:
            result = await self._call(method, params, call)
        except ChaparError as e:
            status, answer = e.code, encode_error(error_body(e), id)
        except Exception:
            log.exception("method_failed", method=method)
            status, answer = 500, encode_error(INTERNAL, id)
        else:
            status, answer = 200, encode_ok(result, id)
        outcome = "ok" if status == 200 else "client_error" if status < 500 else "server_error"
        counter, seconds = self._metrics(label, call.door, outcome)
        counter.inc()
        seconds.observe(time.perf_counter() - started)
        return status, answer

    def _metrics(self, method: str, door: str, outcome: str) -> tuple[Any, Any]:
        """The metric children of a call, looked up once (labels() takes a lock and
        builds the key on every call; this is on the path of every message)."""
        key = (method, door, outcome)
        pair = self._children.get(key)
        if pair is None:
            pair = (
                metrics.API_REQUESTS.labels(method, door, outcome),
                metrics.API_SECONDS.labels(method),
            )
            self._children[key] = pair
        return pair

    async def _call(self, method: str, params: bytes, call: Call) -> Any:
        spec = m.METHODS.get(method)
        if spec is None:
            raise NotFound("METHOD_INVALID", f"unknown method {method[:64]!r}")
        if spec.auth:
            _need(call)
        try:
            p = self._decoders[method].decode(params or b"{}")
        except msgspec.ValidationError as e:
            raise ChaparError("INPUT_INVALID", f"invalid params: {e}") from e
        except msgspec.DecodeError as e:
            raise ChaparError("INPUT_INVALID", f"malformed JSON: {e}") from e
        return await self.handlers[method](call, p)
