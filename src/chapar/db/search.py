"""Message search behind one interface on both engines (the one place db/ branches on the
engine, through ``tx.dialect``).

A document is one message copy: scope ``u<owner>`` for a private box, ``c<chat>`` for a
group or channel. Its id packs scope and message id, so deleting needs no lookup:
``owner << 32 | msg_id`` for private copies, the negation of ``chat << 32 | msg_id`` for chats.
"""

from __future__ import annotations

from chapar.domain.persian import normalize, words
from chapar.ports.store import Tx

MAX_WORDS = 8


def private_doc(owner_id: int, msg_id: int) -> tuple[str, int]:
    return f"u{owner_id}", (owner_id << 32) | msg_id


def chat_doc(chat_id: int, msg_id: int) -> tuple[str, int]:
    return f"c{chat_id}", -((chat_id << 32) | msg_id)


def msg_id_of(doc_id: int) -> int:
    return abs(doc_id) & 0xFFFFFFFF


def index(tx: Tx, doc: tuple[str, int], text: str) -> None:
    scope, doc_id = doc
    body = normalize(text)
    if not body:
        return
    if tx.dialect == "sqlite":
        tx.execute(
            "INSERT INTO search_fts (rowid, scope, body) VALUES (?, ?, ?)", (doc_id, scope, body)
        )
    else:
        tx.execute(
            "INSERT INTO search_docs (doc_id, scope, tsv) VALUES (?, ?, to_tsvector('simple', ?))"
            " ON CONFLICT (doc_id) DO UPDATE SET tsv = excluded.tsv",
            (doc_id, scope, body),
        )


def unindex(tx: Tx, doc_ids: list[int]) -> None:
    if not doc_ids:
        return
    marks = ",".join("?" * len(doc_ids))
    table, col = ("search_fts", "rowid") if tx.dialect == "sqlite" else ("search_docs", "doc_id")
    tx.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", doc_ids)


def reindex(tx: Tx, doc: tuple[str, int], text: str) -> None:
    unindex(tx, [doc[1]])
    index(tx, doc, text)


def search(tx: Tx, scopes: list[str], query: str, limit: int) -> list[tuple[str, int]]:
    """(scope, message id) of the newest matches: every word of the query must occur, the
    last one as a prefix (so results come while the user is still typing)."""
    terms = words(query)[:MAX_WORDS]
    if not terms or not scopes:
        return []
    if tx.dialect == "sqlite":
        # Each term is quoted, so nothing the user types is FTS5 syntax.
        body = " ".join(f'"{t}"' for t in terms[:-1]) + f' "{terms[-1]}"*'
        scope_expr = " OR ".join(f'"{s}"' for s in scopes)
        rows = tx.fetchall(
            "SELECT scope, rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
            (f"scope : ({scope_expr}) AND body : ({body.strip()})", limit),
        )
    else:
        tsquery = " & ".join([*terms[:-1], f"{terms[-1]}:*"])
        marks = ",".join("?" * len(scopes))
        rows = tx.fetchall(
            f"SELECT scope, doc_id FROM search_docs WHERE scope IN ({marks})"
            " AND tsv @@ to_tsquery('simple', ?) ORDER BY doc_id DESC LIMIT ?",
            (*scopes, tsquery, limit),
        )
    return [(str(r[0]), msg_id_of(int(r[1]))) for r in rows]
