"""input_v1: what the user wants, or a trivial social turn answered by reflex."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from cogpipe.engine.node import Node, RunContext

from .fallbacks import answer_or_none
from .prompts import PromptParams, history, listed_tools, system, tool_specs, user
from .purposes import ANALYSE as PURPOSE
from .types import Analysis, Command, Complexity, Intent, ThoughtResult, UIAction
from .ui import is_local

__all__ = ["Input"]

ANALYSE = """Classify the user's latest message for an assistant that can call tools
and show UI controls (counters, switches, tables, state machines).
intent: social, question, request, action or feedback.
topic: a few words naming the subject, in the user's words.
complexity: trivial (greetings, thanks, introductions, small talk), simple, or complex
(needs several steps or a comparison).
needs_data: true when the answer needs facts that must be looked up.
needs_tools: true when answering needs a tool call or UI controls.
reply: only when neither data nor tools are needed, a short friendly reply (use the
user's name if you know it; welcome them back if the context says they were away);
otherwise ''.
Earlier messages are there to resolve follow-ups such as "and in Paris?"."""
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


class ReflexRule(BaseModel):
    """When input_v1 answers a message by reflex, skipping planning and tools (YAML
    ``params.reflex``).

    A message takes the reflex path only when its analysis has one of ``intents``, one
    of ``complexity``, and says it needs neither data nor tools (``needs_data`` and
    ``needs_tools`` false). The last part is not configurable: a message that needs a
    lookup is never answered by reflex. ``intents: []`` turns the reflex path off.
    """

    model_config = ConfigDict(extra="forbid")

    intents: list[Intent] = Field(default_factory=lambda: ["social"])
    complexity: list[Complexity] = Field(default_factory=lambda: ["trivial"])

    def takes(self, analysis: Analysis) -> bool:
        """Tell whether ``analysis`` sends its message down the reflex path."""
        return (
            analysis.intent in self.intents
            and analysis.complexity in self.complexity
            and not analysis.needs_data
            and not analysis.needs_tools
        )


class InputParams(PromptParams):
    """Parameters of ``Input`` (YAML ``params``)."""

    model: str = "fast"
    prompt: str = Field(ANALYSE, description="system prompt of the analysis")
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")
    reflex: ReflexRule = Field(default_factory=ReflexRule, description="the reflex path's rule")


class Input(Node[InputParams]):
    """Analyse a user message into a :class:`Command`, or answer a trivial one by reflex.

    A message is classified with one structured LLM call (``Analysis``, purpose
    ``input_v1.analyse``) that sees the context lines and the last ``history_turns``
    turns, so a follow-up ("and in Paris?") keeps its subject. When the ``reflex`` rule
    takes the analysis (by default: a trivial social turn that needs neither data nor
    tools, see :class:`ReflexRule`), ``command`` stays empty and ``reflex`` fires: a
    ``ThoughtResult`` with ``reflex=True`` and the analysis's short reply, so everything
    that plans or thinks is skipped. Any other message becomes a ``Command``. When the
    model gives no usable analysis (after the client's re-ask), the fallback is a
    request that needs data and tools, so the message takes the thinking path
    (``fallback.used``).

    Hints for the offline model: ``{"message", "context", "tools"}`` (the listed tools:
    name, title, description, input schema).

    A UI action whose name is in ``nodes.ui.LOCAL_ACTIONS`` leaves both ports empty
    (``ui_v1`` handles it, no LLM call); any other action becomes a ``Command`` for its
    ``payload.text`` (or a sentence describing the click), with ``action`` set; an
    action never takes the reflex path.

    Offline: greetings, thanks, goodbyes and introductions are social; a message the
    offline planner finds tools for needs data (``nodes.offline``).

    YAML::

        entry: {message: input.text, action: [ui.action, input.action]}
        nodes:
          input:
            kind: input_v1
            params:
              model: fast
              history_turns: 4
              reflex: {intents: [social], complexity: [trivial]}
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
        if self.params.reflex.takes(analysis):
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
        """Classify ``text`` with the LLM (context lines and recent turns included)."""
        params = self.params
        messages = [
            system(params.prompt, ctx.context, params.persona),
            *history(ctx.session, params.history_turns),
            user(text),
        ]
        tools = tool_specs(await listed_tools(ctx))
        hints = {"message": text, "context": ctx.context, "tools": tools}
        analysis = await answer_or_none(
            ctx,
            PURPOSE,
            "a request that needs data and tools",
            ctx.llm.structured(
                params.model,
                messages,
                Analysis,
                purpose=PURPOSE,
                max_tokens=params.max_tokens,
                hints=hints,
            ),
        )
        if analysis is None:
            topic = " ".join(text.split()[:6])
            return Analysis(
                intent="request",
                topic=topic,
                complexity="simple",
                needs_data=True,
                needs_tools=True,
            )
        return analysis
