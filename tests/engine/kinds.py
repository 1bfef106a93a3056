"""Throwaway node kinds for engine tests (registered only in ``REGISTRY``)."""

from __future__ import annotations

from typing import Any

import anyio
from pydantic import BaseModel

from cogpipe.engine import Node, NodeParams, Registry, RunContext


class Source(Node, register=False):
    """Turns text into a dict; text starting with 'hi' takes the reflex port instead."""

    kind = "t_source"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        out: dict[str, Any] | None = None
        reflex: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        if inputs.text.startswith("hi"):
            return self.Outputs(reflex=f"reflex:{inputs.text}")
        return self.Outputs(out={"text": inputs.text})


class StepParams(NodeParams):
    sleep_s: float = 0.0
    fail: bool = False
    silent: bool = False


class Step(Node[StepParams], register=False):
    """Adds its id to the dict; can sleep first, fail, or stay silent."""

    kind = "t_step"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        if self.params.sleep_s:
            await anyio.sleep(self.params.sleep_s)
        if self.params.fail:
            raise ValueError(f"{self.id} was told to fail")
        if self.params.silent:
            return self.Outputs()
        return self.Outputs(y={**inputs.x, self.id: 1})


class Join(Node, register=False):
    """Merges whatever arrived: a required dict, an optional dict, an optional reflex."""

    kind = "t_join"

    class Inputs(BaseModel):
        a: dict[str, Any] | None = None
        b: dict[str, Any] | None = None
        reflex: str | None = None

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        merged = {**(inputs.a or {}), **(inputs.b or {})}
        if inputs.reflex:
            merged["reflex"] = inputs.reflex
        return self.Outputs(y=merged)


class Pair(Node, register=False):
    """Needs both inputs (a join that cannot run on one branch alone)."""

    kind = "t_pair"

    class Inputs(BaseModel):
        a: dict[str, Any]
        b: dict[str, Any]

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        return self.Outputs(y={**inputs.a, **inputs.b})


class Text(Node, register=False):
    """Emits a string (to test type mismatches) and streams it."""

    kind = "t_text"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        for word in ("one ", "two"):
            ctx.stream(word)
        return self.Outputs(text="one two")


class Memory(Node, register=False):
    """Context provider: counts turns in session state and reports the count."""

    kind = "t_memory"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        pass

    async def run(self, inputs: Inputs, ctx: RunContext) -> None:
        ctx.session.ns("memory")["turns"] = ctx.session.ns("memory").get("turns", 0) + 1
        ctx.emit("t_memory.counted", {"turns": ctx.session.ns("memory")["turns"]})

    def context(self, session: Any) -> list[str]:
        return [f"turns so far: {session.ns('memory').get('turns', 0)}"]


class Echo(Node, register=False):
    """Outputs the context lines it was given."""

    kind = "t_echo"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        return self.Outputs(y={"context": list(ctx.context)})


class Ticker(Node, register=False):
    """Context-only node with a background start() hook that ticks every 10 ms."""

    kind = "t_ticker"
    stopped: list[str] = []

    async def start(self, ctx: RunContext) -> None:
        while True:
            ctx.session.ns("ticker")["ticks"] = ctx.session.ns("ticker").get("ticks", 0) + 1
            await anyio.sleep(0.01)

    async def stop(self) -> None:
        Ticker.stopped.append(self.id)

    def context(self, session: Any) -> list[str]:
        return [f"ticks: {session.ns('ticker').get('ticks', 0)}"]


REGISTRY = Registry([Source, Step, Join, Pair, Text, Memory, Echo, Ticker])


# source -> step -> join, and a reflex port from source straight to join (step skipped)
SMALL = """
name: small
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  step: {kind: t_step}
  join: {kind: t_join}
edges:
  - source.out -> step.x
  - step.y -> join.a
  - source.reflex -> join.reflex
outputs: {result: join.y}
"""
