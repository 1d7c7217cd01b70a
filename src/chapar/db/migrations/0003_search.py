"""Full-text search of messages: FTS5 on SQLite, a tsvector GIN index on PostgreSQL.

Engine-specific DDL lives in this one migration; db/search.py holds the matching queries.
Text is normalised before it reaches either engine (domain/persian.py), so both only
split words on their own ('simple' configuration, unicode61 tokenizer).
"""

from typing import Any

from yoyo import step

__depends__ = {"0002_chats"}


def _apply(conn: Any) -> None:
    cur = conn.cursor()
    if type(conn).__module__.startswith("sqlite3"):
        cur.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "scope, body, tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:
        # One row per (scope, document): a private message is in both sides' scopes.
        cur.execute(
            "CREATE TABLE search_docs (scope TEXT NOT NULL, doc_id BIGINT NOT NULL,"
            " tsv TSVECTOR NOT NULL, PRIMARY KEY (scope, doc_id))"
        )
        cur.execute("CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv)")
        cur.execute("CREATE INDEX search_docs_doc ON search_docs (doc_id)")
    # Names for finding people and public chats, normalised the same way.
    cur.execute("ALTER TABLE users ADD COLUMN name_norm TEXT NOT NULL DEFAULT ''")
    cur.execute("ALTER TABLE chats ADD COLUMN title_norm TEXT NOT NULL DEFAULT ''")


def _rollback(conn: Any) -> None:
    raise NotImplementedError("search migration cannot be rolled back")


steps = [step(_apply, _rollback)]
