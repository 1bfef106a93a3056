"""OpenTelemetry spans of runs, node runs, LLM calls and tool calls (API only).

The engine creates spans through ``opentelemetry-api`` alone and never imports the
SDK: whoever embeds the engine decides whether spans go anywhere (``cogpipe serve`` sets
up the SDK and an OTLP exporter from the standard ``OTEL_*`` variables, see
``cogpipe.telemetry`` and docs/observability.md). Without an SDK the API's tracer
hands out non-recording spans; a run checks that once, at its start, and then creates
no node, LLM or tool spans at all, so tracing costs one no-op span per run when off.

Span tree of one run (names and attributes follow the OpenTelemetry GenAI semantic
conventions, https://opentelemetry.io/docs/specs/semconv/gen-ai/, where one applies)::

    invoke_agent {graph}          gen_ai.operation.name=invoke_agent, gen_ai.agent.name,
    │                             gen_ai.conversation.id (session), cogpipe.run_id
    ├── node {id}                 cogpipe.node.id, cogpipe.node.kind
    │   ├── chat {model}          one per HTTP attempt: gen_ai.request.model,
    │   │                         gen_ai.response.model, gen_ai.usage.input_tokens,
    │   │                         gen_ai.usage.output_tokens, server.address,
    │   │                         gen_ai.response.time_to_first_chunk (seconds) ...
    │   └── execute_tool {tool}   gen_ai.tool.name, gen_ai.tool.call.id,
    │       │                     cogpipe.tool.server (the MCP server's name)
    │       └── MCP send tools/call {tool}    (the mcp SDK's own client span)
    └── node {id} ...

A run's span starts a new trace; the span that was current when the run was started
(the HTTP request that posted the turn, under FastAPI instrumentation) becomes a link
of the run span rather than its parent, since the request ends long before the run.
Nodes that run concurrently get sibling spans: parents are passed explicitly
(:attr:`RunContext.trace_context <cogpipe.engine.node.RunContext>`), never taken from
whichever task happens to be current. While a traced node runs, its span is also the
current one (``attach``/``detach``), so spans a node or an instrumented library makes
with ``start_as_current_span`` nest under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import Span, SpanKind, StatusCode

__all__ = ["RunSpan", "attach", "detach", "end_span", "llm_span", "tool_span"]

_tracer = trace.get_tracer("cogpipe.engine")
_ROOT = Context()  # no current span: the parent of every run span


class RunSpan:
    """The span of one run and the parent context of its node spans.

    Build it with :meth:`start`; ``None`` from there means tracing is off for this run.
    """

    __slots__ = ("context", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.context = trace.set_span_in_context(span, _ROOT)

    @classmethod
    def start(cls, graph: str, run_id: str, session_id: str, entry: str) -> RunSpan | None:
        """Start the span of a run, linked to the current span if there is one; return
        ``None`` when no SDK records it (then the run creates no other span)."""
        # a new trace (the caller's span becomes a link, not the parent); attributes are
        # set only once the span is known to record: this is all a run costs when off
        span = _tracer.start_span(f"invoke_agent {graph}", context=_ROOT)
        if not span.is_recording():
            return None
        span.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": graph,
                "gen_ai.conversation.id": session_id,
                "cogpipe.run_id": run_id,
                "cogpipe.entry": entry,
            }
        )
        caller = trace.get_current_span().get_span_context()
        if caller.is_valid:
            span.add_link(caller, {"cogpipe.link": "started_by"})
        return cls(span)

    @property
    def trace_id(self) -> str:
        """The run's trace id as 32 lowercase hex digits (W3C Trace Context)."""
        return trace.format_trace_id(self.span.get_span_context().trace_id)

    def node(self, node: str, kind: str) -> tuple[Span, Context]:
        """Start the span of one node run; return it and the context naming it parent."""
        span = _tracer.start_span(
            f"node {node}",
            context=self.context,
            attributes={"cogpipe.node.id": node, "cogpipe.node.kind": kind},
        )
        return span, trace.set_span_in_context(span, self.context)


def end_span(span: Span, error: str | None = None, error_type: str | None = None) -> None:
    """End ``span``; with ``error``, first mark it failed (status ERROR, ``error.type``)."""
    if error is not None:
        span.set_status(StatusCode.ERROR, error)
        span.set_attribute("error.type", error_type or "error")
    span.end()


def llm_span(parent: Context, model: str, endpoint: str, attributes: Mapping[str, Any]) -> Span:
    """Start the ``chat {model}`` client span of one LLM HTTP attempt under ``parent``
    (the node run's context). ``endpoint`` is the base URL, from which
    ``server.address`` and ``server.port`` are taken."""
    url = urlsplit(endpoint)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",  # the wire protocol: OpenAI chat completions
        "gen_ai.request.model": model,
        **attributes,
    }
    if url.hostname:
        attrs["server.address"] = url.hostname
        if url.port:
            attrs["server.port"] = url.port
    return _tracer.start_span(
        f"chat {model}", context=parent, kind=SpanKind.CLIENT, attributes=attrs
    )


def tool_span(parent: Context, server: str, tool: str, call_id: str) -> Span:
    """Start the ``execute_tool {tool}`` span of one MCP tool call under ``parent``."""
    return _tracer.start_span(
        f"execute_tool {tool}",
        context=parent,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": call_id,
            "cogpipe.tool.server": server,
        },
    )
