"""Scale-out benchmark: turns per second with 1, 2 and 4 worker processes sharing one
Redis, and the latency Redis adds to an event on its way to an SSE client.

Layout. A real ``redis-server`` (Debian's package) on a free port in a temporary folder,
without persistence. Each configuration is ``cogpipe serve`` in a subprocess on the
default graph with the offline model (no tool servers): the baseline is one process
without Redis (SQLite, in-process events), then ``serve --workers N`` in Redis mode for
N = 1, 2, 4. The client runs in this process (httpx2, async).

Throughput. ``SESSIONS`` sessions get ``TURNS`` messages each, all posted at once over
``SESSIONS`` connections; the clock runs from the first post to the last ``run.finished``
seen on the all-sessions event stream. Turns of one session run one after another, of
different sessions in parallel (in Redis mode on whichever process takes them).

Latency. One session, turns one after another with the offline model paced (a 20 ms
pause before each answer, 200 tokens/s); for every event the client receives on the
session's stream, receipt time minus the event's ``ts`` (set at emit; same machine,
same clock): the baseline's events go from the engine to the client in-process, Redis
mode's go through the Redis stream and back.

Usage::

    python bench/scale_out.py            # a table
    python bench/scale_out.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

SESSIONS = 32
TURNS = 6
LATENCY_TURNS = 20


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``redis-server`` on a free port; return it and its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        sys.exit("redis-server is not installed: run 'make redis'")
    port = free_port()
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    proc = subprocess.Popen([*cmd, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    return proc, f"redis://127.0.0.1:{port}/0"


async def start_serve(
    folder: Path, env: dict[str, str], workers: int = 1
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cogpipe serve`` and wait until it answers; return it and its URL."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    full = {
        **os.environ,
        "COGPIPE_DATA_DIR": str(folder),
        "COGPIPE_TOOL_SERVERS": "none",
        "COGPIPE_SESSIONS_PER_MINUTE": "0",
        **env,
    }
    cmd = [sys.executable, "-m", "cogpipe.server.cli", "serve", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with (folder / "serve.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=full, stdout=log, stderr=log, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    with anyio.fail_after(60):
        while True:
            if proc.poll() is not None:
                sys.exit((folder / "serve.log").read_text()[-3000:])
            try:
                async with httpx2.AsyncClient(base_url=url) as c:
                    if (await c.get("/api/health")).status_code == 200:
                        break
            except httpx2.TransportError:
                await anyio.sleep(0.1)
    await anyio.sleep(0.5 * workers)  # every worker up, not only the first
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def _events(resp: httpx2.Response) -> Any:
    async for line in resp.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:]), time.time()


async def throughput(url: str) -> float:
    """Turns per second over ``SESSIONS`` x ``TURNS`` turns posted at once."""
    limits = httpx2.Limits(max_connections=SESSIONS)
    async with httpx2.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        sids = [(await c.post("/api/sessions")).json()["id"] for _ in range(SESSIONS)]
        total = SESSIONS * TURNS
        async with (
            httpx2.AsyncClient(base_url=url, timeout=300) as watcher,
            watcher.stream("GET", "/api/events") as resp,
        ):

            async def post(sid: str) -> None:
                for i in range(TURNS):
                    r = await c.post(f"/api/sessions/{sid}/messages", json={"text": f"hi {i}"})
                    assert r.status_code == 202, r.text

            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for sid in sids:
                    tg.start_soon(post, sid)
            ended = 0
            with anyio.fail_after(300):
                async for event, _ in _events(resp):
                    if event["type"] in ("run.finished", "run.failed"):
                        ended += 1
                        if ended == total:
                            break
            return total / (time.perf_counter() - t0)


async def latency(url: str) -> list[float]:
    """Milliseconds from emit to receipt for every event of ``LATENCY_TURNS`` turns."""
    found: list[float] = []
    async with httpx2.AsyncClient(base_url=url, timeout=60) as c:
        sid = (await c.post("/api/sessions")).json()["id"]
        async with c.stream("GET", f"/api/sessions/{sid}/events") as resp:
            events = _events(resp)  # one reader for the whole stream
            for i in range(LATENCY_TURNS):
                await c.post(f"/api/sessions/{sid}/messages", json={"text": f"hello {i}"})
                async for event, received in events:
                    found.append((received - event["ts"]) * 1000)
                    if event["type"] in ("run.finished", "run.failed"):
                        break
    return found


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main_async() -> dict[str, Any]:
    paced = {"COGPIPE_LLM_OFFLINE_CALL_S": "0.02", "COGPIPE_LLM_OFFLINE_TOKENS_PER_S": "200"}
    results: dict[str, Any] = {"sessions": SESSIONS, "turns_per_session": TURNS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root)
        try:
            configs: list[tuple[str, dict[str, str], int]] = [("single, no Redis", {}, 1)]
            for n in (1, 2, 4):
                configs.append((f"Redis, {n} worker{'s' if n > 1 else ''}", {}, n))
            for i, (name, _, workers) in enumerate(configs):
                env = (
                    {}
                    if i == 0
                    else {"COGPIPE_REDIS_URL": redis_url, "COGPIPE_REDIS_PREFIX": f"b{i}:"}
                )
                proc, url = await start_serve(root / f"t{i}", env, workers)
                try:
                    results.setdefault("turns_per_s", {})[name] = round(await throughput(url), 1)
                finally:
                    stop(proc)
            for i, name in enumerate(("in-process", "via Redis")):
                env = {**paced}
                if i:
                    env |= {"COGPIPE_REDIS_URL": redis_url, "COGPIPE_REDIS_PREFIX": "lat:"}
                proc, url = await start_serve(root / f"l{i}", env)
                try:
                    values = await latency(url)
                finally:
                    stop(proc)
                results.setdefault("latency_ms", {})[name] = {
                    "events": len(values),
                    "p50": round(_pct(values, 50), 3),
                    "p99": round(_pct(values, 99), 3),
                }
        finally:
            stop(redis_proc)
    base = results["turns_per_s"]["single, no Redis"]
    results["ratio_to_single"] = {k: round(v / base, 2) for k, v in results["turns_per_s"].items()}
    lat = results["latency_ms"]
    results["redis_adds_ms"] = {
        q: round(lat["via Redis"][q] - lat["in-process"][q], 3) for q in ("p50", "p99")
    }
    results["cpus"] = os.cpu_count()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = anyio.run(main_async)
    if args.json:
        print(json.dumps(results))
        return
    print(f"turns/s ({SESSIONS} sessions x {TURNS} turns, offline model, {results['cpus']} CPUs)")
    for name, value in results["turns_per_s"].items():
        print(f"  {name:<20} {value:8.1f}   x{results['ratio_to_single'][name]:.2f}")
    print("event latency, emit -> SSE client, ms")
    for name, lat in results["latency_ms"].items():
        print(
            f"  {name:<20} p50 {lat['p50']:7.3f}   p99 {lat['p99']:7.3f}   ({lat['events']} events)"
        )
    adds = results["redis_adds_ms"]
    print(f"  Redis adds           p50 {adds['p50']:7.3f}   p99 {adds['p99']:7.3f}")


if __name__ == "__main__":
    main()
