"""Breakpoints and approval gates: where a run pauses, and how it is resumed.

A run *pauses* when it reaches

* a session breakpoint: before or after a node (:class:`Breakpoints`);
* an approval gate of its graph (``approval:`` in YAML): before a node it names, or
  before a call of a tool it names;
* a call of an MCP tool its server marks ``destructiveHint: true``, when the runtime
  requires approval for those (``approve_destructive_tools``);
* the next node after a resume with ``step``.

While paused, the run emits ``run.paused`` and waits for :meth:`Pauses.resume` with an
action: ``continue``, ``step`` (pause again before the next node that starts) or
``reject`` (skip the node as if its outputs were empty; after a node: drop its
outputs; at a tool call: refuse the call with a :class:`ToolError` of kind
``rejected``). Then it emits ``run.resumed``.

Concurrency: only the paused node's task waits. Nodes of other branches that are
already running go on and finish, and nodes that do not depend on the paused node
start as usual; a second pause of the same run waits until the first is resumed, so a
run has at most one pending pause. (Freezing the other branches is not possible without
cancelling their in-flight LLM and tool calls, which would change what the run does.)
Time spent paused does not count towards a node's ``timeout_s``. A pause left without a
decision for ``timeout_s`` seconds fails the run with :class:`PauseExpiredError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio

from .session import SessionStore

__all__ = [
    "ACTIONS",
    "Breakpoints",
    "Gate",
    "Pause",
    "PauseExpiredError",
    "Pauses",
    "ResumeError",
]

ACTIONS = ("continue", "step", "reject")
"""What :meth:`Pauses.resume` accepts as ``action``."""

Validate = Callable[[dict[str, Any]], Any]
"""Checks replacement inputs (or tool arguments); returns them as they will be used.
Raises :class:`ResumeError`."""


class ResumeError(ValueError):
    """Raised when a resume request does not fit the pause: an unknown action, or
    ``inputs`` that are not valid for the pending node (or tool).

    Attributes:
        message: one sentence. problems: one entry per validation error (pydantic's
            ``errors()`` dicts, or strings for tool arguments).
    """

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        self.message = message
        self.problems = problems or []
        super().__init__(message)


class PauseExpiredError(TimeoutError):
    """A pause got no decision within the time limit; the run fails with it."""

    def __init__(self, node: str, where: str, timeout_s: float) -> None:
        self.message = (
            f"paused {where} node '{node}' for {timeout_s:g} s without a decision "
            "(pause_timeout_s); resume paused runs with POST /api/runs/{run_id}/resume"
        )
        super().__init__(self.message)


@dataclass
class Breakpoints:
    """A session's breakpoints: node ids to pause before and after."""

    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.before or self.after)


@dataclass
class Pause:
    """One pending pause of a run.

    Attributes:
        run_id, session_id, graph: the run. node, kind: the pending node.
        where: ``before`` / ``after`` (breakpoints), ``step``, ``approval`` (a gate on
            the node) or ``tool`` (a tool call waiting for approval).
        reason: why it paused, one sentence.
        data: what the run shows: ``{"inputs": {...}}`` before a node, ``{"outputs":
            {...}}`` after it, ``{"tool": "server.tool", "arguments": {...}}`` at a
            tool call (JSON data, whole, not previews).
        since: Unix seconds when it paused. deadline: Unix seconds when it expires.
        decided: set by :meth:`Pauses.resume`. taken: set once the run acted on the
            decision (``run.resumed`` was emitted) or the pause expired or was cancelled.
    """

    run_id: str
    session_id: str
    graph: str
    node: str
    kind: str
    where: str
    reason: str
    data: dict[str, Any]
    since: float
    deadline: float
    validate: Validate | None = None
    action: str | None = None
    replacement: Any = None
    decided: anyio.Event = field(default_factory=anyio.Event)
    taken: anyio.Event = field(default_factory=anyio.Event)

    def info(self) -> dict[str, Any]:
        """Return the pause as JSON data (the ``run.paused`` event's and the API's)."""
        return {
            "node": self.node,
            "kind": self.kind,
            "where": self.where,
            "reason": self.reason,
            **self.data,
            "since": self.since,
            "deadline": self.deadline,
            "editable": self.validate is not None,
        }


class Pauses:
    """The runtime's pending pauses, by run id; :meth:`resume` decides one."""

    def __init__(self) -> None:
        self._by_run: dict[str, Pause] = {}

    def get(self, run_id: str) -> Pause | None:
        """Return the pending pause of ``run_id``, or ``None``."""
        return self._by_run.get(run_id)

    def all(self) -> list[Pause]:
        """Return every pending pause, oldest first."""
        return sorted(self._by_run.values(), key=lambda p: p.since)

    def resume(self, run_id: str, action: str, inputs: dict[str, Any] | None = None) -> Pause:
        """Decide the pending pause of ``run_id``; the run goes on at its next step.

        Args:
            action: one of :data:`ACTIONS`.
            inputs: replaces the pending node's inputs (ports given replace those
                ports; the result is validated against the node's ``Inputs``), or the
                tool call's arguments (validated against the tool's input schema).

        Raises:
            LookupError: ``run_id`` has no pending pause.
            ResumeError: unknown action; ``inputs`` given where none can be replaced
                (after a node ran), or invalid (``problems`` lists why).
        """
        pause = self._by_run.get(run_id)
        if pause is None or pause.decided.is_set():
            raise LookupError(f"run '{run_id}' is not paused")
        if action not in ACTIONS:
            raise ResumeError(f"unknown action '{action}'; use one of {', '.join(ACTIONS)}")
        if inputs is not None and action != "reject":
            if pause.validate is None:
                raise ResumeError(
                    f"run '{run_id}' is paused after node '{pause.node}' ran: there are no "
                    "pending inputs to replace (use 'continue', 'step' or 'reject')"
                )
            pause.replacement = pause.validate(inputs)
        pause.action = action
        pause.decided.set()
        return pause

    def add(self, pause: Pause) -> None:
        self._by_run[pause.run_id] = pause

    def discard(self, pause: Pause) -> None:
        if self._by_run.get(pause.run_id) is pause:
            del self._by_run[pause.run_id]


Emit = Callable[[str, str | None, str | None, dict[str, Any] | None], None]


class Gate:
    """Where one run may pause; the executor asks it before and after each node, and
    tool calls ask it before they start. Built by the runtime only for runs that can
    pause (a run without breakpoints or gates has none: its path costs nothing).

    Args:
        pauses: the runtime's registry. run_id, session_id, graph: the run.
        before, after: node ids of the session's breakpoints.
        approve_nodes: node ids with an approval gate (``approval:``).
        approve_tools: tool names with an approval gate (bare or ``server.tool``).
        approve_destructive: also gate every tool marked destructive.
        timeout_s: how long a pause may wait for a decision, seconds.
        store: where paused runs persist (``save_paused`` / ``delete_paused`` of the
            session store), so that they pause again after a restart; ``None``: not
            persisted. A pause that is decided or expires is deleted; one whose run is
            cancelled stays (a server stopping cancels its runs), so cancelling a run
            on purpose must call ``delete_paused`` too (the runtime's :meth:`forget`).

    Attributes:
        restore_at: ``(node, where, reason)`` of the pause a restored run resumes at.
        persisted: whether the store holds a snapshot of this run now.
    """

    def __init__(
        self,
        pauses: Pauses,
        run_id: str,
        session_id: str,
        graph: str,
        *,
        before: Iterable[str] = (),
        after: Iterable[str] = (),
        approve_nodes: Iterable[str] = (),
        approve_tools: Iterable[str] = (),
        approve_destructive: bool = False,
        timeout_s: float = 3600.0,
        store: SessionStore | None = None,
    ) -> None:
        self.pauses = pauses
        self.run_id, self.session_id, self.graph = run_id, session_id, graph
        self.before, self.after = frozenset(before), frozenset(after)
        self.approve_nodes = frozenset(approve_nodes)
        self.approve_tools = frozenset(approve_tools)
        self.approve_destructive = approve_destructive
        self.timeout_s = timeout_s
        self.store = store
        self.stepping = False
        self.expired: PauseExpiredError | None = None
        self.restore_at: tuple[str, str, str] | None = None
        self.persisted = False
        self._lock = anyio.Lock()

    def forget(self) -> None:
        """Delete the run's snapshot from the store: it will not resume after a restart."""
        if self.store is not None:
            self.store.delete_paused(self.run_id)
        self.persisted = False

    def stop_before(self, node: str) -> tuple[str, str] | None:
        """Return ``(where, reason)`` when the run must pause before ``node``."""
        if self.restore_at is not None and self.restore_at[0] == node:
            where, reason = self.restore_at[1:]
            self.restore_at = None
            if where not in ("after", "tool"):  # those pause again on their own
                return where, reason
        if self.stepping:
            return "step", f"stepping: paused before node '{node}'"
        if node in self.before:
            return "before", f"breakpoint before node '{node}'"
        if node in self.approve_nodes:
            return "approval", f"node '{node}' needs approval (the graph's approval gate)"
        return None

    def tool_reason(self, names: Iterable[str], destructive: bool) -> str | None:
        """Return why a call of the tool known by ``names`` needs approval, or ``None``."""
        for name in names:
            if name in self.approve_tools:
                return f"tool '{name}' needs approval (the graph's approval gate)"
        if destructive and self.approve_destructive:
            return "the tool is marked destructive and approve_destructive_tools is on"
        return None

    async def pause(
        self,
        emit: Emit,
        node: str,
        kind: str,
        where: str,
        reason: str,
        data: dict[str, Any],
        validate: Validate | None,
        scope: anyio.CancelScope | None = None,
        snapshot: Callable[[], dict[str, Any]] | None = None,
    ) -> Pause:
        """Pause the run at ``node`` until it is resumed, and return the decided pause.

        ``scope`` is the node's ``timeout_s`` scope when the node is already running
        (a tool call): its deadline stops while the run is paused. ``snapshot`` returns
        what the store keeps to resume the run after a restart.

        Raises:
            PauseExpiredError: no decision within ``timeout_s`` (also kept in
                :attr:`expired`, so the executor fails the run even if a node catches it).
        """
        async with self._lock:  # one pending pause per run
            self.stepping = False
            now = time.time()
            pause = Pause(
                self.run_id,
                self.session_id,
                self.graph,
                node,
                kind,
                where,
                reason,
                data,
                now,
                now + self.timeout_s,
                validate,
            )
            self.pauses.add(pause)
            if self.store is not None and snapshot is not None:
                self.store.save_paused(self.run_id, self.session_id, snapshot())
                self.persisted = True
            left = None
            if scope is not None:
                left, scope.deadline = scope.deadline - anyio.current_time(), math.inf
            emit("run.paused", node, kind, pause.info())
            try:
                with anyio.move_on_after(self.timeout_s):
                    await pause.decided.wait()
                if pause.action is None:
                    self.expired = PauseExpiredError(node, where, self.timeout_s)
                    raise self.expired
                self.stepping = pause.action == "step"
                emit(
                    "run.resumed",
                    node,
                    kind,
                    {
                        "action": pause.action,
                        "where": where,
                        "edited": pause.replacement is not None,
                        "paused_ms": round((time.time() - now) * 1000, 3),
                    },
                )
                return pause
            finally:
                self.pauses.discard(pause)
                if self.persisted and (pause.action is not None or self.expired):
                    self.forget()
                if scope is not None and left is not None:
                    scope.deadline = anyio.current_time() + left
                pause.taken.set()
