"""Rules for user-visible text: message bodies, names, usernames."""

from __future__ import annotations

import re

from chapar.errors import BadRequest

# Telegram's rule: 5-32 characters, a-z, 0-9 and underscores, starting with a letter.
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")  # used with fullmatch: "$" allows "\n"


def message_text(text: str, max_length: int) -> str:
    """Keep the text exactly as sent (RTL marks, ZWNJ, emoji); refuse empty or too long."""
    if not text.strip():
        raise BadRequest("MESSAGE_EMPTY", "the message has no text")
    if len(text) > max_length:
        raise BadRequest("MESSAGE_TOO_LONG", f"a message holds at most {max_length} characters")
    if "\x00" in text:
        raise BadRequest("MESSAGE_INVALID", "the message contains a NUL character")
    return text


def first_name(name: str) -> str:
    name = name.strip()
    if not name or "\x00" in name:
        raise BadRequest("FIRSTNAME_INVALID", "a first name is required")
    return name


def last_name(name: str) -> str:
    if "\x00" in name:
        raise BadRequest("LASTNAME_INVALID", "the last name contains a NUL character")
    return name.strip()


def username_key(username: str) -> str:
    """The case-insensitive key a username is unique by; raise USERNAME_INVALID."""
    if not _USERNAME.fullmatch(username) or username.endswith("_") or "__" in username:
        raise BadRequest(
            "USERNAME_INVALID",
            "a username has 5-32 characters: letters, digits and single underscores, "
            "starting with a letter",
        )
    return username.lower()


def chat_title(title: str) -> str:
    title = title.strip()
    if not title or "\x00" in title:
        raise BadRequest("CHAT_TITLE_EMPTY", "a group or channel needs a title")
    return title


_MENTION = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})\b")


def mentions(text: str) -> list[str]:
    """The username keys @mentioned in a text, each once, in order."""
    return list(dict.fromkeys(m.lower() for m in _MENTION.findall(text)))


def reaction(emoji: str) -> str:
    """One emoji (a short grapheme run without letters or digits), or "" to remove."""
    emoji = emoji.strip()
    if emoji and (len(emoji) > 8 or any(ch.isalnum() or ch.isspace() for ch in emoji)):
        raise BadRequest("REACTION_INVALID", "a reaction is one emoji")
    return emoji
