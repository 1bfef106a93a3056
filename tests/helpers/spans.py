"""An in-memory OpenTelemetry SDK for tests: the process's tracer provider, recording
only while a test asks for spans.

OpenTelemetry lets a process set its global tracer provider once, so this module sets
one for the whole test session, with a sampler that drops every span unless a test is
inside :func:`recording` (then the engine sees recording spans and traces its runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

__all__ = ["children", "recording"]


class _Switch(Sampler):
    """Samples everything while ``on``, nothing otherwise."""

    on = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        *args: Any,
        **kw: Any,
    ) -> SamplingResult:
        if not self.on:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "test switch"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()
_provider: TracerProvider | None = None


@contextmanager
def recording() -> Iterator[InMemorySpanExporter]:
    """Record every span started inside the block; yield the exporter holding them."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(sampler=_SWITCH)
        _provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(_provider)
    _EXPORTER.clear()
    _SWITCH.on = True
    try:
        yield _EXPORTER
    finally:
        _SWITCH.on = False


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    """The spans whose parent is ``parent``, by start time."""
    sid = parent.context.span_id
    found = [s for s in spans if s.parent is not None and s.parent.span_id == sid]
    return sorted(found, key=lambda s: s.start_time or 0)
