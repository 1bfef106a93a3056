"""The trace event → hook event mapping, and which OTEL_* settings turn export on."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from cogpipe.engine import TraceEvent
from cogpipe.hooks import HookEvent, to_hook_event
from cogpipe.telemetry import TelemetryError, setup_tracing


def event(type_: str, data: dict[str, Any] | None = None, **kw: Any) -> TraceEvent:
    return TraceEvent(7, 1764727200.1234, "s1", "r1", "g", type_, data=data, **kw)


@pytest.mark.parametrize(
    ("type_", "data", "hook", "payload"),
    [
        ("session.started", {"graph": "g"}, "SessionStart", {}),
        ("run.started", {"entry": "message", "input": "hi"}, "UserPromptSubmit", {"prompt": "hi"}),
        ("run.started", {"entry": "action", "input": "{}"}, "run.started", {}),
        ("run.finished", {}, "Stop", {"status": "finished"}),
        ("run.failed", {"error": "x"}, "Stop", {"status": "failed"}),
        ("run.cancelled", None, "Stop", {"status": "cancelled"}),
        ("run.interrupted", {"error": "x"}, "Stop", {"status": "interrupted"}),
        ("run.paused", {"where": "approval"}, "PermissionRequest", {}),
        (
            "run.paused",
            {"where": "tool", "tool": "db.drop", "arguments": {"t": "x"}},
            "PermissionRequest",
            {"tool_name": "db.drop", "tool_input": {"t": "x"}},
        ),
        ("run.paused", {"where": "before"}, "run.paused", {}),
        (
            "tool.started",
            {"server": "db", "tool": "q", "call_id": "c1", "arguments": "{}"},
            "PreToolUse",
            {"tool_name": "db.q", "tool_use_id": "c1", "tool_input": "{}"},
        ),
        (
            "tool.finished",
            {"server": "db", "tool": "q", "call_id": "c1", "ok": True, "result": "3"},
            "PostToolUse",
            {"tool_name": "db.q", "tool_use_id": "c1", "tool_response": "3"},
        ),
        (
            "tool.failed",
            {"server": None, "tool": "nope", "call_id": "c2", "error": "unknown tool"},
            "PostToolUseFailure",
            {"tool_name": "nope", "tool_use_id": "c2", "error": "unknown tool"},
        ),
        ("node.finished", {"outputs": {}}, "node.finished", {}),
        ("memory.updated", {"changed": {}}, "memory.updated", {}),
    ],
)
def test_mapping(type_: str, data: Any, hook: str, payload: dict[str, Any]) -> None:
    out = to_hook_event(event(type_, data, node="n", kind="k"), "app")
    assert out is not None
    HookEvent.model_validate(out)  # what we send, we would accept
    assert out["hook_event_type"] == hook
    assert (out["source_app"], out["session_id"], out["timestamp"]) == ("app", "s1", 1764727200123)
    mine = out["payload"].pop("cogpipe")
    assert out["payload"] == payload
    assert mine == {
        "type": type_,
        "run_id": "r1",
        "graph": "g",
        "node": "n",
        "kind": "k",
        "seq": 7,
        "duration_ms": None,
        "data": data or {},
    }
    for key in ("tool_name", "tool_use_id", "error"):  # top-level copies, as send_event.py
        assert out.get(key) == (payload.get(key) if type_.startswith("tool.") else None)


def test_model_name_and_streamed_tokens() -> None:
    out = to_hook_event(event("llm.response", {"model": "gpt-x", "tokens_out": 3}), "app")
    assert out is not None and out["model_name"] == "gpt-x"
    assert to_hook_event(event("output.delta", {"text": "a"}), "app") is None
    assert to_hook_event(event("llm.delta", {"text": "a"}), "app") is None


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "  "},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"},
    ],
)
def test_export_is_off(env: dict[str, str]) -> None:
    assert setup_tracing(env) is None


def test_an_unknown_protocol_is_refused() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    with pytest.raises(TelemetryError, match="'http/json' is not supported; use one of"):
        setup_tracing(env)


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None,
    reason="the grpc exporter is installed here",
)
def test_grpc_without_its_package_says_what_to_install() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}
    with pytest.raises(TelemetryError, match="opentelemetry-exporter-otlp-proto-grpc"):
        setup_tracing(env)
