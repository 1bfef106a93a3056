"""Trace events as hook-style events: the wire schema of the open-source "Claude Code
hooks multi-agent observability" dashboard, used both ways (forwarded out by
:mod:`cogpipe.forward`, accepted in by ``POST /api/hooks/events``).

The schema (the dashboard's ``POST /events`` body, one event per request,
https://github.com/disler/claude-code-hooks-multi-agent-observability)::

    {"source_app": str, "session_id": str, "hook_event_type": str, "payload": {...},
     "timestamp": int (Unix epoch milliseconds), "model_name": str?, "summary": str?,
     "chat": [...]?, ...}

The dashboard's own hook script (``.claude/hooks/send_event.py``) also copies some
payload keys to the top level for easier querying (``tool_name``, ``tool_use_id``,
``error``, ``source``, ``reason`` ...), so further top-level fields are allowed and
kept, and the forwarder sets ``tool_name``, ``tool_use_id`` and ``error`` there too.

Payloads of the Claude Code hook types carry Claude Code's own keys (``prompt``,
``tool_name``, ``tool_input``, ``tool_use_id``, ``tool_response``, ``error``), so a
dashboard built for Claude Code shows them as it shows Claude Code's; every payload
also carries cogpipe's event (``cogpipe``: type, run id, node, kind, seq, data).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cogpipe.engine import TraceEvent

__all__ = ["HOOK_TYPES", "SKIPPED", "HookEvent", "to_hook_event"]

HOOK_TYPES: dict[str, str] = {
    "session.started": "SessionStart",
    "run.started": "UserPromptSubmit",  # entry "message" only; other entries keep their name
    "tool.started": "PreToolUse",
    "tool.finished": "PostToolUse",
    "tool.failed": "PostToolUseFailure",
    "run.finished": "Stop",
    "run.failed": "Stop",
    "run.cancelled": "Stop",
    "run.interrupted": "Stop",  # a run a crashed process never ended: reported at start-up
    "run.paused": "PermissionRequest",  # approval pauses only; breakpoints keep their name
}
"""cogpipe event type → hook event type; every other event keeps its own type name."""

SKIPPED = frozenset({"output.delta", "llm.delta"})
"""Event types not forwarded: one per streamed token, too many for one POST each (the
``llm.response`` and ``node.finished`` events that follow carry the whole text)."""


class HookEvent(BaseModel):
    """One hook-style event (the dashboard's ``POST /events`` body); fields beyond these
    (the hook script's top-level copies of payload keys) are allowed and kept."""

    model_config = ConfigDict(extra="allow", strict=True)  # no true as a timestamp

    source_app: str = Field(min_length=1, max_length=200, description="the agent or app")
    session_id: str = Field(min_length=1, max_length=200, description="its session")
    hook_event_type: str = Field(
        min_length=1, max_length=100, description="PreToolUse, PostToolUse, Stop, ..."
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="the hook's input")
    timestamp: int | None = Field(None, ge=0, description="Unix epoch milliseconds")
    model_name: str | None = Field(None, max_length=200)
    summary: str | None = Field(None, max_length=2000)
    chat: list[Any] | None = Field(None, description="a transcript, when the agent sends one")


def to_hook_event(event: TraceEvent, source_app: str) -> dict[str, Any] | None:
    """Return ``event`` as a hook-style event (a JSON-ready dict of :class:`HookEvent`'s
    fields), or ``None`` for the streamed-token events in :data:`SKIPPED`.

    Mapping (docs/observability.md): ``session.started`` → ``SessionStart``;
    ``run.started`` of entry ``message`` → ``UserPromptSubmit`` (``prompt``);
    ``tool.started`` → ``PreToolUse``, ``tool.finished`` → ``PostToolUse``,
    ``tool.failed`` → ``PostToolUseFailure`` (``tool_name`` as ``server.tool``,
    ``tool_input``, ``tool_use_id``, ``tool_response`` / ``error``); ``run.finished``,
    ``run.failed``, ``run.cancelled``, ``run.interrupted`` → ``Stop`` (``status``);
    ``run.paused`` at an approval gate or a tool call awaiting approval →
    ``PermissionRequest`` (``tool_name``, ``tool_input`` for a tool call); anything else
    under its own type name.
    """
    if event.type in SKIPPED:
        return None
    data = event.data or {}
    hook = HOOK_TYPES.get(event.type, event.type)
    payload: dict[str, Any] = {}
    top: dict[str, Any] = {}  # copies at the top level, as the dashboard's hook script does
    if event.type == "run.started":
        if data.get("entry") == "message":
            payload["prompt"] = data.get("input")
        else:
            hook = event.type
    elif event.type.startswith("tool."):
        server, tool = data.get("server"), data.get("tool")
        payload["tool_name"] = f"{server}.{tool}" if server else tool
        payload["tool_use_id"] = data.get("call_id")
        if "arguments" in data:
            payload["tool_input"] = data["arguments"]
        if event.type == "tool.finished":
            payload["tool_response"] = data.get("result")
        if "error" in data:
            payload["error"] = data["error"]
        top = {k: payload[k] for k in ("tool_name", "tool_use_id", "error") if k in payload}
    elif hook == "Stop":
        payload["status"] = event.type.removeprefix("run.")
    elif event.type == "run.paused":
        if data.get("where") == "tool":
            payload["tool_name"], payload["tool_input"] = data.get("tool"), data.get("arguments")
        elif data.get("where") != "approval":
            hook = event.type  # a breakpoint or a step: nobody is asked for permission
    payload["cogpipe"] = {
        "type": event.type,
        "run_id": event.run_id,
        "graph": event.graph,
        "node": event.node,
        "kind": event.kind,
        "seq": event.seq,
        "duration_ms": event.duration_ms,
        "data": data,
    }
    out: dict[str, Any] = {
        "source_app": source_app,
        "session_id": event.session_id,
        "hook_event_type": hook,
        "payload": payload,
        "timestamp": round(event.ts * 1000),
        **top,
    }
    model = data.get("model") if event.type.startswith("llm.") else None
    if isinstance(model, str):
        out["model_name"] = model
    return out
