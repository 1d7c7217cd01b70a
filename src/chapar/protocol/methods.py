"""The method table: every API method, defined once with its typed parameters and result.

The HTTP and WebSocket doors validate requests against these types, the OpenAPI document is
generated from them, and the client library uses them to decode results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from chapar.protocol.base import Limit, Name, NonNegId, Params, Str64, Str256
from chapar.protocol.types import (
    Chat,
    Id,
    Int64,
    Message,
    Peer,
    State,
    TypingAction,
    Update,
    User,
    UserStatus,
)

__all__ = ["METHODS", "Limit", "MethodSpec", "Name", "NonNegId", "Params", "Str64", "Str256"]


class Empty(Params):
    pass


# -- auth -------------------------------------------------------------------------------
class SendCode(Params):
    phone: Str64


CodeType = Literal["app", "sms", "call"]


class SentCode(msgspec.Struct):
    """How the code went out (app: as a message to the user's signed-in devices), what
    auth.resendCode does next (None: nothing more), and the seconds before it may."""

    phone_code_hash: str
    type: CodeType
    next_type: CodeType | None
    timeout: int


class ResendCode(Params):
    phone: Str64
    phone_code_hash: Str256


class SignIn(Params):
    phone: Str64
    phone_code_hash: Str256
    code: Str64
    device: Str256 = ""
    app: Str256 = ""


class SignUp(SignIn, kw_only=True):
    first_name: Name
    last_name: Name = ""


class Authorization(msgspec.Struct):
    token: str
    user: User


class AuthorizationInfo(msgspec.Struct):
    id: int
    device: str
    app: str
    ip: str
    created_at: int
    active_at: int
    current: bool


class Authorizations(msgspec.Struct):
    authorizations: list[AuthorizationInfo]


class ResetAuthorization(Params):
    id: Id


# -- two-step verification and the account ----------------------------------------------
Password = Annotated[str, msgspec.Meta(max_length=256)]
Email = Annotated[str, msgspec.Meta(max_length=254)]


class CheckPassword(Params):
    """After auth.signIn answered SESSION_PASSWORD_NEEDED: the same code request, plus the
    password."""

    phone: Str64
    phone_code_hash: Str256
    password: Password
    device: Str256 = ""
    app: Str256 = ""


class CodeRequest(Params):
    """A code request whose code was already accepted (SESSION_PASSWORD_NEEDED)."""

    phone: Str64
    phone_code_hash: Str256


class PasswordRecovery(msgspec.Struct):
    email_pattern: str


class RecoverPassword(Params):
    """The code from the recovery email: turns two-step verification off and signs in."""

    phone: Str64
    phone_code_hash: Str256
    code: Str64
    device: Str256 = ""
    app: Str256 = ""


class PasswordSettings(msgspec.Struct, omit_defaults=True):
    has_password: bool
    hint: str = ""
    # a confirmed recovery email is set
    has_recovery: bool = False
    # an address waiting for its confirmation code (account.confirmPasswordEmail)
    email_unconfirmed_pattern: str | None = None


class UpdatePasswordSettings(Params):
    """Set, change or (new_password "") remove the password. When one is set,
    current_password must be it. email: a recovery address, confirmed by a code sent
    there; "" for none."""

    current_password: Password = ""
    new_password: Password = ""
    hint: Str64 = ""
    email: Email = ""


class ConfirmPasswordEmail(Params):
    code: Str64


class DeleteAccount(Params):
    reason: Str256 = ""
    # required when two-step verification is on
    password: Password = ""


# -- users and contacts -----------------------------------------------------------------
class GetFullUser(Params):
    user_id: Id


class UserFull(msgspec.Struct):
    user: User
    about: str
    # online / offline with was_online / empty (never seen); null while presence is down.
    status: UserStatus | None = None


class UpdateStatus(Params):
    """True: this session went to the background (its connections stop counting as
    online); false: it is back in front."""

    offline: bool


MAX_STATUS_IDS = 200


class GetStatuses(Params):
    user_ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_STATUS_IDS)]


class UserStatusOf(msgspec.Struct):
    user_id: int
    status: UserStatus


class UserStatuses(msgspec.Struct):
    statuses: list[UserStatusOf]


class UpdateProfile(Params):
    first_name: Name | None = None
    last_name: Name | None = None
    about: Annotated[str, msgspec.Meta(max_length=140)] | None = None


class UpdateUsername(Params):
    username: Str64


class ResolveUsername(Params):
    username: Str64


class ResolvedPeer(msgspec.Struct, omit_defaults=True):
    """A user, or a public group or channel (usernames are one namespace)."""

    peer: Peer
    user: User | None = None
    chat: Chat | None = None


class InputContact(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    phone: Str64
    first_name: Name = ""
    last_name: Name = ""


class ImportContacts(Params):
    contacts: Annotated[list[InputContact], msgspec.Meta(max_length=500)]


class ImportedContact(msgspec.Struct):
    phone: str
    user_id: int


class ImportedContacts(msgspec.Struct):
    imported: list[ImportedContact]
    users: list[User]


# -- messages ---------------------------------------------------------------------------
class SendMessage(Params):
    peer: Peer
    text: str
    random_id: Int64
    reply_to: Id | None = None


class SentMessage(msgspec.Struct):
    message: Message
    pts: int


class GetHistory(Params):
    peer: Peer
    offset_id: NonNegId = 0
    add_offset: Annotated[int, msgspec.Meta(ge=-100, le=10_000)] = 0
    limit: Limit = 50


class History(msgspec.Struct):
    messages: list[Message]
    users: list[User]
    count: int


class GetDialogs(Params):
    """Dialogs newest first. To page, pass the last dialog's top message date and id and
    its peer; offset_id alone continues after that private dialog."""

    offset_date: NonNegId = 0
    offset_id: NonNegId = 0
    offset_peer: Peer | None = None
    limit: Limit = 100


class Dialog(msgspec.Struct, omit_defaults=True):
    peer: Peer
    top_message: int
    read_inbox_max_id: int
    read_outbox_max_id: int
    unread_count: int
    # Groups and channels: the chat's pts, for updates.getChannelDifference.
    pts: int | None = None
    # Pinned by this user (pinned dialogs come first, most recently pinned first).
    pinned: bool = False
    # Muted until this unix time; 0 (absent): not muted.
    mute_until: int = 0


class Dialogs(msgspec.Struct):
    dialogs: list[Dialog]
    messages: list[Message]
    users: list[User]
    chats: list[Chat]
    state: State


class ReadHistory(Params):
    peer: Peer
    max_id: NonNegId


class AffectedMessages(msgspec.Struct):
    pts: int
    pts_count: int


class EditMessage(Params):
    peer: Peer
    id: Id
    text: str


class DeleteMessages(Params):
    id: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    # Private ids are the caller's own; in a group or channel, give its peer.
    peer: Peer | None = None
    revoke: bool = False


class SetTyping(Params):
    peer: Peer
    action: TypingAction = "typing"


# mute_until that means "forever": the largest 32-bit time, as Telegram uses.
MUTE_FOREVER = 2**31 - 1


class ToggleDialogPin(Params):
    """Pin (at the top, above the earlier pinned ones) or unpin a dialog of this user."""

    peer: Peer
    pinned: bool


class SetNotifySettings(Params):
    """Mute a dialog until a unix time (2147483647, 2**31-1: for good), or unmute it (0).
    The params of account.updateNotifySettings, named apart from the update of that name."""

    peer: Peer
    mute_until: Annotated[int, msgspec.Meta(ge=0, le=MUTE_FOREVER)]


# -- updates ----------------------------------------------------------------------------
class GetDifference(Params):
    pts: NonNegId
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1000
    # Long poll: wait up to this many seconds for something new when nothing is pending.
    timeout: Annotated[float, msgspec.Meta(ge=0, le=300)] = 0


class Difference(msgspec.Struct):
    updates: list[Update]
    state: State
    # True when more updates remain after state.pts: call again from there.
    slice: bool


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: type[Params]
    result: Any
    summary: str
    auth: bool = True


def _spec(
    name: str, params: type[Params], result: Any, summary: str, auth: bool = True
) -> MethodSpec:
    return MethodSpec(name, params, result, summary, auth)


METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in [
        _spec("auth.sendCode", SendCode, SentCode, "Send a sign-in code to a phone number.", False),
        _spec("auth.signIn", SignIn, Authorization, "Sign in with the code.", False),
        _spec("auth.signUp", SignUp, Authorization, "Create the account for a new number.", False),
        _spec("auth.logOut", Empty, bool, "End the current session."),
        _spec("account.getAuthorizations", Empty, Authorizations, "List the user's sessions."),
        _spec("account.resetAuthorization", ResetAuthorization, bool, "End one session."),
        _spec("auth.resendCode", ResendCode, SentCode, "Send the code the next way.", False),
        _spec(
            "auth.checkPassword", CheckPassword, Authorization, "Finish sign-in: password.", False
        ),
        _spec("auth.getPassword", CodeRequest, PasswordSettings, "The password hint.", False),
        _spec(
            "auth.requestPasswordRecovery",
            CodeRequest,
            PasswordRecovery,
            "Email a recovery code.",
            False,
        ),
        _spec(
            "auth.recoverPassword", RecoverPassword, Authorization, "Sign in by email code.", False
        ),
        _spec("auth.resetAuthorizations", Empty, bool, "End every other session."),
        _spec("account.getPassword", Empty, PasswordSettings, "Two-step verification state."),
        _spec(
            "account.updatePasswordSettings",
            UpdatePasswordSettings,
            PasswordSettings,
            "Set, change or remove the password.",
        ),
        _spec(
            "account.confirmPasswordEmail",
            ConfirmPasswordEmail,
            PasswordSettings,
            "Confirm the recovery email.",
        ),
        _spec("account.deleteAccount", DeleteAccount, bool, "Delete the account for good."),
        _spec("account.updateProfile", UpdateProfile, User, "Change name or bio."),
        _spec("account.updateUsername", UpdateUsername, User, "Set or clear ('') username."),
        _spec("users.getFullUser", GetFullUser, UserFull, "A user's profile."),
        _spec("users.getStatuses", GetStatuses, UserStatuses, "Online or last seen, in bulk."),
        _spec("account.updateStatus", UpdateStatus, bool, "Went to the background or back."),
        _spec("contacts.resolveUsername", ResolveUsername, ResolvedPeer, "Find by username."),
        _spec("contacts.importContacts", ImportContacts, ImportedContacts, "Add by phone."),
        _spec("messages.sendMessage", SendMessage, SentMessage, "Send a text message."),
        _spec("messages.getHistory", GetHistory, History, "A page of a chat's history."),
        _spec("messages.getDialogs", GetDialogs, Dialogs, "Chats, most recent first."),
        _spec("messages.readHistory", ReadHistory, AffectedMessages, "Mark as read."),
        _spec("messages.editMessage", EditMessage, SentMessage, "Edit an own message."),
        _spec("messages.deleteMessages", DeleteMessages, AffectedMessages, "Delete messages."),
        _spec("messages.setTyping", SetTyping, bool, "Tell the peer you are typing."),
        _spec("messages.toggleDialogPin", ToggleDialogPin, bool, "Pin or unpin a chat."),
        _spec("account.updateNotifySettings", SetNotifySettings, bool, "Mute or unmute a chat."),
        _spec("updates.getState", Empty, State, "The head of the user's update log."),
        _spec("updates.getDifference", GetDifference, Difference, "Updates after a pts."),
    ]
}


def _chat_specs() -> list[MethodSpec]:
    from chapar.protocol import chat_methods as c

    return [
        _spec(
            "channels.createChannel", c.CreateChannel, c.ChatResult, "Create a group or channel."
        ),
        _spec("channels.inviteToChannel", c.InviteToChannel, c.ChatResult, "Add members."),
        _spec("channels.joinChannel", c.ChannelOnly, c.ChatResult, "Join a public chat."),
        _spec("channels.leaveChannel", c.ChannelOnly, bool, "Leave a chat."),
        _spec("channels.editBanned", c.EditBanned, bool, "Ban, restrict or lift it."),
        _spec("channels.editAdmin", c.EditAdmin, bool, "Promote or demote an admin."),
        _spec("channels.getParticipants", c.GetParticipants, c.Participants, "List members."),
        _spec("channels.getFullChannel", c.ChannelOnly, c.ChatResult, "A chat's details."),
        _spec("channels.editTitle", c.EditTitle, c.ChatResult, "Rename a chat."),
        _spec("channels.editAbout", c.EditAbout, c.ChatResult, "Change a chat's description."),
        _spec("channels.updateUsername", c.UpdateChannelUsername, c.ChatResult, "Make public."),
        _spec("channels.toggleSlowMode", c.ToggleSlowMode, c.ChatResult, "Slow mode (groups)."),
        _spec("channels.toggleSignatures", c.ToggleSignatures, c.ChatResult, "Sign posts."),
        _spec("messages.exportChatInvite", c.ExportChatInvite, c.ExportedInvite, "New link."),
        _spec("messages.importChatInvite", c.ImportChatInvite, c.ChatResult, "Join by link."),
        _spec("messages.editExportedChatInvite", c.EditExportedChatInvite, bool, "Revoke."),
        _spec(
            "updates.getChannelDifference",
            c.GetChannelDifference,
            c.ChannelDifference,
            "A chat's updates after a pts.",
        ),
        _spec("messages.sendReaction", c.SendReaction, c.MessageReactions, "React."),
        _spec("messages.updatePinnedMessage", c.UpdatePinnedMessage, bool, "Pin or unpin."),
        _spec("messages.getMessagesViews", c.GetMessagesViews, c.MessagesViews, "Post views."),
        _spec("messages.forwardMessages", c.ForwardMessages, c.ForwardedMessages, "Forward."),
        _spec("messages.search", c.SearchMessages, c.FoundMessages, "Search messages."),
        _spec("contacts.search", c.SearchContacts, c.FoundPeers, "Find people and chats."),
        _spec("upload.getUploadedParts", c.GetUploadedParts, c.UploadedParts, "Resume an upload."),
        _spec("messages.sendMedia", c.SendMedia, SentMessage, "Send an uploaded file."),
        _spec("messages.getMediaUrl", c.GetMediaUrl, c.MediaUrl, "A short-lived download link."),
    ]


METHODS.update({s.name: s for s in _chat_specs()})
