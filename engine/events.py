"""The trace event catalogue: one pydantic model per event type for its ``data``.

Every event the engine, the built-in nodes and the server emit has its payload model
here (``extra="forbid"``, so a field the catalogue does not know is an error, not a
guess). Adding an event type means adding one model to :data:`EVENTS`. The models are
not used on the hot path: events stay plain dicts (:class:`~cogpipe.engine.trace.
TraceEvent`); :func:`validate_event` checks one (the test suite checks every event
its tests emit) and :func:`events_schema` is the JSON Schema served at
``GET /api/events/schema`` and listed in docs/api.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .trace import TraceEvent

__all__ = ["EVENTS", "UnknownEventError", "events_schema", "validate_event"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Empty(_Data):
    """No payload (``data`` is ``null``)."""


# -- session and run ------------------------------------------------------------------


class SessionStarted(_Data):
    """A session was created."""

    graph: str


class GraphSwitched(_Data):
    """The session runs another graph from its next turn on."""

    from_: str = Field(alias="from")
    to: str
    elements: Any = Field(description="the new graph as cytoscape elements")


class RunStarted(_Data):
    """A turn began: the external event and a preview of its payload."""

    entry: str
    input: str
    trace_id: str | None = Field(
        None, description="the run span's OpenTelemetry trace id (32 hex digits) when traced"
    )
    restored: bool | None = Field(
        None, description="true: a paused run started again after a restart"
    )


class RunFinished(_Data):
    """A turn ended; ``outputs`` are previews of its named results."""

    executed: int
    skipped: int
    outputs: dict[str, str]
    warnings: list[str]


class RunInterrupted(_Data):
    """Emitted at start-up for a run an earlier process accepted but never ended."""

    error: str
    entry: str
    input: str


class RunPaused(_Data):
    """The run waits for a person before, after or inside the pending node; values are
    whole JSON data, not previews."""

    node: str
    kind: str
    where: Literal["before", "after", "step", "approval", "tool"]
    reason: str
    inputs: dict[str, Any] | None = Field(None, description="before a node: its inputs")
    outputs: dict[str, Any] | None = Field(None, description="after a node: its outputs")
    tool: str | None = Field(None, description="at a tool call: server.tool")
    arguments: Any = Field(None, description="at a tool call: its arguments")
    since: float = Field(description="Unix seconds when it paused")
    deadline: float = Field(description="Unix seconds when the pause expires")
    editable: bool


class RunResumed(_Data):
    """A paused run went on with a person's decision."""

    action: Literal["continue", "step", "reject"]
    where: str
    edited: bool
    paused_ms: float


class GraphUpdated(_Data):
    """Hot reload: the session's graph file changed and is valid (next turn on)."""

    graph: str
    diff: dict[str, Any] | None = Field(
        description="{nodes: {added, removed, changed}, edges: {added, removed}, empty}"
    )
    elements: Any = Field(description="the new graph as cytoscape elements")


class GraphInvalid(_Data):
    """Hot reload: the session's graph file was edited into an invalid one."""

    graph: str
    problems: list[str]
    path: str


class RunFailed(_Data):
    """A turn failed (a critical node failed, or its payload did not fit an entry)."""

    error: str


class LedgerNode(_Data):
    """Where one node's time went, milliseconds; the parts sum to ``wall_ms``."""

    kind: str | None
    status: str = Field(description="finished, failed or cancelled")
    wall_ms: float = Field(description="first input arrived -> node ended")
    upstream_ms: float = Field(description="first input -> last input (other branches)")
    engine_ms: float = Field(description="scheduling, input/output validation, events")
    own_ms: float = Field(description="the node's own code")
    llm_ms: float = Field(description="awaiting LLM calls")
    tool_ms: float = Field(description="awaiting tool calls (outside LLM time)")
    ttft_ms: float | None = Field(description="time to first token of its first stream")
    llm_calls: int
    tool_calls: int


class LedgerStep(_Data):
    """One node on the critical path: the hop into it and its own span."""

    node: str
    hop_ms: float = Field(description="its last upstream ended (or the run began) -> it started")
    node_ms: float = Field(description="it started -> it ended")


class LedgerEdge(_Data):
    """One node-to-node hop of this run: upstream ended -> downstream started."""

    from_: str = Field(alias="from")
    to: str
    hop_ms: float
    fired: int = Field(description="values the upstream sent along it (0: empty)")


class RunLedger(_Data):
    """Where a finished, failed or cancelled run's wall time went (engine/ledger.py)."""

    wall_ms: float
    nodes: dict[str, LedgerNode]
    critical_path: list[LedgerStep]
    tail_ms: float = Field(description="last node on the path ended -> run ended")
    edges: list[LedgerEdge]


# -- nodes and edges ----------------------------------------------------------------------


class NodeStarted(_Data):
    """A node began; previews of its inputs (up to 2000 characters)."""

    inputs: dict[str, str]


class NodeFinished(_Data):
    """A node ended; previews of the outputs that fired."""

    outputs: dict[str, str]
    restored: bool | None = Field(
        None, description="true: a restored paused run's node that had finished before"
    )


class NodeSkipped(_Data):
    """A node will not run this turn."""

    reason: str


class NodeFailed(_Data):
    """A node failed; ``critical: false`` means the run goes on. ``hook: start`` for a
    failing background ``start()`` hook (outside any run)."""

    error: str
    critical: bool | None = None
    hook: Literal["start"] | None = None


class EdgeFired(_Data):
    """A value went along an edge."""

    from_: str = Field(alias="from")
    to: str
    preview: str


class OutputDelta(_Data):
    """The next piece of the answer."""

    text: str
    call_id: str | None = None


# -- LLM calls ----------------------------------------------------------------------------


class _Call(_Data):
    call_id: str
    call: Literal["complete", "structured", "stream", "chat"]
    model: str
    purpose: str
    attempt: int


class LLMRequest(_Call):
    """One HTTP attempt of an LLM call started (docs/api.md, "LLM calls in the trace")."""

    after: str | None = None
    mode: str | None = None
    max_tokens: int | None
    messages: int
    tools: int
    prompt: str
    request: dict[str, Any]


class LLMDelta(_Data):
    """A piece of a streamed call whose text goes to the node's ``on_delta``."""

    call_id: str
    text: str


class LLMResponse(_Call):
    """That attempt's usable answer; tokens ``null`` when the endpoint reported none."""

    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float
    ttft_ms: float | None = None
    finish_reason: str | None
    truncated: bool
    output: str
    tool_calls: list[str] | None = None
    tool_call_errors: list[str] | None = None


class LLMFailed(_Call):
    """That attempt failed; ``final`` when the call gives up."""

    error: str
    error_kind: str
    final: bool
    latency_ms: float
    status: int | None = None
    retry_in_ms: int | None = None


class LLMModeChanged(_Data):
    """The endpoint rejected a mode and the client stepped down for this model."""

    model: str
    setting: str | None
    from_: str = Field(alias="from")
    to: str
    reason: str


# -- tool calls ---------------------------------------------------------------------------


class _Tool(_Data):
    server: str | None
    tool: str
    call_id: str


class ToolStarted(_Tool):
    """A tool call was sent; ``arguments`` is a preview."""

    arguments: str
    hints: list[str]


class ToolFinished(_Tool):
    """A tool call answered; ``ok: false`` when the tool reported an error."""

    ok: bool
    result: str
    duration_ms: float
    error: str | None = None


class ToolFailed(_Tool):
    """A tool call failed or was refused before it started (``duration_ms`` 0)."""

    error: str
    error_kind: str
    duration_ms: float


# -- what the built-in nodes emit ------------------------------------------------------------


class UIControls(_Data):
    """The controls the UI node shows (``Controls`` in nodes/types.py)."""

    controls: list[dict[str, Any]]
    version: int


class UIIgnored(_Data):
    """A local click the UI node could not apply."""

    action: dict[str, Any]
    reason: str


class UIMismatch(_Data):
    """The browser's dashboard differs from the server's controls."""

    detail: str


class SensorFlag(_Data):
    """The sensor noticed something."""

    flag: str
    detail: str


class MemoryUpdated(_Data):
    """What memorizer_v1 wrote, and the evidence for each value."""

    changed: dict[str, Any]
    evidence: dict[str, Any]


class MemoryRejected(_Data):
    """What the model wanted remembered that the evidence does not hold."""

    rejected: list[dict[str, Any]]


class InterpreterChecked(_Data):
    """Facts in a model's summary not found in the tool results."""

    ok: bool
    unsupported: list[Any]


class AnswerChecked(_Data):
    """output_v1's check of the answer the user read."""

    ok: bool
    reason: str | None
    unsupported: list[Any]
    replaced_with: str | None
    text: str | None


class PlanRejected(_Data):
    """director_v2's plan named steps that cannot run."""

    attempt: int
    problems: list[Any]


class FallbackUsed(_Data):
    """The model gave no usable answer and the node used its documented fallback."""

    purpose: str
    error_kind: str
    reason: str
    fallback: str


class StrategyUpdated(_Data):
    """director_v1's one-line strategy after a turn."""

    strategy: str


class StreamLost(_Data):
    """Stream-level (not stored): events this client missed."""

    lost: int


EVENTS: dict[str, type[_Data]] = {
    "session.started": SessionStarted,
    "graph.switched": GraphSwitched,
    "graph.updated": GraphUpdated,
    "graph.invalid": GraphInvalid,
    "run.started": RunStarted,
    "run.finished": RunFinished,
    "run.failed": RunFailed,
    "run.cancelled": _Empty,
    "run.ledger": RunLedger,
    "run.interrupted": RunInterrupted,
    "run.paused": RunPaused,
    "run.resumed": RunResumed,
    "node.started": NodeStarted,
    "node.finished": NodeFinished,
    "node.skipped": NodeSkipped,
    "node.failed": NodeFailed,
    "node.cancelled": _Empty,
    "edge.fired": EdgeFired,
    "output.delta": OutputDelta,
    "llm.request": LLMRequest,
    "llm.delta": LLMDelta,
    "llm.response": LLMResponse,
    "llm.failed": LLMFailed,
    "llm.mode_changed": LLMModeChanged,
    "tool.started": ToolStarted,
    "tool.finished": ToolFinished,
    "tool.failed": ToolFailed,
    "ui.controls": UIControls,
    "ui.ignored": UIIgnored,
    "ui.mismatch": UIMismatch,
    "sensor.flag": SensorFlag,
    "memory.updated": MemoryUpdated,
    "memory.rejected": MemoryRejected,
    "interpreter.checked": InterpreterChecked,
    "answer.checked": AnswerChecked,
    "plan.rejected": PlanRejected,
    "fallback.used": FallbackUsed,
    "strategy.updated": StrategyUpdated,
    "stream.lost": StreamLost,
}
"""Event type -> the model of its ``data``."""


class UnknownEventError(ValueError):
    """An event type the catalogue does not define."""


def validate_event(event: TraceEvent | dict[str, Any]) -> BaseModel:
    """Check one event's ``data`` against its type's model and return the parsed model.

    Args:
        event: a :class:`TraceEvent` or its wire dict (``{"type", "data", ...}``).

    Raises:
        UnknownEventError: ``type`` is not in :data:`EVENTS`.
        pydantic.ValidationError: ``data`` does not fit the model (a missing or extra
            field, a wrong type).
    """
    wire = event.to_dict() if isinstance(event, TraceEvent) else event
    model = EVENTS.get(wire.get("type", ""))
    if model is None:
        raise UnknownEventError(
            f"unknown event type {wire.get('type')!r}; the catalogue (engine/events.py) "
            f"has {', '.join(sorted(EVENTS))}"
        )
    return model.model_validate(wire.get("data") or {})


def events_schema() -> dict[str, Any]:
    """Return the catalogue as JSON Schema (draft 2020-12, pydantic's output):
    ``{"events": {type: {"description", "data": <schema>}}, "$defs": {...}}``;
    ``data`` of ``null`` events has an empty object schema."""
    defs: dict[str, Any] = {}
    events: dict[str, Any] = {}
    for name, model in EVENTS.items():
        schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        events[name] = {"description": (model.__doc__ or "").strip(), "data": schema}
    return {"title": "cogpipe trace events", "events": events, "$defs": defs}
