"""Run one turn of a graph: concurrent, typed, traced, with no role-specific code.

Semantics (DESIGN.md, "Execution semantics"):

* An external event enters at its entry ports; every other entry counts as empty.
* A node runs once each required input holds a value and every optional input either
  holds one or can no longer arrive (so optional inputs are deterministic, not racy).
* An input fed by several edges takes the first value that fires.
* An empty output port (``None``) means "branch not taken": a node whose required input
  can no longer arrive, or whose inputs all ended empty, is skipped, and its outputs
  count as empty in turn.
* All ready nodes run concurrently in one anyio task group. A node that raises or
  passes its ``timeout_s`` fails the run with :class:`NodeRunError`; the task group
  cancels its siblings.
* A node declared ``critical: false`` that fails does not fail the run: the failure is
  a ``node.failed`` event and a line in :attr:`RunResult.warnings`, the node's outputs
  count as empty, and the run goes on to finish.
* A run given a :class:`~.pauses.Gate` may pause before or after a node and before a
  tool call (breakpoints, approval gates; semantics in :mod:`.pauses`). A run without
  one pays a single ``is None`` test per node.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel
from pydantic import ValidationError

from .errors import NodeRunError, UnknownEntryError
from .graph import Graph
from .handles import LLMHandle, Service, ToolHandle
from .node import Node, RunContext
from .pauses import Gate, ResumeError, Validate
from .plan import Plan, Step, plan_of
from .session import Session, jsonable
from .trace import DETAIL_CHARS, EventBus, TraceEvent, preview

__all__ = ["RunResult", "execute", "node_outputs"]

_WAITING, _RUNNING, _DONE, _SKIPPED, _FAILED = range(5)


@dataclass
class RunResult:
    """What one run produced.

    Attributes:
        run_id: the run's id. session_id: its session. graph: the graph that ran.
        status: ``finished``, ``failed`` or ``cancelled``.
        outputs: the graph's named results (``outputs:`` in YAML) that fired.
        ports: every output port that fired, as ``{"node.port": value}``.
        executed: node ids that finished, in finishing order.
        skipped: node ids that were skipped.
        error: the failure message, when ``status == "failed"``.
        warnings: one line per failure of a non-critical node
            (``node 'memorizer' (memorizer_v1) failed: LLMError: ...``).
        duration_ms: wall time of the run in milliseconds.
    """

    run_id: str
    session_id: str
    graph: str
    status: str = "finished"
    outputs: dict[str, Any] = field(default_factory=dict)
    ports: dict[str, Any] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


async def execute(
    graph: Graph,
    instances: dict[str, Node],
    session: Session,
    bus: EventBus,
    entry: str,
    payload: Any,
    *,
    run_id: str | None = None,
    llm: Service[LLMHandle] | None = None,
    tools: Service[ToolHandle] | None = None,
    gate: Gate | None = None,
    restore: dict[str, Any] | None = None,
) -> RunResult:
    """Run one turn of ``graph`` for ``session`` and return its result.

    Args:
        graph: a validated graph. instances: a node instance per flow node id.
        session: the session (its ``seq`` advances with every event).
        bus: where trace events go.
        entry: the external event name, one of ``graph.entry``.
        payload: the event's value; validated against the entry ports' types.
        run_id: the run's id (generated when omitted).
        llm, tools: services handed to nodes through ``ctx.llm`` / ``ctx.tools``.
        gate: where the run may pause (breakpoints, approval gates), or ``None``.
        restore: with a gate, the snapshot of a paused run (:meth:`_Run.snapshot`, as
            stored before a restart): the nodes it had finished are not run again (their
            stored outputs are routed, ``node.finished`` has ``restored: true``), and
            the run pauses again where it was paused.

    Returns:
        The result; ``status`` is ``finished``.

    Raises:
        UnknownEntryError: ``entry`` is not one of the graph's entries.
        NodeRunError: a node (or a context provider) failed, or a pause expired
            (its cause a :class:`~.pauses.PauseExpiredError`); ``run.failed`` was emitted.
        ValueError: ``payload`` does not fit an entry port's type.
        anyio's cancellation exception: when the caller cancels; ``run.cancelled`` was
            emitted and running nodes were cancelled.
    """
    if entry not in graph.entry:
        raise UnknownEntryError(graph.name, entry, list(graph.entry))
    run = _Run(
        graph,
        plan_of(graph),
        instances,
        session,
        bus,
        run_id or uuid.uuid4().hex[:12],
        llm,
        tools,
        gate,
    )
    if gate is not None:
        run.scopes, run.outcomes, run.restored = {}, {}, {}
        run.entry, run.payload = entry, payload
    if restore is not None and gate is not None:
        run.restored = {
            nid: _fired(run.plan.steps[nid].cls, outputs)
            for nid, outputs in restore["done"].items()
            if nid in run.plan.steps
        }
        gate.restore_at = (restore["node"], restore["where"], restore["reason"])
    return await run.execute(entry, payload)


def _first_node_error(exc: BaseException) -> NodeRunError | None:
    if isinstance(exc, NodeRunError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _first_node_error(inner)
        if found is not None:
            return found
    return None


class _Run:
    """The mutable state of one run. Everything runs on one event loop thread, so the
    bookkeeping below needs no locks: state changes only between awaits."""

    # set only when gated (execute()): the run's entry event, the timeout scopes of
    # running nodes, each finished node's fired outputs (for the snapshot a restart
    # resumes from), and the outputs a restored run replays
    entry: str
    payload: Any
    scopes: dict[str, anyio.CancelScope]
    outcomes: dict[str, dict[str, Any]]
    restored: dict[str, dict[str, Any]]

    def __init__(
        self,
        graph: Graph,
        plan: Plan,
        instances: dict[str, Node],
        session: Session,
        bus: EventBus,
        run_id: str,
        llm: Service[LLMHandle] | None,
        tools: Service[ToolHandle] | None,
        gate: Gate | None = None,
    ) -> None:
        self.graph, self.plan, self.instances, self.session = graph, plan, instances, session
        self.publish = bus.publish
        self.run_id = run_id
        self.llm, self.tools, self.gate = llm, tools, gate
        steps = plan.steps
        # per node: input values, their previews, sources still unresolved per port, status
        self.values: dict[str, dict[str, Any]] = {nid: {} for nid in steps}
        self.shown: dict[str, dict[str, str]] = {nid: {} for nid in steps}
        self.pending = {nid: dict(step.sources) for nid, step in steps.items()}
        self.status = dict.fromkeys(steps, _WAITING)
        self.result = RunResult(run_id, session.id, graph.name)
        self.context: list[str] = []
        self.tg: anyio.abc.TaskGroup | None = None

    def emit(
        self,
        type: str,
        node: str | None = None,
        kind: str | None = None,
        data: dict[str, Any] | None = None,
        duration_ms: float | None = None,
    ) -> None:
        session = self.session
        session.seq += 1
        self.publish(
            TraceEvent(
                session.seq,
                time.time(),
                session.id,
                self.run_id,
                self.graph.name,
                type,
                node,
                kind,
                data,
                duration_ms,
            )
        )

    async def execute(self, entry: str, payload: Any) -> RunResult:
        t0 = time.perf_counter()
        fed = self.entry_values(entry, payload)
        started: dict[str, Any] = {"entry": entry, "input": preview(payload)}
        if self.gate is not None and self.restored:
            started["restored"] = True
        self.emit("run.started", data=started)
        try:
            ready = self.start(fed)
            async with anyio.create_task_group() as tg:
                self.tg = tg
                # Every ready node but the first gets its own task; the first runs in
                # this task, saving a task spawn per sequential step.
                for nid in ready[1:]:
                    tg.start_soon(self.drive, nid)
                if ready:
                    await self.drive(ready[0], len(ready) > 1)
        except anyio.get_cancelled_exc_class():
            self.finish("cancelled", t0)
            self.emit("run.cancelled", duration_ms=self.result.duration_ms)
            raise
        except BaseException as exc:
            error = _first_node_error(exc)
            if error is None:
                raise
            self.finish("failed", t0, error.message)
            error.result = self.result
            self.emit(
                "run.failed",
                error.node,
                error.kind,
                {"error": error.message},
                self.result.duration_ms,
            )
            raise error from error.cause
        self.finish("finished", t0)
        self.emit(
            "run.finished",
            data={
                "executed": len(self.result.executed),
                "skipped": len(self.result.skipped),
                "outputs": {k: preview(v) for k, v in self.result.outputs.items()},
                "warnings": self.result.warnings,
            },
            duration_ms=self.result.duration_ms,
        )
        return self.result

    def finish(self, status: str, t0: float, error: str | None = None) -> None:
        res = self.result
        res.status, res.error = status, error
        res.duration_ms = (time.perf_counter() - t0) * 1000
        for name, key in self.plan.outputs:
            value = res.ports.get(key)
            if value is not None:
                res.outputs[name] = value

    def entry_values(self, entry: str, payload: Any) -> list[tuple[str, str, Any]]:
        """Validate ``payload`` for each entry port; other entries' ports get ``None``."""
        fed = []
        for event, refs in self.graph.entry.items():
            for ref in refs:
                value = payload if event == entry else None
                if value is not None:
                    try:
                        value = self.plan.adapters[(ref.node, ref.port)].validate_python(value)
                    except ValidationError as exc:
                        raise ValueError(
                            f"entry '{entry}' -> {ref}: payload does not fit the port: {exc}"
                        ) from None
                fed.append((ref.node, ref.port, value))
        return fed

    def start(self, fed: list[tuple[str, str, Any]]) -> list[Step]:
        """Feed the entry ports, compute context lines, return the first ready nodes."""
        for nid, port, value in fed:
            self.pending[nid][port] -= 1
            if value is not None and port not in self.values[nid]:
                self.values[nid][port] = value
                self.shown[nid][port] = preview(value, DETAIL_CHARS)
        for nid in self.graph.context:
            try:
                self.context.extend(self.instances[nid].context(self.session))
            except Exception as exc:
                raise NodeRunError(nid, self.graph.nodes[nid].kind, exc) from exc
        ready: list[Step] = []
        for step in self.plan.steps.values():
            self.check(step, ready)
        return ready

    def check(self, step: Step, ready: list[Step]) -> None:
        """Decide whether a waiting node is ready, must be skipped, or keeps waiting."""
        nid = step.id
        if self.status[nid] != _WAITING:
            return
        values, pending = self.values[nid], self.pending[nid]
        waiting = False
        for port in step.required:
            if port not in values:
                if pending[port] <= 0:
                    return self.skip(step, f"required input '{port}' can no longer arrive", ready)
                waiting = True
        for port in step.optional:
            if port not in values and pending[port] > 0:
                waiting = True
        if waiting:
            return
        if not values and pending:
            return self.skip(step, "no input arrived", ready)
        self.status[nid] = _RUNNING
        ready.append(step)

    def skip(self, step: Step, reason: str, ready: list[Step]) -> None:
        self.status[step.id] = _SKIPPED
        self.result.skipped.append(step.id)
        self.emit("node.skipped", step.id, step.kind, {"reason": reason})
        self.route(step, {}, {}, ready)

    def route(
        self, step: Step, fired: dict[str, Any], shown: dict[str, str], ready: list[Step]
    ) -> None:
        """Deliver a node's fired outputs (every other port counts as empty; ``shown``
        holds their previews) and collect the nodes that became ready."""
        touched: list[Step] = []
        steps, values, pending = self.plan.steps, self.values, self.pending
        ports, emit = self.result.ports, self.emit
        for port, (key, targets) in step.routes.items():
            value = fired.get(port)
            if value is not None:
                ports[key] = value
            for dst, dst_port, label in targets:
                pending[dst][dst_port] -= 1
                if value is not None:
                    emit(
                        "edge.fired",
                        step.id,
                        step.kind,
                        {"from": key, "to": label, "preview": preview(shown[port])},
                    )
                    if dst_port not in values[dst]:  # any-of: the first value wins
                        values[dst][dst_port] = value
                        self.shown[dst][dst_port] = shown[port]
                touched.append(steps[dst])
        for dst_step in touched:
            self.check(dst_step, ready)

    async def drive(self, step: Step, siblings: bool = False) -> None:
        """Run ``step``'s node, then keep running one of the nodes it made ready in this
        task and hand the others to new tasks in the run's task group.

        ``siblings`` says that other nodes became ready together with ``step``."""
        while True:
            ready = await self.run_node(step, siblings)
            if not ready:
                return
            for other in ready[1:]:
                self.tg.start_soon(self.drive, other)  # type: ignore[union-attr]
            step, siblings = ready[0], len(ready) > 1

    async def run_node(self, step: Step, siblings: bool = False) -> list[Step]:
        nid, kind = step.id, step.kind
        gate = self.gate
        if gate is not None:
            if nid in self.restored:
                return await self.replay(gate, step)
            stop = gate.stop_before(nid)
            if stop is not None and not await self.pause_before(gate, step, *stop):
                ready: list[Step] = []
                self.skip(step, f"rejected while paused ({stop[0]})", ready)
                self.outcomes[nid] = {}
                return ready
        self.emit("node.started", nid, kind, {"inputs": self.shown[nid]})
        ctx = RunContext(
            node=nid,
            kind=kind,
            run_id=self.run_id,
            graph=self.graph.name,
            session=self.session,
            context=self.context,
            emit=self.emit,
            llm=self.llm,
            tools=self.tools,
        )
        if gate is not None:
            ctx.approve = partial(self.approve_tool, gate, step)
        inputs = step.make_inputs(self.values[nid])
        t0 = time.perf_counter()
        try:
            if siblings:
                # Nodes that became ready together start together: let the sibling tasks
                # begin before this one runs, so a sibling that never awaits cannot end
                # before this one has started (the overlap the HUD shows is real).
                await anyio.lowlevel.checkpoint()
            if step.timeout_s is None:
                out = await self.instances[nid].run(inputs, ctx)
            else:
                with anyio.fail_after(step.timeout_s) as scope:
                    if gate is not None:
                        self.scopes[nid] = scope
                    out = await self.instances[nid].run(inputs, ctx)
            fired = _fired(step.cls, out)
            if gate is not None and gate.expired is not None:
                raise gate.expired  # a tool call's pause expired and the node caught it
        except anyio.get_cancelled_exc_class():
            self.emit("node.cancelled", nid, kind, None, _ms(t0))
            raise
        except Exception as raised:
            exc: Exception = raised
            expired = gate.expired if gate is not None else None
            if expired is not None:
                exc = expired  # an expired pause fails the run, critical or not
            elif isinstance(exc, TimeoutError) and step.timeout_s is not None:
                exc = TimeoutError(f"no result within timeout_s={step.timeout_s:g} s")
            self.status[nid] = _FAILED
            error = NodeRunError(nid, kind, exc)
            data = {"error": f"{type(exc).__name__}: {exc}", "critical": step.critical}
            self.emit("node.failed", nid, kind, data, _ms(t0))
            if step.critical or expired is not None:
                raise error from exc
            # A non-critical failure is a warning; its outputs count as empty.
            self.result.warnings.append(error.message)
            fired = shown = {}
        else:
            self.status[nid] = _DONE
            self.result.executed.append(nid)
            shown = {port: preview(value, DETAIL_CHARS) for port, value in fired.items()}
            self.emit("node.finished", nid, kind, {"outputs": shown}, _ms(t0))
            if gate is not None:
                self.outcomes[nid] = fired
                if nid in gate.after and not await self.pause_after(gate, step, fired):
                    fired = shown = self.outcomes[nid] = {}
        ready = []
        self.route(step, fired, shown, ready)
        return ready

    # -- pauses (only with a gate) ------------------------------------------------

    async def replay(self, gate: Gate, step: Step) -> list[Step]:
        """Route the stored outputs of a node a restored run had finished (and pause
        after it again when that is where the run was paused)."""
        nid = step.id
        fired = self.outcomes[nid] = self.restored.pop(nid)
        self.status[nid] = _DONE
        self.result.executed.append(nid)
        shown = {port: preview(value, DETAIL_CHARS) for port, value in fired.items()}
        self.emit("node.finished", nid, step.kind, {"outputs": shown, "restored": True}, 0.0)
        if gate.restore_at is not None and gate.restore_at[:2] == (nid, "after"):
            gate.restore_at = None
            if not await self.pause_after(gate, step, fired):
                fired = shown = self.outcomes[nid] = {}
        ready: list[Step] = []
        self.route(step, fired, shown, ready)
        return ready

    def snapshot(self, node: str, where: str, reason: str) -> dict[str, Any]:
        """Return what resumes this run, paused at ``node``, after a restart (JSON data):
        the run, its entry event and the outputs of every node it finished."""
        return {
            "run_id": self.run_id,
            "session_id": self.session.id,
            "graph": self.graph.name,
            "entry": self.entry,
            "payload": jsonable(self.payload),
            "done": {nid: jsonable(fired) for nid, fired in self.outcomes.items()},
            "node": node,
            "where": where,
            "reason": reason,
        }

    async def pause_before(self, gate: Gate, step: Step, where: str, reason: str) -> bool:
        """Pause before ``step``; return ``False`` when it was rejected. Replacement
        inputs become the node's inputs."""
        nid = step.id
        values = self.values[nid]

        def validate(new: dict[str, Any]) -> dict[str, Any]:
            return _valid_inputs(step, values, new)

        pause = await self.pause(gate, step, where, reason, {"inputs": jsonable(values)}, validate)
        if pause.action == "reject":
            return False
        if pause.replacement is not None:
            values.clear()
            values.update(pause.replacement)
            self.shown[nid] = {p: preview(v, DETAIL_CHARS) for p, v in values.items()}
        return True

    async def pause_after(self, gate: Gate, step: Step, fired: dict[str, Any]) -> bool:
        """Pause after ``step`` ran; return ``False`` when its outputs were rejected."""
        reason = f"breakpoint after node '{step.id}'"
        pause = await self.pause(gate, step, "after", reason, {"outputs": jsonable(fired)}, None)
        return pause.action != "reject"

    async def approve_tool(
        self,
        gate: Gate,
        step: Step,
        tool: str,
        names: list[str],
        destructive: bool,
        arguments: dict[str, Any],
        validate: Validate,
    ) -> dict[str, Any] | None:
        """``ctx.approve`` of a gated run: pause before a call of ``tool`` (its
        qualified name; ``names`` are every name it is known by) when it needs approval.
        Return the arguments to call it with, or ``None`` when the call was rejected."""
        reason = gate.tool_reason(names, destructive)
        if reason is None:
            return arguments
        data = {"tool": tool, "arguments": arguments}
        pause = await self.pause(
            gate, step, "tool", reason, data, validate, self.scopes.get(step.id)
        )
        if pause.action == "reject":
            return None
        return arguments if pause.replacement is None else pause.replacement

    async def pause(
        self,
        gate: Gate,
        step: Step,
        where: str,
        reason: str,
        data: dict[str, Any],
        validate: Validate | None,
        scope: anyio.CancelScope | None = None,
    ) -> Any:
        try:
            return await gate.pause(
                self.emit,
                step.id,
                step.kind,
                where,
                reason,
                data,
                validate,
                scope,
                partial(self.snapshot, step.id, where, reason),
            )
        except TimeoutError as exc:
            if where == "tool":
                raise  # inside the node: run_node turns it into the run's failure
            self.status[step.id] = _FAILED
            raise NodeRunError(step.id, step.kind, exc) from exc


def node_outputs(cls: type[Node], out: Any) -> Any:
    """Return what a node's ``run()`` returned as its ``Outputs`` (``None`` stays ``None``).

    Raises:
        pydantic.ValidationError: a dict that does not fit ``Outputs``.
        TypeError: anything but an ``Outputs`` instance, a dict or ``None``.
    """
    if out is None or isinstance(out, cls.Outputs):
        return out
    if isinstance(out, dict):
        return cls.Outputs.model_validate(out)
    raise TypeError(
        f"run() returned {type(out).__name__}; expected "
        f"{cls.__qualname__}.Outputs, a dict of port values, or None"
    )


def _fired(cls: type[Node], out: Any) -> dict[str, Any]:
    """Return the output ports that fired, from what ``run()`` returned."""
    out = node_outputs(cls, out)
    if out is None:
        return {}
    return {port: v for port, v in out.__dict__.items() if v is not None}


def _valid_inputs(step: Step, values: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Return ``values`` with the ports of ``new`` replaced, validated against the
    node's ``Inputs`` (``None`` drops a port), as port values.

    Raises:
        ResumeError: an unknown port, or values that do not fit ``Inputs``.
    """
    ports = step.cls.input_ports
    unknown = sorted(set(new) - set(ports))
    if unknown:
        raise ResumeError(
            f"node '{step.id}' ({step.kind}) has no input port {', '.join(map(repr, unknown))}; "
            f"its inputs: {', '.join(ports)}"
        )
    merged = {**values, **new}
    try:
        model = step.cls.Inputs.model_validate({k: v for k, v in merged.items() if v is not None})
    except ValidationError as exc:
        raise ResumeError(
            f"inputs do not fit node '{step.id}' ({step.kind}): "
            f"{exc.error_count()} validation error(s)",
            jsonable(exc.errors(include_url=False, include_context=False)),
        ) from None
    return {
        p: getattr(model, p)
        for p in ports
        if p in model.model_fields_set and getattr(model, p) is not None
    }


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
