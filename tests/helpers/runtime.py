"""Helpers to drive the built-in nodes and graphs in tests: LLM clients, the demo tool
server, and a :class:`Conversation` over a real runtime that records each turn's events.

    async with open_runtime(settings, observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session("v1-current").id)
        turn = await conv.say("How many customers do we have in Berlin?")
        assert turn.tools() == ["count_customers"]
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cogpipe.engine import CallbackObserver, RunResult, Runtime, TraceEvent
from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.offline import OfflineModel
from cogpipe.engine.tools import ToolManager
from cogpipe.nodes.types import Control, Controls

__all__ = ["Conversation", "TurnView", "demo_tools", "offline_client"]


def offline_client(chunk_delay_s: float = 0.0) -> LLMClient:
    """Return an (unopened) LLM client on the offline model."""
    return LLMClient(LLMConfig(), offline=OfflineModel(chunk_delay_s=chunk_delay_s))


def demo_tools(db: Path) -> AbstractAsyncContextManager[ToolManager]:
    """Return an (unopened) tool manager running the demo MCP server over ``db``, and
    teach the offline planner the demo's rules (as ``cogpipe.assembly`` does)."""
    from cogpipe.demo import offline
    from cogpipe.demo.server import demo_db_server_config

    offline.register()
    return ToolManager([demo_db_server_config(str(db))])


@dataclass
class TurnView:
    """One turn as a user and the HUD see it: its result and every event during it."""

    result: RunResult
    events: list[TraceEvent]

    @property
    def text(self) -> str:
        """The answer's text ('' when no answer was given, e.g. a local click)."""
        response = self.result.outputs.get("response")
        return response.text if response is not None else ""

    @property
    def controls(self) -> Controls:
        """The controls the UI node output on this turn."""
        return self.result.outputs.get("controls") or Controls()

    def control(self, control_id: str) -> Control:
        """The control with ``control_id`` (KeyError if absent)."""
        found = {c.id: c for c in self.controls.controls}
        return found[control_id]

    def of(self, type_: str, node: str | None = None) -> list[dict[str, Any]]:
        """The data of every event of ``type_`` (optionally of ``node``), in order."""
        return [
            e.data or {}
            for e in self.events
            if e.type == type_ and (node is None or e.node == node)
        ]

    def tools(self) -> list[str]:
        """Names of the tools that finished during the turn."""
        return [d["tool"] for d in self.of("tool.finished")]

    def skipped(self) -> set[str]:
        """Ids of the nodes reported as skipped."""
        return {e.node for e in self.events if e.type == "node.skipped" and e.node}

    def span(self, node: str) -> tuple[float, float]:
        """(started, finished) Unix times of ``node``."""
        start = next(e.ts for e in self.events if e.node == node and e.type == "node.started")
        end = next(e.ts for e in self.events if e.node == node and e.type == "node.finished")
        return start, end

    def overlap(self, a: str, b: str) -> bool:
        """Whether nodes ``a`` and ``b`` were running at the same time."""
        (a0, a1), (b0, b1) = self.span(a), self.span(b)
        return a0 <= b1 and b0 <= a1


@dataclass
class Conversation:
    """Sends turns to one session of a runtime and records the events of each turn."""

    events: list[TraceEvent] = field(default_factory=list)
    runtime: Runtime | None = None
    session_id: str = ""
    turns: list[TurnView] = field(default_factory=list)

    @property
    def observer(self) -> CallbackObserver:
        """The observer to give the runtime (``observers=[conv.observer]``)."""
        return CallbackObserver(self.events.append)

    def attach(self, runtime: Runtime, session_id: str) -> None:
        """Talk to ``session_id`` of ``runtime`` from now on."""
        self.runtime, self.session_id = runtime, session_id

    async def send(self, entry: str, payload: Any) -> TurnView:
        """Run one turn and return what happened during it."""
        assert self.runtime is not None, "call attach() first"
        start = len(self.events)
        result = await self.runtime.run(self.session_id, entry, payload)
        view = TurnView(result, self.events[start:])
        self.turns.append(view)
        return view

    async def say(self, text: str) -> TurnView:
        """Send a user message."""
        return await self.send("message", text)

    async def click(self, action: str, control: str | None = None, **payload: Any) -> TurnView:
        """Send a UI action as the browser does for a click."""
        return await self.send("action", {"action": action, "control": control, "payload": payload})
