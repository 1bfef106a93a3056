"""``kill -9`` of a real ``cogpipe serve`` process in the middle of a turn, then a restart
on the same data folder: the accepted turns are ``interrupted`` (not lost), the stream
resumes honestly, and the next turn works. Also: a trace folder that disappears."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from cogpipe.server.app import create_app
from cogpipe.settings import Settings
from tests.helpers.server_thread import ServerThread, free_port

from . import kinds
from .conftest import fault_settings, history, session_on, turn


class Serve:
    """``cogpipe serve`` in a subprocess over one data folder, restartable."""

    def __init__(
        self, root: Path, env: dict[str, str] | None = None, max_file_bytes: int | None = None
    ) -> None:
        self.root, self.env, self.max_file_bytes = root, env or {}, max_file_bytes
        fault_settings(root)  # writes the graphs
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    async def start(self) -> None:
        port = free_port()
        env = {
            **os.environ,
            "COGPIPE_DATA_DIR": str(self.root),
            "COGPIPE_GRAPHS_DIR": str(self.root / "graphs"),
            "COGPIPE_DEFAULT_GRAPH": "step",
            "COGPIPE_TOOL_SERVERS": "none",
            "COGPIPE_NODE_MODULES": kinds.__file__,
            **self.env,
        }
        cmd = [sys.executable, "-m", "cogpipe.server.cli", "serve", "--port", str(port)]
        log = self.root / "serve.log"
        with log.open("ab") as err:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=self.root,
                stdout=subprocess.DEVNULL,
                stderr=err,
                preexec_fn=self._limit_files if self.max_file_bytes else None,
            )
        self.url = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=self.url) as c:
            with anyio.fail_after(30):
                while True:
                    assert self.proc.poll() is None, log.read_text()[-3000:]
                    try:
                        if (await c.get("/api/health")).status_code == 200:
                            return
                    except httpx2.TransportError:
                        await anyio.sleep(0.1)

    def _limit_files(self) -> None:
        """In the child: no file may grow past ``max_file_bytes`` (a write past it fails
        with EFBIG, as on a full disk; Python ignores the SIGXFSZ signal)."""
        assert self.max_file_bytes is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.max_file_bytes, self.max_file_bytes))

    def log(self) -> str:
        """Return what the server wrote to stderr."""
        return (self.root / "serve.log").read_text()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Serve]:
    serve = Serve(tmp_path)
    yield serve
    serve.stop()


async def _data_events(resp: httpx2.Response) -> Any:
    async for line in resp.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:])


async def test_kill_9_mid_turn_then_restart(served: Serve) -> None:
    await served.start()
    async with httpx2.AsyncClient(base_url=served.url, timeout=10) as c:
        sid = await session_on(c, "step")
        running = await c.post(f"/api/sessions/{sid}/messages", json={"text": "sleep:30"})
        waiting = await c.post(f"/api/sessions/{sid}/messages", json={"text": "queued"})
        assert (running.status_code, waiting.status_code) == (202, 202)
        run_a, run_b = running.json()["run_id"], waiting.json()["run_id"]
        seen: list[dict[str, Any]] = []
        async with c.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
            async for event in _data_events(resp):
                seen.append(event)
                if event["type"] == "fault.tick" and event["data"]["i"] == 3:
                    break
        await anyio.sleep(0.3)  # the event log's writer has stored what it was handed
        assert (await c.get(f"/api/runs/{run_a}")).json()["status"] == "running"
    served.kill()

    await served.start()
    async with httpx2.AsyncClient(base_url=served.url, timeout=10) as c:
        for run_id in (run_a, run_b):
            run = (await c.get(f"/api/runs/{run_id}")).json()
            assert run["status"] == "interrupted", run
            assert "stopped before this run ended" in run["error"]
        turns = await history(c, sid)
        assert [(t["run_id"], t["status"], t["input"]) for t in turns] == [
            (run_a, "interrupted", "sleep:30"),
            (run_b, "interrupted", "queued"),
        ]
        # resume after the last event this client saw: what follows is contiguous, or
        # the stream says first how many events are gone
        last = seen[-1]["seq"]
        headers = {"Last-Event-ID": str(last)}
        got: list[dict[str, Any]] = []
        async with c.stream("GET", f"/api/sessions/{sid}/events", headers=headers) as resp:
            async for event in _data_events(resp):
                got.append(event)
                if event["type"] == "run.interrupted" and event["run_id"] == run_b:
                    break
        lost = got[0]["data"]["lost"] if got[0]["type"] == "stream.lost" else 0
        stored = [e for e in got if e["type"] != "stream.lost"]
        assert [e["seq"] for e in stored] == list(
            range(last + 1 + lost, last + 1 + lost + len(stored))
        )
        assert [e["run_id"] for e in stored if e["type"] == "run.interrupted"] == [run_a, run_b]
        # the next turn works, and its events go on from there
        done = await turn(c, sid, "after the crash")
        assert (done["status"], done["outputs"]) == (
            "finished",
            {"response": "done: after the crash"},
        )


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of the app over ``settings``, served by uvicorn in a thread."""
    thread = ServerThread(create_app(settings, token=None), timeout_graceful_shutdown=2)
    thread.start(30)
    try:
        async with httpx2.AsyncClient(base_url=thread.url, timeout=10) as c:
            yield c
    finally:
        thread.stop()


async def _trace_failures(c: httpx2.AsyncClient, at_least: int = 1) -> dict[str, Any]:
    """Wait until ``/api/health`` counts ``at_least`` failed trace writes; return them."""
    with anyio.fail_after(5):
        while (trace := (await c.get("/api/health")).json()["failures"]["trace"])[
            "failed"
        ] < at_least:
            await anyio.sleep(0.05)
    return trace


async def test_a_trace_folder_that_disappears_is_counted_and_runs_go_on(tmp_path: Path) -> None:
    settings = fault_settings(tmp_path, trace_max_mb=0.002)  # rotates every few events
    async with _client(settings) as c:
        sid = await session_on(c, "step")
        assert (await turn(c, sid, "before"))["status"] == "finished"
        shutil.rmtree(settings.trace_dir)  # the folder is gone (unmounted, removed)
        for i in range(3):
            assert (await turn(c, sid, f"during {i}"))["status"] == "finished"
        trace = await _trace_failures(c)
        assert trace["file"] == str(settings.trace_dir / "cogpipe.jsonl")
        assert [t["status"] for t in await history(c, sid)] == ["finished"] * 4


async def test_a_trace_file_that_cannot_grow_is_reported_once_and_runs_go_on(
    tmp_path: Path,
) -> None:
    # the sessions stay in memory: only the trace file grows, and it stops at 64 KB
    env = {"COGPIPE_SESSION_DB": "memory"}
    served = Serve(tmp_path, env, max_file_bytes=64_000)
    await served.start()
    try:
        async with httpx2.AsyncClient(base_url=served.url, timeout=10) as c:
            sid = await session_on(c, "step")
            runs = [await turn(c, sid, "big:100000")]  # its event cannot be written
            runs += [await turn(c, sid, f"then {i}") for i in range(3)]
            assert [r["status"] for r in runs] == ["finished"] * 4
            await _trace_failures(c, 2)
            assert len(await history(c, sid)) == 4
    finally:
        served.stop()
    log = served.log()
    assert log.count("could not write a") == 1, log[-3000:]  # reported once, then counted
    assert "File too large" in log


async def test_a_trace_file_that_cannot_be_opened_does_not_stop_the_server(
    tmp_path: Path,
) -> None:
    settings = fault_settings(tmp_path)
    (settings.trace_dir / "cogpipe.jsonl").mkdir(parents=True)  # not a file: open() fails
    async with _client(settings) as c:
        sid = await session_on(c, "step")
        assert (await turn(c, sid, "traced nowhere"))["status"] == "finished"
        await _trace_failures(c)
        assert (await turn(c, sid, "again"))["status"] == "finished"
