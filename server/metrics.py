"""Metrics: Prometheus counters and histograms, and per-session summaries as JSON.

:class:`Metrics` is a trace observer; everything it counts comes from the trace events
(catalogue: :mod:`cogpipe.engine.events`). Each app has its own ``CollectorRegistry``,
so apps in one process (tests) never share counts. Routes: ``GET /metrics`` (the
Prometheus text format, version 0.0.4, written by ``prometheus_client``),
``GET /api/metrics/sessions/{id}`` and ``GET /api/metrics/aggregate``
(docs/observability.md, "Metrics").
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field

from cogpipe.engine import Observer, TraceEvent
from cogpipe.settings import ModelPrice

from .models import ErrorBody, encodable_params

__all__ = [
    "AggregateFigures",
    "EdgeTraffic",
    "Figures",
    "Metrics",
    "SessionFigures",
    "SessionFiguresOut",
    "Spread",
    "percentile",
    "router",
]

SAMPLES = 1000
"""Latency samples kept overall for p50/p95 (per kind of latency and per edge): the newest."""
SESSION_SAMPLES = 200
"""The same per session (bounded lower: up to :data:`MAX_SESSIONS` sessions are kept)."""
MAX_SESSIONS = 10_000
"""Sessions whose figures are kept; the least recently active are forgotten first."""

_RUN_ENDS = {"run.finished": "finished", "run.failed": "failed", "run.cancelled": "cancelled"}
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def percentile(samples: deque[float] | list[float], p: float) -> float | None:
    """Return the nearest-rank ``p`` percentile (0 < p <= 1) of ``samples``, or ``None``
    when there are none."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _spread(samples: deque[float]) -> dict[str, float | None]:
    return {"p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)}


@dataclass
class _Edge:
    hops: deque[float]
    first: float
    messages: int = 0
    last: float = 0.0


@dataclass
class SessionFigures:
    """Running figures of one session (or of all of them): counts, token sums, cost,
    and the newest latency samples in milliseconds."""

    turns: dict[str, int] = field(default_factory=dict)
    llm_calls: int = 0
    llm_failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    unpriced_tokens: int = 0
    tool_calls: int = 0
    tool_failures: int = 0
    samples: int = SESSION_SAMPLES
    turn_ms: deque[float] = field(init=False)
    ttft_ms: deque[float] = field(init=False)
    edges: dict[tuple[str, str], _Edge] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.turn_ms, self.ttft_ms = deque(maxlen=self.samples), deque(maxlen=self.samples)

    def to_json(self) -> dict[str, Any]:
        """Return the figures as the JSON of the ``/api/metrics`` routes."""
        edges = []
        for (src, dst), e in self.edges.items():
            minutes = (e.last - e.first) / 60
            rate = e.messages / minutes if minutes > 0 else None
            edges.append(
                {
                    "from": src,
                    "to": dst,
                    "messages": e.messages,
                    "rate_per_min": rate,
                    "hop_ms": _spread(e.hops),
                }
            )
        return {
            "turns": sum(self.turns.values()),
            "turns_by_status": dict(self.turns),
            "llm_calls": self.llm_calls,
            "llm_failures": self.llm_failures,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost": round(self.cost, 6),
            "unpriced_tokens": self.unpriced_tokens,
            "tool_calls": self.tool_calls,
            "tool_failures": self.tool_failures,
            "latency_ms": _spread(self.turn_ms),
            "ttft_ms": _spread(self.ttft_ms),
            "edges": edges,
        }


class Metrics(Observer):
    """Counts what the trace says, for Prometheus and the JSON summaries.

    Args:
        prices: price per 1M tokens by model name (``Settings.prices``); a model without
            a price adds to ``unpriced_tokens`` instead of cost.
        queued_turns: returns how many turns wait to start (a gauge, read at scrape).
        sse_clients: returns how many event streams are open (a gauge, read at scrape).
    """

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        *,
        queued_turns: Callable[[], int] = lambda: 0,
        sse_clients: Callable[[], int] = lambda: 0,
    ) -> None:
        self.prices = dict(prices)
        self.started = time.time()
        self.registry = r = CollectorRegistry()
        self.turns = Counter(
            "cogpipe_turns",
            "Turns (runs) ended, by graph and status",
            ["graph", "status"],
            registry=r,
        )
        self.turn_seconds = Histogram(
            "cogpipe_turn_duration_seconds",
            "Wall time of a turn",
            ["graph"],
            buckets=_SECONDS,
            registry=r,
        )
        self.node_seconds = Histogram(
            "cogpipe_node_duration_seconds",
            "Time in a node's run(), by kind",
            ["kind"],
            buckets=_SECONDS,
            registry=r,
        )
        self.llm_calls = Counter(
            "cogpipe_llm_requests",
            "LLM HTTP attempts, by model and outcome (ok: llm.response, failed: llm.failed)",
            ["model", "outcome"],
            registry=r,
        )
        self.tokens = Counter(
            "cogpipe_llm_tokens",
            "Tokens the endpoint reported, by model and direction",
            ["model", "direction"],
            registry=r,
        )
        self.cost = Counter(
            "cogpipe_llm_cost",
            "Cost of the tokens at the configured prices, by model",
            ["model"],
            registry=r,
        )
        self.llm_seconds = Histogram(
            "cogpipe_llm_request_duration_seconds",
            "Latency of an answered LLM attempt",
            ["model"],
            buckets=_SECONDS,
            registry=r,
        )
        self.ttft_seconds = Histogram(
            "cogpipe_llm_time_to_first_token_seconds",
            "Time to first token of streams",
            ["model"],
            buckets=_SECONDS,
            registry=r,
        )
        self.tool_calls = Counter(
            "cogpipe_tool_calls",
            "Tool calls, by server, tool and outcome (ok, error: the tool said so, "
            "failed: no answer or refused)",
            ["server", "tool", "outcome"],
            registry=r,
        )
        self.tool_seconds = Histogram(
            "cogpipe_tool_call_duration_seconds",
            "Duration of a tool call",
            ["server", "tool"],
            buckets=_SECONDS,
            registry=r,
        )
        Gauge("cogpipe_queued_turns", "Turns waiting to start", registry=r).set_function(
            queued_turns
        )
        Gauge("cogpipe_sse_clients", "Open event streams", registry=r).set_function(sse_clients)
        self.total = SessionFigures(samples=SAMPLES)
        self.sessions: OrderedDict[str, SessionFigures] = OrderedDict()

    def session(self, session_id: str) -> SessionFigures:
        """Return a session's figures (empty ones for a session with no events yet)."""
        return self.sessions.get(session_id) or SessionFigures()

    def _figures(self, session_id: str) -> SessionFigures:
        figures = self.sessions.get(session_id)
        if figures is None:
            figures = self.sessions[session_id] = SessionFigures()
            if len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)
        else:
            self.sessions.move_to_end(session_id)
        return figures

    def on_event(self, event: TraceEvent) -> None:
        t = event.type
        data = event.data or {}
        if t == "node.finished" or t == "node.failed":
            if event.duration_ms is not None and event.run_id:
                self.node_seconds.labels(event.kind or "").observe(event.duration_ms / 1000)
            return
        handle = _HANDLERS.get(t)
        if handle is not None:
            both = (self.total, self._figures(event.session_id))
            handle(self, event, data, both)

    def _run_end(
        self, e: TraceEvent, data: dict[str, Any], both: tuple[SessionFigures, ...]
    ) -> None:
        status = _RUN_ENDS[e.type]
        self.turns.labels(e.graph, status).inc()
        if e.duration_ms is not None:
            self.turn_seconds.labels(e.graph).observe(e.duration_ms / 1000)
        for f in both:
            f.turns[status] = f.turns.get(status, 0) + 1
            if e.duration_ms is not None:
                f.turn_ms.append(e.duration_ms)

    def _llm_response(
        self, e: TraceEvent, data: dict[str, Any], both: tuple[SessionFigures, ...]
    ) -> None:
        model = str(data.get("model"))
        self.llm_calls.labels(model, "ok").inc()
        self.llm_seconds.labels(model).observe(data.get("latency_ms", 0) / 1000)
        ttft = data.get("ttft_ms")
        if ttft is not None:
            self.ttft_seconds.labels(model).observe(ttft / 1000)
        tokens_in, tokens_out = data.get("tokens_in") or 0, data.get("tokens_out") or 0
        self.tokens.labels(model, "input").inc(tokens_in)
        self.tokens.labels(model, "output").inc(tokens_out)
        price = self.prices.get(model)
        cost = 0.0
        if price is not None:
            cost = (tokens_in * price.input + tokens_out * price.output) / 1_000_000
            self.cost.labels(model).inc(cost)
        for f in both:
            f.llm_calls += 1
            f.tokens_in += tokens_in
            f.tokens_out += tokens_out
            f.cost += cost
            if price is None:
                f.unpriced_tokens += tokens_in + tokens_out
            if ttft is not None:
                f.ttft_ms.append(ttft)

    def _llm_failed(
        self, e: TraceEvent, data: dict[str, Any], both: tuple[SessionFigures, ...]
    ) -> None:
        self.llm_calls.labels(str(data.get("model")), "failed").inc()
        for f in both:
            f.llm_calls += 1
            f.llm_failures += 1

    def _tool_end(
        self, e: TraceEvent, data: dict[str, Any], both: tuple[SessionFigures, ...]
    ) -> None:
        server = data.get("server")
        # a call refused before it reached a server names what the model asked for:
        # any text, so one label for all of them keeps the series bounded
        tool = str(data.get("tool")) if server else "(refused)"
        server = server or ""
        failed = e.type == "tool.failed"
        outcome = "failed" if failed else ("ok" if data.get("ok") else "error")
        self.tool_calls.labels(server, tool, outcome).inc()
        if not failed or data.get("duration_ms"):
            self.tool_seconds.labels(server, tool).observe(data.get("duration_ms", 0) / 1000)
        for f in both:
            f.tool_calls += 1
            f.tool_failures += outcome != "ok"

    def _ledger(
        self, e: TraceEvent, data: dict[str, Any], both: tuple[SessionFigures, ...]
    ) -> None:
        for hop in data.get("edges", ()):
            key = (hop["from"], hop["to"])
            for f in both:
                edge = f.edges.get(key)
                if edge is None:
                    edge = f.edges[key] = _Edge(deque(maxlen=f.samples), e.ts)
                edge.messages += hop["fired"]
                edge.hops.append(hop["hop_ms"])
                edge.last = e.ts


_Handler = Callable[[Metrics, TraceEvent, dict[str, Any], tuple[SessionFigures, ...]], None]
_HANDLERS: dict[str, _Handler] = {
    **dict.fromkeys(_RUN_ENDS, Metrics._run_end),
    "llm.response": Metrics._llm_response,
    "llm.failed": Metrics._llm_failed,
    "tool.finished": Metrics._tool_end,
    "tool.failed": Metrics._tool_end,
    "run.ledger": Metrics._ledger,
}


class Spread(BaseModel):
    """Nearest-rank percentiles in milliseconds; ``null`` before the first sample."""

    p50: float | None
    p95: float | None


class EdgeTraffic(BaseModel):
    """One node-to-node edge over a session (from the runs' ledgers)."""

    from_: str = Field(alias="from")
    to: str
    messages: int = Field(description="values sent along it")
    rate_per_min: float | None = Field(
        description="messages per minute between its first and last use"
    )
    hop_ms: Spread = Field(description="upstream ended -> downstream started")


class Figures(BaseModel):
    """Counts and latencies of a session, or of every session (docs/observability.md)."""

    turns: int
    turns_by_status: dict[str, int]
    llm_calls: int = Field(description="LLM HTTP attempts, failed ones included")
    llm_failures: int
    tokens_in: int
    tokens_out: int
    cost: float = Field(description="at the configured prices (setting 'prices')")
    unpriced_tokens: int = Field(description="tokens of models without a price")
    tool_calls: int
    tool_failures: int = Field(description="calls that failed or whose tool reported an error")
    latency_ms: Spread = Field(description="a turn's wall time")
    ttft_ms: Spread = Field(description="time to first token of streamed calls")
    edges: list[EdgeTraffic]


class SessionFiguresOut(Figures):
    """``GET /api/metrics/sessions/{id}``."""

    session_id: str


class AggregateFigures(Figures):
    """``GET /api/metrics/aggregate``."""

    sessions: int = Field(description="sessions whose figures are kept")
    since: float = Field(description="when counting began, Unix seconds")


router = APIRouter(
    responses={code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 422)},
    dependencies=[Depends(encodable_params)],
)


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


@router.get("/metrics", tags=["metrics"], response_class=Response)
async def prometheus(request: Request) -> Response:
    """The Prometheus exposition (text format 0.0.4); token-protected like ``/api``."""
    return Response(generate_latest(_metrics(request).registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/metrics/sessions/{session_id}", tags=["metrics"], response_model=SessionFiguresOut
)
async def session_metrics(session_id: str, request: Request) -> dict[str, Any]:
    """One session's figures: turns, LLM calls, tokens, cost, tool calls, latency and
    time to first token p50/p95 (ms), and per-edge traffic (needs the ledger); 404 for
    an unknown session."""
    request.app.state.runtime.session(session_id)  # UnknownSessionError -> 404
    return {"session_id": session_id, **_metrics(request).session(session_id).to_json()}


@router.get("/api/metrics/aggregate", tags=["metrics"], response_model=AggregateFigures)
async def aggregate_metrics(request: Request) -> dict[str, Any]:
    """The same figures over every session since the server started (``since``, Unix
    seconds); ``sessions`` counts those with figures kept."""
    metrics = _metrics(request)
    return {"sessions": len(metrics.sessions), "since": metrics.started, **metrics.total.to_json()}
