"""Durable sessions in SQLite (the embedded default store)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .session import Session, jsonable

__all__ = ["SqliteSessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    data TEXT NOT NULL
)
"""


class SqliteSessionStore:
    """Sessions as JSON rows in one SQLite file; they survive a restart.

    One row per session, rewritten after every turn (a session is small: its history
    is bounded). WAL journaling lets another process read while the server writes.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.

    Raises:
        sqlite3.Error: when the file cannot be opened or is not a database.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def load(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return Session.from_dict(json.loads(row[0])) if row else None

    def save(self, session: Session) -> None:
        data = json.dumps(jsonable(session.to_dict()), default=str)
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (id, graph, created, updated, data) "
            "VALUES (?, ?, ?, ?, ?)",
            (session.id, session.graph, session.created, session.updated, data),
        )
        self._db.commit()

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM sessions ORDER BY created")]

    def delete(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self._db.commit()

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
