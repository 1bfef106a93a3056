"""Run records: what a session store keeps of every run accepted through the API.

A record is written ``queued`` before the server answers 202, so an accepted turn is
never lost: after a crash, every record still ``queued`` or ``running`` becomes
``interrupted`` when the next process opens the store. The record is deliberately
small (a status and JSON fields) so that new statuses (``paused`` ...) and fields fit
without a schema change: the store keeps it as one JSON document per row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

__all__ = ["ACTIVE_STATUSES", "RunRecord", "RunStatus"]


class RunStatus(StrEnum):
    """Where a run is. ``queued`` → ``running`` → ``finished`` | ``failed`` |
    ``cancelled``; ``paused``: running, stopped at a breakpoint or approval gate until a
    person resumes it; ``interrupted``: the process that ran it stopped first (a crash,
    ``kill -9``)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


ACTIVE_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED})
"""The statuses of a run that has not ended (a restart turns them into ``interrupted``,
except a paused run whose snapshot the store keeps: it pauses again)."""


@dataclass
class RunRecord:
    """One accepted run as the session store keeps it (the JSON of ``GET /api/runs/{id}``
    minus live progress).

    Attributes:
        run_id: random hex id. session_id: its session. graph: the graph it runs.
        entry: ``message`` or ``action``. input: the event's payload (JSON data).
        status: a :class:`RunStatus` value. queued, started, ended: Unix seconds.
        duration_ms: wall time of the run, ms. outputs: the graph's results (JSON).
        error: why it failed or was interrupted. warnings: failures of non-critical
        nodes. extra: room for later fields (JSON object), kept as it is.
    """

    run_id: str
    session_id: str
    graph: str
    entry: str
    input: Any = None
    status: str = RunStatus.QUEUED
    queued: float = 0.0
    started: float | None = None
    ended: float | None = None
    duration_ms: float | None = None
    outputs: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether the run has not ended (queued, running or paused)."""
        return self.status in ACTIVE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-compatible data (the storage format)."""
        data = asdict(self)
        data["status"] = str(self.status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Rebuild a record from :meth:`to_dict` output; unknown keys go to ``extra``
        (a record written by a newer version still loads)."""
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        record = cls(**known)
        record.extra.update(extra)
        return record
