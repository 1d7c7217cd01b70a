"""The SMS outbox and its attempts (migration 0004_sms_outbox.sql).

Each function runs inside the caller's transaction (``store.write(fn)``). Changes to a
claimed message are conditional on the claim (``lease_owner``): a node whose lease ran out
and was taken over by another node learns it from a ``False`` and stops, so a message is
handled by one node at a time. Times are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from chapar.ports.sms_provider import Kind
from chapar.ports.store import Row, Tx

ACTIVE = ("queued", "sent")
FINAL = ("delivered", "failed", "expired")

_COLUMNS = (
    "id, kind, phone, body, code, state, created_at, expires_at, attempts, rounds, tried,"
    " provider, accepted_at, error"
)


@dataclass
class OutboxRow:
    id: int
    kind: Kind
    phone: str
    body: str
    code: str
    state: str
    created_at: int
    expires_at: int
    attempts: int
    rounds: int
    tried: list[str]
    provider: str | None
    accepted_at: int | None
    last_error: str = ""


def _row(r: Row) -> OutboxRow:
    tried = str(r[10])
    return OutboxRow(
        id=int(r[0]),
        kind="call" if r[1] == "call" else "sms",
        phone=str(r[2]),
        body=str(r[3]),
        code=str(r[4]),
        state=str(r[5]),
        created_at=int(r[6]),
        expires_at=int(r[7]),
        attempts=int(r[8]),
        rounds=int(r[9]),
        tried=tried.split(",") if tried else [],
        provider=None if r[11] is None else str(r[11]),
        accepted_at=None if r[12] is None else int(r[12]),
        last_error=str(r[13]),
    )


def enqueue(tx: Tx, m: OutboxRow, lease: tuple[str, int] | None = None) -> int:
    """Insert a new message (``m.id`` is ignored) due now; with ``lease`` (owner, until) it
    is written already claimed by that node."""
    row = tx.fetchone("UPDATE counters SET value = value + 1 WHERE name = 'sms_id' RETURNING value")
    assert row is not None
    mid = int(row[0])
    owner, until = lease if lease else (None, None)
    tx.execute(
        "INSERT INTO sms_outbox (id, kind, phone, body, code, state, created_at, expires_at,"
        " due_at, lease_owner, lease_until) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
        (
            mid,
            m.kind,
            m.phone,
            m.body,
            m.code,
            m.created_at,
            m.expires_at,
            m.created_at,
            owner,
            until,
        ),
    )
    return mid


def claim(tx: Tx, owner: str, now: int, lease_until: int, limit: int) -> list[OutboxRow]:
    """Take up to ``limit`` due messages nobody holds. The conditions are repeated outside
    the subquery so that on PostgreSQL a row another node claimed meanwhile is re-checked
    against its new version and skipped."""
    rows = tx.fetchall(
        "UPDATE sms_outbox SET lease_owner = ?, lease_until = ?"
        " WHERE id IN (SELECT id FROM sms_outbox WHERE due_at <= ?"
        " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at LIMIT ?)"
        " AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
        f" RETURNING {_COLUMNS}",
        (owner, lease_until, now, now, limit, now, now),
    )
    return sorted((_row(r) for r in rows), key=lambda r: r.id)


def has_due(tx: Tx, now: int) -> bool:
    """Whether ``claim`` would find anything: a read, so an idle worker polls without
    taking the writer."""
    row = tx.fetchone(
        "SELECT 1 FROM sms_outbox WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
        " LIMIT 1",
        (now, now),
    )
    return row is not None


def get(tx: Tx, message_id: int) -> OutboxRow | None:
    r = tx.fetchone(f"SELECT {_COLUMNS} FROM sms_outbox WHERE id = ?", (message_id,))
    return None if r is None else _row(r)


@dataclass(frozen=True)
class AttemptRow:
    n: int
    provider: str
    provider_id: str
    outcome: str
    error: str


def attempts(tx: Tx, message_id: int) -> list[AttemptRow]:
    rows = tx.fetchall(
        "SELECT n, provider, provider_id, outcome, error FROM sms_attempts"
        " WHERE message_id = ? ORDER BY n",
        (message_id,),
    )
    return [AttemptRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


def _held(tx: Tx, message_id: int, owner: str) -> bool:
    row = tx.fetchone(
        "SELECT 1 FROM sms_outbox WHERE id = ? AND lease_owner = ? AND state IN ('queued', 'sent')",
        (message_id, owner),
    )
    return row is not None


def overdue_report(tx: Tx, m: OutboxRow, owner: str, now: int) -> bool:
    """An accepted SMS whose report did not come in time: the attempt is marked
    ``no_report`` and the message goes back to the queue (still held by ``owner``)."""
    if not _held(tx, m.id, owner):
        return False
    tx.execute(
        "UPDATE sms_attempts SET outcome = 'no_report', finished_at = ?"
        " WHERE message_id = ? AND n = ? AND outcome = 'accepted'",
        (now, m.id, m.attempts),
    )
    changed = tx.execute(
        "UPDATE sms_outbox SET state = 'queued', tried = ?, error = 'no delivery report'"
        " WHERE id = ? AND state = 'sent' AND attempts = ?",
        (",".join(m.tried), m.id, m.attempts),
    )
    return changed == 1


def record_failure(
    tx: Tx,
    m: OutboxRow,
    owner: str,
    provider: str,
    outcome: str,
    error: str,
    started: int,
    now: int,
    lease_until: int,
) -> bool:
    """A send that failed; the message stays claimed for the next provider."""
    if not _held(tx, m.id, owner):
        return False
    tx.execute(
        "INSERT INTO sms_attempts (message_id, n, provider, started_at, finished_at, outcome,"
        " error) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (m.id, m.attempts, provider, started, now, outcome, error[:500]),
    )
    tx.execute(
        "UPDATE sms_outbox SET attempts = ?, tried = ?, provider = ?, error = ?, lease_until = ?"
        " WHERE id = ?",
        (m.attempts, ",".join(m.tried), provider, error[:500], lease_until, m.id),
    )
    return True


@dataclass(frozen=True)
class AcceptResult:
    held: bool
    # A report that had arrived before this attempt was recorded, now applied, and what it
    # did (see ``_apply``).
    early_status: str | None = None
    early_effect: str = ""


def record_accepted(
    tx: Tx,
    m: OutboxRow,
    owner: str,
    provider: str,
    provider_id: str,
    started: int,
    now: int,
    report_due: int | None,
) -> AcceptResult:
    if not _held(tx, m.id, owner):
        return AcceptResult(held=False)
    tx.execute(
        "INSERT INTO sms_attempts (message_id, n, provider, provider_id, started_at,"
        " finished_at, outcome) VALUES (?, ?, ?, ?, ?, ?, 'accepted')",
        (m.id, m.attempts, provider, provider_id, started, now),
    )
    tx.execute(
        "UPDATE sms_outbox SET state = 'sent', attempts = ?, tried = ?, provider = ?,"
        " accepted_at = COALESCE(accepted_at, ?), due_at = ?, lease_owner = NULL,"
        " lease_until = NULL, error = '' WHERE id = ?",
        (m.attempts, ",".join(m.tried), provider, now, report_due, m.id),
    )
    early, effect = None, ""
    if provider_id:
        row = tx.fetchone(
            "SELECT status, error FROM sms_early_reports WHERE provider = ? AND provider_id = ?",
            (provider, provider_id),
        )
        if row is not None:
            tx.execute(
                "DELETE FROM sms_early_reports WHERE provider = ? AND provider_id = ?",
                (provider, provider_id),
            )
            early = str(row[0])
            effect = _apply(tx, m.id, m.attempts, early, str(row[1]), now)
    return AcceptResult(held=True, early_status=early, early_effect=effect)


def requeue(tx: Tx, m: OutboxRow, owner: str, due_at: int, error: str) -> bool:
    """Nothing to send through now: look again at ``due_at`` (a new round, or a circuit
    that will half-open); the claim is released."""
    if not _held(tx, m.id, owner):
        return False
    tx.execute(
        "UPDATE sms_outbox SET state = 'queued', due_at = ?, rounds = ?, tried = ?, error = ?,"
        " lease_owner = NULL, lease_until = NULL WHERE id = ?",
        (due_at, m.rounds, ",".join(m.tried), error[:500], m.id),
    )
    return True


def finish(tx: Tx, m: OutboxRow, owner: str, state: str, error: str, now: int) -> bool:
    if not _held(tx, m.id, owner):
        return False
    _finish(tx, m.id, state, error, now)
    return True


def _finish(tx: Tx, message_id: int, state: str, error: str, now: int) -> None:
    assert state in FINAL
    tx.execute(
        "UPDATE sms_outbox SET state = ?, error = ?, finished_at = ?, due_at = NULL,"
        " lease_owner = NULL, lease_until = NULL, body = '', code = '' WHERE id = ?",
        (state, error[:500], now, message_id),
    )


@dataclass(frozen=True)
class ReportResult:
    """What a delivery report did. ``message_id`` is None when no attempt matched (the
    report was kept for when it does); ``effect`` is "finished" when it delivered the
    message, "requeued" when the message will be sent again, "" otherwise."""

    message_id: int | None
    applied: bool = False
    kind: str = "sms"
    created_at: int = 0
    effect: str = ""


def apply_report(
    tx: Tx, provider: str, provider_id: str, status: str, error: str, now: int
) -> ReportResult:
    row = tx.fetchone(
        "SELECT message_id, n, outcome FROM sms_attempts WHERE provider = ? AND provider_id = ?",
        (provider, provider_id),
    )
    if row is None:
        if status != "pending":
            tx.execute(
                "INSERT INTO sms_early_reports (provider, provider_id, status, error,"
                " received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, provider_id)"
                " DO UPDATE SET status = excluded.status, error = excluded.error",
                (provider, provider_id, status, error[:500], now),
            )
        return ReportResult(message_id=None)
    message_id, n, outcome = int(row[0]), int(row[1]), str(row[2])
    msg = tx.fetchone("SELECT kind, created_at FROM sms_outbox WHERE id = ?", (message_id,))
    kind, created = (str(msg[0]), int(msg[1])) if msg else ("sms", 0)
    if status == "pending" or outcome in ("delivered", "undelivered"):
        return ReportResult(message_id, applied=False, kind=kind, created_at=created)
    effect = _apply(tx, message_id, n, status, error, now)
    return ReportResult(message_id, applied=True, kind=kind, created_at=created, effect=effect)


def _apply(tx: Tx, message_id: int, n: int, status: str, error: str, now: int) -> str:
    """Record a final report on attempt ``n``; return "finished" if that delivered the
    message, "requeued" if it goes to the next provider, else ""."""
    outcome = "delivered" if status == "delivered" else "undelivered"
    tx.execute(
        "UPDATE sms_attempts SET outcome = ?, error = ?, finished_at = ?"
        " WHERE message_id = ? AND n = ?",
        (outcome, error[:500], now, message_id, n),
    )
    msg = tx.fetchone(
        "SELECT state, attempts, tried, provider, expires_at FROM sms_outbox WHERE id = ?",
        (message_id,),
    )
    if msg is None:
        return ""
    state, current, tried, provider, expires = (
        str(msg[0]),
        int(msg[1]),
        str(msg[2]),
        str(msg[3]),
        int(msg[4]),
    )
    if status == "delivered":
        # Even late, or from an earlier provider: the user has the message.
        if state == "delivered":
            return ""
        _finish(tx, message_id, "delivered", "", now)
        return "finished"
    if state == "sent" and current == n and now < expires:
        names = [t for t in tried.split(",") if t]
        if provider not in names:
            names.append(provider)
        tx.execute(
            "UPDATE sms_outbox SET state = 'queued', due_at = ?, tried = ?, error = ? WHERE id = ?",
            (now, ",".join(names), f"undelivered: {error}"[:500], message_id),
        )
        return "requeued"
    return ""


def release(tx: Tx, owner: str) -> int:
    """Give up every claim of ``owner`` (a node stopping), so another node or the next
    start sends those messages without waiting for the leases to run out."""
    return tx.execute(
        "UPDATE sms_outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
        (owner,),
    )


def purge(tx: Tx, now: int, keep_ms: int) -> int:
    """Erase the text of expired messages and delete what is older than ``keep_ms``."""
    tx.execute(
        "UPDATE sms_outbox SET body = '', code = '' WHERE expires_at < ? AND body <> ''", (now,)
    )
    cutoff = now - keep_ms
    tx.execute(
        "DELETE FROM sms_attempts WHERE message_id IN"
        " (SELECT id FROM sms_outbox WHERE created_at < ? AND due_at IS NULL)",
        (cutoff,),
    )
    tx.execute("DELETE FROM sms_early_reports WHERE received_at < ?", (cutoff,))
    return tx.execute("DELETE FROM sms_outbox WHERE created_at < ? AND due_at IS NULL", (cutoff,))
