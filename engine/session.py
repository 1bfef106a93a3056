"""Sessions: one conversation's history, state and graph, and where they are stored."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from .runs import ACTIVE_STATUSES, RunRecord, RunStatus

__all__ = ["MemorySessionStore", "Session", "SessionStore", "Turn", "jsonable"]


def jsonable(value: Any) -> Any:
    """Return ``value`` with pydantic models turned into plain JSON-compatible data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass
class Turn:
    """One finished run as the session remembers it.

    Attributes:
        run_id: the run's id. graph: the graph that ran it. entry: the external event
        name (``message``, ``action``). input: the event's payload (JSON data).
        outputs: the graph's named results (JSON data), e.g. ``{"response": "..."}``.
        status: ``finished``, ``failed``, ``cancelled`` or ``interrupted`` (the server
        stopped during the turn: a crash). ts: Unix seconds at the end.
        warnings: failures of non-critical nodes (the turn still ``finished``).
    """

    run_id: str
    graph: str
    entry: str
    input: Any
    outputs: dict[str, Any]
    status: str
    ts: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class Session:
    """A conversation: which graph it runs, what was said, and what nodes keep.

    Attributes:
        id: session id.
        graph: name of the graph its next turn runs.
        history: the last ``max_history`` turns, oldest first.
        state: per-namespace JSON-compatible dicts that nodes keep across turns and
            graph switches (``state["memory"]``, ``state["ui"]`` ...).
        seq: the last trace ``seq`` used; events continue from here.
        max_history: how many turns ``history`` keeps.
    """

    id: str
    graph: str
    history: list[Turn] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    seq: int = 0
    max_history: int = 100

    @staticmethod
    def new_id() -> str:
        """Return a fresh random session id."""
        return uuid.uuid4().hex[:12]

    def ns(self, name: str) -> dict[str, Any]:
        """Return the state dict of namespace ``name``, creating it empty."""
        return self.state.setdefault(name, {})

    def add_turn(self, turn: Turn) -> None:
        """Append ``turn``, dropping the oldest past ``max_history``."""
        self.history.append(turn)
        del self.history[: max(0, len(self.history) - self.max_history)]
        self.updated = turn.ts

    def to_dict(self) -> dict[str, Any]:
        """Return the session as JSON-compatible data (the storage format)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild a session from :meth:`to_dict` output."""
        data = dict(data)
        data["history"] = [Turn(**t) for t in data.get("history", [])]
        return cls(**data)


class SessionStore(Protocol):
    """Where sessions live between turns. Calls are short and synchronous."""

    def load(self, session_id: str) -> Session | None:
        """Return the stored session or ``None``."""
        ...

    def save(self, session: Session) -> None:
        """Store ``session`` (insert or replace)."""
        ...

    def ids(self) -> list[str]:
        """Return every stored session id, oldest first."""
        ...

    def delete(self, session_id: str) -> None:
        """Remove a session (no error if absent)."""
        ...

    def save_run(self, record: RunRecord) -> None:
        """Store a run record (insert or replace)."""
        ...

    def load_run(self, run_id: str) -> RunRecord | None:
        """Return a stored run record or ``None``."""
        ...

    def interrupt_active(self, reason: str, spare: Collection[str] = ()) -> list[RunRecord]:
        """Mark the records still queued, running or paused ``interrupted`` (with
        ``reason`` as their error), except the run ids in ``spare``, and return them,
        oldest first."""
        ...

    # paused runs (breakpoints, approval gates): what resumes one after a restart

    def save_paused(self, run_id: str, session_id: str, data: dict[str, Any]) -> None:
        """Store the snapshot of a paused run (insert or replace; JSON data)."""
        ...

    def delete_paused(self, run_id: str) -> None:
        """Forget a paused run's snapshot (no error if absent)."""
        ...

    def paused_runs(self) -> list[dict[str, Any]]:
        """Return the snapshots of every stored paused run, oldest first."""
        ...


class MemorySessionStore:
    """Sessions kept in this process only, by reference (lost on restart).

    Args:
        max_runs: run records kept; the oldest are forgotten first.
    """

    def __init__(self, max_runs: int = 10_000) -> None:
        self._data: dict[str, Session] = {}
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()
        self._max_runs = max_runs
        self._paused: dict[str, dict[str, Any]] = {}

    def load(self, session_id: str) -> Session | None:
        return self._data.get(session_id)

    def save(self, session: Session) -> None:
        self._data[session.id] = session

    def ids(self) -> list[str]:
        return list(self._data)

    def delete(self, session_id: str) -> None:
        self._data.pop(session_id, None)

    def save_run(self, record: RunRecord) -> None:
        self._runs[record.run_id] = record
        if len(self._runs) > self._max_runs:
            self._runs.popitem(last=False)

    def load_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def interrupt_active(self, reason: str, spare: Collection[str] = ()) -> list[RunRecord]:
        found = [
            r for r in self._runs.values() if r.status in ACTIVE_STATUSES and r.run_id not in spare
        ]
        for record in found:
            record.status, record.error, record.ended = RunStatus.INTERRUPTED, reason, time.time()
        return found

    def save_paused(self, run_id: str, session_id: str, data: dict[str, Any]) -> None:
        self._paused[run_id] = data

    def delete_paused(self, run_id: str) -> None:
        self._paused.pop(run_id, None)

    def paused_runs(self) -> list[dict[str, Any]]:
        return list(self._paused.values())
