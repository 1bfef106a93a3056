"""Soak benchmark: does the server's memory reach a plateau as sessions come and go?

Layout. A real ``cogpipe serve`` runs in a subprocess (uvicorn, the offline model, the
shipped default graph, a SQLite session DB and JSONL traces in a temporary folder, no
tool server). This process drives it over HTTP on 127.0.0.1 with ``--concurrency``
clients.

Load. ``--phases`` phases; in each, ``--sessions`` new sessions each take ``--turns``
turns (a message, then polling ``GET /api/runs/{id}`` until it ended), and every session
of the phase reads its history once. Sessions of earlier phases are never used again,
as on a public server: only the limits (``max_sessions``, ``max_events``,
``session_idle_min``) can free them.

Measured. The server's RSS (``/proc/<pid>/status`` VmRSS) after each phase, and the
growth from the previous phase in percent; ``/api/health``'s memory section at the end.
The figure to reach (issue 8) is a plateau: growth under 5 % between the last two
phases. ``--no-limits`` lifts the limits (1e9 each) to show the baseline growth.

Usage::

    python bench/soak.py                            # 4 phases x 2000 sessions x 1 turn
    python bench/soak.py --phases 3 --sessions 500  # quicker
    python bench/soak.py --no-limits                # the same without memory limits
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    """Return the resident set size of process ``pid`` in MB (VmRSS, kB / 1024)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _start(root: Path, port: int, limits: bool, idle_min: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "COGPIPE_DATA_DIR": str(root),
        "COGPIPE_TOOL_SERVERS": "none",
        "COGPIPE_SESSIONS_PER_MINUTE": "0",
        "COGPIPE_LLM_OFFLINE_CALL_S": "0",
        "COGPIPE_LLM_OFFLINE_TOKENS_PER_S": "0",
        "COGPIPE_SESSION_IDLE_MIN": str(idle_min),
    }
    if not limits:
        env |= {"COGPIPE_MAX_SESSIONS": "1000000000", "COGPIPE_MAX_EVENTS": "1000000000"}
        env["COGPIPE_SESSION_IDLE_MIN"] = "1000000"
    cmd = [sys.executable, "-m", "cogpipe.server.cli", "serve", "--port", str(port)]
    return subprocess.Popen(
        cmd, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def _wait_up(client: httpx2.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(60):
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"the server exited: {err[-2000:]}")
            try:
                if (await client.get("/api/health")).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            await anyio.sleep(0.2)


async def _one_session(client: httpx2.AsyncClient, turns: int) -> int:
    r = await client.post("/api/sessions", json={})
    r.raise_for_status()
    sid = r.json()["id"]
    for i in range(turns):
        r = await client.post(f"/api/sessions/{sid}/messages", json={"text": f"hello {i}"})
        r.raise_for_status()
        run_id = r.json()["run_id"]
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] not in ("queued", "running"):
                break
            await anyio.sleep(0.01)
        if run["status"] != "finished":
            raise RuntimeError(f"run {run_id} ended {run['status']}: {run['error']}")
    history = (await client.get(f"/api/sessions/{sid}")).json()["history"]
    return len(history)


async def _phase(client: httpx2.AsyncClient, sessions: int, turns: int, workers: int) -> int:
    todo = iter(range(sessions))
    done = 0

    async def worker() -> None:
        nonlocal done
        for _ in todo:
            turns_kept = await _one_session(client, turns)
            done += turns_kept

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
    return done


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the phases; return the RSS per phase and the final health memory section."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="cogpipe-soak-") as tmp:
        proc = _start(Path(tmp), port, not args.no_limits, args.idle_min)
        try:
            limits = httpx2.Limits(max_connections=args.concurrency)
            async with httpx2.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
            ) as client:
                await _wait_up(client, proc)
                phases = [{"phase": 0, "turns": 0, "rss_mb": round(_rss_mb(proc.pid), 1)}]
                if not args.json:
                    print(json.dumps(phases[0]), flush=True)
                for n in range(1, args.phases + 1):
                    start = time.perf_counter()
                    turns = await _phase(client, args.sessions, args.turns, args.concurrency)
                    await anyio.sleep(1.0)  # let the trace and event writers drain
                    rss = _rss_mb(proc.pid)
                    prev = phases[-1]["rss_mb"]
                    phases.append(
                        {
                            "phase": n,
                            "turns": turns,
                            "seconds": round(time.perf_counter() - start, 1),
                            "rss_mb": round(rss, 1),
                            "growth_pct": round((rss - prev) / prev * 100, 2),
                        }
                    )
                    if not args.json:
                        print(json.dumps(phases[-1]), flush=True)
                memory = (await client.get("/api/health")).json()["memory"]
        finally:
            proc.terminate()
            proc.wait(30)
    last = phases[-1]["growth_pct"] if len(phases) > 2 else None
    return {
        "sessions_per_phase": args.sessions,
        "turns_per_session": args.turns,
        "limits": not args.no_limits,
        "phases": phases,
        "last_growth_pct": last,
        "plateau": last is not None and last < 5.0,
        "memory": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=2000, help="new sessions per phase")
    parser.add_argument("--turns", type=int, default=1, help="turns per session")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once")
    parser.add_argument(
        "--idle-min", type=float, default=30, help="COGPIPE_SESSION_IDLE_MIN for the server"
    )
    parser.add_argument("--no-limits", action="store_true", help="lift the memory limits")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = anyio.run(soak, args)
    if args.json:
        print(json.dumps(result))
        return
    print(json.dumps({k: v for k, v in result.items() if k != "phases"}, indent=1))


if __name__ == "__main__":
    main()
