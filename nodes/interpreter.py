"""interpreter_v1: a factual summary of tool results that adds no facts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, RunContext

from . import facts
from .fallbacks import answer_or_none
from .prompts import PromptParams, fields, system, user
from .purposes import SUMMARISE as PURPOSE
from .types import Command, ThoughtResult, ToolOutcome, ToolResult

__all__ = ["Interpreter"]

SUMMARISE = """Summarise the tool results below as the answer to the question, in one to
three plain sentences. Use only numbers and names that appear in the results, exactly as
written there; add nothing else. If a step failed, say so briefly."""


class InterpreterParams(PromptParams):
    """Parameters of ``Interpreter`` (YAML ``params``)."""

    model: str = "fast"
    prompt: str = Field(SUMMARISE, description="system prompt of the summary")


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
    (or is empty) and the output node answers from the context. When the model gives no
    usable summary (after the client's re-ask, e.g. one that repeats the prompt), the
    deterministic summary is used too (``fallback.used``).

    Hints for the offline model: ``{"question", "outcomes"}``. Offline: the
    deterministic summary is the LLM's answer.

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
            draft = facts.controls_note(controls)
        else:
            draft = await self.summarise(result.steps, question, ctx)
        thought = ThoughtResult(response=draft, controls=controls, tool_results=result.steps)
        return self.Outputs(thought=thought)

    async def summarise(self, steps: list[ToolOutcome], question: str, ctx: RunContext) -> str:
        """Return the LLM's summary if it passes the check, else the deterministic one."""
        params = self.params
        messages = [
            system(params.prompt, persona=params.persona),
            user(fields(question=question, tool_results=facts.outcomes_json(steps))),
        ]
        hints = {"question": question, "outcomes": [s.model_dump(mode="json") for s in steps]}
        text = await answer_or_none(
            ctx,
            PURPOSE,
            "the data summary",
            ctx.llm.complete(
                params.model, messages, purpose=PURPOSE, max_tokens=params.max_tokens, hints=hints
            ),
        )
        if text is None:
            return facts.summarise(steps)
        bad = facts.unsupported(text, steps, question) if text.strip() else ["(empty)"]
        ctx.emit("interpreter.checked", {"ok": not bad, "unsupported": bad[:20]})
        return text.strip() if not bad else facts.summarise(steps)
