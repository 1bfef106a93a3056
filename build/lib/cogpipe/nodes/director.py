"""Directors: director_v1 guides thinker_v1 and keeps a strategy line; director_v2 plans
every tool call for thinker_v2.

How director_v1's strategy is updated "after each turn" inside a DAG: a second node,
``director_strategy_v1``, runs after the answer (``output.response ->
strategy.response``), concurrently with the memorizer, and rewrites the one-line
strategy in ``session.state["director"]``; director_v1's ``context()`` turns it into a
context line of the next turn. The strategy node runs off the answer's critical path
(the answer is already streamed), and no engine support for loops is needed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder
from cogpipe.engine.session import Session

from . import rules
from .prompts import fields, fields_of, last_user, system, tool_listing, tools_of, user
from .types import Command, DirectorPlan, Guidance, Response

__all__ = ["NAMESPACE", "DirectorStrategy", "DirectorV1", "DirectorV2"]

NAMESPACE = "director"
"""Session state namespace: ``{"strategy": str, "topics": [str]}``."""

PLAN_V1 = """You direct a reasoning step that can call database tools (customers, devices,
contracts, invoices, revenue). Write a short plan (at most three sentences) for how to
answer the request: which tools to call with which arguments, and how to present the
result. Do not answer the request yourself."""
STRATEGY = """Write the assistant's strategy for this conversation as one line (at most
25 words): what the user is after and how best to help them next. Plain text only."""
PLAN_V2 = """You plan how an executor answers the user's request with the tools below.
Give the goal, the ordered tool_sequence (tool name exactly as listed, arguments, why;
empty when no tool is needed), a response_style, and controls only when the user asks
for UI elements (counters, switches, state machines).

Tools:
"""


class DirectorV1Params(NodeParams):
    """Parameters of ``DirectorV1`` (YAML ``params``)."""

    model: str = "default"


class DirectorV1(Node[DirectorV1Params]):
    """Write a short plan for thinker_v1 when a request is complex or needs data.

    For other commands the ``plan`` port stays empty (no LLM call) and the thinker runs
    without guidance. ``context()`` contributes the strategy line kept by
    ``director_strategy_v1`` (``Strategy: ...``), so list this node under ``context:``.

    Offline: the plan names the tool steps from ``nodes.rules.tool_steps``.

    YAML::

        context: [director]
        nodes:
          director: {kind: director_v1, params: {model: default}}
        edges:
          - input.command -> director.command
          - director.plan -> thinker.plan
    """

    kind = "director_v1"

    class Inputs(BaseModel):
        command: Command

    class Outputs(BaseModel):
        plan: Guidance | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        analysis = inputs.command.analysis
        if not (analysis.needs_data or analysis.complexity == "complex"):
            return self.Outputs()
        messages = [system(PLAN_V1, ctx.context), user(inputs.command.source_text)]
        text = await ctx.llm.complete(self.params.model, messages, purpose="director_v1.plan")
        return self.Outputs(plan=Guidance(plan=text.strip()) if text.strip() else None)

    def context(self, session: Session) -> list[str]:
        strategy = session.state.get(NAMESPACE, {}).get("strategy")
        return [f"Strategy: {strategy}"] if strategy else []


class DirectorStrategyParams(NodeParams):
    """Parameters of ``DirectorStrategy`` (YAML ``params``)."""

    model: str = "fast"
    topics: int = Field(5, ge=1, description="recent topics kept")


class DirectorStrategy(Node[DirectorStrategyParams]):
    """Update director_v1's one-line strategy after each answered turn.

    Runs after the answer (``output.response``). On a turn with a command it asks the
    LLM (purpose ``director_strategy_v1.update``) for a new strategy line from the
    previous one, the recent topics, the request and the answer, stores it in
    ``session.state["director"]["strategy"]`` and emits ``strategy.updated``
    ``{"strategy"}``. Reflex turns (no command) keep the strategy and call no LLM.

    Offline: the strategy names the recent topics.

    YAML::

        nodes:
          strategy: {kind: director_strategy_v1, params: {model: fast}}
        edges:
          - output.response -> strategy.response
          - input.command -> strategy.command
    """

    kind = "director_strategy_v1"

    class Inputs(BaseModel):
        response: Response
        command: Command | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> None:
        if inputs.command is None:
            return
        state = ctx.session.ns(NAMESPACE)
        topics = [*state.get("topics", []), inputs.command.analysis.topic][-self.params.topics :]
        prompt = fields(
            previous_strategy=state.get("strategy") or "(none)",
            recent_topics="; ".join(topics),
            request=inputs.command.source_text,
            answer=inputs.response.text,
        )
        text = await ctx.llm.complete(
            self.params.model,
            [system(STRATEGY), user(prompt)],
            purpose="director_strategy_v1.update",
        )
        line = " ".join(text.split())[:240]
        state["topics"] = topics
        if line:
            state["strategy"] = line
            ctx.emit("strategy.updated", {"strategy": line})


class DirectorV2Params(NodeParams):
    """Parameters of ``DirectorV2`` (YAML ``params``)."""

    model: str = "default"
    max_steps: int = Field(6, ge=0, description="tool steps kept from the plan")


class DirectorV2(Node[DirectorV2Params]):
    """Turn every command into a ``DirectorPlan``: goal, tool sequence, response style.

    One structured LLM call (purpose ``director_v2.plan``) whose prompt lists the
    available tools (``await ctx.tools.list()``: name, arguments, description) and the
    context lines. Steps past ``max_steps`` are dropped. The plan may also carry UI
    controls the user asked for. Always fires, even when no tool is needed (an empty
    ``tool_sequence``).

    Offline: ``nodes.rules`` picks the steps (only tools that are listed) and controls.

    YAML::

        nodes:
          director: {kind: director_v2, params: {model: default, max_steps: 6}}
        edges:
          - input.command -> director.command
          - director.plan -> thinker.plan
    """

    kind = "director_v2"

    class Inputs(BaseModel):
        command: Command

    class Outputs(BaseModel):
        plan: DirectorPlan | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        handle = tools_of(ctx)
        listing = tool_listing(await handle.list() if handle is not None else [])
        messages = [system(PLAN_V2 + listing, ctx.context), user(inputs.command.source_text)]
        plan = await ctx.llm.structured(
            self.params.model, messages, DirectorPlan, purpose="director_v2.plan"
        )
        steps = plan.tool_sequence[: self.params.max_steps]
        return self.Outputs(plan=plan.model_copy(update={"tool_sequence": steps}))


# -- offline -----------------------------------------------------------------------------


@offline_responder("director_v1.plan")
def _offline_plan_v1(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
    steps = rules.tool_steps(last_user(messages))
    if not steps:
        return "Answer directly from the conversation; no tools are needed."
    calls = "; then ".join(f"{s['tool']}({json.dumps(s['arguments'])})" for s in steps)
    return f"Call {calls}. Answer with the numbers exactly as returned; show rows as a table."


@offline_responder("director_strategy_v1.update")
def _offline_strategy(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
    topics = fields_of(
        last_user(messages), "previous_strategy", "recent_topics", "request", "answer"
    )["recent_topics"]
    return (
        f"The user is exploring {topics or 'the data'}; answer briefly with numbers "
        "from the tools and tables for lists."
    )


@offline_responder("director_v2.plan")
def _offline_plan_v2(messages: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    text = last_user(messages)
    head = next((m["content"] for m in messages if m.get("role") == "system"), "")
    listed = set(re.findall(r"^- ([\w.-]+)\(", head, re.M))
    steps = [s for s in rules.tool_steps(text) if s["tool"] in listed]
    return {
        "goal": text,
        "tool_sequence": steps,
        "response_style": "concise",
        "controls": rules.controls_for(text),
    }
