"""The runtime: sessions, graph switching, node instances and their background hooks.

Use it as an async context manager, so nodes' ``start()`` hooks have somewhere to run::

    async with Runtime(GraphCatalog("graphs")) as rt:
        session = rt.create_session("v2-director-drives")
        result = await rt.run(session.id, "message", "hello")
"""

from __future__ import annotations

import gc
import logging
import textwrap
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from .catalog import GraphCatalog
from .diff import graph_diff
from .errors import NodeRunError, SessionBusyError, UnknownNodeError, UnknownSessionError
from .executor import RunResult, execute
from .export import to_cytoscape
from .graph import Graph
from .handles import LLMHandle, Service, ToolHandle
from .ledger import compute_ledger
from .node import Node, RunContext
from .pauses import Breakpoints, Gate, Pause, Pauses
from .session import MemorySessionStore, Session, SessionStore, Turn, jsonable
from .sinks import EventLog, RingBuffer
from .trace import EventBus, Observer, TraceEvent

__all__ = ["Runtime", "tune_gc"]

log = logging.getLogger(__name__)


@dataclass
class _Active:
    """The node instances a session is running, and the scope of their start() tasks."""

    graph: Graph
    nodes: dict[str, Node]
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class Runtime:
    """Runs turns for sessions over the graphs of a catalog.

    Args:
        catalog: the graphs.
        store: where sessions persist (default: memory only).
        observers: trace observers besides the built-in ring (``self.ring``).
        ring_size: events kept per session for resume.
        llm, tools: services nodes reach as ``ctx.llm`` and ``ctx.tools``.
        max_history: turns a session keeps.
        max_waiting_turns: turns that may queue behind a running one per session.
        max_active_sessions: sessions whose node instances (and their ``start()``
            background tasks) stay alive; past it, the least recently used idle
            session's instances are stopped, to be rebuilt at its next turn.
        ledger: emit a ``run.ledger`` event after every run (:mod:`engine.ledger`),
            computed from the run's events in the ring at its end; off, it costs nothing.
        event_log: where events outlive the process (resume after a restart); it
            joins the bus, and :meth:`events` reads it past what the ring holds.
        max_events: events the ring holds over all sessions (``None``: no limit).
        max_sessions: sessions held in memory; past it, the least recently used idle
            ones are evicted (see :meth:`evict_session`). ``None``: no limit.
        idle_s: seconds after which an idle session is evicted from memory (checked
            every ``idle_s / 4`` seconds, at most every minute). ``None``: never.
        lease: Redis mode (:mod:`engine.distributed`): ``lease(session_id)`` holds the
            session's turn lease across processes. With it, ``store`` is shared with
            other processes: a turn loads the session afresh once it holds the lease,
            :meth:`session` reads the store unless a turn of it runs here, and no
            session is saved from memory at shut-down or eviction. ``None``: this
            process owns its sessions (the default; nothing changes).
        pause_timeout_s: how long a paused run waits for a decision before it fails,
            seconds (:mod:`.pauses`).
        approve_destructive_tools: pause before every call of a tool its server marks
            ``destructiveHint: true``, until a person resumes the run.
    """

    def __init__(
        self,
        catalog: GraphCatalog,
        *,
        store: SessionStore | None = None,
        observers: Iterable[Observer] = (),
        ring_size: int = 5000,
        llm: Service[LLMHandle] | None = None,
        tools: Service[ToolHandle] | None = None,
        max_history: int = 100,
        max_waiting_turns: int = 32,
        max_active_sessions: int = 1000,
        ledger: bool = False,
        event_log: EventLog | None = None,
        max_events: int | None = None,
        max_sessions: int | None = None,
        idle_s: float | None = None,
        lease: Callable[[str], AbstractAsyncContextManager[None]] | None = None,
        pause_timeout_s: float = 3600.0,
        approve_destructive_tools: bool = False,
    ) -> None:
        self.catalog = catalog
        self.store: SessionStore = store or MemorySessionStore()
        self.ring = RingBuffer(ring_size, max_events)
        self.event_log = event_log
        logs = [event_log] if event_log is not None else []
        self.bus = EventBus([self.ring, *logs, *observers])
        self.llm, self.tools = llm, tools
        self.max_history = max_history
        self.max_waiting_turns = max_waiting_turns
        self.ledger = ledger
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.max_active_sessions = max_active_sessions
        self._active: OrderedDict[str, _Active] = OrderedDict()  # least recently used first
        self.max_sessions, self.idle_s = max_sessions, idle_s
        self._used: dict[str, float] = {}  # session id -> monotonic time; oldest first
        self.evicted = 0
        """Sessions evicted from memory so far (idle, or past ``max_sessions``)."""
        self._tg: anyio.abc.TaskGroup | None = None
        self._stack = AsyncExitStack()
        self.lease = lease
        self.pauses = Pauses()
        self.pause_timeout_s = pause_timeout_s
        self.approve_destructive_tools = approve_destructive_tools
        self._breakpoints: dict[str, Breakpoints] = {}
        self._gates: dict[str, Gate] = {}  # of the gated runs going on, by run id

    async def __aenter__(self) -> Runtime:
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        if self.idle_s:
            self._tg.start_soon(self._sweep, name="evict idle sessions")
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        with anyio.CancelScope(shield=True):
            for sid in list(self._active):
                await self._stop(self._active.pop(sid))
        if self.lease is None:  # shared store: the store is the truth, not memory
            for session in self._sessions.values():
                self.store.save(session)  # events between turns (sensor flags) moved seq on
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        # Exit the background task group without the body's exception, so that an error
        # raised inside ``async with Runtime(...)`` reaches the caller as itself rather
        # than wrapped in an ExceptionGroup (background hooks catch their own errors).
        await self._stack.__aexit__(None, None, None)
        self._tg = None
        for observer in self.bus.observers:
            observer.close()

    # -- events ---------------------------------------------------------------

    def emit(
        self,
        session: Session,
        type: str,
        data: dict[str, Any] | None = None,
        *,
        node: str | None = None,
        kind: str | None = None,
        run_id: str = "",
    ) -> TraceEvent:
        """Emit a session-level trace event (outside any run) and return it."""
        session.seq += 1
        event = TraceEvent(
            session.seq, time.time(), session.id, run_id, session.graph, type, node, kind, data
        )
        self.bus.publish(event)
        self.ring.settle(session.id)
        return event

    # -- sessions -------------------------------------------------------------

    def create_session(self, graph: str | None = None, session_id: str | None = None) -> Session:
        """Create a session running ``graph`` (default: the catalog's default).

        Raises:
            UnknownGraphError, GraphValidationError: ``graph`` cannot be run.
            ValueError: ``session_id`` is already in use.
        """
        name = graph or self.catalog.default
        self.catalog.get(name)
        sid = session_id or Session.new_id()
        if sid in self._sessions or self.store.load(sid) is not None:
            raise ValueError(f"session id '{sid}' is already in use")
        session = Session(id=sid, graph=name, max_history=self.max_history)
        self.store.save(session)
        self._hold(session)
        self.emit(session, "session.started", {"graph": name})
        return session

    def session(self, session_id: str) -> Session:
        """Return a session, loading it from the store after a restart.

        Raises:
            UnknownSessionError: no such session.
        """
        session = self._sessions.get(session_id)
        if session is None or (self.lease is not None and not self._turn_here(session_id)):
            return self._load(session_id, session)
        used = self._used
        used.pop(session_id, None)  # re-inserted last: least recently used stays first
        used[session_id] = time.monotonic()
        return session

    def _load(self, session_id: str, held: Session | None = None) -> Session:
        """Load a session from the store and hold it; its seq goes on from the highest
        of the stored one, the event log's and ``held``'s (a copy in memory)."""
        session = self.store.load(session_id)
        if session is None:
            raise UnknownSessionError(session_id)
        if self.event_log is not None:  # events stored after the session's last save
            session.seq = max(session.seq, self.event_log.last_seq(session_id))
        if held is not None:
            session.seq = max(session.seq, held.seq)
        self._hold(session)
        return session

    def _turn_here(self, session_id: str) -> bool:
        """Whether a turn of the session runs (or waits) in this process."""
        lock = self._locks.get(session_id)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def exclusive(self, session_id: str) -> AsyncIterator[Session]:
        """Hold the session as a turn does (this process's turn lock, and in Redis mode
        its lease) and yield it, fresh from the store in Redis mode, for a change that
        must not race a turn (marking an interrupted run).

        Raises:
            UnknownSessionError: no such session.
        """
        self.session(session_id)
        async with self._lock(session_id):
            if self.lease is None:
                yield self.session(session_id)
                return
            async with self.lease(session_id):
                yield self._load(session_id, self._sessions.get(session_id))

    def _lock(self, session_id: str) -> anyio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            # fast_acquire: an uncontended turn does not yield to the event loop first
            lock = self._locks[session_id] = anyio.Lock(fast_acquire=True)
        return lock

    def events(self, session_id: str, after: int = 0) -> list[TraceEvent]:
        """Return a session's events with ``seq > after``, oldest first: the ring's,
        preceded by the event log's when the ring does not reach back that far."""
        kept = self.ring.events(session_id, after)
        first = kept[0].seq if kept else None
        if self.event_log is None or (first is not None and first <= after + 1):
            return kept
        return self.event_log.events(session_id, after, first) + kept

    def _hold(self, session: Session) -> None:
        """Keep ``session`` in memory, evicting the least recently used idle sessions
        past ``max_sessions``."""
        self._sessions[session.id] = session
        self._used[session.id] = time.monotonic()
        limit = self.max_sessions
        if limit is not None and len(self._sessions) > limit:
            for sid in list(self._used):
                if len(self._sessions) <= limit:
                    break
                if sid != session.id:
                    self.evict_session(sid)

    def evict_session(self, session_id: str) -> bool:
        """Drop an idle session from memory: its session object, events, lock and node
        instances (their ``start()`` hooks are cancelled first, then the session is
        saved; ``stop()`` runs in the background). It stays in the store and is reloaded
        by its next use.

        Returns:
            ``False`` when the session is running or waiting for a turn, or cannot be
            saved (it stays in memory then), else ``True``.
        """
        lock = self._locks.get(session_id)
        if lock is not None and lock.locked():
            return False
        active = self._active.pop(session_id, None)
        if active is not None:  # first, so that no start() hook changes what is saved
            active.scope.cancel()
            if self._tg is not None:
                self._tg.start_soon(self._stop, active)
        session = self._sessions.get(session_id)
        if session is not None and self.lease is None:
            try:
                self.store.save(session)  # events between turns (sensor flags) moved seq on
            except Exception:
                log.exception("could not save session '%s'; it stays in memory", session_id)
                return False
        self._sessions.pop(session_id, None)
        self._used.pop(session_id, None)
        self._locks.pop(session_id, None)
        self.ring.forget(session_id)
        self.evicted += 1
        return True

    async def _sweep(self) -> None:
        """Evict sessions idle for ``idle_s`` seconds, forever (a background task)."""
        assert self.idle_s
        while True:
            await anyio.sleep(min(self.idle_s / 4, 60.0))
            cutoff = time.monotonic() - self.idle_s
            for sid, used in list(self._used.items()):
                if used > cutoff:
                    break  # least recently used first: the rest are younger
                self.evict_session(sid)

    def memory(self) -> dict[str, Any]:
        """Return what the runtime holds in memory and its limits (``/api/health``)."""
        return {
            "sessions": len(self._sessions),
            "max_sessions": self.max_sessions,
            "active_sessions": len(self._active),
            "max_active_sessions": self.max_active_sessions,
            "events": self.ring.total,
            "max_events": self.ring.max_total,
            "idle_s": self.idle_s,
            "evicted": self.evicted,
        }

    def session_ids(self) -> list[str]:
        """Return the ids of every stored session."""
        return self.store.ids()

    def switch_graph(self, session_id: str, graph: str) -> Graph:
        """Point a session at another graph from its next turn on, keeping its history and
        state; emits ``graph.switched`` with the new graph's cytoscape elements.

        Raises:
            UnknownSessionError: no such session.
            UnknownGraphError, GraphValidationError: ``graph`` cannot be run.
        """
        target = self.catalog.get(graph)
        session = self.session(session_id)
        old, session.graph = session.graph, graph
        self.emit(
            session, "graph.switched", {"from": old, "to": graph, "elements": to_cytoscape(target)}
        )
        self.store.save(session)  # after the event, so the stored seq includes it
        return target

    # -- hot reload ---------------------------------------------------------------

    def reload_graphs(self) -> list[dict[str, Any]]:
        """Read the graph folders again (hot reload) and tell the sessions in memory.

        A valid new version runs from each session's next turn (a run going on keeps
        the version it started with); each session on that graph gets ``graph.updated``
        ``{"graph", "diff", "elements"}`` (:func:`.diff.graph_diff`, cytoscape elements
        of the new version). An invalid edit keeps the last valid version running; the
        sessions get ``graph.invalid`` ``{"graph", "problems": [str], "path"}``.
        Nothing is emitted for a file whose text did not change.

        Returns:
            the change per graph: ``{"graph", "type": "graph.updated"|"graph.invalid",
            "data"}``.
        """
        before = {e.name: e for e in self.catalog.entries()}
        self.catalog.reload()
        changes: list[dict[str, Any]] = []
        for entry in self.catalog.entries():
            old = before.get(entry.name)
            if entry.error is not None:
                if (
                    old is not None
                    and old.error is not None
                    and (old.error.message == entry.error.message)
                ):
                    continue
                problems = [textwrap.dedent(p.render()).strip() for p in entry.error.problems]
                data: dict[str, Any] = {
                    "graph": entry.name,
                    "problems": problems,
                    "path": str(entry.path),
                }
                changes.append({"graph": entry.name, "type": "graph.invalid", "data": data})
            elif entry.graph is not None and (
                old is None or old.graph is None or old.graph.text != entry.graph.text
            ):
                diff = graph_diff(old.graph, entry.graph) if old and old.graph else None
                data = {"graph": entry.name, "diff": diff, "elements": to_cytoscape(entry.graph)}
                changes.append({"graph": entry.name, "type": "graph.updated", "data": data})
        for change in changes:
            for session in list(self._sessions.values()):
                if session.graph == change["graph"]:
                    self.emit(session, change["type"], change["data"])
        return changes

    # -- breakpoints and pauses --------------------------------------------------

    def breakpoints(self, session_id: str) -> Breakpoints:
        """Return the session's breakpoints (kept in memory, not across restarts).

        Raises:
            UnknownSessionError: no such session.
        """
        self.session(session_id)
        return self._breakpoints.get(session_id) or Breakpoints()

    def set_breakpoints(
        self, session_id: str, before: Iterable[str] = (), after: Iterable[str] = ()
    ) -> Breakpoints:
        """Replace the session's breakpoints; they apply from its next run on (a run
        already going keeps the ones it started with).

        Raises:
            UnknownSessionError: no such session.
            UnknownNodeError: a name is not a node the session's graph runs in a turn.
        """
        session = self.session(session_id)
        graph = self.catalog.get(session.graph)
        points = Breakpoints(list(dict.fromkeys(before)), list(dict.fromkeys(after)))
        unknown = [n for n in dict.fromkeys([*points.before, *points.after]) if n not in graph.flow]
        if unknown:
            raise UnknownNodeError(graph.name, unknown, [n for n in graph.order if n in graph.flow])
        if points:
            self._breakpoints[session_id] = points
        else:
            self._breakpoints.pop(session_id, None)
        return points

    def resume(self, run_id: str, action: str, inputs: dict[str, Any] | None = None) -> Pause:
        """Resume a paused run (see :meth:`.pauses.Pauses.resume`).

        Raises:
            LookupError: the run is not paused.
            ResumeError: unknown action, or invalid ``inputs``.
        """
        return self.pauses.resume(run_id, action, inputs)

    def paused_runs(self) -> list[dict[str, Any]]:
        """Return the snapshots of runs the store holds as paused: runs that were paused
        when the process stopped. Pass one to :meth:`run` as ``restore`` (with its
        ``session_id``, ``entry``, ``payload`` and ``run_id``) to pause it again."""
        return self.store.paused_runs()

    def forget(self, run_id: str) -> None:
        """Make sure a paused run will not resume after a restart (call it before
        cancelling the run on purpose)."""
        gate = self._gates.get(run_id)
        if gate is not None:
            gate.forget()
        else:
            self.store.delete_paused(run_id)

    def _gate(self, session: Session, graph: Graph, run_id: str, restore: bool) -> Gate | None:
        """Return where this run may pause, or ``None`` when it cannot pause."""
        points = self._breakpoints.get(session.id)
        destructive = self.approve_destructive_tools and self.tools is not None
        if not (points or graph.approval_nodes or graph.approval_tools or destructive or restore):
            return None
        return Gate(
            self.pauses,
            run_id,
            session.id,
            graph.name,
            before=points.before if points else (),
            after=points.after if points else (),
            approve_nodes=graph.approval_nodes,
            approve_tools=graph.approval_tools,
            approve_destructive=destructive,
            timeout_s=self.pause_timeout_s,
            store=self.store,
        )

    # -- runs -----------------------------------------------------------------

    async def run(
        self,
        session_id: str,
        entry: str,
        payload: Any,
        *,
        run_id: str | None = None,
        restore: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run one turn: ``payload`` enters the session's graph at ``entry``.

        Turns of one session run one after another; turns of different sessions run
        in parallel. ``restore`` is a snapshot from :meth:`paused_runs`: the run goes on
        from where it was paused before a restart (see :func:`.executor.execute`).
        A run cancelled while its pause is stored (the server stopping) leaves no turn
        in the history: it resumes at the next start.

        Raises:
            UnknownSessionError: no such session.
            SessionBusyError: too many turns already wait on this session.
            UnknownEntryError, ValueError: the event does not fit the graph's entries.
            NodeRunError: a node failed; the error's ``result`` holds the partial run.
        """
        if self.lease is None:
            session = self.session(session_id)
        elif session_id not in self._sessions:  # Redis mode: loaded afresh below anyway
            self.session(session_id)
        lock = self._locks.get(session_id) or self._lock(session_id)  # one call less per run
        if lock.locked() and lock.statistics().tasks_waiting >= self.max_waiting_turns:
            raise SessionBusyError(session_id, self.max_waiting_turns)
        async with lock:
            if self.lease is None:
                return await self._turn(session, entry, payload, run_id, restore)
            async with self.lease(session_id):  # Redis mode: one turn in all processes
                session = self._load(session_id, self._sessions.get(session_id))
                return await self._turn(session, entry, payload, run_id, restore)

    async def _turn(
        self,
        session: Session,
        entry: str,
        payload: Any,
        run_id: str | None,
        restore: dict[str, Any] | None,
    ) -> RunResult:
        """Run one turn of ``session`` (its turn lock held) and record it."""
        graph = self.catalog.get(restore["graph"] if restore else session.graph)
        active = await self._instances(session, graph)
        status, result, seq0 = None, None, session.seq
        run_id = run_id or uuid.uuid4().hex[:12]
        gate = None
        if (  # a cheap test first: most runs cannot pause
            self._breakpoints
            or graph.approval_nodes
            or graph.approval_tools
            or (restore is not None or self.approve_destructive_tools)
        ):
            gate = self._gate(session, graph, run_id, restore is not None)
        if gate is not None:
            self._gates[run_id] = gate
        try:
            result = await execute(
                graph,
                active.nodes,
                session,
                self.bus,
                entry,
                payload,
                run_id=run_id,
                llm=self.llm,
                tools=self.tools,
                gate=gate,
                restore=restore,
            )
            status = "finished"
            return result
        except NodeRunError as exc:
            status, result = "failed", exc.result
            raise
        except anyio.get_cancelled_exc_class():
            status = "cancelled"
            raise
        finally:
            if gate is not None:
                del self._gates[run_id]
                if status == "cancelled" and gate.persisted:
                    status = None  # stopped while paused: it resumes at the next start
                elif gate.persisted or restore is not None:
                    gate.forget()  # it ended (e.g. failed on another branch meanwhile)
            # a request refused before its run started (unknown entry, a payload
            # that does not fit) leaves no turn behind
            if status is not None:
                if self.ledger:
                    self._emit_ledger(session, graph, seq0)
                outputs = jsonable(result.outputs) if result is not None else {}
                rid = result.run_id if result is not None else (run_id or "")
                warnings = result.warnings if result is not None else []
                session.add_turn(
                    Turn(
                        rid,
                        graph.name,
                        entry,
                        jsonable(payload),
                        outputs,
                        status,
                        time.time(),
                        warnings,
                    )
                )
                self.ring.settle(session.id)
                self.store.save(session)

    def _emit_ledger(self, session: Session, graph: Graph, seq0: int) -> None:
        """Emit ``run.ledger`` for the run that began after event ``seq0``, from its
        events still in the ring (none when the ring no longer holds its start)."""
        events = self.ring.events(session.id, seq0)
        run_id = next((e.run_id for e in events if e.type == "run.started"), None)
        data = compute_ledger(graph, [e for e in events if e.run_id == run_id])
        if run_id is not None and data is not None:
            self.emit(session, "run.ledger", data, run_id=run_id)

    # -- node instances and their start()/stop() hooks --------------------------

    async def _instances(self, session: Session, graph: Graph) -> _Active:
        current = self._active.get(session.id)
        if current is not None and current.graph is graph:
            self._active.move_to_end(session.id)
            return current
        if current is not None:
            await self._stop(current)
        active = _Active(graph, {nid: d.instantiate() for nid, d in graph.nodes.items()})
        self._active[session.id] = active
        self._active.move_to_end(session.id)
        await self._evict()
        starters = [n for n in active.nodes.values() if type(n).start is not Node.start]
        if starters:
            if self._tg is None:
                raise RuntimeError(
                    f"graph '{graph.name}' has nodes with start() hooks; "
                    "use the runtime as 'async with Runtime(...)'"
                )
            await self._tg.start(self._background, session, graph, active, starters)
        return active

    async def _background(
        self,
        session: Session,
        graph: Graph,
        active: _Active,
        starters: list[Node],
        *,
        task_status: anyio.abc.TaskStatus[None],
    ) -> None:
        with active.scope:
            task_status.started()
            async with anyio.create_task_group() as tg:
                for node in starters:
                    tg.start_soon(self._start_one, session, graph, node)

    async def _start_one(self, session: Session, graph: Graph, node: Node) -> None:
        kind = graph.nodes[node.id].kind

        def emit(type: str, nid: str | None, k: str | None, data: dict[str, Any] | None) -> None:
            self.emit(session, type, data, node=nid, kind=k)

        ctx = RunContext(
            node=node.id,
            kind=kind,
            run_id="",
            graph=graph.name,
            session=session,
            context=[],
            emit=emit,
            llm=self.llm,
            tools=self.tools,
        )
        try:
            await node.start(ctx)
        except Exception as exc:  # a background hook failing must not end the session
            log.exception("start() of node '%s' failed", node.id)
            self.emit(
                session,
                "node.failed",
                {"error": f"{type(exc).__name__}: {exc}", "hook": "start"},
                node=node.id,
                kind=kind,
            )

    async def _stop(self, active: _Active) -> None:
        active.scope.cancel()
        for node in active.nodes.values():
            try:
                await node.stop()
            except Exception:
                log.exception("stop() of node '%s' failed", node.id)

    async def _evict(self) -> None:
        """Stop the instances of the least recently used idle sessions past the limit."""
        for sid in list(self._active):
            if len(self._active) <= self.max_active_sessions:
                return
            lock = self._locks.get(sid)
            if lock is None or not lock.locked():
                await self._stop(self._active.pop(sid))

    async def close_session(self, session_id: str) -> None:
        """Stop a session's node instances (its data stays in the store)."""
        active = self._active.pop(session_id, None)
        if active is not None:
            await self._stop(active)
        self._sessions.pop(session_id, None)
        self._used.pop(session_id, None)


def tune_gc(threshold0: int = 50_000) -> None:
    """Make CPython's cyclic garbage collector cheap for a long-running server.

    Freezes everything allocated so far (modules, schemas, graphs) out of future
    collections and collects young objects every ``threshold0`` allocations instead of
    700. Measured with ``bench/engine_overhead.py``: with default thresholds, runs/s at
    1000 concurrent runs fall by half as the trace ring fills, because each full
    collection walks every retained event. ``cogpipe serve`` calls this at start-up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold0, 20, 100)
