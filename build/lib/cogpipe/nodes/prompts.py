"""Prompt plumbing the built-in nodes share: the system message with its context block,
recent history as chat messages, the context lines other nodes recognise, and the
reverse direction for offline responders (reading a prompt back into its parts).

Each node module keeps its own prompt texts at its top; this module only assembles.
"""

from __future__ import annotations

import re
from typing import Any

from cogpipe.engine.node import RunContext
from cogpipe.engine.session import Session

__all__ = [
    "NAME_PREFIX",
    "RETURN_PREFIX",
    "context_of",
    "fields",
    "fields_of",
    "history",
    "last_user",
    "system",
    "tool_listing",
    "tools_of",
    "user",
]

NAME_PREFIX = "User's name: "
"""memorizer_v1's context line for the user's name: ``User's name: Ada.``"""
RETURN_PREFIX = "The user is back after"
"""sensor_v1's context line when a user returns from being idle."""
_CONTEXT_HEAD = "\n\nContext:\n"


def system(prompt: str, context: list[str] | None = None) -> dict[str, Any]:
    """Return the system message: ``prompt``, then the turn's context lines as a list."""
    text = prompt.strip()
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


def tools_of(ctx: RunContext) -> Any | None:
    """Return ``ctx.tools``, or ``None`` when the runtime has no tool service."""
    try:
        return ctx.tools
    except RuntimeError:  # engine.node._Missing: the runtime was started without tools
        return None


def tool_listing(tools: list[Any]) -> str:
    """Return one line per tool: ``- name(arg, arg): description`` (bare names unless two
    servers share a name, then ``server.name``)."""
    names = [t.name for t in tools]
    lines = []
    for t in tools:
        name = t.name if names.count(t.name) == 1 else t.qualified
        args = ", ".join(t.input_schema.get("properties", {}))
        lines.append(f"- {name}({args}): {' '.join(t.description.split())}")
    return "\n".join(lines) or "(no tools available)"


# -- reading prompts back (offline responders) ------------------------------------------


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def last_user(messages: list[dict[str, Any]]) -> str:
    """Return the text of the last user message ('' when there is none)."""
    return next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")


def context_of(messages: list[dict[str, Any]]) -> list[str]:
    """Return the context lines of the system message built by :func:`system`."""
    head = next((_text(m) for m in messages if m.get("role") == "system"), "")
    _, _, block = head.partition(_CONTEXT_HEAD)
    return [line[2:] for line in block.splitlines() if line.startswith("- ")]


def fields(**values: str) -> str:
    """Return ``Name: value`` lines (keyword ``tool_results`` becomes ``Tool results``);
    :func:`fields_of` reads them back."""
    return "\n".join(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in values.items())


def fields_of(text: str, *names: str) -> dict[str, str]:
    """Read ``Name: value`` lines written by :func:`fields`; only the given ``names``
    (keyword spelling) end a value, so values may span lines and contain colons.
    Missing names map to ''."""
    heads = {n: n.replace("_", " ").capitalize() for n in names}
    pattern = "|".join(re.escape(h) for h in heads.values())
    found: dict[str, str] = dict.fromkeys(names, "")
    parts = re.split(rf"^({pattern}):[ \t]*", text, flags=re.M)
    for head, value in zip(parts[1::2], parts[2::2], strict=True):
        name = next(n for n, h in heads.items() if h == head)
        found[name] = value.strip()
    return found
