"""HUD fan-out benchmark: trace events from the engine to many SSE clients over real HTTP.

Layout. The server runs in a subprocess (``python bench/hud_fanout.py --serve``): the
real app from ``server.app.create_app`` under uvicorn on 127.0.0.1, with GC tuned as
``cogpipe serve`` does, plus two bench-only routes. The clients run in this process
(httpx2 async streaming clients, one connection each), so the server's CPU figures and
memory are its own and the clients do not steal its event loop; on a 2-core machine each
side gets about one core.

Load. ``POST /bench/emit`` emits ``bench.tick`` events into one session through
``runtime.emit`` at a fixed rate (paced every millisecond, so a few events leave
together, as when nodes run), then ``bench.done``. Every event goes through the whole
server path: the runtime's ring, the JSONL trace sink, the run registry, the
all-sessions timeline, and one bounded subscription per client on the session stream.

Measured. Events/s delivered per client and in total (events received / time from the
first emit to the last receipt), latency from the event's ``ts`` (set at emit) to the
client's receipt (p50/p99, same clock), events lost, server CPU seconds and RSS. The
stalled phase adds one client that connects and never reads (4 KiB receive window): the
others must be unaffected and the server's memory must stay flat.

Usage::

    python bench/hud_fanout.py            # a table
    python bench/hud_fanout.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from cogpipe.engine import Node, tune_gc
from cogpipe.server.app import create_app
from cogpipe.server.streams import StreamSubscription
from cogpipe.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

_TS = re.compile(rb'"ts":([0-9.]+)')
PAD = 200  # bytes of payload per event: about the size of a node.finished preview


# -- the server (subprocess) ---------------------------------------------------------------


class Noop(Node):
    """Does nothing (the bench graph only gives the bench session something to run)."""

    kind = "bench_fanout_noop"

    class Inputs(BaseModel):
        text: str


def _bench_app(root: Path) -> FastAPI:
    """The real app with a one-node graph and the bench routes."""
    graphs = root / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    (graphs / "bench.yaml").write_text(
        "name: bench\nentry: {message: noop.text}\nnodes:\n  noop: {kind: bench_fanout_noop}\n"
    )
    settings = Settings(
        graphs_dir=graphs,
        trace_dir=root / "trace",
        session_db="memory",
        tool_servers=[],
        default_graph="bench",
    )
    app = create_app(settings, token=None)
    bench = APIRouter(prefix="/bench")

    @bench.post("/setup")
    async def setup(request: Request) -> dict[str, Any]:
        rt = request.app.state.runtime
        if "bench" not in rt.session_ids():
            rt.create_session("bench", session_id="bench")
        return {"session": "bench"}

    @bench.post("/emit")
    async def emit(request: Request, rate: float, seconds: float) -> dict[str, Any]:
        rt = request.app.state.runtime
        session = rt.session("bench")
        total, pad, sent = int(rate * seconds), "x" * PAD, 0
        t0 = time.perf_counter()
        while sent < total:
            due = min(total, int((time.perf_counter() - t0) * rate) + 1)
            while sent < due:
                rt.emit(session, "bench.tick", {"i": sent, "pad": pad}, node="bench")
                sent += 1
            await anyio.sleep(0.001)
        elapsed = time.perf_counter() - t0
        rt.emit(session, "bench.done", {"sent": sent})
        return {"sent": sent, "elapsed_s": elapsed}

    @bench.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        subs = [
            o for o in request.app.state.runtime.bus.observers if isinstance(o, StreamSubscription)
        ]
        return {
            "subscribers": len(subs),
            "lost": [s.lost for s in subs],
            "pending": [s.pending() for s in subs],
        }

    app.include_router(bench)
    return app


def serve(port: int) -> None:
    """Run the bench server until killed (``--serve``)."""
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="cogpipe-fanout-") as tmp:
        app = _bench_app(Path(tmp))
        tune_gc()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        uvicorn.Server(config).run()


# -- the clients (this process) -------------------------------------------------------------------


class Server:
    """The server subprocess: start, stop, CPU seconds and RSS from /proc."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port)], cwd=ROOT
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{self.url}/api/health", timeout=1).raise_for_status()
                httpx2.post(f"{self.url}/bench/setup", timeout=5).raise_for_status()
                return
            except httpx2.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bench server did not start") from None
                time.sleep(0.1)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc status")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Client:
    """One SSE client: counts ``bench.tick`` events and their latency until ``bench.done``."""

    def __init__(self) -> None:
        self.count = 0
        self.lost = 0
        self.latencies: list[float] = []
        self.first = self.last = 0.0

    async def run(self, http: httpx2.AsyncClient) -> None:
        async with http.stream("GET", "/api/sessions/bench/events") as resp:
            rest = b""
            async for chunk in resp.aiter_raw():
                now = time.time()
                data = rest + chunk
                cut = data.rfind(b"\n\n") + 2
                data, rest = data[:cut], data[cut:]
                stamps = _TS.findall(data)
                if stamps:
                    self.first = self.first or now
                    self.last = now
                    self.count += len(stamps)
                    self.latencies.extend(now - float(ts) for ts in stamps)
                if b"stream.lost" in data:
                    self.lost += sum(int(n) for n in re.findall(rb'"lost":(\d+)', data))
                if b"bench.done" in data:
                    self.count -= 1  # bench.done has a ts too
                    self.latencies.pop()
                    return


def _stalled(port: int) -> socket.socket:
    """A client that opens the stream and never reads (4 KiB receive window)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /api/sessions/bench/events HTTP/1.1\r\nHost: bench\r\n\r\n")
    return sock


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def phase(
    server: Server, clients: int, rate: float, seconds: float, stalled: bool = False
) -> dict[str, Any]:
    """Connect ``clients`` (plus a stalled one), emit at ``rate``/s, measure."""
    async with httpx2.AsyncClient(
        base_url=server.url,
        timeout=httpx2.Timeout(60, connect=10),
        limits=httpx2.Limits(max_connections=clients + 10),
    ) as http:
        sock = _stalled(server.port) if stalled else None
        try:
            return await _measure(server, http, clients, rate, seconds, stalled)
        finally:
            if sock is not None:
                sock.close()


async def _measure(
    server: Server,
    http: httpx2.AsyncClient,
    clients: int,
    rate: float,
    seconds: float,
    stalled: bool,
) -> dict[str, Any]:
    group = [Client() for _ in range(clients)]
    async with anyio.create_task_group() as tg:
        for c in group:
            tg.start_soon(c.run, http)
        with anyio.fail_after(30):
            while (await http.get("/bench/stats")).json()["subscribers"] < clients + stalled:
                await anyio.sleep(0.05)
        rss0, cpu0, t0 = server.rss_mb(), server.cpu_s(), time.time()
        own0 = time.process_time()
        emitted = (
            await http.post(
                "/bench/emit", params={"rate": rate, "seconds": seconds}, timeout=seconds * 3 + 30
            )
        ).json()
    wall = max(c.last for c in group) - t0
    own = time.process_time() - own0
    stats = (await http.get("/bench/stats")).json()
    latencies = [x for c in group for x in c.latencies]
    total = sum(c.count for c in group)
    return {
        "clients": clients,
        "rate": rate,
        "emitted": emitted["sent"],
        "emit_s": emitted["elapsed_s"],
        "events_per_s_total": total / wall,
        "events_per_s_per_client": total / wall / clients,
        "delivered": total,
        "lost": sum(c.lost for c in group),
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "max_ms": max(latencies) * 1000,
        "server_cpu_pct": (server.cpu_s() - cpu0) / wall * 100,
        "client_cpu_pct": own / wall * 100,
        "rss_mb_before": rss0,
        "rss_mb_after": server.rss_mb(),
        "stalled_lost": max(stats["lost"], default=0) if stalled else None,
    }


PHASES = [  # (name, clients, events/s emitted, seconds, stalled client)
    ("1", 1, 5000, 4, False),
    ("10", 10, 1000, 4, False),
    ("100", 100, 500, 4, False),
    ("10_stalled", 10, 1000, 15, True),
]
KEYS = (
    "events_per_s_total",
    "events_per_s_per_client",
    "p50_ms",
    "p99_ms",
    "lost",
    "server_cpu_pct",
    "client_cpu_pct",
)


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over repeated runs of one phase."""
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, (int, float)):
            out[key] = statistics.median(r[key] for r in results)
    out["p99_ms_runs"] = [round(r["p99_ms"], 1) for r in results]
    return out


async def run_all(scale: float, repeat: int) -> dict[str, Any]:
    """Warm up, then run every phase ``repeat`` times; figures are medians."""
    server = Server()
    figures: dict[str, Any] = {"load_avg_start": os.getloadavg()[0]}
    gc.freeze()  # the client process too: its collector would add to the latencies
    gc.set_threshold(50_000, 20, 100)
    try:
        server.wait_ready()
        # warm-up: fills the ring (2000/session), the timeline (10,000), the frame
        # caches and the allocator's arenas, so later RSS changes mean growth
        await phase(server, 10, 5000, 3)
        figures["rss_mb_start"] = server.rss_mb()
        for name, clients, rate, seconds, stalled in PHASES:
            runs = [
                await phase(server, clients, rate, seconds * scale, stalled) for _ in range(repeat)
            ]
            figures[name] = result = _median(runs)
            for key in KEYS:
                figures[f"{key}_{name}"] = result[key]
            if stalled:
                growth = [r["rss_mb_after"] - r["rss_mb_before"] for r in runs]
                figures["rss_growth_mb_stalled"] = max(growth)
                figures["stalled_lost"] = min(r["stalled_lost"] for r in runs)
        figures["rss_mb_end"] = server.rss_mb()
    finally:
        server.stop()
    figures["load_avg_end"] = os.getloadavg()[0]
    figures.update(python=sys.version.split()[0], cpus=os.cpu_count(), repeat=repeat)
    return figures


def _table(f: dict[str, Any]) -> str:
    rows = [
        f"medians of {f['repeat']} runs; load average {f['load_avg_start']:.1f} at "
        f"start, {f['load_avg_end']:.1f} at end ({f['cpus']} CPUs)",
        "phase       clients  emitted/s  delivered/s  per client  p50 ms  p99 ms  lost"
        "  server CPU  client CPU",
    ]
    for name, *_ in PHASES:
        r = f[name]
        rows.append(
            f"{name:<11} {r['clients']:>7} {r['rate']:>10.0f} "
            f"{r['events_per_s_total']:>12.0f} {r['events_per_s_per_client']:>11.0f} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['lost']:>5.0f} "
            f"{r['server_cpu_pct']:>10.0f}% {r['client_cpu_pct']:>10.0f}%"
        )
    s = f["10_stalled"]
    rows.append(
        f"stalled client: lost {f['stalled_lost']} events (fewest over the runs); "
        f"server RSS grew at most {f['rss_growth_mb_stalled']:+.1f} MB in a "
        f"{s['emit_s']:.0f} s phase; p99 per run: {s['p99_ms_runs']}"
    )
    rows.append(
        f"server RSS: {f['rss_mb_start']:.1f} MB after warm-up, {f['rss_mb_end']:.1f} MB at the end"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table (or one JSON object with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply each phase's duration (default 1)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each phase; figures are medians (default 3)"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    figures = anyio.run(run_all, args.scale, args.repeat)
    print(json.dumps(figures) if args.json else _table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
