"""Engine overhead benchmark: cogpipe vs. a hand-written asyncio version of one graph.

The reference graph ``input -> director -> thinker -> {output, ui} -> memorizer`` is
built from YAML with trivial nodes (each adds one key to a dict); tracing is on (every
event goes into the runtime's in-memory ring). The baseline is the same graph written
by hand with ``asyncio.gather`` for the two branches. Both run in the same process,
interleaved, so machine noise hits both alike.

OpenTelemetry: by default no SDK is installed, as in ``cogpipe serve`` without
``OTEL_EXPORTER_OTLP_ENDPOINT`` (each run starts one non-recording span); ``--spans``
installs the SDK with a batching processor whose exporter discards the spans, which
measures what recording the spans of every run, node run and call costs the engine.

Usage::

    python bench/engine_overhead.py            # a table
    python bench/engine_overhead.py --json     # one JSON object
    python bench/engine_overhead.py --ledger   # with the run.ledger of every run
    python bench/engine_overhead.py --spans    # with spans recorded (export on)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

import anyio
from pydantic import BaseModel

from cogpipe.engine import (
    GraphCatalog,
    Node,
    NodeParams,
    Registry,
    Runtime,
    load_graph_text,
    tune_gc,
)


class StepParams(NodeParams):
    """Parameters of the benchmark's nodes."""

    sleep_s: float = 0.0


class Step(Node[StepParams], register=False):
    """Adds its own id to the dict it receives; sleeps ``sleep_s`` first when set."""

    kind = "bench_step"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: Any) -> Outputs:
        if self.params.sleep_s:
            await anyio.sleep(self.params.sleep_s)
        return self.Outputs(y={**inputs.x, self.id: 1})


class Source(Step, register=False):
    """Starts the dict from the message text."""

    kind = "bench_source"

    class Inputs(BaseModel):
        text: str

    async def run(self, inputs: Inputs, ctx: Any) -> Step.Outputs:
        return self.Outputs(y={"text": inputs.text})


class Join(Step, register=False):
    """Merges the two branches."""

    kind = "bench_join"

    class Inputs(BaseModel):
        a: dict[str, Any]
        b: dict[str, Any]

    async def run(self, inputs: Inputs, ctx: Any) -> Step.Outputs:
        return self.Outputs(y={**inputs.a, **inputs.b, self.id: 1})


GRAPH = """
name: {name}
entry: {{message: input.text}}
nodes:
  input: {{kind: bench_source}}
  director: {{kind: bench_step}}
  thinker: {{kind: bench_step}}
  output: {{kind: bench_step, params: {{sleep_s: {sleep}}}}}
  ui: {{kind: bench_step, params: {{sleep_s: {sleep}}}}}
  memorizer: {{kind: bench_join}}
edges:
  - input.y -> director.x
  - director.y -> thinker.x
  - thinker.y -> output.x
  - thinker.y -> ui.x
  - output.y -> memorizer.a
  - ui.y -> memorizer.b
outputs: {{result: memorizer.y}}
"""


async def _add(x: dict[str, Any], key: str) -> dict[str, Any]:
    return {**x, key: 1}


async def baseline(text: str) -> dict[str, Any]:
    """The reference graph by hand: plain coroutines and one ``asyncio.gather``."""
    y = {"text": text}
    y = await _add(y, "director")
    y = await _add(y, "thinker")
    a, b = await asyncio.gather(_add(y, "output"), _add(y, "ui"))
    return {**a, **b, "memorizer": 1}


def catalog() -> GraphCatalog:
    """The two variants of the reference graph: ``ref`` and ``ref-sleep`` (50 ms branches)."""
    registry = Registry([Step, Source, Join])
    cat = GraphCatalog(registry=registry)
    for name, sleep in (("ref", 0), ("ref-sleep", 0.05)):
        cat.add(load_graph_text(GRAPH.format(name=name, sleep=sleep), registry=registry))
    return cat


def _pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)
    )


async def sequential(rt: Runtime, runs: int) -> dict[str, float]:
    """Median and p99 microseconds per run, engine and baseline interleaved."""
    sid = rt.create_session("ref").id
    for _ in range(min(runs, 2000)):  # warm-up
        await rt.run(sid, "message", "hi")
        await baseline("hi")
    engine, plain = [], []
    clock = time.perf_counter
    for _ in range(runs):
        t0 = clock()
        await rt.run(sid, "message", "hi")
        t1 = clock()
        await baseline("hi")
        t2 = clock()
        engine.append((t1 - t0) * 1e6)
        plain.append((t2 - t1) * 1e6)
    em, am = statistics.median(engine), statistics.median(plain)
    return {
        "engine_median_us": em,
        "engine_p99_us": _pct(engine, 99),
        "asyncio_median_us": am,
        "asyncio_p99_us": _pct(plain, 99),
        "ratio": em / am,
    }


async def concurrent(rt: Runtime, n: int, rounds: int) -> dict[str, float]:
    """Runs per second with ``n`` runs started at once (separate sessions, since turns
    of one session are serialised); the median of ``rounds`` rounds."""
    sids = [rt.create_session("ref").id for _ in range(n)]
    engine, plain = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for sid in sids:
                tg.start_soon(rt.run, sid, "message", "hi")
        t1 = time.perf_counter()
        await asyncio.gather(*(baseline("hi") for _ in range(n)))
        t2 = time.perf_counter()
        engine.append(n / (t1 - t0))
        plain.append(n / (t2 - t1))
    return {
        "engine_runs_per_s": statistics.median(engine),
        "asyncio_runs_per_s": statistics.median(plain),
    }


async def concurrency_wall(rt: Runtime, rounds: int) -> dict[str, float]:
    """Wall time of one run whose output and ui nodes each sleep 50 ms."""
    sid = rt.create_session("ref-sleep").id
    walls = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        await rt.run(sid, "message", "hi")
        walls.append((time.perf_counter() - t0) * 1000)
    return {"concurrency_wall_ms": statistics.median(walls)}


def record_spans() -> None:
    """Install the OpenTelemetry SDK as ``cogpipe serve`` does with export on, but with an
    exporter that discards the spans (the network is not what is measured)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.spans:
        record_spans()
    if not args.default_gc:
        tune_gc()  # what `cogpipe serve` does at start-up
    async with Runtime(catalog(), ring_size=args.ring, ledger=args.ledger) as rt:
        figures: dict[str, Any] = {
            "gc": "default" if args.default_gc else "tuned",
            "ledger": args.ledger,
            "spans": "recorded" if args.spans else "off",
        }
        figures |= await sequential(rt, args.runs)
        figures |= await concurrent(rt, args.concurrent, args.rounds)
        figures |= await concurrency_wall(rt, args.rounds)
    figures["runs"] = args.runs
    figures["concurrent"] = args.concurrent
    figures["python"] = sys.version.split()[0]
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20000, help="sequential runs (default 20000)")
    parser.add_argument(
        "--concurrent", type=int, default=1000, help="runs started at once (default 1000)"
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the concurrent tests")
    parser.add_argument(
        "--ring",
        type=int,
        default=2000,
        help="trace events kept per session (the server's default: 2000)",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's default GC thresholds (serve tunes them)",
    )
    parser.add_argument(
        "--ledger",
        action="store_true",
        help="emit a run.ledger event after each run (as 'cogpipe serve' does by default)",
    )
    parser.add_argument(
        "--spans",
        action="store_true",
        help="record OpenTelemetry spans (SDK installed, exporter discards them)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = anyio.run(main_async, args)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"sequential ({args.runs} runs, interleaved):")
    print(
        f"  engine   median {figures['engine_median_us']:8.1f} us   "
        f"p99 {figures['engine_p99_us']:8.1f} us"
    )
    print(
        f"  asyncio  median {figures['asyncio_median_us']:8.1f} us   "
        f"p99 {figures['asyncio_p99_us']:8.1f} us"
    )
    print(f"  ratio engine/asyncio {figures['ratio']:.2f}x")
    print(f"{args.concurrent} runs at once:")
    print(f"  engine  {figures['engine_runs_per_s']:10.0f} runs/s")
    print(f"  asyncio {figures['asyncio_runs_per_s']:10.0f} runs/s")
    print(
        f"one run with output and ui sleeping 50 ms each: {figures['concurrency_wall_ms']:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
