"""input_v1: what the user wants, or a trivial social turn answered by reflex."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder

from . import rules
from .prompts import context_of, last_user, system, user
from .types import Analysis, Command, ThoughtResult, UIAction
from .ui import is_local

__all__ = ["Input"]

ANALYSE = """Classify the user's message for an assistant that can query a business
database (customers, devices, contracts, invoices, revenue) and show UI controls.
intent: social, question, request, action or feedback.
topic: a few words naming the subject.
complexity: trivial (greetings, thanks, introductions, small talk), simple, or complex
(needs several steps or a comparison).
needs_data: true when the answer needs the database.
reply: only for trivial social turns, a short friendly reply (use the user's name if you
know it; welcome them back if the context says they were away); otherwise ''."""
DEFAULT_REPLY = "Hello! How can I help?"


def describe(action: UIAction) -> str:
    """Return the request a non-local action stands for: its ``payload.text`` if it
    has one, else a sentence naming the action, control and payload."""
    text = action.payload.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    extra = {k: v for k, v in action.payload.items() if k != "text"}
    where = f" on control '{action.control}'" if action.control else ""
    data = f" with {json.dumps(extra, ensure_ascii=False)}" if extra else ""
    return f"The user clicked '{action.action}'{where}{data}."


class InputParams(NodeParams):
    """Parameters of ``Input`` (YAML ``params``)."""

    model: str = "fast"


class Input(Node[InputParams]):
    """Analyse a user message into a :class:`Command`, or answer a trivial one by reflex.

    A message is classified with one structured LLM call (``Analysis``, purpose
    ``input_v1.analyse``). A trivial social turn (greeting, thanks, introduction) leaves
    ``command`` empty and fires ``reflex``: a ``ThoughtResult`` with ``reflex=True`` and
    the analysis's short reply, so everything that plans or thinks is skipped.

    A UI action whose name is in ``nodes.ui.LOCAL_ACTIONS`` leaves both ports empty
    (``ui_v1`` handles it, no LLM call); any other action becomes a ``Command`` for its
    ``payload.text`` (or a sentence describing the click), with ``action`` set; an
    action never takes the reflex path.

    Offline: keyword rules (``nodes.rules.analyse``) classify the message.

    YAML::

        entry: {message: input.text, action: [ui.action, input.action]}
        nodes:
          input: {kind: input_v1, params: {model: fast}}
        edges:
          - input.command -> thinker.command
          - input.reflex -> output.thought
    """

    kind = "input_v1"

    class Inputs(BaseModel):
        text: str | None = None
        action: UIAction | None = None

    class Outputs(BaseModel):
        command: Command | None = None
        reflex: ThoughtResult | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        if inputs.action is not None:
            return await self.from_action(inputs.action, ctx)
        text = (inputs.text or "").strip()
        if not text:
            return self.Outputs()
        analysis = await self.analyse(text, ctx)
        if analysis.intent == "social" and analysis.complexity == "trivial":
            reply = analysis.reply.strip() or DEFAULT_REPLY
            return self.Outputs(reflex=ThoughtResult(response=reply, reflex=True))
        return self.Outputs(command=Command(analysis=analysis, source_text=text))

    async def from_action(self, action: UIAction, ctx: RunContext) -> Outputs:
        """Leave ports empty for a local action; turn any other into a Command."""
        if is_local(action):
            return self.Outputs()
        text = describe(action)
        analysis = await self.analyse(text, ctx)
        if analysis.intent == "social":
            analysis = analysis.model_copy(update={"intent": "action", "complexity": "simple"})
        return self.Outputs(command=Command(analysis=analysis, source_text=text, action=action))

    async def analyse(self, text: str, ctx: RunContext) -> Analysis:
        """Classify ``text`` with the LLM (context lines included)."""
        messages = [system(ANALYSE, ctx.context), user(text)]
        return await ctx.llm.structured(
            self.params.model, messages, Analysis, purpose="input_v1.analyse"
        )


@offline_responder("input_v1.analyse")
def _offline_analyse(messages: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    return rules.analyse(last_user(messages), context_of(messages))
