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


class Message(msgspec.Struct, omit_defaults=True):
    id: int
    peer: Peer
    from_id: int
    out: bool
    text: str
    date: int
    edit_date: int | None = None
    reply_to: int | None = None


class State(msgspec.Struct):
    pts: int
    date: int


# -- updates ----------------------------------------------------------------------------
# Updates with a ``pts`` belong to the user's durable log; those without are ephemeral hints.


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


Update = (
    UpdateNewMessage
    | UpdateEditMessage
    | UpdateDeleteMessages
    | UpdateReadHistoryInbox
    | UpdateReadHistoryOutbox
    | UpdateUserName
    | UpdateUserTyping
)
