"""What the trace shows of one LLM request: bounded copies of its messages, the schema
asked for and the tools offered (the ``request`` of an ``llm.request`` event).

The HUD's inspector shows a call's request as it was sent, so a person can see which
prompt produced which answer. Requests can be large (a tool result pasted into a
prompt, a long history), and every event stays in the session's ring and goes to every
event stream, so each part is cut to a fixed size:

* at most :data:`MAX_MESSAGES` messages: the first (usually the system prompt) and the
  newest ones; ``omitted`` counts the messages left out between them;
* each message's text at most :data:`MESSAGE_CHARS` characters. The largest system
  prompt of the shipped nodes is about 1,000 characters and their user prompts are
  shorter, so a prompt is shown whole; what gets cut is pasted data (a table of tool
  results, 9,500 characters for the demo's customer list), which the tool call's own
  events show;
* the schema (JSON text) at most :data:`SCHEMA_CHARS` characters (the director's plan
  schema, the largest shipped, is 2,800);
* at most :data:`MAX_TOOLS` tools, each its name, description (:data:`TOOL_DESCRIPTION_CHARS`)
  and parameter schema as JSON text (:data:`TOOL_PARAMETERS_CHARS`).

A cut text ends with ``…`` and its part says how long it was (``chars``). The worst
case is about 110 KB per event; the shipped graphs' requests are 1-12 KB.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_MESSAGES",
    "MAX_TOOLS",
    "MESSAGE_CHARS",
    "SCHEMA_CHARS",
    "TOOL_DESCRIPTION_CHARS",
    "TOOL_PARAMETERS_CHARS",
    "request_view",
]

MAX_MESSAGES = 20
MESSAGE_CHARS = 4000
SCHEMA_CHARS = 4000
MAX_TOOLS = 32
TOOL_DESCRIPTION_CHARS = 300
TOOL_PARAMETERS_CHARS = 1000


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(content: Any) -> str:
    """A message's content as text (content parts joined; anything else as JSON)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") if isinstance(p, dict) and p.get("type") == "text" else _json(p)
            for p in content
        )
    return _json(content)


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        return {"role": "?", "content": _cut(_json(message), MESSAGE_CHARS)}
    text = _text(message.get("content"))
    out: dict[str, Any] = {"role": str(message.get("role", "?")), "content": text}
    if len(text) > MESSAGE_CHARS:
        out.update(content=_cut(text, MESSAGE_CHARS), chars=len(text))
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = _cut(_json(calls), MESSAGE_CHARS)
    for key in ("name", "tool_call_id"):
        if message.get(key):
            out[key] = str(message[key])
    return out


def _schema(fmt: Any) -> str | None:
    """The JSON Schema in a ``response_format`` (``json_schema`` or ``json_object``)."""
    if not isinstance(fmt, dict):
        return None
    schema = fmt.get("schema")
    inner = fmt.get("json_schema")
    if isinstance(inner, dict):
        schema = inner.get("schema", schema)
    return None if schema is None else _json(schema)


def _tool(tool: Any) -> dict[str, Any]:
    fn = tool.get("function", tool) if isinstance(tool, dict) else {}
    if not isinstance(fn, dict):
        fn = {}
    out: dict[str, Any] = {"name": str(fn.get("name", "?"))}
    if fn.get("description"):
        out["description"] = _cut(str(fn["description"]), TOOL_DESCRIPTION_CHARS)
    if fn.get("parameters") is not None:
        out["parameters"] = _cut(_json(fn["parameters"]), TOOL_PARAMETERS_CHARS)
    return out


def request_view(body: dict[str, Any]) -> dict[str, Any]:
    """Return the bounded view of a chat-completions request body (see the module).

    Args:
        body: the request as sent (``messages``, optional ``response_format``, ``tools``).

    Returns:
        ``{"messages": [{"role", "content", "chars"?, "tool_calls"?, "name"?,
        "tool_call_id"?}], "omitted"?: int, "schema"?: str, "schema_chars"?: int,
        "tools"?: [{"name", "description"?, "parameters"?}], "tools_omitted"?: int}``.
    """
    messages = body.get("messages") or []
    kept = list(messages)
    view: dict[str, Any] = {}
    if len(kept) > MAX_MESSAGES:
        kept = [kept[0], *kept[len(kept) - MAX_MESSAGES + 1 :]]
        view["omitted"] = len(messages) - MAX_MESSAGES
    view["messages"] = [_message(m) for m in kept]
    schema = _schema(body.get("response_format"))
    if schema is not None:
        view["schema"] = _cut(schema, SCHEMA_CHARS)
        if len(schema) > SCHEMA_CHARS:
            view["schema_chars"] = len(schema)
    tools = body.get("tools") or []
    if tools:
        view["tools"] = [_tool(t) for t in tools[:MAX_TOOLS]]
        if len(tools) > MAX_TOOLS:
            view["tools_omitted"] = len(tools) - MAX_TOOLS
    return view
