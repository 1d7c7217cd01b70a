"""Objects as they travel on the wire (JSON), shared by server and client."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class Peer(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """``{"user_id": N}`` for a private chat; later ``{"chat_id": N}`` for groups/channels."""

    user_id: Id | None = None
    chat_id: Id | None = None


class User(msgspec.Struct, omit_defaults=True):
    id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    # Shown only to the user themself and to people who have them as a contact.
    phone: str | None = None
    is_self: bool = False
    contact: bool = False


class FwdFrom(msgspec.Struct, omit_defaults=True):
    """Where a forwarded message came from."""

    date: int
    from_id: int | None = None
    chat_id: int | None = None
    msg_id: int | None = None
    from_name: str | None = None


class Reaction(msgspec.Struct):
    emoji: str
    count: int


class MessageAction(msgspec.Struct, omit_defaults=True):
    """What a service message records (joined, left, title changed...)."""

    type: Literal[
        "chat_create",
        "chat_add_user",
        "chat_join",
        "chat_leave",
        "chat_delete_user",
        "chat_edit_title",
        "pin_message",
    ]
    users: list[int] = []
    title: str | None = None
    msg_id: int | None = None


MediaKind = Literal["photo", "document", "voice", "video", "sticker"]


class PhotoSize(msgspec.Struct, omit_defaults=True):
    """A thumbnail: s (90 px), m (320 px) or x (800 px) on the longer side."""

    type: Literal["s", "m", "x"]
    file_id: int
    w: int
    h: int
    size: int
    url: str = ""


class Media(msgspec.Struct, omit_defaults=True, kw_only=True):
    type: MediaKind
    file_id: int
    size: int
    mime_type: str
    name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    thumbs: list[PhotoSize] = []
    # Where the viewer downloads it (GET with the bearer token, or ask for a signed URL).
    url: str = ""


class Message(msgspec.Struct, omit_defaults=True, kw_only=True):
    id: int
    peer: Peer
    from_id: int
    # True for the viewer's own messages. Chat posts are pushed once to every member, so
    # there it is absent: compare from_id with your own id.
    out: bool = False
    text: str
    date: int
    edit_date: int | None = None
    reply_to: int | None = None
    fwd_from: FwdFrom | None = None
    action: MessageAction | None = None
    post_author: str | None = None
    views: int | None = None
    reactions: list[Reaction] | None = None
    media: Media | None = None


class AdminRights(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    post_messages: bool = False
    edit_messages: bool = False
    delete_messages: bool = False
    ban_users: bool = False
    invite_users: bool = False
    pin_messages: bool = False
    add_admins: bool = False
    change_info: bool = False


class Chat(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A group or channel, as seen by the viewer (role and rights are the viewer's)."""

    id: int
    type: Literal["group", "channel"]
    title: str
    username: str | None = None
    about: str = ""
    members_count: int = 0
    pts: int = 0
    role: Literal["creator", "admin", "member", "banned"] | None = None
    admin_rights: AdminRights | None = None
    slow_mode_seconds: int = 0
    signatures: bool = False
    pinned_msg_id: int | None = None


class State(msgspec.Struct):
    pts: int
    date: int


# -- updates ----------------------------------------------------------------------------
# An update with a top-level ``chat_id`` and a ``pts`` belongs to that chat's log; any
# other update with a ``pts`` belongs to the user's own log; one without ``pts`` is an
# ephemeral hint.


class UpdateNewMessage(msgspec.Struct, tag="updateNewMessage", tag_field="type"):
    message: Message
    pts: int


class UpdateEditMessage(msgspec.Struct, tag="updateEditMessage", tag_field="type"):
    message: Message
    pts: int


class UpdateDeleteMessages(msgspec.Struct, tag="updateDeleteMessages", tag_field="type"):
    messages: list[int]
    pts: int


class UpdateReadHistoryInbox(msgspec.Struct, tag="updateReadHistoryInbox", tag_field="type"):
    """This user read incoming messages up to max_id (on some device)."""

    peer: Peer
    max_id: int
    still_unread_count: int
    pts: int


class UpdateReadHistoryOutbox(msgspec.Struct, tag="updateReadHistoryOutbox", tag_field="type"):
    """The peer read this user's messages up to max_id (a read receipt)."""

    peer: Peer
    max_id: int
    pts: int


class UpdateUserName(msgspec.Struct, tag="updateUserName", tag_field="type"):
    """This user's own profile changed (synced to their other devices)."""

    user_id: int
    first_name: str
    last_name: str
    username: str | None
    pts: int


TypingAction = Literal["typing", "cancel"]


class UpdateUserTyping(msgspec.Struct, tag="updateUserTyping", tag_field="type"):
    user_id: int
    action: TypingAction


class UserStatusOnline(msgspec.Struct, tag="online", tag_field="type"):
    """Online until ``expires`` (unix time) unless renewed; renewals are not pushed, so
    ask again (users.getStatuses) past it."""

    expires: int


class UserStatusOffline(msgspec.Struct, tag="offline", tag_field="type"):
    """Last seen at ``was_online`` (unix time)."""

    was_online: int


class UserStatusEmpty(msgspec.Struct, tag="empty", tag_field="type"):
    """Never seen online, or too long ago to remember: "last seen a long time ago"."""


UserStatus = UserStatusOnline | UserStatusOffline | UserStatusEmpty


class UpdateUserStatus(msgspec.Struct, tag="updateUserStatus", tag_field="type"):
    """Ephemeral (no pts): a person one has a private chat with went online or offline."""

    user_id: int
    status: UserStatus


class UpdateNewChannelMessage(msgspec.Struct, tag="updateNewChannelMessage", tag_field="type"):
    chat_id: int
    message: Message
    pts: int


class UpdateEditChannelMessage(msgspec.Struct, tag="updateEditChannelMessage", tag_field="type"):
    chat_id: int
    message: Message
    pts: int


class UpdateDeleteChannelMessages(
    msgspec.Struct, tag="updateDeleteChannelMessages", tag_field="type"
):
    chat_id: int
    messages: list[int]
    pts: int


class UpdateChannelMessageReactions(
    msgspec.Struct, tag="updateChannelMessageReactions", tag_field="type"
):
    chat_id: int
    msg_id: int
    reactions: list[Reaction]
    pts: int


class UpdatePinnedChannelMessage(
    msgspec.Struct, tag="updatePinnedChannelMessage", tag_field="type"
):
    """msg_id None: unpinned."""

    chat_id: int
    msg_id: int | None
    pts: int


class UpdateChatInfo(msgspec.Struct, tag="updateChatInfo", tag_field="type"):
    """Title, username, about, slow mode or signatures of the chat changed."""

    chat_id: int
    title: str
    username: str | None
    about: str
    slow_mode_seconds: int
    signatures: bool
    pts: int


class UpdateChannel(msgspec.Struct, tag="updateChannel", tag_field="type"):
    """In the user's log: their membership or rights in a chat changed (joined, left,
    banned, promoted). chat is None when they can no longer see it."""

    peer: Peer
    chat: Chat | None
    pts: int


class UpdateReadChannelInbox(msgspec.Struct, tag="updateReadChannelInbox", tag_field="type"):
    """In the user's log: they read a chat up to max_id (on some device)."""

    peer: Peer
    max_id: int
    still_unread_count: int
    pts: int


class UpdateMention(msgspec.Struct, tag="updateMention", tag_field="type"):
    """In the user's log: someone @mentioned them in a chat."""

    peer: Peer
    msg_id: int
    from_id: int
    pts: int


class UpdateDialogPinned(msgspec.Struct, tag="updateDialogPinned", tag_field="type"):
    """In the user's log: they pinned or unpinned a dialog (on some device). A pinned one
    goes to the top of the pinned dialogs: the most recently pinned comes first."""

    peer: Peer
    pinned: bool
    pts: int


class UpdateNotifySettings(msgspec.Struct, tag="updateNotifySettings", tag_field="type"):
    """In the user's log: they muted a dialog until mute_until (unix time), or unmuted it
    (0)."""

    peer: Peer
    mute_until: int
    pts: int


class UpdatesTooLong(msgspec.Struct, tag="updatesTooLong", tag_field="type"):
    """Pushes may have been lost (the node lost its event bus for a while): fetch the
    difference of the user's log and of every chat, as after a reconnect."""


class UpdateChatUserTyping(msgspec.Struct, tag="updateChatUserTyping", tag_field="type"):
    peer: Peer
    user_id: int
    action: TypingAction


Update = (
    UpdateNewMessage
    | UpdateEditMessage
    | UpdateDeleteMessages
    | UpdateReadHistoryInbox
    | UpdateReadHistoryOutbox
    | UpdateUserName
    | UpdateUserTyping
    | UpdateUserStatus
    | UpdateNewChannelMessage
    | UpdateEditChannelMessage
    | UpdateDeleteChannelMessages
    | UpdateChannelMessageReactions
    | UpdatePinnedChannelMessage
    | UpdateChatInfo
    | UpdateChannel
    | UpdateReadChannelInbox
    | UpdateMention
    | UpdateDialogPinned
    | UpdateNotifySettings
    | UpdateChatUserTyping
    | UpdatesTooLong
)
