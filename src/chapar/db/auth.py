"""Login codes, sessions, two-step verification, the system account and account deletion.
Codes, tokens and passwords are stored only as hashes."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from chapar.db import log, search
from chapar.db import messages as messages_db
from chapar.ports.store import Tx
from chapar.protocol.types import UpdateNewMessage

# The service account that speaks to users (login codes in-app, login alerts), created by
# migration 0005 like Telegram's 777000. It receives nothing and no one can sign in as it.
SYSTEM_USER_ID = 777000
EMAIL_CODE_MAX_ATTEMPTS = 5


def code_digest(phone_code_hash: str, code: str) -> str:
    # Salted by the per-request phone_code_hash, so equal codes never hash alike.
    return hashlib.sha256(f"{phone_code_hash}:{code}".encode()).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- login codes ------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeRow:
    hash: str
    phone: str
    code_hash: str
    created_at: int
    expires_at: int
    attempts: int
    used: bool
    type: str
    next_type: str | None
    sent_at: int
    verified: bool


_CODE_COLS = (
    "hash, phone, code_hash, created_at, expires_at, attempts, used, type, next_type, sent_at,"
    " verified"
)


def latest_code_at(tx: Tx, phone: str) -> int | None:
    """When the number's outstanding code last went out (the resend cooldown runs from it)."""
    row = tx.fetchone("SELECT MAX(sent_at) FROM login_codes WHERE phone = ? AND used = 0", (phone,))
    return int(row[0]) if row and row[0] is not None else None


def insert_code(
    tx: Tx,
    hash_: str,
    phone: str,
    code: str,
    now: int,
    ttl: int,
    type_: str = "sms",
    next_type: str | None = None,
) -> None:
    # A new code replaces the number's earlier ones; codes a day past expiry go too. Two
    # statements, each on its own index: one `phone = ? OR expires_at < ?` scanned the whole
    # table on every request.
    tx.execute("DELETE FROM login_codes WHERE phone = ?", (phone,))
    tx.execute("DELETE FROM login_codes WHERE expires_at < ?", (now - 86400,))
    tx.execute(
        "INSERT INTO login_codes (hash, phone, code_hash, created_at, expires_at, type,"
        " next_type, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (hash_, phone, code_digest(hash_, code), now, now + ttl, type_, next_type, now),
    )


def get_code(tx: Tx, hash_: str) -> CodeRow | None:
    r = tx.fetchone(f"SELECT {_CODE_COLS} FROM login_codes WHERE hash = ?", (hash_,))
    if r is None:
        return None
    return CodeRow(
        r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), bool(r[6]), r[7], r[8], int(r[9]),
        bool(r[10]),
    )  # fmt: skip


def resend_code(
    tx: Tx,
    hash_: str,
    was_type: str,
    code: str,
    type_: str,
    next_type: str | None,
    now: int,
    ttl: int,
) -> bool:
    """Replace the code of an outstanding request with a new one sent another way; False
    when a concurrent resend (or a sign-in) got there first."""
    changed = tx.execute(
        "UPDATE login_codes SET code_hash = ?, type = ?, next_type = ?, sent_at = ?,"
        " expires_at = ?, attempts = 0 WHERE hash = ? AND used = 0 AND type = ?",
        (code_digest(hash_, code), type_, next_type, now, now + ttl, hash_, was_type),
    )
    return changed > 0


def count_attempt(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE login_codes SET attempts = attempts + 1 WHERE hash = ?", (hash_,))


def mark_used(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE login_codes SET used = 1 WHERE hash = ?", (hash_,))


def mark_verified(tx: Tx, hash_: str, until: int) -> None:
    """The code was right and the account has a password: the request now waits for it,
    and lives at least ``until`` (time to type the password, or to get a recovery email)."""
    tx.execute(
        "UPDATE login_codes SET verified = 1,"
        " expires_at = CASE WHEN expires_at > ? THEN expires_at ELSE ? END WHERE hash = ?",
        (until, until, hash_),
    )


def account_of(tx: Tx, phone: str) -> tuple[int | None, bool]:
    """The account of a number, if any, and whether it has a signed-in session."""
    row = tx.fetchone("SELECT id FROM users WHERE phone = ?", (phone,))
    if row is None:
        return None, False
    uid = int(row[0])
    return uid, tx.fetchone("SELECT 1 FROM sessions WHERE user_id = ?", (uid,)) is not None


# -- sessions ---------------------------------------------------------------------------
def create_session(
    tx: Tx, user_id: int, token: str, device: str, app: str, ip: str, now: int
) -> int:
    row = tx.fetchone(
        "UPDATE counters SET value = value + 1 WHERE name = 'session_id' RETURNING value"
    )
    assert row is not None
    sid = int(row[0])
    tx.execute(
        "INSERT INTO sessions (id, user_id, token_hash, device, app, ip, created_at, active_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (sid, user_id, token_digest(token), device, app, ip, now, now),
    )
    return sid


def session_by_token(tx: Tx, token: str) -> tuple[int, int] | None:
    row = tx.fetchone(
        "SELECT id, user_id FROM sessions WHERE token_hash = ?", (token_digest(token),)
    )
    return (int(row[0]), int(row[1])) if row else None


def list_sessions(tx: Tx, user_id: int) -> list[tuple[int, str, str, str, int, int]]:
    rows = tx.fetchall(
        "SELECT id, device, app, ip, created_at, active_at FROM sessions WHERE user_id = ?"
        " ORDER BY id",
        (user_id,),
    )
    return [(int(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]


def session_ids(tx: Tx, user_id: int) -> list[int]:
    return [int(r[0]) for r in tx.fetchall("SELECT id FROM sessions WHERE user_id = ?", (user_id,))]


def delete_session(tx: Tx, user_id: int, session_id: int) -> bool:
    return (
        tx.execute("DELETE FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id)) > 0
    )


def delete_other_sessions(tx: Tx, user_id: int, keep: int) -> list[int]:
    gone = [sid for sid in session_ids(tx, user_id) if sid != keep]
    tx.execute("DELETE FROM sessions WHERE user_id = ? AND id <> ?", (user_id, keep))
    return gone


def touch_session(tx: Tx, session_id: int, now: int) -> None:
    tx.execute("UPDATE sessions SET active_at = ? WHERE id = ?", (now, session_id))


# -- two-step verification --------------------------------------------------------------
@dataclass(frozen=True)
class PasswordRow:
    hash: str
    hint: str
    email: str
    pending_email: str


def get_password(tx: Tx, user_id: int) -> PasswordRow | None:
    r = tx.fetchone(
        "SELECT hash, hint, email, pending_email FROM passwords WHERE user_id = ?", (user_id,)
    )
    return PasswordRow(r[0], r[1], r[2], r[3]) if r else None


def put_password(
    tx: Tx, user_id: int, hash_: str, hint: str, email: str, pending_email: str, now: int
) -> None:
    tx.execute(
        "INSERT INTO passwords (user_id, hash, hint, email, pending_email, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash,"
        " hint = excluded.hint, email = excluded.email, pending_email = excluded.pending_email,"
        " updated_at = excluded.updated_at",
        (user_id, hash_, hint, email, pending_email, now),
    )


def rehash_password(tx: Tx, user_id: int, old_hash: str, new_hash: str) -> None:
    """Store a hash made with today's parameters, unless the password changed meanwhile."""
    tx.execute(
        "UPDATE passwords SET hash = ? WHERE user_id = ? AND hash = ?",
        (new_hash, user_id, old_hash),
    )


def confirm_email(tx: Tx, user_id: int, email: str) -> bool:
    return (
        tx.execute(
            "UPDATE passwords SET email = pending_email, pending_email = ''"
            " WHERE user_id = ? AND pending_email = ?",
            (user_id, email),
        )
        > 0
    )


def delete_password(tx: Tx, user_id: int) -> None:
    tx.execute("DELETE FROM passwords WHERE user_id = ?", (user_id,))
    tx.execute("DELETE FROM email_codes WHERE user_id = ?", (user_id,))


class EmailCheck(enum.Enum):
    OK = "ok"
    INVALID = "EMAIL_CODE_INVALID"
    EXPIRED = "EMAIL_CODE_EXPIRED"


def put_email_code(
    tx: Tx, user_id: int, purpose: str, email: str, salt: str, code: str, expires_at: int
) -> None:
    """A new code for (user, purpose) replaces the earlier one."""
    tx.execute(
        "INSERT INTO email_codes (user_id, purpose, email, salt, code_hash, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, purpose) DO UPDATE SET"
        " email = excluded.email, salt = excluded.salt, code_hash = excluded.code_hash,"
        " expires_at = excluded.expires_at, attempts = 0",
        (user_id, purpose, email, salt, code_digest(salt, code), expires_at),
    )


def check_email_code(
    tx: Tx, user_id: int, purpose: str, code: str, now: int
) -> tuple[EmailCheck, str]:
    """Check and, when right, consume the code; (result, the address it was sent to).
    A wrong code counts an attempt (committed: the caller answers, it does not raise)."""
    r = tx.fetchone(
        "SELECT email, salt, code_hash, expires_at, attempts FROM email_codes"
        " WHERE user_id = ? AND purpose = ?",
        (user_id, purpose),
    )
    if r is None or now >= int(r[3]) or int(r[4]) >= EMAIL_CODE_MAX_ATTEMPTS:
        return EmailCheck.EXPIRED, ""
    if code_digest(r[1], code.strip()) != r[2]:
        tx.execute(
            "UPDATE email_codes SET attempts = attempts + 1 WHERE user_id = ? AND purpose = ?",
            (user_id, purpose),
        )
        return EmailCheck.INVALID, ""
    tx.execute("DELETE FROM email_codes WHERE user_id = ? AND purpose = ?", (user_id, purpose))
    return EmailCheck.OK, str(r[0])


# -- the system account -----------------------------------------------------------------
def post_system_message(tx: Tx, user_id: int, text: str, now: int, pushes: log.Pushes) -> None:
    """A message from the system account into the user's box and update log, so every
    device they are signed in on shows it (and one that was away finds it in the
    difference). Only the user's copy exists; it is not indexed for search."""
    pts, msg_id = messages_db.allocate(tx, user_id)
    row = messages_db.MessageRow(
        user_id, msg_id, SYSTEM_USER_ID, SYSTEM_USER_ID, False, text, now, None, None, None, pts
    )
    messages_db.insert(tx, row, None)
    messages_db.bump_dialog(tx, user_id, SYSTEM_USER_ID, msg_id, now, 1)
    log.append(tx, user_id, pts, UpdateNewMessage(row.to_wire(), pts), pushes)


# -- account deletion -------------------------------------------------------------------
DELETED_NAME = "Deleted Account"


def delete_account(tx: Tx, user_id: int) -> list[int]:
    """Erase what the account owns and leave a tombstone; return the ids of the sessions
    that ended. Chat memberships are the caller's (services/account.py), since leaving a
    chat goes through that chat's log.

    As in Telegram, the other side of each private chat keeps its copies, shown as from a
    deleted account; the account's own box, dialogs, update log, contacts (both ways),
    profile, username, password and pending codes go. The users row stays as a tombstone
    (kind 'deleted') so ids in others' history still resolve; its number is freed for a
    new account.
    """
    row = tx.fetchone("SELECT phone FROM users WHERE id = ?", (user_id,))
    assert row is not None
    gone = session_ids(tx, user_id)
    tx.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    tx.execute("DELETE FROM login_codes WHERE phone = ?", (row[0],))
    delete_password(tx, user_id)
    tx.execute("DELETE FROM contacts WHERE owner_id = ? OR user_id = ?", (user_id, user_id))
    orphans = _orphaned_docs(tx, user_id)
    for i in range(0, len(orphans), 500):  # bounded statements, whatever the box holds
        search.unindex(tx, orphans[i : i + 500])
    tx.execute("DELETE FROM messages WHERE owner_id = ?", (user_id,))
    tx.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,))
    tx.execute("DELETE FROM dialog_settings WHERE user_id = ?", (user_id,))
    tx.execute("DELETE FROM updates WHERE user_id = ?", (user_id,))
    tx.execute(
        "UPDATE users SET phone = ?, first_name = ?, last_name = '', username = NULL,"
        " username_key = NULL, about = '', name_norm = '', kind = 'deleted' WHERE id = ?",
        (f"deleted:{user_id}", DELETED_NAME, user_id),
    )
    return gone


def _orphaned_docs(tx: Tx, user_id: int) -> list[int]:
    """Search entries of this box's messages whose other copy is gone too (a private
    message stays searchable for the other side while their copy exists)."""
    rows = tx.fetchall(
        "SELECT m.id, m.peer_id, m.out, m.peer_msg_id FROM messages m"
        " LEFT JOIN messages o ON o.owner_id = m.peer_id AND o.id = m.peer_msg_id"
        " WHERE m.owner_id = ? AND (o.id IS NULL OR m.peer_id = m.owner_id)",
        (user_id,),
    )
    docs: list[int] = []
    for msg_id, peer_id, out, peer_msg_id in rows:
        if out:
            docs.append(search.private_doc(user_id, int(msg_id)))
        elif peer_msg_id is not None:
            docs.append(search.private_doc(int(peer_id), int(peer_msg_id)))
    return docs


def chat_roles(tx: Tx, user_id: int) -> list[tuple[int, str]]:
    """Every chat the user has a row in (members, admins, creator, banned)."""
    rows = tx.fetchall("SELECT chat_id, role FROM chat_members WHERE user_id = ?", (user_id,))
    return [(int(r[0]), str(r[1])) for r in rows]


def heir_of(tx: Tx, chat_id: int) -> int | None:
    """Who takes over a chat whose creator is gone: its longest-serving admin."""
    r = tx.fetchone(
        "SELECT user_id FROM chat_members WHERE chat_id = ? AND role = 'admin'"
        " ORDER BY joined_at, user_id LIMIT 1",
        (chat_id,),
    )
    return int(r[0]) if r else None


def is_active(tx: Tx, user_id: int) -> bool:
    r = tx.fetchone("SELECT kind FROM users WHERE id = ?", (user_id,))
    return r is not None and r[0] == "user"
