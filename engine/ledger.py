"""The overhead ledger of a run: where each node's wall time went, and the critical path.

Computed after a run ends from the run's own trace events (their ``ts`` and
``duration_ms``), so the executor takes no extra timestamps and a runtime without the
ledger pays nothing. Definitions (all milliseconds, docs/observability.md "Ledger"):

* A node's **wall** time runs from its first input's arrival (the run's start for a node
  fed by the run's entry, else the first upstream node's end) to its own end event. It
  is split into **upstream** (first input -> the last upstream end before it started:
  waiting for other branches), **engine** (that end -> ``node.started``, plus the part
  of ``node.started`` -> end outside ``run()``: scheduling, validation, events),
  **llm** (union of its LLM attempts, ``llm.request`` -> ``llm.response``/``llm.failed``),
  **tool** (union of its tool calls outside LLM time) and **own** (the rest of
  ``run()``). The parts sum to the wall time.
* The **critical path** walks back from the node that ran and ended last, each time to
  the upstream node whose end came last before the node started (through skipped
  nodes, whose instant skip counts as part of the next hop). Each step is the hop into
  the node (the previous step's end, or the run's start -> its start) and the node's
  span; with ``tail_ms`` (last end -> run end) the steps sum to the run's wall time.
* An **edge** hop is upstream end -> downstream start, for every graph edge whose
  downstream node ran; ``fired`` counts the values sent along it.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from .graph import Graph
from .trace import TraceEvent

__all__ = ["compute_ledger"]

_NODE_ENDS = {"node.finished": "finished", "node.failed": "failed", "node.cancelled": "cancelled"}
_RUN_START, _RUN_END, _NODE_START, _NODE_END, _SKIP, _EDGE, _CALL_OPEN, _CALL_CLOSE = range(8)
_WHAT = {
    "run.started": _RUN_START,
    **dict.fromkeys(("run.finished", "run.failed", "run.cancelled"), _RUN_END),
    "node.started": _NODE_START,
    **dict.fromkeys(_NODE_ENDS, _NODE_END),
    "node.skipped": _SKIP,
    "edge.fired": _EDGE,
    "llm.request": _CALL_OPEN,
    "tool.started": _CALL_OPEN,
    **dict.fromkeys(("llm.response", "llm.failed", "tool.finished", "tool.failed"), _CALL_CLOSE),
}
"""What the ledger reads from each event type (other types are passed over)."""


def _union(spans: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """Merge intervals (seconds) clipped to ``[lo, hi]``."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _length(spans: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


def _minus(spans: list[tuple[float, float]], cut: list[tuple[float, float]]) -> float:
    """Length of ``spans`` outside ``cut`` (both merged, seconds)."""
    inside = sum(max(0.0, min(b, d) - max(a, c)) for a, b in spans for c, d in cut)
    return _length(spans) - inside


def _ms(seconds: float) -> float:
    return seconds * 1000  # not rounded: round() would be a third of the ledger's cost


class _Calls:
    """Open and closed LLM or tool call intervals of one node, by call key."""

    def __init__(self) -> None:
        self.open: dict[tuple[Any, ...], float] = {}
        self.spans: list[tuple[float, float]] = []
        self.count = 0


_NONE = _Calls()
_Shape = tuple[set[str], dict[str, list[str]], list[tuple[str, str]]]
_SHAPES: WeakKeyDictionary[Graph, _Shape] = WeakKeyDictionary()


def _shape(graph: Graph) -> _Shape:
    """The nodes fed by an entry, each node's upstream nodes, and the node-to-node edges
    of ``graph`` (computed once per graph)."""
    shape = _SHAPES.get(graph)
    if shape is None:
        fed = {ref.node for refs in graph.entry.values() for ref in refs}
        preds = {n: list(graph.dag.predecessors(n)) for n in graph.dag}
        shape = _SHAPES[graph] = (fed, preds, list(graph.dag.edges))
    return shape


def compute_ledger(graph: Graph, events: list[TraceEvent]) -> dict[str, Any] | None:
    """Return the ledger of one run (the ``data`` of ``run.ledger``).

    Args:
        graph: the graph the run ran (its edges and entries give each node's upstreams).
        events: the run's trace events in ``seq`` order, from ``run.started`` to its end
            event (``run.finished``, ``run.failed`` or ``run.cancelled``).

    Returns:
        ``{"wall_ms", "nodes": {id: {"kind", "status", "wall_ms", "upstream_ms",
        "engine_ms", "own_ms", "llm_ms", "tool_ms", "ttft_ms", "llm_calls",
        "tool_calls"}}, "critical_path": [{"node", "hop_ms", "node_ms"}], "tail_ms",
        "edges": [{"from", "to", "hop_ms", "fired"}]}`` (milliseconds), or ``None``
        when ``events`` do not hold both the run's start and its end.
    """
    run_start = run_end = None
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    inside: dict[str, float] = {}
    status: dict[str, str] = {}
    kinds: dict[str, str | None] = {}
    llm: dict[str, _Calls] = {}
    tools: dict[str, _Calls] = {}
    ttft: dict[str, float] = {}
    fired: dict[tuple[str, str], int] = {}
    for e in events:
        what = _WHAT.get(e.type)
        if what is None:
            continue
        node = e.node or ""  # only run.* events have none
        if what == _NODE_START:
            starts[node], kinds[node] = e.ts, e.kind
        elif what == _EDGE:
            edge = (node, str((e.data or {}).get("to", "")).partition(".")[0])
            fired[edge] = fired.get(edge, 0) + 1
        elif what == _NODE_END:
            ends[node], status[node] = e.ts, _NODE_ENDS[e.type]
            inside[node] = (e.duration_ms or 0.0) / 1000
        elif what == _SKIP:
            ends[node] = e.ts
        elif what == _RUN_START:
            run_start = e.ts
        elif what == _RUN_END:
            run_end = e.ts
        else:  # an LLM attempt or a tool call opens or closes
            data = e.data or {}
            calls = (llm if e.type[0] == "l" else tools).setdefault(node, _Calls())
            call = (data.get("call_id"), data.get("attempt"))
            if what == _CALL_OPEN:
                calls.open[call], calls.count = e.ts, calls.count + 1
            else:
                began = calls.open.pop(call, None)
                if began is not None:
                    calls.spans.append((began, e.ts))
                if e.type == "llm.response" and data.get("ttft_ms") is not None:
                    ttft.setdefault(node, data["ttft_ms"])
    if run_start is None or run_end is None:
        return None
    fed, preds, pairs = _shape(graph)

    def last_upstream(nid: str, before: float) -> tuple[str | None, float]:
        """The upstream node that ended last at or before ``before``, and that time."""
        best: tuple[str | None, float] = (None, run_start)
        for p in preds[nid]:
            end = ends.get(p)
            if end is not None and end <= before and (best[0] is None or end > best[1]):
                best = (p, end)
        return best

    nodes: dict[str, Any] = {}
    for nid, start in starts.items():
        end = ends.get(nid)
        if end is None:
            continue
        ups = [ends[p] for p in preds[nid] if p in ends]
        first = run_start if nid in fed or not ups else min(min(ups), start)
        ready = max([first, *(u for u in ups if u <= start)])
        run_s = min(inside.get(nid, 0.0), end - start)
        calls_l, calls_t = llm.get(nid, _NONE), tools.get(nid, _NONE)
        llm_s = tool_s = 0.0
        if calls_l.spans or calls_t.spans:
            spans_l = _union(calls_l.spans, start, end)
            llm_s = min(_length(spans_l), run_s)
            tool_s = min(_minus(_union(calls_t.spans, start, end), spans_l), run_s - llm_s)
        nodes[nid] = {
            "kind": kinds.get(nid),
            "status": status.get(nid, "finished"),
            "wall_ms": (end - first) * 1000,
            "upstream_ms": (ready - first) * 1000,
            "engine_ms": (start - ready + end - start - run_s) * 1000,
            "own_ms": (run_s - llm_s - tool_s) * 1000,
            "llm_ms": llm_s * 1000,
            "tool_ms": tool_s * 1000,
            "ttft_ms": ttft.get(nid),
            "llm_calls": calls_l.count,
            "tool_calls": calls_t.count,
        }

    chain: list[str] = []  # walked back from the last node that ran
    ran = [nid for nid in starts if nid in ends]
    cur: str | None = max(ran, key=ends.__getitem__) if ran else None
    while cur is not None:
        chain.append(cur)
        cur = last_upstream(cur, starts.get(cur, ends[cur]))[0]
    path: list[dict[str, Any]] = []
    prev_end = run_start
    for nid in reversed(chain):
        if nid in starts:  # a skipped node is passed through: its skip is part of the hop
            hop, span = starts[nid] - prev_end, ends[nid] - starts[nid]
            path.append({"node": nid, "hop_ms": _ms(hop), "node_ms": _ms(span)})
            prev_end = ends[nid]

    edges = [
        {"from": u, "to": v, "hop_ms": _ms(starts[v] - ends[u]), "fired": fired.get((u, v), 0)}
        for u, v in pairs
        if u in ends and v in starts and ends[u] <= starts[v]
    ]
    return {
        "wall_ms": _ms(run_end - run_start),
        "nodes": nodes,
        "critical_path": path,
        "tail_ms": _ms(run_end - prev_end),
        "edges": edges,
    }
