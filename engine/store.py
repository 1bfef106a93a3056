"""Durable sessions, run records and trace events in SQLite (the embedded default store)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import StoreError
from .files import private_file, private_folder
from .runs import ACTIVE_STATUSES, RunRecord, RunStatus
from .session import Session, jsonable
from .sinks import EventLog, QueuedWriter
from .text import clean, dumps_clean
from .trace import TraceEvent

__all__ = ["SqliteEventLog", "SqliteSessionStore"]

log = logging.getLogger(__name__)

_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    graph TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, seq);
CREATE TABLE IF NOT EXISTS paused_runs (
    run_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    paused REAL NOT NULL,
    data TEXT NOT NULL
);
"""
_ACTIVE = tuple(str(s) for s in ACTIVE_STATUSES)


def _connect(path: str, timeout_s: float) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=timeout_s)  # how long a write waits for another
    db.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses no commit when the process dies (kill -9), only on power
    # loss or an OS crash, and spares an fsync per commit (1.9 ms -> ~0.05 ms here).
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class SqliteSessionStore:
    """Sessions, run records and trace events in one SQLite file; they survive a restart.

    One row per session, rewritten after every turn (a session is small: its history
    is bounded), and one row per run accepted through the API (a :class:`RunRecord`
    as JSON). Table ``paused_runs`` holds one snapshot per run paused at a breakpoint or
    approval gate, so it can pause again after a restart. The ``events`` table is
    written by :class:`SqliteEventLog`. WAL journaling lets another process (or the
    event log's writer thread) read while the server writes. The file is created 0600
    (SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file) in a
    folder created 0700: sessions hold user text. Text JSON cannot carry in UTF-8 (lone
    surrogates from a model's reply ...) is replaced with U+FFFD when saved, and when
    loaded from rows written before that rule.

    Args:
        path: the database file (its folder is created), or ``":memory:"``.
        timeout_s: how long a write waits while another connection (the event log,
            another process) holds the database, seconds; then it fails.

    Raises:
        sqlite3.Error: when the file cannot be opened or is not a database.
    """

    def __init__(self, path: str | Path, timeout_s: float = 10.0) -> None:
        if str(path) != ":memory:":
            private_folder(Path(path).parent, "session database folder")
            private_file(path)
            for journal in (Path(f"{path}-wal"), Path(f"{path}-shm")):
                if journal.exists():  # left by a version that created them 0644
                    private_file(journal)
        self.path = str(path)
        self._db = _connect(self.path, timeout_s)
        self._db.executescript(_SCHEMA)
        self._db.commit()

    @contextmanager
    def _writing(self, action: str) -> Iterator[sqlite3.Connection]:
        """Run one write transaction; a failed write raises :class:`StoreError`."""
        try:
            with self._db:  # commits, or rolls back on error
                yield self._db
        except sqlite3.Error as exc:
            raise StoreError(action, exc) from exc

    def load(self, session_id: str) -> Session | None:
        row = self._db.execute("SELECT data FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        if _ESCAPED_SURROGATE.search(row[0]):  # rows written before dumps_clean
            data = clean(data)
        return Session.from_dict(data)

    def save(self, session: Session) -> None:
        """Insert or replace ``session``.

        Raises:
            StoreError: the database cannot be written.
        """
        data = dumps_clean(jsonable(session.to_dict()), "session store")
        with self._writing(f"save session '{session.id}'") as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions (id, graph, created, updated, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (session.id, session.graph, session.created, session.updated, data),
            )

    def ids(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM sessions ORDER BY created")]

    def delete(self, session_id: str) -> None:
        with self._writing(f"delete session '{session_id}'") as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            db.execute("DELETE FROM runs WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM paused_runs WHERE session_id = ?", (session_id,))

    # -- run records ------------------------------------------------------------

    def save_run(self, record: RunRecord) -> None:
        """Insert or replace a run record.

        Raises:
            StoreError: the database cannot be written.
        """
        data = dumps_clean(jsonable(record.to_dict()), "run record")
        with self._writing(f"record run '{record.run_id}'") as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, session_id, status, data) "
                "VALUES (?, ?, ?, ?)",
                (record.run_id, record.session_id, str(record.status), data),
            )

    def load_run(self, run_id: str) -> RunRecord | None:
        """Return the stored record of ``run_id``, or ``None``."""
        row = self._db.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.from_dict(json.loads(row[0])) if row is not None else None

    def interrupt_active(self, reason: str, spare: Collection[str] = ()) -> list[RunRecord]:
        """Mark every ``queued``, ``running`` or ``paused`` record ``interrupted`` (call
        it once, at start-up, before any run: those records belong to a process that is
        gone).

        Args:
            reason: the records' ``error`` text.
            spare: run ids left as they are (paused runs that will pause again).

        Returns:
            The records changed, oldest first.

        Raises:
            StoreError: the database cannot be written.
        """
        marks = ",".join("?" * len(_ACTIVE))
        rows = self._db.execute(
            f"SELECT data FROM runs WHERE status IN ({marks})", _ACTIVE
        ).fetchall()
        found = (RunRecord.from_dict(json.loads(r[0])) for r in rows)
        records = sorted((r for r in found if r.run_id not in spare), key=_queued)
        now = time.time()
        for record in records:
            record.status, record.error, record.ended = RunStatus.INTERRUPTED, reason, now
        with self._writing("mark unfinished runs interrupted") as db:
            db.executemany(
                "UPDATE runs SET status = ?, data = ? WHERE run_id = ?",
                [
                    (str(r.status), dumps_clean(jsonable(r.to_dict()), "run record"), r.run_id)
                    for r in records
                ],
            )
        return records

    def save_paused(self, run_id: str, session_id: str, data: dict[str, Any]) -> None:
        """Store a paused run's snapshot (table ``paused_runs``, one JSON row per run)."""
        text = dumps_clean(jsonable(data), "paused run")
        with self._writing(f"save paused run '{run_id}'") as db:
            db.execute(
                "INSERT OR REPLACE INTO paused_runs (run_id, session_id, paused, data) "
                "VALUES (?, ?, ?, ?)",
                (run_id, session_id, time.time(), text),
            )

    def delete_paused(self, run_id: str) -> None:
        with self._writing(f"forget paused run '{run_id}'") as db:
            db.execute("DELETE FROM paused_runs WHERE run_id = ?", (run_id,))

    def paused_runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT data FROM paused_runs ORDER BY paused")
        return [json.loads(r[0]) for r in rows]

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()


def _queued(record: RunRecord) -> float:
    return record.queued


class SqliteEventLog(QueuedWriter, EventLog):
    """Every trace event, appended to the ``events`` table of a session database, so a
    session's event stream can be resumed after a restart.

    The engine only enqueues; a writer thread with its own connection inserts what is
    queued in one transaction (see :class:`~cogpipe.engine.sinks.QueuedWriter`), so a
    burst costs one commit. Per session, the last ``keep`` events are kept (older rows
    are deleted as new ones arrive). A ``kill -9`` loses at most the events still
    queued; a stream resumed past what was kept says so with ``stream.lost``. A batch
    that cannot be written (a full disk, a database held by another process) is counted
    in ``failed``, the first failure logged, and the writer goes on.

    Args:
        path: the session database (the same file as :class:`SqliteSessionStore`).
        keep: events kept per session.
        max_queue: events waiting for the writer at most.
        timeout_s: how long a write waits while another connection holds the database.
    """

    def __init__(
        self,
        path: str | Path,
        keep: int = 2000,
        max_queue: int = 100_000,
        timeout_s: float = 10.0,
    ) -> None:
        self.path, self.keep, self._timeout_s = str(path), keep, timeout_s
        self._step = max(1, keep // 4)
        self._reader = _connect(self.path, timeout_s)
        self._reader.executescript(_SCHEMA)
        self._start_writer("cogpipe-events", max_queue)

    def events(self, session_id: str, after: int, before: int | None = None) -> list[TraceEvent]:
        """Return the stored events of a session with ``after < seq < before``, in order."""
        rows = self._reader.execute(
            "SELECT data FROM events WHERE session_id = ? AND seq > ? AND seq < ? ORDER BY seq",
            (session_id, after, before if before is not None else 2**62),
        )
        return [TraceEvent(**json.loads(r[0])) for r in rows]

    def last_seq(self, session_id: str) -> int:
        """Return the highest stored ``seq`` of a session (0 when none)."""
        row = self._reader.execute(
            "SELECT MAX(seq) FROM events WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(row[0] or 0)

    def _open_writer(self) -> None:
        self._db = _connect(self.path, self._timeout_s)  # a connection stays in its thread

    def _close_writer(self) -> None:
        self._db.close()

    def _write_batch(self, events: list[TraceEvent]) -> None:
        step = self._step
        prune = {e.session_id: e.seq for e in events if e.seq % step == 0}
        try:
            with self._db:
                self._db.executemany(
                    "INSERT INTO events (session_id, seq, data) VALUES (?, ?, ?)",
                    [(e.session_id, e.seq, e.to_json()) for e in events],
                )
                self._db.executemany(
                    "DELETE FROM events WHERE session_id = ? AND seq <= ?",
                    [(sid, seq - self.keep) for sid, seq in prune.items()],
                )
        except Exception:  # a full disk, a removed file: count, go on
            self._failed(len(events), f"could not store {len(events)} trace events in {self.path}")

    def close(self) -> None:
        super().close()
        self._reader.close()
