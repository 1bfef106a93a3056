"""interpreter_v1: a factual summary of tool results that adds no facts."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder

from . import facts
from .prompts import fields, fields_of, last_user, system, user
from .types import Command, Control, ThoughtResult, ToolOutcome, ToolResult

__all__ = ["Interpreter"]

SUMMARISE = """Summarise the tool results below as the answer to the question, in one to
three plain sentences. Use only numbers and names that appear in the results, exactly as
written there; add nothing else. If a step failed, say so briefly."""


def controls_note(controls: list[Control]) -> str:
    """Return a draft naming the controls put on screen (or '' when there are none)."""
    names = [c.label or c.id for c in controls if c.type != "button"]
    return f"On screen now: {', '.join(names)}." if names else ""


class InterpreterParams(NodeParams):
    """Parameters of ``Interpreter`` (YAML ``params``)."""

    model: str = "fast"


class Interpreter(Node[InterpreterParams]):
    """Summarise a ``ToolResult`` factually into a ``ThoughtResult``; never adds facts.

    The summary is written by the LLM (purpose ``interpreter_v1.summarise``) and then
    checked: every number and every capitalised name in it must occur in the tool
    results (or the question). If the LLM's summary contains anything else, or is
    empty, a deterministic summary built from the data alone
    (``nodes.facts.summarise``) is used instead, and ``interpreter.checked``
    ``{"ok": false, "unsupported": [...]}`` says why (``{"ok": true}`` otherwise). Row
    data (more than one row) becomes a table control; the plan's controls are passed
    on. With no steps there is nothing to summarise: the draft only names the controls
    (or is empty) and the output node answers from the context.

    Offline: the deterministic summary is the LLM's answer.

    YAML::

        nodes:
          interpreter: {kind: interpreter_v1, params: {model: fast}}
        edges:
          - thinker.result -> interpreter.result
          - input.command -> interpreter.command
          - interpreter.thought -> output.thought
    """

    kind = "interpreter_v1"

    class Inputs(BaseModel):
        result: ToolResult
        command: Command | None = None

    class Outputs(BaseModel):
        thought: ThoughtResult | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        result = inputs.result
        question = inputs.command.source_text if inputs.command else result.goal
        controls = [*result.controls, *facts.tables(result.steps, question)]
        if not result.steps:
            draft = controls_note(controls)
        else:
            draft = await self.summarise(result.steps, question, ctx)
        thought = ThoughtResult(response=draft, controls=controls, tool_results=result.steps)
        return self.Outputs(thought=thought)

    async def summarise(self, steps: list[ToolOutcome], question: str, ctx: RunContext) -> str:
        """Return the LLM's summary if it passes the check, else the deterministic one."""
        messages = [
            system(SUMMARISE),
            user(fields(question=question, tool_results=facts.outcomes_json(steps))),
        ]
        text = await ctx.llm.complete(
            self.params.model, messages, purpose="interpreter_v1.summarise"
        )
        bad = facts.unsupported(text, steps, question) if text.strip() else ["(empty)"]
        ctx.emit("interpreter.checked", {"ok": not bad, "unsupported": bad[:20]})
        return text.strip() if not bad else facts.summarise(steps)


@offline_responder("interpreter_v1.summarise")
def _offline_summarise(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
    given = fields_of(last_user(messages), "question", "tool_results")
    try:
        steps = [ToolOutcome.model_validate(s) for s in json.loads(given["tool_results"])]
    except (ValueError, ValidationError, TypeError):
        return ""  # the node then uses its deterministic summary
    return facts.summarise(steps)
