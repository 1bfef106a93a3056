"""memorizer_v1: what the session remembers about the user, and the context it provides."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.offline import offline_responder
from cogpipe.engine.session import Session

from . import rules
from .prompts import NAME_PREFIX, fields, fields_of, last_user, system, user
from .types import Command, Response

__all__ = ["NAMESPACE", "Memorizer", "MemoryNote"]

NAMESPACE = "memory"
"""Session state namespace: ``{"name", "situation", "topics", "facts", "summary",
"summarised", "turns"}``."""

EXTRACT = """From this exchange, extract what is worth remembering about the user:
name: the user's name, only if they state it; else null.
situation: their role, company or goal, in their words, only if they state it; else null.
facts: at most two facts the answer established, with numbers exactly as written; else []."""
SUMMARISE = """Summarise the conversation so far in at most three sentences for the
assistant's memory: who the user is, what they asked, what they learned. Keep numbers
exactly. Plain text."""


class MemoryNote(BaseModel):
    """What one exchange taught (memorizer_v1's structured output)."""

    name: str | None = Field(description="the user's name if they stated it, else null")
    situation: str | None = Field(description="role, company or goal if stated, else null")
    facts: list[str] = Field(description="at most two facts the answer established")


class MemorizerParams(NodeParams):
    """Parameters of ``Memorizer`` (YAML ``params``)."""

    model: str = "fast"
    max_topics: int = Field(6, ge=1)
    max_facts: int = Field(6, ge=1)
    summary_after: int = Field(10, ge=2, description="history length before summaries")
    summary_every: int = Field(5, ge=1, description="turns between summaries")
    keep_recent: int = Field(4, ge=0, description="latest turns left out of a summary")


class Memorizer(Node[MemorizerParams]):
    """Keep session memory: the user's name, situation, topics, facts, a rolling summary.

    Runs after the answer. With the user's message (``message``, fed from the
    ``message`` entry) it asks the LLM for a :class:`MemoryNote` (purpose
    ``memorizer_v1.extract``); a name is kept only if it occurs in the message. The
    command's topic is added to the topics. Once the history reaches
    ``summary_after`` turns, every ``summary_every`` turns the older turns (all but the
    last ``keep_recent``) are summarised (purpose ``memorizer_v1.summarise``). Emits
    ``memory.updated`` ``{"changed": {...}}`` when something changed. Memory lives in
    ``session.state["memory"]``, so it survives graph switches.

    ``context()`` returns: ``User's name: Ada.``, the situation, recent topics, the last
    facts and the summary.

    Offline: regular expressions find "my name is ...", "I'm ..." and "I run/work at
    ...", facts are the answer's first sentence with a number, the summary lists the
    user's earlier requests; facts come only from answers to questions.

    YAML::

        entry: {message: [input.text, memorizer.message]}
        context: [memorizer]
        nodes:
          memorizer: {kind: memorizer_v1, params: {model: fast}}
        edges:
          - output.response -> memorizer.response
          - input.command -> memorizer.command
    """

    kind = "memorizer_v1"

    class Inputs(BaseModel):
        response: Response
        message: str | None = None
        command: Command | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> None:
        memory = ctx.session.ns(NAMESPACE)
        changed: dict[str, Any] = {}
        memory["turns"] = memory.get("turns", 0) + 1
        if inputs.command is not None:
            topic = inputs.command.analysis.topic.strip()
            topics = [t for t in memory.get("topics", []) if t != topic] + [topic]
            changed["topics"] = memory["topics"] = topics[-self.params.max_topics :]
        if inputs.message:
            changed |= await self.learn(inputs.message, inputs.response.text, memory, ctx)
        if self.summary_due(ctx.session, memory):
            changed["summary"] = memory["summary"] = await self.summarise(ctx)
            memory["summarised"] = memory["turns"]
        if changed:
            ctx.emit("memory.updated", {"changed": changed})

    async def learn(
        self, message: str, answer: str, memory: dict[str, Any], ctx: RunContext
    ) -> dict[str, Any]:
        """Extract a note from the exchange; return what changed."""
        prompt = fields(user_said=message, assistant_answered=answer)
        note = await ctx.llm.structured(
            self.params.model,
            [system(EXTRACT), user(prompt)],
            MemoryNote,
            purpose="memorizer_v1.extract",
        )
        changed: dict[str, Any] = {}
        name = (note.name or "").strip()
        if name and name.lower() in message.lower() and name != memory.get("name"):
            changed["name"] = memory["name"] = name
        if note.situation and note.situation.strip() != memory.get("situation"):
            changed["situation"] = memory["situation"] = note.situation.strip()
        new = [f.strip() for f in note.facts[:2] if f.strip()]
        if new:
            facts = [f for f in memory.get("facts", []) if f not in new] + new
            memory["facts"] = facts[-self.params.max_facts :]
            changed["facts"] = new
        return changed

    def summary_due(self, session: Session, memory: dict[str, Any]) -> bool:
        """Tell whether a rolling summary should be written this turn."""
        last = memory.get("summarised")
        return len(session.history) >= self.params.summary_after and (
            last is None or memory["turns"] - last >= self.params.summary_every
        )

    async def summarise(self, ctx: RunContext) -> str:
        """Return a new summary of the older turns (and the previous summary)."""
        older = ctx.session.history[: max(0, len(ctx.session.history) - self.params.keep_recent)]
        lines = []
        for turn in older:
            said = (
                turn.input
                if isinstance(turn.input, str)
                else f"(clicked {(turn.input or {}).get('action')})"
            )
            answer = (turn.outputs.get("response") or {}).get("text", "")
            lines.append(f"user: {said}\nassistant: {answer}")
        previous = ctx.session.ns(NAMESPACE).get("summary") or "(none)"
        prompt = fields(previous_summary=previous, turns="\n".join(lines))
        text = await ctx.llm.complete(
            self.params.model, [system(SUMMARISE), user(prompt)], purpose="memorizer_v1.summarise"
        )
        return " ".join(text.split())

    def context(self, session: Session) -> list[str]:
        memory = session.state.get(NAMESPACE, {})
        lines = []
        if memory.get("name"):
            lines.append(f"{NAME_PREFIX}{memory['name']}.")
        if memory.get("situation"):
            lines.append(f"User's situation: {memory['situation']}.")
        if memory.get("topics"):
            lines.append(f"Topics so far: {'; '.join(memory['topics'])}.")
        if memory.get("facts"):
            lines.append(f"Facts learned: {' | '.join(memory['facts'][-3:])}")
        if memory.get("summary"):
            lines.append(f"Earlier in this conversation: {memory['summary']}")
        return lines


# -- offline -----------------------------------------------------------------------------


@offline_responder("memorizer_v1.extract")
def _offline_extract(messages: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    given = fields_of(last_user(messages), "user_said", "assistant_answered")
    said, answer = given["user_said"], given["assistant_answered"]
    asked = "?" in said or re.match(r"\s*(how|what|which|who)\b", said, re.I)
    sentences = re.split(r"(?<=[.!?])\s+", answer) if asked else []
    facts = [s[:200] for s in sentences if re.search(r"\d", s)][:1]
    return {"name": rules.introduced_name(said), "situation": rules.situation(said), "facts": facts}


@offline_responder("memorizer_v1.summarise")
def _offline_summarise(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
    turns = fields_of(last_user(messages), "previous_summary", "turns")["turns"]
    asked = [line[len("user: ") :] for line in turns.splitlines() if line.startswith("user: ")]
    shown = "; ".join(f'"{a[:60]}"' for a in asked[-8:])
    return f"The user said or asked: {shown}." if asked else "Nothing yet."
