"""Thinkers: thinker_v1 reasons and calls tools itself; thinker_v2 runs a director's plan."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from cogpipe.engine.errors import ToolError
from cogpipe.engine.guards import echoes_prompt
from cogpipe.engine.handles import ToolCall
from cogpipe.engine.node import Node, NodeParams, RunContext

from . import facts
from .facts import controls_note
from .fallbacks import answer_or_none, fell_back
from .plans import step_problems
from .prompts import PromptParams, history, system, tools_of, user
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
    results go back to the model, failures included: an unknown or hidden tool name,
    arguments that break the tool's schema (checked before the call, so they never
    reach a server) or arguments that are not JSON at all become the tool message
    that says what was wrong, so the model can correct itself. The last of
    ``max_rounds`` rounds offers no tools, so the model must answer. The system prompt
    carries the context lines and the director's guidance when there is one.

    Returns a ``ThoughtResult``: the draft, the controls (those shown plus a table per
    result with rows) and every tool outcome. The fallback draft, when the model's is
    empty, repeats the prompt, or the model gave no usable answer (``fallback.used``),
    is the deterministic summary of the results and a note of the controls shown.

    Hints for the offline model, every round: ``{"message", "context", "outcomes",
    "controls"}`` (the results and controls so far). Offline: round 1 calls the tools
    the offline planner finds (or ``show_controls``); round 2 answers with the
    deterministic summary of the results.

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
        params, text = self.params, inputs.command.source_text
        guide = f"\n\nDirector's plan: {inputs.plan.plan}" if inputs.plan else ""
        messages = [
            system(params.prompt + guide, ctx.context, params.persona),
            *history(ctx.session, params.history_turns),
            user(text),
        ]
        outcomes: list[ToolOutcome] = []
        controls: list[Control] = []
        draft = await self.think(messages, text, ctx, outcomes, controls)
        if draft and echoes_prompt(draft, messages):
            fell_back(ctx, PURPOSE, "the draft repeats the prompt", "the data summary")
            draft = ""
        fallback = " ".join(
            filter(None, [facts.summarise(outcomes) if outcomes else "", controls_note(controls)])
        )
        thought = ThoughtResult(
            response=draft or fallback,
            controls=[*controls, *facts.tables(outcomes, text)],
            tool_results=outcomes,
        )
        return self.Outputs(thought=thought)

    async def think(
        self,
        messages: list[dict[str, Any]],
        text: str,
        ctx: RunContext,
        outcomes: list[ToolOutcome],
        controls: list[Control],
    ) -> str:
        """Run the rounds; return the model's draft ('' when it gave none)."""
        params, tools = self.params, tools_of(ctx)
        offered = [*(tools.openai_tools() if tools else []), _show_controls_tool()]
        for round_ in range(1, params.max_rounds + 1):
            last = round_ == params.max_rounds
            hints = {
                "message": text,
                "context": ctx.context,
                "outcomes": [o.model_dump(mode="json") for o in outcomes],
                "controls": [c.model_dump(mode="json") for c in controls],
            }
            reply = await answer_or_none(
                ctx,
                PURPOSE,
                "the data summary",
                ctx.llm.chat(
                    params.model,
                    messages,
                    tools=None if last else offered,
                    purpose=PURPOSE,
                    max_tokens=params.max_tokens,
                    hints=hints,
                ),
            )
            if reply is None:
                return ""
            if last or not reply.tool_calls:  # tool calls in the last round are ignored
                return (reply.content or "").strip()
            messages.append(reply.as_message())
            for call in reply.tool_calls:
                content = await self.use(call, ctx, outcomes, controls)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        return ""

    async def use(
        self, call: ToolCall, ctx: RunContext, outcomes: list[ToolOutcome], controls: list[Control]
    ) -> str:
        """Run one tool call; return the ``tool`` message content for the model."""
        if call.error is not None:
            return f"not called: {call.error}; call '{call.name}' again with a JSON object"
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
