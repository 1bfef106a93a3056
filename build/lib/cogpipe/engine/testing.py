"""Helpers for testing nodes and graphs in isolation (for node authors and our tests).

from cogpipe.engine.testing import run_node, run_graph

async def test_shout():
    run = await run_node(Shout, {"text": "hi"}, params={"times": 2})
    assert run.outputs.text == "HI HI"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .catalog import GraphCatalog
from .executor import RunResult, node_outputs
from .graph import Graph
from .handles import LLMHandle, Service, ToolHandle
from .loader import load_graph_text
from .node import Node, RunContext
from .registry import Registry
from .runtime import Runtime
from .session import Session
from .sinks import CallbackObserver
from .trace import TraceEvent

__all__ = ["GraphRun", "NodeRun", "run_graph", "run_node"]


@dataclass
class NodeRun:
    """What one node run produced.

    Attributes:
        outputs: the node's ``Outputs`` (``None`` when it returned nothing).
        events: ``(type, data)`` of every event the node emitted (``output.delta``, ...).
        streamed: the text it streamed to the client, joined.
        session: the session it ran in (inspect ``state`` for what it kept).
    """

    outputs: Any
    events: list[tuple[str, dict[str, Any] | None]]
    session: Session
    streamed: str = ""


async def run_node(
    node: type[Node] | Node,
    inputs: dict[str, Any] | BaseModel,
    *,
    params: dict[str, Any] | None = None,
    session: Session | None = None,
    context: list[str] | None = None,
    llm: Service[LLMHandle] | None = None,
    tools: Service[ToolHandle] | None = None,
    node_id: str = "node",
) -> NodeRun:
    """Run one node once, outside any graph.

    Args:
        node: a node class (instantiated with ``params``) or an instance.
        inputs: the ``Inputs`` values (a dict is validated into ``Inputs``).
        params: the node's params, validated into its ``Params``.
        session: the session to run in (a fresh one when omitted).
        context: context lines the node sees as ``ctx.context``.
        llm, tools: services for ``ctx.llm`` / ``ctx.tools``.

    Returns:
        A :class:`NodeRun`.

    Raises:
        pydantic.ValidationError: ``inputs``, ``params`` or the returned dict do not fit.
        TypeError: ``run()`` returned something other than ``Outputs``, a dict or None.
        Whatever the node raises.
    """
    instance = (
        node if isinstance(node, Node) else node(node_id, node.Params.model_validate(params or {}))
    )
    cls = type(instance)
    session = session or Session(id="test", graph="test")
    events: list[tuple[str, dict[str, Any] | None]] = []

    def emit(type: str, nid: str | None, kind: str | None, data: dict[str, Any] | None) -> None:
        events.append((type, data))

    ctx = RunContext(
        node=instance.id,
        kind=cls.kind,
        run_id="test",
        graph="test",
        session=session,
        context=list(context or []),
        emit=emit,
        llm=llm,
        tools=tools,
    )
    value = inputs if isinstance(inputs, BaseModel) else cls.Inputs.model_validate(inputs)
    out = node_outputs(cls, await instance.run(value, ctx))
    streamed = "".join(d["text"] for t, d in events if t == "output.delta" and d)
    return NodeRun(out, events, session, streamed)


@dataclass
class GraphRun:
    """What one graph run produced: the result (or error) and every trace event."""

    result: RunResult | None
    events: list[TraceEvent] = field(default_factory=list)
    error: BaseException | None = None

    def types(self, node: str | None = None) -> list[str]:
        """Return the event types in order, optionally only those of ``node``."""
        return [e.type for e in self.events if node is None or e.node == node]

    def span(self, node: str) -> tuple[float, float]:
        """Return ``(started, finished)`` Unix times of ``node`` from its events."""
        start = next(e.ts for e in self.events if e.node == node and e.type == "node.started")
        end = next(
            e.ts
            for e in self.events
            if e.node == node and e.type in ("node.finished", "node.failed", "node.cancelled")
        )
        return start, end


async def run_graph(
    graph: Graph | str,
    payload: Any,
    *,
    entry: str = "message",
    registry: Registry | None = None,
    llm: Service[LLMHandle] | None = None,
    tools: Service[ToolHandle] | None = None,
    raise_errors: bool = True,
) -> GraphRun:
    """Run one turn of a graph (a :class:`Graph` or YAML text) in a throwaway runtime.

    Raises:
        GraphValidationError: the YAML is invalid.
        NodeRunError: a node failed (unless ``raise_errors=False``; then it is in
            ``GraphRun.error``).
    """
    if isinstance(graph, str):
        graph = load_graph_text(graph, registry=registry)
    events: list[TraceEvent] = []
    catalog = GraphCatalog(registry=registry or Registry())
    catalog.add(graph)
    async with Runtime(
        catalog, observers=[CallbackObserver(events.append)], llm=llm, tools=tools
    ) as rt:
        session = rt.create_session(graph.name)
        try:
            result = await rt.run(session.id, entry, payload)
        except Exception as exc:
            if raise_errors:
                raise
            return GraphRun(getattr(exc, "result", None), events, exc)
    return GraphRun(result, events)
