"""output_v1: the user-facing answer, streamed while it is generated."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder

from . import rules
from .prompts import context_of, fields, fields_of, history, last_user, system, user
from .types import Command, Response, ThoughtResult

__all__ = ["Output"]

ANSWER = """You are the voice of a helpful assistant for a small IoT service business.
Turn the draft into the answer to the user's question: short, friendly, plain text.
Keep every number and name exactly as in the draft and add no facts of your own. If the
draft is empty, answer from the conversation and the context; if you do not know, say so.
Tables and buttons are already on the user's screen: refer to them, do not repeat them."""


class OutputParams(NodeParams):
    """Parameters of ``Output`` (YAML ``params``)."""

    model: str = "default"
    history_turns: int = Field(4, ge=0, description="earlier turns shown to the LLM")


class Output(Node[OutputParams]):
    """Turn the thought into the user-facing answer, streaming it as it is generated.

    The answer is written by one streamed LLM call (purpose ``output_v1.answer``) from
    the draft, the user's words, the context lines and the last ``history_turns``
    turns; each delta goes to the client at once (``ctx.stream``, ``output.delta``
    events). On the reflex path (``thought.reflex``) the reflex draft is streamed as it
    is, word by word, with no LLM call.

    Offline: the draft is the answer; with no draft, ``nodes.rules.chat_reply`` answers
    from the context (e.g. the user's name from memory).

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
        thought = inputs.thought
        if thought.reflex:
            return self.Outputs(response=Response(text=self.say(thought.response, ctx)))
        question = inputs.command.source_text if inputs.command else ""
        messages = [
            system(ANSWER, ctx.context),
            *history(ctx.session, self.params.history_turns),
            user(fields(question=question or "(none)", draft=thought.response or "(none)")),
        ]
        text = await ctx.llm.stream(self.params.model, messages, purpose="output_v1.answer")
        if not text.strip():  # nothing was streamed: fall back to the draft
            text = self.say(thought.response, ctx)
        return self.Outputs(response=Response(text=text.strip()))

    @staticmethod
    def say(text: str, ctx: RunContext) -> str:
        """Stream ``text`` word by word (with its spacing) and return it."""
        for piece in re.findall(r"\s*\S+\s*", text):
            ctx.stream(piece)
        return text


@offline_responder("output_v1.answer")
def _offline_answer(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
    given = fields_of(last_user(messages), "question", "draft")
    if given["draft"] not in ("", "(none)"):
        return given["draft"]
    return rules.chat_reply(given["question"], context_of(messages))
