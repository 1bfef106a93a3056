"""output_v1: the user-facing answer, streamed while it is generated, then checked."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field

from cogpipe.engine.guards import echoes_prompt
from cogpipe.engine.node import Node, RunContext

from . import facts
from .fallbacks import fell_back
from .prompts import PromptParams, fields, history, system, user
from .purposes import ANSWER as PURPOSE
from .types import Command, Response, ThoughtResult

__all__ = ["NO_ANSWER", "Output"]

ANSWER = """You are the voice of a helpful assistant. Turn the draft into the answer to the
user's question: short, friendly, plain text. Keep every number and name exactly as in
the draft and add no facts of your own. If the draft is empty, answer from the
conversation and the context; if you do not know, say so. Tables and buttons are already
on the user's screen: refer to them, do not repeat them."""
NO_ANSWER = "Sorry, the model gave no usable answer."
"""What the user reads when the model answered nothing and there is no draft."""
_CUT = re.compile(r"\s*\[\N{HORIZONTAL ELLIPSIS}cut off at \d+ tokens\]$")
"""The client's mark at the end of prose cut off at max_tokens, not a fact to check
(``engine.completions.truncation_mark``; not imported: it would load the openai SDK)."""


class OutputParams(PromptParams):
    """Parameters of ``Output`` (YAML ``params``)."""

    model: str = "default"
    prompt: str = Field(ANSWER, description="system prompt of the answer")
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")


class Output(Node[OutputParams]):
    """Turn the thought into the user-facing answer, streaming it as it is generated.

    The answer is written by one streamed LLM call (purpose ``output_v1.answer``) from
    the draft, the user's words, the context lines and the last ``history_turns``
    turns; each delta goes to the client at once (``ctx.stream``, ``output.delta``
    events). On the reflex path (``thought.reflex``) the reflex draft is streamed as it
    is, word by word, with no LLM call. An empty answer falls back to the draft, or to
    :data:`NO_ANSWER` when there is none. An answer cut off at ``max_tokens`` keeps the
    client's visible mark (``[…cut off at N tokens]``).

    **The answer the user reads is checked** (``nodes.facts.unsupported``): every number
    and capitalised name in it must occur in the tool results, the user's words, the
    context lines, the recent turns, the controls on screen, or the draft when the draft
    itself passes that check; an answer that repeats a large part of the prompt
    (``engine.guards.echoes_prompt``) fails it as a whole. The result is an
    ``answer.checked`` event ``{"ok", "reason", "unsupported", "replaced_with",
    "text"}``. When the answer fails, the answer the turn keeps (its ``response``,
    stored in history and seen by memory) is the checked draft, else the deterministic
    summary of the tool results (``replaced_with``: ``"draft"`` / ``"data summary"``,
    ``text`` the replacement); with neither, an unsupported answer stays (the event
    says what could not be checked) and an echo becomes :data:`NO_ANSWER`. The streamed
    words cannot be taken back, so the HUD shows the event next to the answer and
    replaces the answer's text with the kept one.

    Hints for the offline model: ``{"question", "draft", "context"}``. Offline: the
    draft is the answer; with no draft, the offline conversation rules answer from the
    context (e.g. the user's name from memory).

    YAML::

        nodes:
          output: {kind: output_v1, params: {model: default, history_turns: 4}}
        edges:
          - thinker.thought -> output.thought
          - input.reflex -> output.thought
          - input.command -> output.command
        outputs: {response: output.response}
    """

    kind = "output_v1"

    class Inputs(BaseModel):
        thought: ThoughtResult
        command: Command | None = None

    class Outputs(BaseModel):
        response: Response | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        thought, params = inputs.thought, self.params
        if thought.reflex:
            return self.Outputs(response=Response(text=self.say(thought.response, ctx)))
        question = inputs.command.source_text if inputs.command else ""
        earlier = history(ctx.session, params.history_turns)
        messages = [
            system(params.prompt, ctx.context, params.persona),
            *earlier,
            user(fields(question=question or "(none)", draft=thought.response or "(none)")),
        ]
        hints = {"question": question, "draft": thought.response, "context": ctx.context}
        text = await ctx.llm.stream(
            params.model, messages, purpose=PURPOSE, max_tokens=params.max_tokens, hints=hints
        )
        text = text.strip()
        if not text:  # nothing was streamed: fall back to the draft
            text = self.say(thought.response.strip() or NO_ANSWER, ctx)
        echo = echoes_prompt(text, messages)
        if echo:
            fell_back(ctx, PURPOSE, "the answer repeats the prompt", "the checked draft")
        sources = [question, *ctx.context, *(m["content"] for m in earlier)]
        sources.append(json.dumps([c.model_dump(mode="json") for c in thought.controls]))
        kept = check(text, thought, sources, ctx, echo=echo)
        return self.Outputs(response=Response(text=kept))

    @staticmethod
    def say(text: str, ctx: RunContext) -> str:
        """Stream ``text`` word by word (with its spacing) and return it."""
        for piece in re.findall(r"\s*\S+\s*", text):
            ctx.stream(piece)
        return text


def check(
    text: str, thought: ThoughtResult, sources: list[str], ctx: RunContext, *, echo: bool = False
) -> str:
    """Check ``text`` against the thought's tool results and ``sources`` (plus the draft
    when the draft passes the same check); emit ``answer.checked`` and return the text
    the turn keeps (see :class:`Output`). ``echo``: the text repeats the prompt."""
    outcomes, known = thought.tool_results, "\n".join(sources)
    draft = thought.response.strip()
    draft_ok = bool(draft) and not facts.unsupported(draft, outcomes, known)
    allowed = known + ("\n" + draft if draft_ok else "")
    bad = [] if echo else facts.unsupported(_CUT.sub("", text), outcomes, allowed)
    kept, replaced = text, None
    if (bad or echo) and draft_ok:
        kept, replaced = draft, "draft"
    elif (bad or echo) and outcomes:
        kept, replaced = facts.summarise(outcomes), "data summary"
    elif echo:
        kept = NO_ANSWER
    reason = "repeats the prompt" if echo else ("unsupported facts" if bad else None)
    ctx.emit(
        "answer.checked",
        {
            "ok": reason is None,
            "reason": reason,
            "unsupported": bad[:20],
            "replaced_with": replaced,
            "text": kept if kept != text else None,
        },
    )
    return kept
