"""Thinkers: thinker_v1 reasons and calls tools itself; thinker_v2 runs a director's plan."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from cogpipe.engine.completions import ToolCall
from cogpipe.engine.errors import ToolError
from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder

from . import facts, rules
from .plans import step_problems
from .prompts import PromptParams, context_of, history, last_user, system, tools_of, user
from .purposes import THINK as PURPOSE
from .types import (
    Command,
    Control,
    DirectorPlan,
    Guidance,
    ThoughtResult,
    ToolOutcome,
    ToolResult,
    ToolStep,
)

__all__ = ["SHOW_CONTROLS", "ThinkerV1", "ThinkerV2"]

THINK = """You are the reasoning step of an assistant. Answer the user's latest request.
For facts, call the tools and use only what they return; never guess numbers. To put a
counter, switch, table or state machine on the user's screen, call show_controls.
Finish with a short draft answer in plain text."""
SHOW_CONTROLS = "show_controls"
"""The thinker's own function tool: puts UI controls on screen (not an MCP tool)."""


def _show_controls_tool() -> dict[str, Any]:
    schema = Control.model_json_schema()
    defs = {**schema.pop("$defs", {}), "Control": schema}
    return {
        "type": "function",
        "function": {
            "name": SHOW_CONTROLS,
            "description": "Show UI controls: labels (counters: numeric value), buttons "
            "(action increment/decrement/toggle/reset with payload.target = a "
            "label id), tables, and state machines (states with go transitions).",
            "parameters": {
                "type": "object",
                "required": ["controls"],
                "$defs": defs,
                "properties": {"controls": {"type": "array", "items": {"$ref": "#/$defs/Control"}}},
            },
        },
    }


async def call_tool(
    ctx: RunContext, name: str, arguments: dict[str, Any], timeout_s: float | None = None
) -> ToolOutcome:
    """Call a tool through ``ctx.tools``; a ``ToolError`` becomes a failed outcome."""
    tools = tools_of(ctx)
    if tools is None:
        return ToolOutcome(
            tool=name, arguments=arguments, ok=False, error="this runtime has no tool servers"
        )
    try:
        return facts.outcome_of(await tools.call(name, arguments, timeout_s=timeout_s))
    except ToolError as exc:
        return ToolOutcome(tool=name, arguments=arguments, ok=False, error=exc.message)


class ThinkerV1Params(PromptParams):
    """Parameters of ``ThinkerV1`` (YAML ``params``)."""

    model: str = "default"
    prompt: str = Field(THINK, description="system prompt (the director's plan follows)")
    max_rounds: int = Field(4, ge=1, le=16, description="LLM calls at most")
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")
    max_result_chars: int = Field(6000, ge=200, description="tool result size in prompt")


class ThinkerV1(Node[ThinkerV1Params]):
    """Reason with the LLM and call tools itself (OpenAI function calling).

    Each round is one ``ctx.llm.chat`` call (purpose ``thinker_v1.think``) offered every
    MCP tool (``ctx.tools.openai_tools()``) plus ``show_controls``, the thinker's own
    function for UI controls. Tool calls are run through ``ctx.tools.call`` and their
    results (failures included) go back to the model; the last of ``max_rounds`` rounds
    offers no tools, so the model must answer. The system prompt carries the context
    lines and the director's guidance when there is one. Returns a ``ThoughtResult``:
    the draft, the controls (those shown plus a table per result with rows) and every
    tool outcome.

    Offline: keyword rules pick the tool calls (``nodes.rules.tool_steps``) or the
    controls; the draft is the deterministic summary of the results
    (``nodes.facts.summarise``).

    YAML::

        nodes:
          thinker: {kind: thinker_v1, params: {model: default, max_rounds: 4}}
        edges:
          - input.command -> thinker.command
          - director.plan -> thinker.plan
          - thinker.thought -> output.thought
    """

    kind = "thinker_v1"

    class Inputs(BaseModel):
        command: Command
        plan: Guidance | None = None

    class Outputs(BaseModel):
        thought: ThoughtResult | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        params = self.params
        guide = f"\n\nDirector's plan: {inputs.plan.plan}" if inputs.plan else ""
        messages = [
            system(params.prompt + guide, ctx.context, params.persona),
            *history(ctx.session, self.params.history_turns),
            user(inputs.command.source_text),
        ]
        tools = tools_of(ctx)
        offered = [*(tools.openai_tools() if tools else []), _show_controls_tool()]
        outcomes: list[ToolOutcome] = []
        controls: list[Control] = []
        draft = ""
        for round_ in range(1, self.params.max_rounds + 1):
            last = round_ == self.params.max_rounds
            reply = await ctx.llm.chat(
                self.params.model,
                messages,
                tools=None if last else offered,
                purpose=PURPOSE,
            )
            if last or not reply.tool_calls:  # tool calls in the last round are ignored
                draft = reply.content or ""
                break
            messages.append(reply.as_message())
            for call in reply.tool_calls:
                content = await self.use(call, ctx, outcomes, controls)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        tables = facts.tables(outcomes, inputs.command.source_text)
        fallback = facts.summarise(outcomes) if outcomes else ""
        thought = ThoughtResult(
            response=draft.strip() or fallback, controls=[*controls, *tables], tool_results=outcomes
        )
        return self.Outputs(thought=thought)

    async def use(
        self, call: ToolCall, ctx: RunContext, outcomes: list[ToolOutcome], controls: list[Control]
    ) -> str:
        """Run one tool call; return the ``tool`` message content for the model."""
        if call.name == SHOW_CONTROLS:
            try:
                shown = [Control.model_validate(c) for c in call.arguments.get("controls", [])]
            except (ValidationError, TypeError) as exc:
                return f"invalid controls, nothing shown: {exc}"
            controls.extend(shown)
            return f"shown: {', '.join(c.id for c in shown) or 'nothing'}"
        outcome = await call_tool(ctx, call.name, call.arguments)
        outcomes.append(outcome)
        return facts.tool_message(outcome, self.params.max_result_chars)


class ThinkerV2Params(NodeParams):
    """Parameters of ``ThinkerV2`` (YAML ``params``)."""

    max_steps: int = Field(8, ge=1, description="steps run at most")
    call_timeout_s: float | None = Field(None, gt=0, description="per tool call")


class ThinkerV2(Node[ThinkerV2Params]):
    """Run the director's tool sequence, step by step, with no planning of its own.

    Before anything runs, every step is checked against the listed tools
    (``nodes.plans.step_problems``: a known, unambiguous tool name and arguments valid
    for its input schema); a step that fails the check is reported as not run, with the
    reason, and never reaches a server. Each other ``ToolStep`` is one
    ``ctx.tools.call``; a step that fails (the tool reports an error, or a
    ``ToolError``: server down, timeout) is reported in the result with ``ok=False``
    and its error, and the next step runs anyway. Steps past ``max_steps`` are reported
    as not run. No LLM call. The plan's controls are passed on in the result.

    YAML::

        nodes:
          thinker: {kind: thinker_v2, params: {max_steps: 8}}
        edges:
          - director.plan -> thinker.plan
          - thinker.result -> interpreter.result
    """

    kind = "thinker_v2"

    class Inputs(BaseModel):
        plan: DirectorPlan

    class Outputs(BaseModel):
        result: ToolResult | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        plan, limit = inputs.plan, self.params.max_steps
        handle = tools_of(ctx)
        total, runnable = len(plan.tool_sequence), plan.tool_sequence[:limit]
        # checked before anything runs: an invalid step never reaches a server
        reasons = step_problems(runnable, await handle.list()) if handle else [None] * limit
        steps: list[ToolOutcome] = []
        for step, reason in zip(runnable, reasons, strict=False):
            if reason is not None:
                steps.append(not_run(step, reason))
            else:
                timeout = self.params.call_timeout_s
                steps.append(await call_tool(ctx, step.tool, step.arguments, timeout))
        for step in plan.tool_sequence[limit:]:
            steps.append(not_run(step, f"the plan has {total} steps and max_steps is {limit}"))
        return self.Outputs(result=ToolResult(goal=plan.goal, steps=steps, controls=plan.controls))


def not_run(step: ToolStep, reason: str) -> ToolOutcome:
    """Return the outcome of a step that was not run, and why."""
    return ToolOutcome(
        tool=step.tool, arguments=step.arguments, ok=False, error=f"not run: {reason}"
    )


# -- offline -----------------------------------------------------------------------------


def _results(messages: list[dict[str, Any]]) -> tuple[list[ToolOutcome], list[dict[str, Any]]]:
    """Return the tool outcomes and shown controls since the last user message."""
    start = max(i for i, m in enumerate(messages) if m.get("role") == "user")
    outcomes, shown = [], []
    for message in messages[start:]:
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == SHOW_CONTROLS:
                shown += json.loads(call["function"]["arguments"]).get("controls", [])
        if message.get("role") == "tool":
            with suppress(ValidationError):  # 'shown: ...' or a cut-off result
                outcomes.append(ToolOutcome.model_validate_json(message.get("content") or ""))
    return outcomes, shown


@offline_responder(PURPOSE)
def _offline_think(messages: list[dict[str, Any]], request: dict[str, Any]) -> Any:
    outcomes, shown = _results(messages)
    if outcomes or shown:
        parts = [facts.summarise(outcomes)] if outcomes else []
        return " ".join(parts + ([rules.controls_reply(shown)] if shown else []))
    text = last_user(messages)
    offered = {t["function"]["name"] for t in request.get("tools") or []}
    steps = [s for s in rules.tool_steps(text) if s["tool"] in offered]
    if steps:
        return {"tool_calls": [{"name": s["tool"], "arguments": s["arguments"]} for s in steps]}
    controls = rules.controls_for(text)
    if controls and SHOW_CONTROLS in offered:
        return {"tool_calls": [{"name": SHOW_CONTROLS, "arguments": {"controls": controls}}]}
    return rules.chat_reply(text, context_of(messages))
