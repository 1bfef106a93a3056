"""Prompt plumbing the built-in nodes share: the persona param, the system message with
its context block, recent history as chat messages, labelled prompt fields, and the
context lines other nodes recognise.

Each node module keeps its own default prompt at its top (a param, so a graph can
replace it); this module only assembles. Nothing here reads a prompt back: the offline
model gets what it needs as structured ``hints`` (see ``nodes.offline``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from cogpipe.engine.handles import ToolHandle
from cogpipe.engine.node import NodeParams, RunContext
from cogpipe.engine.session import Session
from cogpipe.engine.tools import ToolInfo, call_names

__all__ = [
    "NAME_PREFIX",
    "RETURN_PREFIX",
    "PromptParams",
    "fields",
    "history",
    "listed_tools",
    "system",
    "tool_specs",
    "tools_of",
    "user",
]

NAME_PREFIX = "User's name: "
"""memorizer_v1's context line for the user's name: ``User's name: Ada.``"""
RETURN_PREFIX = "The user is back after"
"""sensor_v1's context line when a user returns from being idle."""
_CONTEXT_HEAD = "\n\nContext:\n"


class PromptParams(NodeParams):
    """Params every built-in node that calls the LLM shares (YAML ``params``).

    Attributes:
        persona: who the assistant is and whom it serves; it opens every system prompt
            of the node, before the node's own ``prompt``. Empty by default (the default
            prompts speak of no domain); the shipped graphs describe the demo business
            here, once, with a YAML anchor (``persona: &persona ...``, then
            ``persona: *persona``).
        max_tokens: the answer's token limit for the node's (main) purpose; ``None``
            (the default) takes the LLM config's ``max_tokens`` for that purpose, its
            node kind, else its ``default`` (1024), so an operator can set every limit
            in one place and a graph can still set one node's.
    """

    persona: str = Field("", description="opens every system prompt of the node")
    max_tokens: int | None = Field(
        None, ge=1, description="answer token limit; null: the LLM config's for the purpose"
    )


def system(prompt: str, context: list[str] | None = None, persona: str = "") -> dict[str, Any]:
    """Return the system message: ``persona``, ``prompt``, then the turn's context lines
    as a list."""
    text = "\n\n".join(p.strip() for p in (persona, prompt) if p.strip())
    if context:
        text += _CONTEXT_HEAD + "\n".join(f"- {line}" for line in context)
    return {"role": "system", "content": text}


def user(text: str) -> dict[str, Any]:
    """Return a user message."""
    return {"role": "user", "content": text}


def history(session: Session, turns: int) -> list[dict[str, Any]]:
    """Return the last ``turns`` finished message turns as user/assistant messages."""
    if turns <= 0:
        return []
    out: list[dict[str, Any]] = []
    done = [t for t in session.history if t.entry == "message" and t.status == "finished"]
    for turn in done[-turns:]:
        answer = (turn.outputs.get("response") or {}).get("text")
        if isinstance(turn.input, str) and answer:
            out += [user(turn.input), {"role": "assistant", "content": answer}]
    return out


def tools_of(ctx: RunContext) -> ToolHandle | None:
    """Return ``ctx.tools``, or ``None`` when the runtime has no tool service."""
    try:
        return ctx.tools
    except RuntimeError:  # engine.node._Missing: the runtime was started without tools
        return None


async def listed_tools(ctx: RunContext) -> list[ToolInfo]:
    """Return the tools ``ctx.tools`` offers (``[]`` without a tool service)."""
    handle = tools_of(ctx)
    return await handle.list() if handle is not None else []


def tool_specs(tools: Sequence[ToolInfo]) -> list[dict[str, Any]]:
    """Return the tools as the offline model's hints carry them: ``{"name", "title",
    "description", "input_schema"}`` each, ``name`` being the name to call it by."""
    return [
        {
            "name": name,
            "title": tool.title,
            "description": tool.description,
            "input_schema": tool.input_schema,
        }
        for name, tool in call_names(tools).items()
    ]


def fields(**values: str) -> str:
    """Return ``Name: value`` lines (keyword ``tool_results`` becomes ``Tool results``)."""
    return "\n".join(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in values.items())
