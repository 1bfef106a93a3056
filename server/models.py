"""Request and response bodies of the HTTP API (they make the OpenAPI schema at /docs).

The wire format is documented in ``docs/api.md``; these models are its source of truth
for field names and types. Request bodies forbid unknown keys, so a typo is a 422 with
the key named rather than silently ignored, and refuse text that cannot be written back
as JSON in UTF-8 (lone surrogates, ``NaN``; see :mod:`cogpipe.engine.text`), so such a
value is a 422 naming its place instead of poison for every later answer and stream.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from cogpipe.engine.events import RunPaused
from cogpipe.engine.text import first_unencodable
from cogpipe.nodes.types import UIAction

__all__ = [
    "ActionIn",
    "BreakpointsBody",
    "DashboardReport",
    "DefaultGraph",
    "ErrorBody",
    "GraphChoice",
    "GraphDetail",
    "GraphSummary",
    "Health",
    "HiddenTool",
    "MessageIn",
    "OfferedTool",
    "PauseInfo",
    "ResumeIn",
    "RunAccepted",
    "RunInfo",
    "RunProgress",
    "RunStatus",
    "SessionCreate",
    "SessionDetail",
    "SessionSummary",
    "StreamTicket",
    "SwitchGraph",
    "ToolServerStatus",
    "TraceFile",
    "TurnInfo",
    "encodable_params",
]

RunStatus = Literal["queued", "running", "paused", "finished", "failed", "cancelled", "interrupted"]


def unencodable_error(where: str, what: str) -> PydanticCustomError:
    """Return the validation error of a value that cannot be JSON in UTF-8; the error
    handler reads ``where`` (e.g. ``payload.items.2``) from its context."""
    return PydanticCustomError("unencodable_text", "{what}", {"where": where, "what": what})


async def encodable_params(request: Request) -> None:
    """Refuse path and query parameters that cannot be JSON in UTF-8 (a dependency of
    every route; uvicorn decodes ``%ED%A0%80`` to U+FFFD, other servers may not).

    Raises:
        RequestValidationError: a 422 naming the parameter.
    """
    for where, params in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in params:
            bad = first_unencodable(value, (name,))
            if bad is not None:
                err = unencodable_error(*bad)
                raise RequestValidationError(
                    [
                        {
                            "type": err.type,
                            "loc": (where, name),
                            "msg": err.message(),
                            "input": value,
                            "ctx": err.context,
                        }
                    ]
                )


def _whole(value: Any) -> Any:
    """JSON Schema counts ``3.0`` as an integer (it has no fraction); pydantic's strict
    mode does not. Everything else is left to strict validation (``true`` is no integer)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


JsonInt = Annotated[int, BeforeValidator(_whole)]
"""An integer as JSON Schema defines one."""


class _Request(BaseModel):
    # strict: JSON ``false`` is not the integer 0, nor ``1`` the text "1" (the schema's word)
    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*")
    @classmethod
    def _encodable(cls, value: Any, info: ValidationInfo) -> Any:
        bad = first_unencodable(value, (info.field_name or "body",))
        if bad is not None:
            raise unencodable_error(*bad)
        return value


class ErrorBody(BaseModel):
    """Every error answer: one sentence a person can act on, plus optional details."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="what went wrong and what to do about it")


class OfferedTool(BaseModel):
    """A tool a server offers, with the hints its annotations give."""

    name: str
    title: str | None = Field(None, description="human-readable name, when the server gives one")
    hints: list[str] = Field(description="'read-only' and/or 'destructive' (MCP annotations)")


class HiddenTool(BaseModel):
    """A tool a server lists that the config hides."""

    name: str
    reason: str = Field(description="the config rule that hides it, and how to offer it")


class ToolServerStatus(BaseModel):
    """One configured MCP tool server."""

    name: str
    transport: str = Field(description="'stdio' or 'http'")
    up: bool = Field(description="whether the server is connected now")
    status: str = Field(description="up, down, connecting, stopped or disabled")
    tools: int = Field(description="how many tools it offers")
    error: str | None = Field(None, description="why it is down")
    offered: list[OfferedTool] = Field(description="the tools it offers")
    hidden: list[HiddenTool] = Field(
        description="tools it lists that include/exclude or the destructive-tool rule hide"
    )


class HookStats(BaseModel):
    """The hook-event forwarder's counters since the server started."""

    url: str
    source_app: str
    sent: int = Field(description="events the receiver accepted")
    dropped: int = Field(description="events dropped because the queue was full (oldest first)")
    failed: int = Field(description="events given up after retries, or refused with a 4xx")
    queued: int = Field(description="events waiting to be sent")


class Health(BaseModel):
    """What the server runs: its version, the active LLM, the tool servers."""

    status: Literal["ok"] = "ok"
    version: str
    llm: dict[str, Any] = Field(
        description="{mode: offline|remote, base_url, models: {alias: name}, "
        "structured_output, tool_calls, connect_timeout_s, first_token_timeout_s, "
        "call_timeout_s, max_retries, probe: {reachable, detail, checked, latency_ms}}; "
        "probe: whether GET {base_url}/models answered (checked at most every 30 s; the "
        "offline model is always reachable)"
    )
    tools: list[ToolServerStatus]
    default_graph: str | None
    hooks: HookStats | None = Field(
        None, description="the hook-event forwarder (COGPIPE_HOOKS_URL); null when off"
    )
    sessions: int | None = Field(
        description="stored sessions (null while the store cannot be read: Redis away)"
    )
    memory: dict[str, Any] = Field(
        default_factory=dict,
        description="what the server holds in memory and its limits: {sessions, "
        "max_sessions, active_sessions, max_active_sessions, events, max_events, idle_s, "
        "evicted, runs, sessions_per_minute}",
    )
    failures: dict[str, Any] = Field(
        default_factory=dict,
        description="writes that failed since start: {trace: {failed, dropped, file}, "
        "event_log: {failed, dropped}}; runs go on when a trace cannot be written",
    )
    redis: dict[str, Any] | None = Field(
        None,
        description="Redis mode only (null without COGPIPE_REDIS_URL): {url (password "
        "masked), up, latency_ms, error, worker, lease_s, events_up, interrupted}; up: "
        "whether Redis answered PING within 1 s; events_up: whether the event stream "
        "reader is connected; interrupted: runs of dead workers this process marked",
    )


class GraphSummary(BaseModel):
    """One graph of the catalog, valid or not."""

    name: str
    description: str
    nodes: int = Field(description="node count (0 when the file is invalid)")
    valid: bool
    problems: list[str] | None = Field(None, description="what is wrong, when invalid")
    path: str | None = Field(None, description="the YAML file")


class GraphDetail(BaseModel):
    """One graph: its YAML, cytoscape.js elements and Mermaid text (null when invalid)."""

    name: str
    description: str
    valid: bool
    problems: list[str] | None = None
    yaml: str | None = Field(None, description="the YAML text of the file")
    elements: dict[str, Any] | None = Field(
        None, description="cytoscape.js elements {nodes: [...], edges: [...]}"
    )
    mermaid: str | None = None


class DefaultGraph(BaseModel):
    """The graph new sessions run (null when the catalog holds no valid graph)."""

    name: str | None


class GraphChoice(_Request):
    """A graph, by its registered name."""

    name: str = Field(min_length=1, max_length=200)


class SessionCreate(_Request):
    """A new session; ``graph`` defaults to the default graph."""

    graph: str | None = Field(None, min_length=1, max_length=200)


class SwitchGraph(_Request):
    """The graph a session runs from its next turn on."""

    graph: str = Field(min_length=1, max_length=200)


class MessageIn(_Request):
    """A user message: enters the session's graph at its ``message`` entry."""

    text: str = Field(min_length=1, max_length=8000)


class ActionIn(UIAction, _Request):
    """A UI action as posted by the browser (``UIAction``: a control was clicked)."""


class BreakpointsBody(_Request):
    """A session's breakpoints: node ids to pause before and after (from its next run)."""

    before: list[str] = Field(default_factory=list, max_length=1000)
    after: list[str] = Field(default_factory=list, max_length=1000)


class ResumeIn(_Request):
    """How a paused run goes on."""

    action: Literal["continue", "step", "reject"] = Field(
        description="continue; step: pause again before the next node; reject: skip the "
        "node (after a node: drop its outputs; at a tool call: refuse the call)"
    )
    inputs: dict[str, Any] | None = Field(
        None,
        description="replaces the pending node's inputs (ports given replace those ports; "
        "validated against the node's Inputs) or the tool call's arguments (validated "
        "against the tool's input schema)",
    )


class DashboardReport(_Request):
    """What the browser shows: the controls version and the ids of visible controls."""

    version: JsonInt = Field(ge=0)
    controls: list[str] = Field(default_factory=list, max_length=1000)


class SessionSummary(BaseModel):
    """A session in the list."""

    id: str
    graph: str
    turns: int
    updated: float = Field(description="Unix seconds of the last change")


class TurnInfo(BaseModel):
    """One finished turn of a session."""

    run_id: str
    graph: str
    entry: str
    input: Any
    outputs: dict[str, Any]
    status: str
    ts: float
    warnings: list[str] = Field(
        default_factory=list, description="failures of non-critical nodes; the turn finished"
    )


class SessionDetail(BaseModel):
    """A session: its graph, history, state, and the controls the UI node last built."""

    id: str
    graph: str
    created: float
    updated: float
    seq: int = Field(description="the last trace event seq of this session")
    history: list[TurnInfo]
    state: dict[str, Any]
    controls: dict[str, Any] | None = Field(
        None, description="Controls {controls: [Control], version} from state['ui']"
    )


class RunAccepted(BaseModel):
    """A run was queued; follow it at ``GET /api/runs/{run_id}`` or on the event stream."""

    run_id: str
    session_id: str
    status: RunStatus = "queued"


class RunProgress(BaseModel):
    """Nodes of the run's graph that finished, were skipped, and exist in all."""

    done: int = 0
    skipped: int = 0
    total: int = 0


class PauseInfo(RunPaused):
    """Where a paused run waits: the ``run.paused`` event's data (its catalogue model)."""

    model_config = ConfigDict(extra="allow")


class RunInfo(BaseModel):
    """A run started through the API."""

    run_id: str
    session_id: str
    graph: str
    entry: str
    status: RunStatus
    progress: RunProgress
    outputs: dict[str, Any] | None = Field(None, description="the graph's named results")
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list, description="failures of non-critical nodes; the run finished"
    )
    queued: float = Field(description="Unix seconds when the run was accepted")
    started: float | None = Field(None, description="Unix seconds when it began running")
    duration_ms: float | None = Field(
        None, description="running time so far, or in all once it ended"
    )
    trace_id: str | None = Field(
        None,
        description="OpenTelemetry trace id of the run's span (32 hex digits); null when "
        "span export is off (docs/observability.md)",
    )
    worker: str | None = Field(
        None, description="Redis mode: the process that ran it (`<host>:<pid>:<random>`)"
    )
    pause: PauseInfo | None = Field(None, description="where it waits, while 'paused'")


class StreamTicket(BaseModel):
    """A one-time ticket that opens one event stream (``?ticket=``)."""

    ticket: str = Field(description="opens one event stream, once")
    expires_in: float = Field(description="seconds it stays valid")


class TraceFile(BaseModel):
    """A JSONL trace file under the trace folder."""

    name: str
    size: int = Field(description="bytes")
    modified: float = Field(description="Unix seconds")
