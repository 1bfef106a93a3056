"""Runs started through the API: each runs as a background task of the app's task group,
and this registry answers what became of it (status, progress, result) and cancels it.

Status moves ``queued`` (accepted; may wait behind the session's running turn) →
``running`` (its ``run.started`` event was seen) → ``finished`` | ``failed`` |
``cancelled``; a running run is ``paused`` between its ``run.paused`` and
``run.resumed`` events (breakpoints, approval gates). Every change is written to the
session store as a :class:`cogpipe.engine.RunRecord` (``queued`` before the API answers
202), so a run outlives this registry: after a crash, :meth:`RunRegistry.recover` turns
the records left ``queued`` or ``running`` into ``interrupted`` (a ``paused`` run is
restored paused instead, :meth:`RunRegistry.restore_paused`), and
:meth:`RunRegistry.stored` answers for runs no longer in memory. Progress counts the
run's ``node.finished`` and ``node.skipped`` trace events against the number of nodes
its graph runs per turn, so the registry is a trace observer like any other.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from cogpipe.engine import (
    NodeRunError,
    Observer,
    RunStatus,
    Runtime,
    Session,
    SessionBusyError,
    StoreError,
    TraceEvent,
    Turn,
    UnknownEntryError,
    preview,
)
from cogpipe.engine import RunRecord as StoredRun
from cogpipe.engine.session import jsonable

__all__ = ["RunRecord", "RunRegistry"]

log = logging.getLogger(__name__)

_ENDED = ("finished", "failed", "cancelled")
INTERRUPTED = "the server stopped before this run ended (a crash or kill); send it again"
"""The ``error`` of a run whose process stopped first."""


@dataclass
class RunRecord:
    """What the server knows of one run; :meth:`info` is its ``GET /api/runs/{id}`` body."""

    run_id: str
    session_id: str
    graph: str
    entry: str
    total: int
    input: Any = None
    status: str = "queued"
    done: int = 0
    skipped: int = 0
    outputs: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    queued: float = field(default_factory=time.time)
    started: float | None = None
    duration_ms: float | None = None
    trace_id: str | None = None
    worker: str | None = None
    pause: dict[str, Any] | None = None
    cancel_requested: bool = False
    scope: anyio.CancelScope | None = None
    ended: anyio.Event = field(default_factory=anyio.Event)

    @property
    def active(self) -> bool:
        """Whether the run has not ended (queued, running or paused)."""
        return self.status not in _ENDED

    def info(self) -> dict[str, Any]:
        """Return the run as the API shows it (see ``server.models.RunInfo``)."""
        info = stored_info(self.stored())
        if info["duration_ms"] is None and self.started is not None and self.active:
            info["duration_ms"] = round((time.time() - self.started) * 1000, 3)
        return info

    def stored(self) -> StoredRun:
        """Return the record to write to the session store (progress goes to ``extra``)."""
        return StoredRun(
            self.run_id,
            self.session_id,
            self.graph,
            self.entry,
            self.input,
            self.status,
            self.queued,
            self.started,
            None if self.active else time.time(),
            self.duration_ms,
            self.outputs,
            self.error,
            list(self.warnings),
            {
                "progress": {"done": self.done, "skipped": self.skipped, "total": self.total},
                **({"worker": self.worker} if self.worker else {}),
                "pause": self.pause if self.status == "paused" else None,
                "trace_id": self.trace_id,
            },
        )


def stored_info(record: StoredRun) -> dict[str, Any]:
    """Return a run record as ``GET /api/runs/{id}`` shows it (``server.models.RunInfo``)."""
    progress = record.extra.get("progress") or {"done": 0, "skipped": 0, "total": 0}
    return {
        "run_id": record.run_id,
        "session_id": record.session_id,
        "graph": record.graph,
        "entry": record.entry,
        "status": str(record.status),
        "progress": progress,
        "outputs": record.outputs,
        "error": record.error,
        "warnings": record.warnings,
        "queued": record.queued,
        "started": record.started,
        "duration_ms": record.duration_ms,
        "worker": record.extra.get("worker"),
        "pause": record.extra.get("pause") if str(record.status) == "paused" else None,
        "trace_id": record.extra.get("trace_id"),
    }


class RunRegistry(Observer):
    """Starts runs in the background and tracks them; add it to the runtime's bus.

    Args:
        runtime: the runtime that runs the turns.
        task_group: the app's task group; every run is a task in it, so leaving the app
            cancels the runs that are still going.
        keep: ended runs remembered at most (the oldest are forgotten first).
    """

    def __init__(self, runtime: Runtime, task_group: anyio.abc.TaskGroup, keep: int = 1000) -> None:
        self.runtime = runtime
        self.task_group = task_group
        self.keep = keep
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()
        self.share: Callable[[StoredRun], None] | None = None
        """Redis mode's work sharing (:meth:`RedisSessionStore.enqueue`): an accepted
        run is stored and queued for whichever process is free instead of run here
        (that process calls :meth:`adopt`). ``None``: runs run where they are accepted."""
        self.worker: str | None = None
        """This process's name in Redis mode (shown as the ``worker`` of its runs)."""

    def submit(self, session_id: str, entry: str, payload: Any) -> RunRecord:
        """Queue a turn of ``session_id`` and return its record at once.

        Raises:
            UnknownSessionError: no such session.
            UnknownGraphError, GraphValidationError: the session's graph cannot run.
            UnknownEntryError: the graph has no such entry.
            SessionBusyError: too many runs already wait on the session.
            StoreError: the run could not be recorded (nothing was accepted).
        """
        rt = self.runtime
        session = rt.session(session_id)
        graph = rt.catalog.get(session.graph)
        if entry not in graph.entry:
            raise UnknownEntryError(graph.name, entry, list(graph.entry))
        waiting = sum(1 for r in self._runs.values() if r.session_id == session_id and r.active)
        if waiting > rt.max_waiting_turns:
            raise SessionBusyError(session_id, rt.max_waiting_turns)
        record = RunRecord(
            secrets.token_hex(8), session_id, graph.name, entry, len(graph.flow), jsonable(payload)
        )
        if self.share is not None:  # Redis mode: stored and queued before the 202
            self.share(record.stored())
            return record
        rt.store.save_run(record.stored())  # before the 202: an accepted run is never lost
        self._runs[record.run_id] = record
        self._forget_old()
        self.task_group.start_soon(self._drive, record, payload, name=f"run {record.run_id}")
        return record

    def queued(self) -> int:
        """Return how many runs wait to start (status ``queued``)."""
        return sum(1 for r in self._runs.values() if r.status == "queued")

    async def adopt(self, stored: StoredRun) -> None:
        """Run a queued run another process accepted (Redis mode's work sharing) here,
        tracked like one of this registry's own; return when it ended."""
        progress = stored.extra.get("progress") or {}
        record = RunRecord(
            stored.run_id,
            stored.session_id,
            stored.graph,
            stored.entry,
            int(progress.get("total", 0)),
            stored.input,
            queued=stored.queued,
            worker=self.worker,
        )
        self._runs[record.run_id] = record
        self._forget_old()
        await self._drive(record, stored.input)  # its record is saved at run.started

    def restore_paused(self) -> list[RunRecord]:
        """Start again, paused where they were, the runs the session store holds as
        paused (the server stopped while they waited); call once at start-up. A run
        whose session or graph is gone is forgotten, with a warning in the log.

        Returns:
            the records of the restored runs (status ``queued`` until they pause).
        """
        rt, restored = self.runtime, []
        for snap in rt.paused_runs():
            run_id = snap["run_id"]
            try:
                rt.session(snap["session_id"])
                graph = rt.catalog.get(snap["graph"])
            except (LookupError, ValueError) as exc:
                log.warning("paused run %s cannot be restored: %s", run_id, exc)
                rt.forget(run_id)
                continue
            record = RunRecord(
                run_id,
                snap["session_id"],
                graph.name,
                snap["entry"],
                len(graph.flow),
                input=snap["payload"],
            )
            self._runs[run_id] = record
            self.task_group.start_soon(
                self._drive, record, snap["payload"], snap, name=f"run {run_id} (restored)"
            )
            restored.append(record)
        return restored

    def get(self, run_id: str) -> RunRecord | None:
        """Return the record of ``run_id``, or ``None`` when unknown or forgotten."""
        return self._runs.get(run_id)

    def stored(self, run_id: str) -> StoredRun | None:
        """Return the session store's record of ``run_id`` (a run of an earlier process,
        or one this registry forgot), or ``None``."""
        return self.runtime.store.load_run(run_id)

    def recover(self) -> list[StoredRun]:
        """Mark the runs an earlier process left queued or running ``interrupted``, add
        each to its session's history and tell the event streams (``run.interrupted``).
        Call it once at start-up, before any run.

        Raises:
            StoreError: the store cannot be written.
        """
        rt = self.runtime
        found = rt.store.interrupt_active(
            INTERRUPTED,
            spare={snap["run_id"] for snap in rt.paused_runs()},  # they pause again
        )
        for record in found:
            try:
                session = rt.session(record.session_id)
            except LookupError:
                continue  # the session was deleted
            self.record_interrupted(session, record)
        return found

    def record_interrupted(self, session: Session, record: StoredRun) -> None:
        """Add an ``interrupted`` run to its session's history, tell the event streams
        (``run.interrupted``) and save the session.

        Raises:
            StoreError: the store cannot be written.
        """
        turn = Turn(
            record.run_id,
            record.graph,
            record.entry,
            record.input,
            {},
            str(RunStatus.INTERRUPTED),
            record.ended or time.time(),
        )
        session.add_turn(turn)
        data = {"error": record.error, "entry": record.entry, "input": preview(record.input)}
        self.runtime.emit(session, "run.interrupted", data, run_id=record.run_id)
        self.runtime.store.save(session)

    def recent(self, limit: int = 20) -> list[str]:
        """Return the ids of the last ``limit`` runs, newest first."""
        return list(reversed(self._runs))[:limit]

    def cancel(self, record: RunRecord) -> None:
        """Ask a queued or running run to stop; it ends as ``cancelled``."""
        record.cancel_requested = True
        self.runtime.forget(record.run_id)  # a paused run cancelled on purpose stays ended
        if record.scope is not None:
            record.scope.cancel()

    def on_event(self, event: TraceEvent) -> None:
        if not event.run_id:
            return
        record = self._runs.get(event.run_id)
        if record is None:
            return
        kind = event.type
        if kind == "node.finished":
            record.done += 1
        elif kind == "node.skipped":
            record.skipped += 1
        elif kind == "run.paused":
            record.status, record.pause = "paused", event.data
            self._save(record)
        elif kind == "run.resumed":
            record.status, record.pause = "running", None
            self._save(record)
        elif kind == "run.started":
            record.status, record.started = "running", event.ts
            record.trace_id = (event.data or {}).get("trace_id")
            if event.graph != record.graph:  # switched while the run was queued
                record.graph = event.graph
                graph = self.runtime.catalog.get(event.graph)
                record.total = len(graph.flow)
            self._save(record)

    async def _drive(
        self, record: RunRecord, payload: Any, restore: dict[str, Any] | None = None
    ) -> None:
        try:
            with anyio.CancelScope() as scope:
                record.scope = scope
                if record.cancel_requested:
                    scope.cancel()
                result = await self.runtime.run(
                    record.session_id, record.entry, payload, run_id=record.run_id, restore=restore
                )
                record.outputs = jsonable(result.outputs)
                record.warnings = list(result.warnings)
                record.duration_ms = round(result.duration_ms, 3)
                record.status = "finished"
        except NodeRunError as exc:
            self._fail(record, exc.message, exc.result)
        except Exception as exc:  # the run failed before it started; the server goes on
            self._fail(record, getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        finally:
            if record.active:  # cancelled through the API or because the app is stopping
                record.status = "cancelled"
                if record.started is not None:
                    record.duration_ms = round((time.time() - record.started) * 1000, 3)
            record.scope = None
            self._save(record)
            record.ended.set()

    def _save(self, record: RunRecord) -> None:
        """Write the record's new status; a store that fails is logged (the run has
        been accepted already: it goes on, and its result is in memory)."""
        try:
            self.runtime.store.save_run(record.stored())
        except StoreError as exc:
            log.warning("run %s: %s", record.run_id, exc.message)

    def _fail(self, record: RunRecord, message: str, result: Any = None) -> None:
        record.status, record.error = "failed", message
        if result is not None:
            record.outputs = jsonable(result.outputs)
            record.duration_ms = round(result.duration_ms, 3)
        if record.started is None:
            # The engine emitted nothing for this run: tell the event streams.
            log.warning("run %s failed before it started: %s", record.run_id, message)
            try:
                session = self.runtime.session(record.session_id)
            except LookupError:
                return
            self.runtime.emit(session, "run.failed", {"error": message}, run_id=record.run_id)

    def _forget_old(self) -> None:
        excess = len(self._runs) - self.keep
        if excess <= 0:
            return
        for run_id in [k for k, r in self._runs.items() if not r.active][:excess]:
            del self._runs[run_id]
