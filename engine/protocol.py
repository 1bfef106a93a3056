"""Text protocols for endpoints that lack ``response_format`` or ``tools``, and their parsers.

Structured output has three modes (``LLMConfig.structured_output``): ``json_schema`` and
``json_object`` use the endpoint's ``response_format``; ``json_object`` and ``prompt``
also put the schema into the prompt (:func:`with_schema`), because an endpoint that
ignores the schema needs the model to see it. Answers are read with
:func:`extract_json`, which accepts bare JSON, JSON in a fenced block (```json ... ```),
or the first JSON object inside prose.

Tool calls have two modes (``LLMConfig.tool_calls``): ``native`` (OpenAI ``tools=``) and
``prompt``, this module's protocol:

* the tools are listed in the system prompt as JSON (name, description, JSON Schema of
  the arguments), after :data:`TOOLS_HEADING`, in a fenced ``json-tools`` block;
* the model calls tools by answering with only
  ``{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}`` (a single
  ``{"name", "arguments"}`` object is accepted too), or answers the user in plain text;
* earlier tool calls in the conversation are shown as that JSON in the assistant's
  message, and the results as one user message of blocks
  ``Tool result for call <id> (<name>):\\n<content>``.

The added text always goes at the end of the first system message (or a new system
message at the front), because many chat templates accept a single leading system
message only and insist that user and assistant alternate. :func:`from_prompt_protocol`
undoes every rewrite, which is how the offline model reads such requests.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "SCHEMA_HEADING",
    "TOOLS_HEADING",
    "extract_json",
    "from_prompt_protocol",
    "parse_tool_reply",
    "with_schema",
    "with_tools",
]

SCHEMA_HEADING = "## Answer format"
"""The first line of the schema instruction :func:`with_schema` adds."""

TOOLS_HEADING = "## Tools"
"""The first line of the tool listing :func:`with_tools` adds."""

_SCHEMA_TEXT = (
    "Answer with only one JSON object that is valid against the JSON Schema below: "
    "no other text. Fill every field with content for this request; never copy a "
    "field's description as its value."
)
_TOOLS_TEXT = (
    "You can call the tools listed below; each has a JSON Schema for its arguments. "
    "To call tools, answer with only this JSON object and no other text:\n"
    '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}\n'
    'The results come back in a message starting "Tool result for call". '
    "To answer the user, write plain text without JSON."
)
_RESULT = "Tool result for call {id} ({name}):\n{content}"
_RESULT_RE = re.compile(r"^Tool result for call (\S+) \(([^)\n]*)\):\n", re.M)
_FENCE_RE = re.compile(r"```[ \t]*([\w-]*)[ \t]*\n?(.*?)```", re.S)


def with_schema(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``messages`` with the answer-format instruction and ``schema`` added to
    the first system message (``messages`` is not modified)."""
    block = f"{SCHEMA_HEADING}\n{_SCHEMA_TEXT}\n```json-schema\n{_dumps(schema)}\n```"
    return _add_to_system(messages, block)


def with_tools(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``messages`` rewritten for the prompt tool protocol: the tool listing in
    the system message, earlier tool calls as JSON text, results as user messages.

    Args:
        messages: OpenAI chat messages, possibly with ``tool_calls`` and ``tool`` roles.
        tools: OpenAI function tools (``{"type": "function", "function": {...}}``); an
            empty list lists no tools but still rewrites the conversation.
    """
    out = [*_flatten_tool_turns(messages)]
    if not tools:
        return out
    listing = [
        {k: t["function"][k] for k in ("name", "description", "parameters") if k in t["function"]}
        for t in tools
    ]
    return _add_to_system(
        out, f"{TOOLS_HEADING}\n{_TOOLS_TEXT}\n```json-tools\n{_dumps(listing)}\n```"
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _add_to_system(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    out = list(messages)
    if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
        out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{text}"}
    else:
        out.insert(0, {"role": "system", "content": text})
    return out


def _flatten_tool_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assistant tool calls become JSON text; consecutive tool results one user message."""
    names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for message in messages:
        calls = message.get("tool_calls") or []
        if message.get("role") == "assistant" and calls:
            shown = []
            for call in calls:
                fn = call.get("function", {})
                names[call.get("id", "")] = fn.get("name", "")
                shown.append({"id": call.get("id"), "name": fn.get("name"), "arguments": _args(fn)})
            text = _dumps({"tool_calls": shown})
            content = message.get("content")
            out.append({"role": "assistant", "content": f"{content}\n{text}" if content else text})
        elif message.get("role") == "tool":
            call_id = message.get("tool_call_id", "")
            block = _RESULT.format(
                id=call_id, name=names.get(call_id, "?"), content=message.get("content") or ""
            )
            if out and out[-1].get("role") == "user" and out[-1].get("_results"):
                out[-1] = {**out[-1], "content": f"{out[-1]['content']}\n\n{block}"}
            else:
                out.append({"role": "user", "content": block, "_results": True})
        else:
            out.append(message)
    return [{k: v for k, v in m.items() if k != "_results"} for m in out]


def _args(fn: dict[str, Any]) -> Any:
    raw = fn.get("arguments")
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def extract_json(text: str) -> Any:
    """Return the JSON value an answer holds.

    Tried in order: the whole text; each fenced block (```json ... ``` or a bare
    fence); the first ``{...}`` object that parses, anywhere in the text.

    Raises:
        ValueError: nothing in ``text`` parses as JSON (the message says why).
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError as exc:
        first_error = exc
    for _lang, body in _FENCE_RE.findall(stripped):
        try:
            return json.loads(body)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", stripped):
        try:
            value, _end = decoder.raw_decode(stripped, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    if not stripped:
        raise ValueError("the answer is empty")
    raise ValueError(f"no JSON object in the answer ({first_error})")


def parse_tool_reply(text: str) -> tuple[str | None, list[dict[str, Any]] | None]:
    """Read a model answer under the prompt tool protocol.

    Returns:
        ``(None, calls)`` when the answer is a tool-call object, each call
        ``{"id", "name", "arguments"}`` as given (not yet checked; ``id`` usually
        ``None``); else
        ``(text, None)``: the answer to the user.
    """
    try:
        value = extract_json(text)
    except ValueError:
        return text, None
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        calls = value["tool_calls"]
    elif isinstance(value, dict) and "name" in value and "arguments" in value:
        calls = [value]
    else:
        return text, None
    return None, [
        {"id": c.get("id"), "name": c.get("name"), "arguments": c.get("arguments", {})}
        if isinstance(c, dict)
        else {"id": None, "name": None, "arguments": c}
        for c in calls
    ]


def from_prompt_protocol(request: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`with_schema` and :func:`with_tools` on a request body.

    Returns:
        A copy of ``request`` as the native modes would have sent it: the schema as
        ``response_format`` ``json_schema``, the tools as ``tools``, tool calls and
        results as ``tool_calls`` and ``tool`` messages, the system message as it was.
        Requests that use neither protocol come back unchanged (a ``json_object``
        response format with a ``schema`` becomes ``json_schema`` too).
    """
    out = dict(request)
    messages = list(out.get("messages") or [])
    fmt = out.get("response_format") or {}
    if fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
        out["response_format"] = _json_schema_format(fmt["schema"])
    first = messages[0] if messages and messages[0].get("role") == "system" else {}
    content = original = first.get("content")
    if isinstance(content, str):
        for heading, fence in ((SCHEMA_HEADING, "json-schema"), (TOOLS_HEADING, "json-tools")):
            if f"```{fence}" not in content:
                continue
            start = content.rfind(heading)
            found = [b for lang, b in _FENCE_RE.findall(content[start:]) if lang == fence]
            if start < 0 or not found:
                continue
            value = json.loads(found[0])
            if fence == "json-schema" and not fmt.get("type", "").startswith("json"):
                out["response_format"] = _json_schema_format(value)
            elif fence == "json-tools":
                out["tools"] = [{"type": "function", "function": f} for f in value]
                messages = _unflatten_tool_turns(messages)
            content = content[:start].rstrip()
    if content != original:
        if content:
            messages[0] = {**messages[0], "content": content}
        else:
            messages.pop(0)  # the protocol had added this system message
    out["messages"] = messages
    return out


def _json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _unflatten_tool_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        text = message.get("content") if isinstance(message.get("content"), str) else ""
        if message.get("role") == "user" and _RESULT_RE.match(text or ""):
            parts = _RESULT_RE.split(text or "")[1:]  # id, name, content, id, name, ...
            for i in range(0, len(parts), 3):
                content = parts[i + 2].removesuffix("\n\n")
                out.append({"role": "tool", "tool_call_id": parts[i], "content": content})
            continue
        if message.get("role") == "assistant" and text:
            _content, calls = parse_tool_reply(text)
            if calls is not None:
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": c["id"] or f"call_{i}",
                            "type": "function",
                            "function": {"name": c["name"], "arguments": _dumps(c["arguments"])},
                        }
                        for i, c in enumerate(calls)
                    ],
                }
        out.append(message)
    return out
