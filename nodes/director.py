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
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from cogpipe.engine.errors import LLMInvalidOutputError
from cogpipe.engine.node import Node, RunContext
from cogpipe.engine.session import Session
from cogpipe.engine.tools import ToolInfo, describe_tools

from .fallbacks import answer_or_none
from .plans import plan_schema, step_problems
from .prompts import PromptParams, fields, history, listed_tools, system, tool_specs, user
from .purposes import GUIDE, PLAN
from .purposes import STRATEGY as STRATEGY_PURPOSE
from .types import Command, DirectorPlan, Guidance, Response

__all__ = ["NAMESPACE", "DirectorStrategy", "DirectorV1", "DirectorV2"]

NAMESPACE = "director"
"""Session state namespace: ``{"strategy": str, "topics": [str]}``."""

PLAN_V1 = """You direct a reasoning step that can call the tools listed below. Write a
short plan (at most three sentences) for how to answer the user's latest request: which
tools to call with which arguments, and how to present the result. Do not answer the
request yourself."""
STRATEGY = """Write the assistant's strategy for this conversation as one line (at most
25 words): what the user is after and how best to help them next. Plain text only."""
PLAN_V2 = """You plan how an executor answers the user's latest request with the tools
listed below. Give the goal, the ordered tool_sequence (tool name exactly as listed,
arguments as that tool's parameters say, why; empty when no tool is needed), a
response_style, and controls only when the user asks for UI elements (counters,
switches, state machines)."""
REASK = """That plan cannot run: {problems}. Answer again with the corrected plan, only
the JSON object; use only the tools listed, with the arguments their parameters say."""


class DirectorV1Params(PromptParams):
    """Parameters of ``DirectorV1`` (YAML ``params``)."""

    model: str = "default"
    prompt: str = Field(PLAN_V1, description="system prompt of the plan (the tools follow)")
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")


class DirectorV1(Node[DirectorV1Params]):
    """Write a short plan for thinker_v1 when a request is complex or needs data or tools.

    For other commands the ``plan`` port stays empty (no LLM call) and the thinker runs
    without guidance. The LLM (purpose ``director_v1.plan``) sees the offered tools
    (``cogpipe.engine.tools.describe_tools``), the context lines and the last
    ``history_turns`` turns. ``context()`` contributes the strategy line kept by
    ``director_strategy_v1`` (``Strategy: ...``), so list this node under ``context:``.
    When the model gives no usable plan (after the client's re-ask), the thinker runs
    without guidance (``fallback.used``).

    Hints for the offline model: ``{"message", "tools"}``. Offline: the plan names the
    steps the offline planner finds.

    YAML::

        context: [director]
        nodes:
          director: {kind: director_v1, params: {model: default, history_turns: 4}}
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
        analysis, params = inputs.command.analysis, self.params
        if not (analysis.needs_data or analysis.needs_tools or analysis.complexity == "complex"):
            return self.Outputs()
        text, tools = inputs.command.source_text, await listed_tools(ctx)
        prompt = f"{params.prompt}\n\nTools:\n{describe_tools(tools)}"
        messages = [
            system(prompt, ctx.context, params.persona),
            *history(ctx.session, params.history_turns),
            user(text),
        ]
        hints = {"message": text, "tools": tool_specs(tools)}
        guide = await answer_or_none(
            ctx,
            GUIDE,
            "no guidance",
            ctx.llm.complete(
                params.model, messages, purpose=GUIDE, max_tokens=params.max_tokens, hints=hints
            ),
        )
        guide = (guide or "").strip()
        return self.Outputs(plan=Guidance(plan=guide) if guide else None)

    def context(self, session: Session) -> list[str]:
        strategy = session.state.get(NAMESPACE, {}).get("strategy")
        return [f"Strategy: {strategy}"] if strategy else []


class DirectorStrategyParams(PromptParams):
    """Parameters of ``DirectorStrategy`` (YAML ``params``)."""

    model: str = "fast"
    prompt: str = Field(STRATEGY, description="system prompt of the strategy update")
    topics: int = Field(5, ge=1, description="recent topics kept")


class DirectorStrategy(Node[DirectorStrategyParams]):
    """Update director_v1's one-line strategy after each answered turn.

    Runs after the answer (``output.response``). On a turn with a command it asks the
    LLM (purpose ``director_strategy_v1.update``) for a new strategy line from the
    previous one, the recent topics, the request and the answer, stores it in
    ``session.state["director"]["strategy"]`` and emits ``strategy.updated``
    ``{"strategy"}``. Reflex turns (no command) keep the strategy and call no LLM; so
    does a turn whose model gives no usable line (``fallback.used``). A non-critical
    node in the shipped graph: its failure never costs the answer.

    Hints for the offline model: ``{"topics"}``. Offline: the strategy names the recent
    topics.

    YAML::

        nodes:
          strategy: {kind: director_strategy_v1, critical: false, params: {model: fast}}
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
        params = self.params
        state["topics"] = topics
        text = await answer_or_none(
            ctx,
            STRATEGY_PURPOSE,
            "the previous strategy",
            ctx.llm.complete(
                params.model,
                [system(params.prompt, persona=params.persona), user(prompt)],
                purpose=STRATEGY_PURPOSE,
                max_tokens=params.max_tokens,
                hints={"topics": topics},
            ),
        )
        line = " ".join((text or "").split())[:240]
        if line:
            state["strategy"] = line
            ctx.emit("strategy.updated", {"strategy": line})


class DirectorV2Params(PromptParams):
    """Parameters of ``DirectorV2`` (YAML ``params``)."""

    model: str = "default"
    prompt: str = Field(PLAN_V2, description="system prompt of the plan (the tools follow)")
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")
    max_steps: int = Field(6, ge=0, description="tool steps kept from the plan")


class DirectorV2(Node[DirectorV2Params]):
    """Turn every command into a ``DirectorPlan`` that can only name real tools.

    One structured LLM call (purpose ``director_v2.plan``) whose prompt lists the
    offered tools (``cogpipe.engine.tools.describe_tools``: names, titles, hints,
    parameters with types, required flags, allowed values and descriptions), the
    context lines and the last ``history_turns`` turns, so a follow-up ("and in
    Paris?") is planned with its subject. The answer's schema is built per turn
    (``nodes.plans.plan_schema``): a step's ``tool`` is one of the listed names. Every
    kept step (the first ``max_steps``) is then checked against its tool's input schema
    (``nodes.plans.step_problems``); a plan that fails is shown to the model once with
    the problems quoted (``plan.rejected`` ``{"attempt", "problems"}``), and a second
    failure fails the node with an ``LLMInvalidOutputError`` naming the step, the tool
    and the rule broken. The plan may also carry UI controls the user asked for. Always
    fires, even when no tool is needed (an empty ``tool_sequence``).

    Hints for the offline model: ``{"message", "tools"}``. Offline: the offline planner
    picks the steps over the listed tools, plus the requested controls.

    YAML::

        nodes:
          director: {kind: director_v2, params: {model: default, history_turns: 4}}
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
        params, text = self.params, inputs.command.source_text
        tools = await listed_tools(ctx)
        prompt = f"{params.prompt}\n\nTools:\n{describe_tools(tools)}"
        messages = [
            system(prompt, ctx.context, params.persona),
            *history(ctx.session, params.history_turns),
            user(text),
        ]
        hints = {"message": text, "tools": tool_specs(tools)}
        problems: list[str] = []
        for attempt in (1, 2):
            answer = await ctx.llm.structured(
                params.model,
                messages,
                plan_schema(tools),
                name="DirectorPlan",
                purpose=PLAN,
                max_tokens=params.max_tokens,
                hints=hints,
            )
            plan, problems = self.check(answer, tools)
            if plan is not None:
                return self.Outputs(plan=plan)
            ctx.emit("plan.rejected", {"attempt": attempt, "problems": problems})
            reask = REASK.format(problems="; ".join(problems))
            messages = [
                *messages,
                {"role": "assistant", "content": json.dumps(answer)},
                user(reask),
            ]
        raise LLMInvalidOutputError(
            f"director_v2: the model's plan cannot run, also after one re-ask: "
            f"{'; '.join(problems)}",
            model=params.model,
            purpose=PLAN,
        )

    def check(
        self, answer: dict[str, Any], tools: list[ToolInfo]
    ) -> tuple[DirectorPlan | None, list[str]]:
        """Return the plan (steps past ``max_steps`` dropped) and ``[]`` when every kept
        step can run, else ``None`` and the problems."""
        try:
            plan = DirectorPlan.model_validate(answer)
        except ValidationError as exc:
            return None, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]]
        steps = plan.tool_sequence[: self.params.max_steps]
        problems = [p for p in step_problems(steps, tools) if p is not None]
        if problems:
            return None, problems
        return plan.model_copy(update={"tool_sequence": steps}), []
