"""Trace events for a terminal: the live view and per-run timeline of ``cogpipe run``,
``cogpipe trace show`` and ``cogpipe trace tail``.

The same :class:`LiveTrace` renders events as a run produces them and events read back
from a JSONL trace file, so a trace read later looks exactly like the run did live.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from cogpipe.engine import TraceEvent

__all__ = ["JsonLines", "LiveTrace"]

_ENDS = ("run.finished", "run.failed", "run.cancelled")
_MARKS = {"node.finished": "✓", "node.failed": "✗", "node.cancelled": "⊘"}


def _count(value: Any) -> str:
    return "?" if value is None else str(value)


class LiveTrace:
    """Print events as they happen: node spans in ms since their run started, tool and
    LLM calls, the streamed answer; after each run, a timeline of its node spans.

    Args:
        out: where to print.
        show_answer: print ``output.delta`` text as it streams.
    """

    def __init__(self, out: TextIO, show_answer: bool = True) -> None:
        self.out = out
        self.show_answer = show_answer
        self.t0: float | None = None
        self.spans: dict[str, list[float]] = {}
        self.streaming = False

    def __call__(self, event: TraceEvent) -> None:
        if event.type == "session.started":
            return
        if event.type == "run.started":
            self.t0, self.spans = event.ts, {}
        at = self.ms(event)
        data = event.data or {}
        if event.type == "output.delta":
            self.delta(event, data, at)
            return
        if self.streaming:
            self.out.write("\n")
            self.streaming = False
        text = self.describe(event, data, at)
        if text:
            self.line(at, text)
        if event.type in _ENDS:
            self.timeline()

    def ms(self, event: TraceEvent) -> float:
        """Milliseconds since the current run started (or since the first event)."""
        if self.t0 is None:
            self.t0 = event.ts
        return (event.ts - self.t0) * 1000

    def delta(self, event: TraceEvent, data: dict[str, Any], at: float) -> None:
        if not self.show_answer:
            return
        if not self.streaming:
            self.line(at, f"answer streaming from {event.node}:")
            self.out.write("           ")
            self.streaming = True
        self.out.write(str(data.get("text", "")))
        self.out.flush()

    def describe(self, event: TraceEvent, data: dict[str, Any], at: float) -> str | None:
        """Return the line shown for ``event`` (``None``: not shown)."""
        node = f"{event.node} ({event.kind})"
        match event.type:
            case "run.started":
                return f"run {event.run_id} on graph '{event.graph}', entry {data.get('entry')}"
            case "node.started":
                self.spans[event.node or "?"] = [at, at]
                return f"▶ {node}"
            case "node.finished" | "node.failed" | "node.cancelled":
                self.spans.setdefault(event.node or "?", [at, at])[1] = at
                ports = ", ".join(data.get("outputs", {})) or data.get("error", "no outputs")
                took = f"{event.duration_ms:.1f} ms" if event.duration_ms is not None else ""
                return f"{_MARKS[event.type]} {node} {took} → {ports}"
            case "node.skipped":
                return f"⤼ {node} skipped: {data.get('reason')}"
            case "tool.started":
                return f"  tool {data.get('server')}.{data.get('tool')} {data.get('arguments')}"
            case "tool.finished" | "tool.failed":
                what = data.get("result") if event.type == "tool.finished" else data.get("error")
                return f"  tool {data.get('tool')} → {str(what)[:160]}"
            case "llm.response":
                return (
                    f"  llm {data.get('model')} {data.get('purpose') or ''} "
                    f"{_count(data.get('tokens_in'))}→{_count(data.get('tokens_out'))} tokens "
                    f"{data.get('latency_ms') or 0:.0f} ms"
                )
            case "run.finished" | "run.failed" | "run.cancelled":
                took = f"{event.duration_ms:.1f} ms" if event.duration_ms is not None else ""
                return f"{event.type} in {took} {data.get('error', '')}".rstrip()
            case "run.ledger":
                path = " → ".join(
                    f"{s['node']} {s['hop_ms'] + s['node_ms']:.1f}" for s in data["critical_path"]
                )
                return f"critical path (ms): {path} (of {data['wall_ms']:.1f})"
            case "edge.fired" | "llm.request":
                return None
        return f"  {event.type} {json.dumps(data, default=str)[:160]}"  # e.g. sensor.flag

    def line(self, at: float, text: str) -> None:
        print(f"{at:8.1f} ms  {text}", file=self.out)

    def timeline(self, width: int = 50) -> None:
        """Print one bar per node over the run's duration: overlaps show concurrency."""
        if not self.spans:
            return
        end = max(e for _, e in self.spans.values()) or 1.0
        print("timeline (each bar: node start → finish)", file=self.out)
        name_w = max(map(len, self.spans))
        for name, (start, stop) in self.spans.items():
            a = int(start / end * width)
            b = max(int(stop / end * width), a + 1)
            bar = " " * a + "█" * (b - a)
            span = f"{start:7.1f} - {stop:7.1f} ms"
            print(f"  {name:<{name_w}} |{bar:<{width}}| {span}", file=self.out)
        self.spans = {}


class JsonLines:
    """Print each event as one line of JSON (the trace file format), for scripts."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, event: TraceEvent) -> None:
        print(event.to_json(), file=self.out, flush=True)
