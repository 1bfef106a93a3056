"""Durable sessions in SQLite (the embedded default store)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from .files import private_file, private_folder
from .session import Session, jsonable
from .text import clean, dumps_clean

__all__ = ["SqliteSessionStore"]

_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paused_runs (
    run_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    paused REAL NOT NULL,
    data TEXT NOT NULL
);
"""


class SqliteSessionStore:
    """Sessions as JSON rows in one SQLite file; they survive a restart.

    One row per session, rewritten after every turn (a session is small: its history
    is bounded). Table ``paused_runs`` holds one snapshot per run paused at a
    breakpoint or approval gate, so it can pause again after a restart. WAL journaling
    lets another process read while the server writes.
    The file is created 0600 (SQLite gives its ``-wal`` and ``-shm`` files the mode of
    the database file) in a folder created 0700: sessions hold user text. Text JSON
    cannot carry in UTF-8 (lone surrogates from a model's reply ...) is replaced with
    U+FFFD when saved, and when loaded from rows written before that rule.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.

    Raises:
        sqlite3.Error: when the file cannot be opened or is not a database.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            private_folder(Path(path).parent, "session database folder")
            private_file(path)
            for journal in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                if journal.exists():  # left by a version that created them 0644
                    private_file(journal)
        self.path = str(path)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def load(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        if _ESCAPED_SURROGATE.search(row[0]):  # rows written before dumps_clean
            data = clean(data)
        return Session.from_dict(data)

    def save(self, session: Session) -> None:
        data = dumps_clean(jsonable(session.to_dict()), "session store")
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

    def save_paused(self, run_id: str, session_id: str, data: dict[str, Any]) -> None:
        """Store a paused run's snapshot (table ``paused_runs``, one JSON row per run)."""
        text = dumps_clean(jsonable(data), "paused run")
        self._db.execute(
            "INSERT OR REPLACE INTO paused_runs (run_id, session_id, paused, data) "
            "VALUES (?, ?, ?, ?)",
            (run_id, session_id, time.time(), text),
        )
        self._db.commit()

    def delete_paused(self, run_id: str) -> None:
        self._db.execute("DELETE FROM paused_runs WHERE run_id = ?", (run_id,))
        self._db.commit()

    def paused_runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT data FROM paused_runs ORDER BY paused")
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
