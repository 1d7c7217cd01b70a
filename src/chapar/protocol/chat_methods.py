"""Params and results of the group and channel methods (names follow Telegram's)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from chapar.protocol.base import NonNegId, Params, Str64
from chapar.protocol.types import (
    AdminRights,
    Chat,
    Id,
    Int64,
    MediaKind,
    Message,
    Peer,
    Reaction,
    Update,
    User,
)

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
About = Annotated[str, msgspec.Meta(max_length=255)]


class CreateChannel(Params):
    title: Title
    about: About = ""
    # True: a channel (admins post, anyone may subscribe); False: a group (members post).
    broadcast: bool = True


class ChatResult(msgspec.Struct):
    chat: Chat


class InviteToChannel(Params):
    channel: Peer
    users: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=200)]


class ChannelOnly(Params):
    channel: Peer


class BannedRights(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """view_messages: banned (removed, cannot return); send_messages: restricted to read.
    Both false lifts the ban or restriction. until_date 0: forever."""

    view_messages: bool = False
    send_messages: bool = False
    until_date: NonNegId = 0


class EditBanned(Params):
    channel: Peer
    user_id: Id
    banned_rights: BannedRights


class EditAdmin(Params):
    channel: Peer
    user_id: Id
    admin_rights: AdminRights
    rank: Annotated[str, msgspec.Meta(max_length=16)] = ""


class GetParticipants(Params):
    channel: Peer
    filter: Literal["recent", "admins", "banned"] = "recent"
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 100


class Participant(msgspec.Struct, omit_defaults=True):
    user_id: int
    role: str
    date: int
    admin_rights: AdminRights | None = None
    rank: str = ""
    until_date: int = 0


class Participants(msgspec.Struct):
    participants: list[Participant]
    count: int
    users: list[User]


class EditTitle(Params):
    channel: Peer
    title: Title


class EditAbout(Params):
    channel: Peer
    about: About


class UpdateChannelUsername(Params):
    channel: Peer
    username: Str64


class ToggleSlowMode(Params):
    channel: Peer
    seconds: Literal[0, 10, 30, 60, 300, 900, 3600]


class ToggleSignatures(Params):
    channel: Peer
    enabled: bool


class ExportChatInvite(Params):
    peer: Peer
    expire_date: NonNegId | None = None
    usage_limit: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None


class ExportedInvite(msgspec.Struct, omit_defaults=True):
    link: str
    hash: str
    expire_date: int | None = None
    usage_limit: int | None = None


class ImportChatInvite(Params):
    hash: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class EditExportedChatInvite(Params):
    peer: Peer
    hash: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    revoked: bool = True


class GetChannelDifference(Params):
    channel: Peer
    pts: NonNegId
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class ChannelDifference(msgspec.Struct):
    updates: list[Update]
    # the chat's pts after these updates
    pts: int
    # False: more remain after pts, call again
    final: bool
    # True: too far behind; reload recent history (messages.getHistory) and resume from pts
    too_long: bool = False


class SendReaction(Params):
    peer: Peer
    msg_id: Id
    # One emoji, or "" to take one's reaction back
    reaction: Annotated[str, msgspec.Meta(max_length=16)]


class MessageReactions(msgspec.Struct):
    msg_id: int
    reactions: list[Reaction]


class UpdatePinnedMessage(Params):
    peer: Peer
    id: Id
    unpin: bool = False


class ForwardMessages(Params):
    from_peer: Peer
    id: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    to_peer: Peer
    random_id: Annotated[list[Int64], msgspec.Meta(min_length=1, max_length=100)]


class ForwardedMessages(msgspec.Struct):
    messages: list[Message]


class GetMessagesViews(Params):
    peer: Peer
    id: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    increment: bool = True


class MessagesViews(msgspec.Struct):
    views: list[int]


class SearchMessages(Params):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    # None: every chat of the user; else one private chat or one group/channel.
    peer: Peer | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class FoundMessages(msgspec.Struct):
    messages: list[Message]
    users: list[User]
    chats: list[Chat]


class SearchContacts(Params):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 20


class FoundPeers(msgspec.Struct):
    users: list[User]
    chats: list[Chat]


class GetUploadedParts(Params):
    file_id: Int64


class UploadedParts(msgspec.Struct):
    parts: list[int]
    total_parts: int | None


class InputFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An upload finished part by part (PUT /api/files/<id>/parts/<n>)."""

    id: Int64
    parts: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    name: Annotated[str, msgspec.Meta(max_length=255)] = ""
    mime_type: Annotated[str, msgspec.Meta(min_length=3, max_length=128)]


class SendMedia(Params):
    peer: Peer
    random_id: Int64
    file: InputFile
    caption: str = ""
    # Default: photo for image/jpeg|png|webp, video for video/*, voice for audio/ogg,
    # otherwise document.
    type: MediaKind | None = None
    duration: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None
    reply_to: Id | None = None


class GetMediaUrl(Params):
    peer: Peer
    msg_id: Id
    thumb: Literal["s", "m", "x"] | None = None
    # The caller can fetch from a CDN edge and decrypt (client/cdn.py does): a file the
    # origin puts on the edges is then answered with ``cdn`` as well (Telegram's
    # upload.getFile with cdn_supported, answered by upload.fileCdnRedirect).
    cdn_supported: bool = False


class CdnRedirect(msgspec.Struct, kw_only=True):
    """Where and how to fetch a file from a CDN edge, which holds only its ciphertext.

    GET ``<edge_url>/cdn/<file_id>/<n>?token=<token>`` for n in 0..len(part_hashes)-1
    returns encrypted part n; check its SHA-256 against ``part_hashes[n]`` (an edge may be
    hostile), then decrypt with AES-256-CTR under ``key`` and ``iv`` (hex) at offset
    n * part_size (chapar.protocol.filecrypt). On a mismatch, fetch the same path from the
    origin: ``/api/cdn/<file_id>/<n>?token=<token>``.
    """

    edge_url: str
    file_id: int
    token: str
    expires: int
    key: str
    iv: str
    size: int
    mime_type: str
    part_size: int
    part_hashes: list[str]


class MediaUrl(msgspec.Struct, omit_defaults=True):
    url: str
    expires: int
    cdn: CdnRedirect | None = None
