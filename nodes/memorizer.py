"""memorizer_v1: what the session remembers about the user, and the context it provides."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, RunContext
from cogpipe.engine.session import Session

from . import facts
from .evidence import INTRODUCTIONS, grounded, introduction, verbatim
from .fallbacks import answer_or_none
from .prompts import NAME_PREFIX, PromptParams, fields, system, user
from .purposes import EXTRACT as EXTRACT_PURPOSE
from .purposes import SUMMARISE_MEMORY
from .types import Command, Response, ThoughtResult, ToolOutcome

__all__ = ["NAMESPACE", "Memorizer", "MemoryNote", "requests_summary"]

NAMESPACE = "memory"
"""Session state namespace: ``{"name", "situation", "topics", "facts", "summary",
"summarised", "turns"}``."""

EXTRACT = """From this exchange, note what is worth remembering about the user. Copy words
exactly; never guess or complete.
introduction: the user's own words in which they tell their name (e.g. "my name is
Ada", "I'm Ada"), copied from their message; null if they did not introduce themselves.
name: the name in those words; else null.
situation: their role, company or goal, copied word for word from their message; else
null.
facts: at most two facts stated in the tool results or in the user's own words, numbers
exactly as written; else []."""
SUMMARY = """Summarise the conversation so far in at most three sentences for the
assistant's memory: who the user is, what they asked, what they learned. Keep numbers
exactly. Plain text."""


class MemoryNote(BaseModel):
    """What one exchange taught (memorizer_v1's structured output)."""

    introduction: str | None = Field(
        description="the user's words introducing themselves by name, copied; else null"
    )
    name: str | None = Field(description="the name in those words; else null")
    situation: str | None = Field(
        description="role, company or goal, copied word for word from the user; else null"
    )
    facts: list[str] = Field(
        description="at most two facts from the tool results or the user's words"
    )


def requests_summary(requests: list[str]) -> str:
    """Return the deterministic summary of what the user said (the last eight, each
    cut at 60 characters): memorizer_v1's fallback and the offline model's answer."""
    shown = "; ".join(f'"{r[:60]}"' for r in requests[-8:])
    return f"The user said or asked: {shown}." if requests else "Nothing yet."


class MemorizerParams(PromptParams):
    """Parameters of ``Memorizer`` (YAML ``params``)."""

    model: str = "fast"
    prompt: str = Field(EXTRACT, description="system prompt of the extraction")
    summary_prompt: str = Field(SUMMARY, description="system prompt of the rolling summary")
    summary_max_tokens: int | None = Field(
        None, ge=1, description="the summary's token limit; null: the LLM config's"
    )
    introductions: list[str] = Field(
        default_factory=lambda: list(INTRODUCTIONS),
        description="lower-case phrases that introduce a name ('my name is')",
    )
    max_topics: int = Field(6, ge=1)
    max_facts: int = Field(6, ge=1)
    summary_after: int = Field(10, ge=2, description="history length before summaries")
    summary_every: int = Field(5, ge=1, description="turns between summaries")
    keep_recent: int = Field(4, ge=0, description="latest turns left out of a summary")


class _Write:
    """What one run writes to memory: the changes, their evidence, what was refused."""

    def __init__(self) -> None:
        self.changed: dict[str, Any] = {}
        self.evidence: dict[str, Any] = {}
        self.rejected: list[dict[str, Any]] = []

    def refuse(self, field: str, value: Any, reason: str | None) -> bool:
        """Record ``value`` as refused when there is a ``reason``; tell whether it was."""
        if reason is not None:
            self.rejected.append({"field": field, "value": value, "reason": reason})
        return reason is not None

    def keep(
        self, memory: dict[str, Any], field: str, value: str, reason: str | None, evidence: str
    ) -> None:
        """Store ``value`` under ``field`` with its ``evidence`` unless there is a
        ``reason`` to refuse it (or it is stored already)."""
        if value and not self.refuse(field, value, reason) and value != memory.get(field):
            self.changed[field] = memory[field] = value
            self.evidence[field] = evidence


class Memorizer(Node[MemorizerParams]):
    """Keep session memory: the user's name, situation, topics, facts, a rolling summary
    — only what the user said or a tool returned.

    Runs after the answer. With the user's message (``message``, fed from the
    ``message`` entry) it asks the LLM for a :class:`MemoryNote` (purpose
    ``memorizer_v1.extract``) and keeps, after checking each (``nodes.evidence``):

    * the **name** only when the user introduced themselves: the model must quote the
      introducing words, the quote must occur in the message, one of
      ``introductions`` must stand right before the name, and the name must be written
      as one ("I'm in Berlin" gives no name, nor does "and in Paris?");
    * the **situation** only when the message contains it word for word;
    * **facts** only when their numbers and names occur in the tool results of the turn
      (``thought``, optional) or the message, and most of their words do too.

    The command's topic is kept when the message grounds it the same way. Once the
    history reaches ``summary_after`` turns, every ``summary_every`` turns the older
    turns (all but the last ``keep_recent``) are summarised (purpose
    ``memorizer_v1.summarise``); a summary with numbers or names that the turns do not
    hold is replaced by the plain list of the user's requests. Every write is a
    ``memory.updated`` event ``{"changed": {...}, "evidence": {...}}`` (the quote, or
    where a value was found); refused values are a ``memory.rejected`` event
    ``{"rejected": [{"field", "value", "reason"}]}``. When the model gives no usable
    note, nothing is learnt from the exchange; no usable summary, the list of requests
    is the summary (``fallback.used``). Memory lives in ``session.state["memory"]``, so
    it survives graph switches.

    ``context()`` returns: ``User's name: Ada.``, the situation, recent topics, the last
    facts and the summary.

    Hints for the offline model: ``{"message", "answer"}`` (extraction) and
    ``{"requests"}`` (summary). Offline: regular expressions find "my name is ...",
    "I'm ..." and "I run/work at ...", a fact is the first sentence with a number of an
    answer to a question, the summary lists the user's earlier requests.

    YAML::

        entry: {message: [input.text, memorizer.message]}
        context: [memorizer]
        nodes:
          memorizer: {kind: memorizer_v1, critical: false, params: {model: fast}}
        edges:
          - output.response -> memorizer.response
          - input.command -> memorizer.command
          - thinker.thought -> memorizer.thought
    """

    kind = "memorizer_v1"

    class Inputs(BaseModel):
        response: Response
        message: str | None = None
        command: Command | None = None
        thought: ThoughtResult | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> None:
        memory = ctx.session.ns(NAMESPACE)
        write = _Write()
        memory["turns"] = memory.get("turns", 0) + 1
        said = inputs.message or (inputs.command.source_text if inputs.command else "")
        if inputs.command is not None:
            self.keep_topic(inputs.command.analysis.topic.strip(), said, memory, write)
        if inputs.message:
            outcomes = inputs.thought.tool_results if inputs.thought else []
            await self.learn(inputs.message, inputs.response.text, outcomes, memory, write, ctx)
        if self.summary_due(ctx.session, memory):
            write.changed["summary"] = memory["summary"] = await self.summarise(ctx, write)
            memory["summarised"] = memory["turns"]
        if write.changed:
            ctx.emit("memory.updated", {"changed": write.changed, "evidence": write.evidence})
        if write.rejected:
            ctx.emit("memory.rejected", {"rejected": write.rejected})

    def keep_topic(self, topic: str, said: str, memory: dict[str, Any], write: _Write) -> None:
        """Add the command's topic to the recent topics if the user's words ground it."""
        if not topic or write.refuse("topic", topic, grounded(topic, [], said, min_words=1)):
            return
        topics = [t for t in memory.get("topics", []) if t != topic] + [topic]
        write.changed["topics"] = memory["topics"] = topics[-self.params.max_topics :]
        write.evidence["topics"] = "the user's words"

    async def learn(
        self,
        message: str,
        answer: str,
        outcomes: list[ToolOutcome],
        memory: dict[str, Any],
        write: _Write,
        ctx: RunContext,
    ) -> None:
        """Extract a note from the exchange and keep what its evidence supports."""
        params = self.params
        prompt = fields(
            user_said=message,
            tool_results=facts.outcomes_json(outcomes) if outcomes else "(none)",
            assistant_answered=answer,
        )
        note = await answer_or_none(
            ctx,
            EXTRACT_PURPOSE,
            "nothing learnt from this exchange",
            ctx.llm.structured(
                params.model,
                [system(params.prompt, persona=params.persona), user(prompt)],
                MemoryNote,
                purpose=EXTRACT_PURPOSE,
                max_tokens=params.max_tokens,
                hints={"message": message, "answer": answer},
            ),
        )
        if note is None:
            return
        name, quote = (note.name or "").strip(), (note.introduction or "").strip()
        if name:
            reason = introduction(name, quote, message, params.introductions)
            write.keep(memory, "name", name, reason, quote)
        situation = " ".join((note.situation or "").split())
        if situation:
            reason = _situation(situation, message)
            write.keep(memory, "situation", situation, reason, "the user's words")
        self.keep_facts(note.facts[:2], outcomes, message, memory, write)

    def keep_facts(
        self,
        found: list[str],
        outcomes: list[ToolOutcome],
        message: str,
        memory: dict[str, Any],
        write: _Write,
    ) -> None:
        """Keep the facts grounded in the tool results or the user's words."""
        new: dict[str, str] = {}
        for fact in (" ".join(f.split()) for f in found):
            if fact and not write.refuse("fact", fact, grounded(fact, outcomes, message)):
                alone = grounded(fact, [], message) is None
                new[fact] = "the user's words" if alone else "tool results"
        if new:
            kept = [f for f in memory.get("facts", []) if f not in new] + list(new)
            memory["facts"] = kept[-self.params.max_facts :]
            write.changed["facts"] = list(new)
            write.evidence["facts"] = new

    def summary_due(self, session: Session, memory: dict[str, Any]) -> bool:
        """Tell whether a rolling summary should be written this turn."""
        last = memory.get("summarised")
        return len(session.history) >= self.params.summary_after and (
            last is None or memory["turns"] - last >= self.params.summary_every
        )

    async def summarise(self, ctx: RunContext, write: _Write) -> str:
        """Return a new summary of the older turns (and the previous summary); one that
        adds numbers or names the turns do not hold gives way to :func:`requests_summary`."""
        params = self.params
        older = ctx.session.history[: max(0, len(ctx.session.history) - params.keep_recent)]
        lines, requests = [], []
        for turn in older:
            said = (
                turn.input
                if isinstance(turn.input, str)
                else f"(clicked {(turn.input or {}).get('action')})"
            )
            answer = (turn.outputs.get("response") or {}).get("text", "")
            lines.append(f"user: {said}\nassistant: {answer}")
            requests.append(said)
        previous = ctx.session.ns(NAMESPACE).get("summary") or "(none)"
        prompt = fields(previous_summary=previous, turns="\n".join(lines))
        text = await answer_or_none(
            ctx,
            SUMMARISE_MEMORY,
            "the list of requests",
            ctx.llm.complete(
                params.model,
                [system(params.summary_prompt, persona=params.persona), user(prompt)],
                purpose=SUMMARISE_MEMORY,
                max_tokens=params.summary_max_tokens,
                hints={"requests": requests},
            ),
        )
        text = " ".join((text or "").split())
        bad = facts.unsupported(text, [], prompt)
        reason = f"{', '.join(bad[:5])} occur in no earlier turn" if bad else None
        if not text:
            reason = "the model wrote no summary"
        write.evidence["summary"] = "earlier turns"
        if write.refuse("summary", text, reason):
            write.evidence["summary"] = "the user's requests (the model's summary was refused)"
            return requests_summary(requests)
        return text

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


def _situation(situation: str, message: str) -> str | None:
    if len(situation.split()) < 2:
        return f"{situation!r} is too short to describe a situation"
    if not verbatim(situation, message):
        return "it is not in the user's message word for word"
    return None
