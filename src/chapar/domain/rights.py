"""Roles and rights in groups and channels, as Telegram has them: pure functions.

The creator can do everything. Admins hold individual rights (a bitmask). Members of a
group may post; members of a channel (subscribers) only read. Banned users see nothing;
restricted members may read but not do what their restrictions forbid.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chapar.protocol.types import AdminRights


class Right(enum.IntFlag):
    POST = 1
    EDIT_OTHERS = 2
    DELETE_OTHERS = 4
    BAN = 8
    INVITE = 16
    PIN = 32
    ADD_ADMINS = 64
    CHANGE_INFO = 128


ALL = Right(255)
_FIELDS = {
    "post_messages": Right.POST,
    "edit_messages": Right.EDIT_OTHERS,
    "delete_messages": Right.DELETE_OTHERS,
    "ban_users": Right.BAN,
    "invite_users": Right.INVITE,
    "pin_messages": Right.PIN,
    "add_admins": Right.ADD_ADMINS,
    "change_info": Right.CHANGE_INFO,
}


class Restriction(enum.IntFlag):
    SEND = 1


def to_mask(r: AdminRights) -> int:
    return int(sum((flag for name, flag in _FIELDS.items() if getattr(r, name)), Right(0)))


def from_mask(mask: int) -> AdminRights:
    return AdminRights(**{name: bool(mask & flag) for name, flag in _FIELDS.items()})


@dataclass(frozen=True)
class Member:
    """A user's standing in a chat (role None: not a member)."""

    role: str | None
    rights: int = 0
    restrictions: int = 0
    until_date: int = 0

    def is_member(self) -> bool:
        return self.role in ("creator", "admin", "member")

    def is_banned(self, now: int) -> bool:
        return self.role == "banned" and (self.until_date == 0 or now < self.until_date)

    def has(self, right: Right) -> bool:
        if self.role == "creator":
            return True
        return self.role == "admin" and bool(self.rights & right)

    def may_post(self, broadcast: bool, now: int) -> bool:
        if broadcast:
            return self.has(Right.POST)
        if not self.is_member():
            return False
        restricted = self.restrictions & Restriction.SEND and (
            self.until_date == 0 or now < self.until_date
        )
        return self.role != "member" or not restricted

    def may_invite(self, broadcast: bool) -> bool:
        # In groups every member may add people (Telegram's default); in channels only admins.
        return self.has(Right.INVITE) or (not broadcast and self.role == "member")
