"""Message search behind one interface on both engines (the one place db/ branches on the
engine, through ``tx.dialect``).

A document is one message, indexed once: a private message under the scopes of both
sides (``u<sender> u<receiver>``), a group or channel post under ``c<chat>``. Its id packs
where it lives, so deleting needs no lookup: ``sender << 32 | sender's msg id`` for private
messages, the negation of ``chat << 32 | msg id`` for chat posts. (Indexing a private
message once instead of once per copy halves the cost of search on the write path.)
"""

from __future__ import annotations

from chapar.db import bulk
from chapar.domain.persian import normalize, words
from chapar.ports.store import Tx

MAX_WORDS = 8
_LOW = 0xFFFFFFFF


def private_doc(sender_id: int, sender_msg_id: int) -> int:
    return (sender_id << 32) | sender_msg_id


def chat_doc(chat_id: int, msg_id: int) -> int:
    return -((chat_id << 32) | msg_id)


def decode(doc_id: int) -> tuple[str, int, int]:
    """("u", sender, sender's msg id) or ("c", chat, msg id)."""
    kind = "c" if doc_id < 0 else "u"
    v = abs(doc_id)
    return kind, v >> 32, v & _LOW


def index(tx: Tx, scopes: list[str], doc_id: int, text: str) -> None:
    body = normalize(text)
    if not body:
        return
    if tx.dialect == "sqlite":
        tx.execute(
            "INSERT INTO search_fts (rowid, scope, body) VALUES (?, ?, ?)",
            (doc_id, " ".join(scopes), body),
        )
    else:
        for scope in dict.fromkeys(scopes):
            tx.execute(
                "INSERT INTO search_docs (scope, doc_id, tsv) VALUES (?, ?, to_tsvector('simple', ?))"
                " ON CONFLICT (scope, doc_id) DO UPDATE SET tsv = excluded.tsv",
                (scope, doc_id, body),
            )


def index_many(tx: Tx, docs: list[tuple[list[str], int, str]]) -> None:
    """index() for many (scopes, doc_id, text) documents, in as few statements as possible."""
    rows: list[tuple[object, ...]] = []
    if tx.dialect == "sqlite":
        for scopes, doc_id, text in docs:
            body = normalize(text)
            if body:
                rows.append((doc_id, " ".join(scopes), body))
        bulk.insert(tx, "INSERT INTO search_fts (rowid, scope, body)", "(?, ?, ?)", rows)
        return
    for scopes, doc_id, text in docs:
        body = normalize(text)
        if body:
            rows += [(scope, doc_id, body) for scope in dict.fromkeys(scopes)]
    bulk.insert(
        tx,
        "INSERT INTO search_docs (scope, doc_id, tsv)",
        "(?, ?, to_tsvector('simple', ?))",
        rows,
        " ON CONFLICT (scope, doc_id) DO UPDATE SET tsv = excluded.tsv",
    )


def unindex(tx: Tx, doc_ids: list[int]) -> None:
    if not doc_ids:
        return
    marks = ",".join("?" * len(doc_ids))
    table, col = ("search_fts", "rowid") if tx.dialect == "sqlite" else ("search_docs", "doc_id")
    tx.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", doc_ids)


def reindex(tx: Tx, scopes: list[str], doc_id: int, text: str) -> None:
    unindex(tx, [doc_id])
    index(tx, scopes, doc_id, text)


def search(tx: Tx, scopes: list[str], query: str, limit: int, also: str | None = None) -> list[int]:
    """Document ids of the newest matches in any of ``scopes`` (and in ``also`` too, when
    given: a private chat is the messages in both sides' scopes). Every word of the query
    must occur, the last one as a prefix (so results come while the user is typing)."""
    terms = words(query)[:MAX_WORDS]
    if not terms or not scopes:
        return []
    if tx.dialect == "sqlite":
        # Each term is quoted, so nothing the user types is FTS5 syntax.
        body = " ".join([*(f'"{t}"' for t in terms[:-1]), f'"{terms[-1]}"*'])
        scope_expr = " OR ".join(f'"{s}"' for s in scopes)
        also_expr = f' AND scope : ("{also}")' if also else ""
        rows = tx.fetchall(
            "SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            (f"scope : ({scope_expr}){also_expr} AND body : ({body})", limit),
        )
    else:
        tsquery = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
        marks = ",".join("?" * len(scopes))
        also_sql = " AND doc_id IN (SELECT doc_id FROM search_docs WHERE scope = ?)" if also else ""
        rows = tx.fetchall(
            f"SELECT DISTINCT doc_id FROM search_docs WHERE scope IN ({marks})"
            f" AND tsv @@ to_tsquery('simple', ?){also_sql} ORDER BY doc_id DESC LIMIT ?",
            (*scopes, tsquery, *([also] if also else []), limit),
        )
    return [int(r[0]) for r in rows]
