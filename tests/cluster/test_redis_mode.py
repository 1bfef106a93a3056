"""Two real ``cogpipe serve`` processes on one real Redis: turns, streams, cancels and
leases are shared, and the death of one process (``kill -9``) costs only its own turns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import anyio
import httpx2

from tests.faults import kinds
from tests.faults.conftest import ENDED, history, session_on, turn
from tests.helpers.redis_server import RedisServer
from tests.helpers.server_thread import free_port

from .conftest import Serve, data_events

Cluster = Callable[..., Serve]


async def _two(cluster: Cluster) -> tuple[Serve, Serve]:
    """Start two servers on the test's Redis prefix."""
    a, b = cluster("a"), cluster("b")
    await a.start()
    await b.start()
    return a, b


async def _run_status(c: httpx2.AsyncClient, run_id: str, want: str, timeout: float) -> dict:
    with anyio.fail_after(timeout):
        while (run := (await c.get(f"/api/runs/{run_id}")).json()).get("status") != want:
            await anyio.sleep(0.05)
    return run


async def test_a_turn_posted_on_a_streams_on_b(cluster: Cluster) -> None:
    a, b = await _two(cluster)
    async with (
        httpx2.AsyncClient(base_url=a.url, timeout=10) as ca,
        httpx2.AsyncClient(base_url=b.url, timeout=10) as cb,
    ):
        sid = await session_on(ca, "step")
        assert (await cb.get(f"/api/sessions/{sid}")).json()["graph"] == "step"  # shared
        seen: list[dict[str, Any]] = []
        everything: list[dict[str, Any]] = []
        async with (
            cb.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as one,
            cb.stream("GET", "/api/events") as every,
        ):
            r = await ca.post(f"/api/sessions/{sid}/messages", json={"text": "sleep:0.3"})
            run_id = r.json()["run_id"]
            with anyio.fail_after(10):
                async for event in data_events(one):
                    seen.append(event)
                    if event["type"] == "run.finished":
                        break
                async for event in data_events(every):
                    everything.append(event)
                    if event["type"] == "run.finished":
                        break
        types = [e["type"] for e in seen]
        assert types[0] == "session.started"  # replayed from Redis on B
        assert types.count("fault.tick") == 3
        assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
        assert [e["seq"] for e in everything] == [e["seq"] for e in seen[1:]]  # live only
        run = (await cb.get(f"/api/runs/{run_id}")).json()  # A's run, read on B
        assert (run["status"], run["outputs"]) == ("finished", {"response": "done: sleep:0.3"})
        assert [t["run_id"] for t in await history(cb, sid)] == [run_id]
        health = (await cb.get("/api/health")).json()["redis"]
        assert health["up"] and health["events_up"] and health["url"].startswith("redis://")


async def _worker_of(run: dict[str, Any], *serves: Serve) -> tuple[Serve, Serve]:
    """Return the server whose process runs ``run`` and the other one."""
    names = {}
    for serve in serves:
        async with httpx2.AsyncClient(base_url=serve.url, timeout=10) as c:
            names[(await c.get("/api/health")).json()["redis"]["worker"]] = serve
    runner = names[run["worker"]]
    return runner, next(s for s in serves if s is not runner)


async def _started(serve: Serve, text: str) -> tuple[str, dict[str, Any]]:
    """Create a session on ``serve``, send ``text``; return the session id and the run
    once it is running (whichever process runs it)."""
    async with httpx2.AsyncClient(base_url=serve.url, timeout=10) as c:
        sid = await session_on(c, "step")
        r = await c.post(f"/api/sessions/{sid}/messages", json={"text": text})
        return sid, await _run_status(c, r.json()["run_id"], "running", 10)


async def test_a_cancel_sent_to_b_stops_the_run_on_a(cluster: Cluster) -> None:
    first, second = await _two(cluster)
    sid, run = await _started(first, "sleep:30")
    a, b = await _worker_of(run, first, second)  # A runs it, whichever accepted it
    run_id = run["run_id"]
    async with (
        httpx2.AsyncClient(base_url=a.url, timeout=10) as ca,
        httpx2.AsyncClient(base_url=b.url, timeout=10) as cb,
    ):
        r = await cb.post(f"/api/runs/{run_id}/cancel")
        assert (r.status_code, r.json()["status"]) == (202, "cancelled"), r.text
        assert (await ca.get(f"/api/runs/{run_id}")).json()["status"] == "cancelled"
        again = await cb.post(f"/api/runs/{run_id}/cancel")
        assert again.status_code == 409
        assert (await turn(cb, sid, "next"))["status"] == "finished"  # the session goes on


async def test_concurrent_posts_through_both_never_overlap(cluster: Cluster) -> None:
    a, b = await _two(cluster)
    async with (
        httpx2.AsyncClient(base_url=a.url, timeout=10) as ca,
        httpx2.AsyncClient(base_url=b.url, timeout=10) as cb,
    ):
        sid = await session_on(ca, "step")
        run_ids: list[str] = []

        async def post(c: httpx2.AsyncClient, i: int) -> None:
            r = await c.post(f"/api/sessions/{sid}/messages", json={"text": "sleep:0.2"})
            assert r.status_code == 202, r.text
            run_ids.append(r.json()["run_id"])

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(post, ca, i)
                tg.start_soon(post, cb, i)
        for run_id in run_ids:
            await _run_status(ca, run_id, "finished", 30)
        turns = await history(cb, sid)
        assert sorted(t["run_id"] for t in turns) == sorted(run_ids)
        async with cb.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
            events = []
            with anyio.fail_after(10):
                async for event in data_events(resp):
                    events.append(event)
                    if sum(e["type"] == "run.finished" for e in events) == len(run_ids):
                        break
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    ends = ("run.started", "run.finished")  # run.ledger follows run.finished
    bounds = [(e["type"], e["run_id"]) for e in events if e["type"] in ends]
    # started/finished alternate, each pair of one run: no two turns ever overlapped
    assert [t for t, _ in bounds] == ["run.started", "run.finished"] * len(run_ids)
    assert all(bounds[i][1] == bounds[i + 1][1] for i in range(0, len(bounds), 2))


async def test_kill_9_of_a_mid_turn(cluster: Cluster, redis_server: RedisServer) -> None:
    first, second = await _two(cluster)
    sid, run = await _started(first, "sleep:30")
    run_a = run["run_id"]
    a, b = await _worker_of(run, first, second)  # A runs it, whichever accepted it
    async with httpx2.AsyncClient(base_url=b.url, timeout=10) as cb:
        waiting = await cb.post(f"/api/sessions/{sid}/messages", json={"text": "queued"})
        run_b = waiting.json()["run_id"]
        seen: list[dict[str, Any]] = []
        async with cb.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
            async for event in data_events(resp):
                seen.append(event)
                if event["type"] == "fault.tick" and event["data"]["i"] == 2:
                    break
        a.kill()
        # within the lease (1 s) and a sweep (0.5 s) B marks the started run interrupted
        # (at most once), and runs the one still queued (an accepted turn is not lost)
        run = await _run_status(cb, run_a, "interrupted", 10)
        assert "stopped before this run ended" in run["error"]
        run = await _run_status(cb, run_b, "finished", 10)
        assert run["outputs"] == {"response": "done: queued"}
        turns = {t["run_id"]: t["status"] for t in await history(cb, sid)}
        assert turns == {run_a: "interrupted", run_b: "finished"}  # the leases expire
        # together, so which of the two the session records first is not fixed
        done = await turn(cb, sid, "after the crash")  # the session is usable on B
        assert (done["status"], done["outputs"]) == (
            "finished",
            {"response": "done: after the crash"},
        )
        # a stream resumed on B after the last event this client saw gets exactly what
        # Redis holds after it: nothing lost, nothing repeated
        last = seen[-1]["seq"]
        with redis_server.client() as r:
            key = f"{a.prefix}events:{sid}"  # type: ignore[attr-defined]
            held = [json.loads(f[b"e"]) for _, f in r.xrange(key, f"({last}-0", "+")]
        assert held[-1]["type"] == "run.ledger"  # after the last turn's run.finished
        got: list[dict[str, Any]] = []
        headers = {"Last-Event-ID": str(last)}
        async with cb.stream("GET", f"/api/sessions/{sid}/events", headers=headers) as resp:
            with anyio.fail_after(10):
                async for event in data_events(resp):
                    got.append(event)
                    if len(got) == len(held):
                        break
        assert got == held
        assert [e["seq"] for e in got] == list(range(last + 1, last + 1 + len(got)))
        assert [e["run_id"] for e in got if e["type"] == "run.interrupted"] == [run_a]


async def test_redis_unreachable_at_start_names_the_url(tmp_path: Any) -> None:
    port = free_port()  # nothing listens there
    env = {**os.environ, "COGPIPE_REDIS_URL": f"redis://:secret@127.0.0.1:{port}/0"}
    env["COGPIPE_DATA_DIR"] = str(tmp_path)
    cmd = [sys.executable, "-m", "cogpipe.server.cli", "serve", "--port", str(free_port())]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"error: cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in done.stderr
    assert "secret" not in done.stderr


async def test_health_shows_redis_going_away_and_coming_back(
    cluster: Cluster, tmp_path: Any
) -> None:
    own = RedisServer(tmp_path)  # this test restarts its Redis
    own.start()
    try:
        a = cluster("a", COGPIPE_REDIS_URL=own.url)
        await a.start()
        async with httpx2.AsyncClient(base_url=a.url, timeout=10) as c:
            assert (await c.get("/api/health")).json()["redis"]["up"] is True
            own.stop()
            health = (await c.get("/api/health")).json()
            assert health["status"] == "ok"
            assert health["redis"]["up"] is False and health["redis"]["error"]
            r = await c.post("/api/sessions", json={"graph": "step"})
            assert r.status_code == 503, r.text  # nothing accepted while Redis is away
            own.start()  # same port, empty (no persistence in the test)
            with anyio.fail_after(10):
                while not (await c.get("/api/health")).json()["redis"]["events_up"]:
                    await anyio.sleep(0.1)
            sid = await session_on(c, "step")
            async with c.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
                run = await turn(c, sid, "back")
                assert run["status"] in ENDED and run["status"] == "finished"
                with anyio.fail_after(10):
                    async for event in data_events(resp):
                        if event["type"] == "run.finished":
                            break
    finally:
        own.stop()


async def test_serve_workers_n_shares_one_port(tmp_path: Any, redis_server: RedisServer) -> None:
    Serve(tmp_path)  # writes the fault graphs
    port = free_port()
    env = {
        **os.environ,
        "COGPIPE_DATA_DIR": str(tmp_path),
        "COGPIPE_GRAPHS_DIR": str(tmp_path / "graphs"),
        "COGPIPE_DEFAULT_GRAPH": "step",
        "COGPIPE_TOOL_SERVERS": "none",
        "COGPIPE_NODE_MODULES": kinds.__file__,
        "COGPIPE_REDIS_URL": redis_server.url,
        "COGPIPE_REDIS_PREFIX": f"w{port}:",
    }
    cmd = [sys.executable, "-m", "cogpipe.server.cli", "serve", "--port", str(port)]
    alone = subprocess.run(
        [*cmd, "--workers", "2"],
        env={**env, "COGPIPE_REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert alone.returncode == 1
    assert "--workers 2: several processes share sessions" in alone.stderr
    with (tmp_path / "serve.log").open("ab") as log:
        proc = subprocess.Popen([*cmd, "--workers", "2"], env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        workers: set[str] = set()
        with anyio.fail_after(30):
            while len(workers) < 2:  # a new connection each time: the kernel spreads them
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                try:
                    async with httpx2.AsyncClient(base_url=url, timeout=5) as c:
                        workers.add((await c.get("/api/health")).json()["redis"]["worker"])
                except httpx2.TransportError:
                    await anyio.sleep(0.1)
        async with httpx2.AsyncClient(base_url=url, timeout=10) as c:
            sids = [await session_on(c, "step") for _ in range(6)]
            runs: list[dict[str, Any]] = []

            async def one(sid: str) -> None:
                runs.append(await turn(c, sid, "sleep:0.5"))

            async with anyio.create_task_group() as tg:
                for sid in sids:
                    tg.start_soon(one, sid)
        assert {r["status"] for r in runs} == {"finished"}
        assert {r["worker"] for r in runs} == workers  # both processes took turns
    finally:
        proc.terminate()
        proc.wait(20)


async def test_a_graph_switch_on_b_during_a_turn_on_a_is_kept(cluster: Cluster) -> None:
    a, b = await _two(cluster)
    sid, run = await _started(a, "sleep:1")
    async with httpx2.AsyncClient(base_url=b.url, timeout=10) as cb:
        r = await cb.put(f"/api/sessions/{sid}/graph", json={"graph": "ask"})
        assert r.status_code == 200, r.text
        assert (await cb.get(f"/api/runs/{run['run_id']}")).json()["status"] == "finished"
        r = await cb.put(f"/api/sessions/{sid}/dashboard", json={"version": 1, "controls": []})
        assert r.status_code == 204
    for serve in (a, b):  # the turn's save did not undo the switch (it waited for it)
        async with httpx2.AsyncClient(base_url=serve.url, timeout=10) as c:
            session = (await c.get(f"/api/sessions/{sid}")).json()
        assert session["graph"] == "ask"
        assert session["state"]["dashboard"] == {"version": 1, "controls": []}
        assert [t["run_id"] for t in session["history"]] == [run["run_id"]]


GATED = """\
name: gated
description: the step node waits for a person's approval
entry: {message: step.text}
nodes:
  step: {kind: fault_step_v1}
outputs: {response: step.response}
approval: [step]
"""


async def test_a_run_paused_on_a_is_resumed_through_b(cluster: Cluster) -> None:
    first, second = cluster("a"), cluster("b")
    for serve in (first, second):
        (serve.root / "graphs" / "gated.yaml").write_text(GATED)
        await serve.start()
    async with httpx2.AsyncClient(base_url=first.url, timeout=10) as c:
        sid = await session_on(c, "gated")
        r = await c.post(f"/api/sessions/{sid}/messages", json={"text": "hi"})
        run = await _run_status(c, r.json()["run_id"], "paused", 10)
    _, b = await _worker_of(run, first, second)  # paused on the other one
    run_id = run["run_id"]
    async with httpx2.AsyncClient(base_url=b.url, timeout=10) as cb:
        bad = await cb.post(f"/api/runs/{run_id}/resume", json={"action": "fly"})
        assert bad.status_code == 422, bad.text  # A's answer, relayed by B
        r = await cb.post(
            f"/api/runs/{run_id}/resume", json={"action": "continue", "inputs": {"text": "ok"}}
        )
        assert r.status_code == 200, r.text
        done = await _run_status(cb, run_id, "finished", 10)
        assert done["outputs"] == {"response": "done: ok"} and done["worker"] == run["worker"]
        again = await cb.post(f"/api/runs/{run_id}/resume", json={"action": "continue"})
        assert again.status_code == 409


async def test_breakpoints_set_on_b_pause_the_turn_wherever_it_runs(cluster: Cluster) -> None:
    a, b = await _two(cluster)
    async with (
        httpx2.AsyncClient(base_url=a.url, timeout=10) as ca,
        httpx2.AsyncClient(base_url=b.url, timeout=10) as cb,
    ):
        sids = [await session_on(ca, "step") for _ in range(6)]
        for sid in sids:
            r = await cb.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["step"]})
            assert r.status_code == 200, r.text
        await anyio.sleep(0.3)  # the other process applies them from the channel
        assert (await ca.get(f"/api/sessions/{sids[0]}/breakpoints")).json()["before"] == ["step"]
        run_ids = []
        for sid in sids:
            r = await ca.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
            run_ids.append(r.json()["run_id"])
        paused = [await _run_status(ca, run_id, "paused", 10) for run_id in run_ids]
        for run in paused:
            r = await ca.post(f"/api/runs/{run['run_id']}/resume", json={"action": "continue"})
            assert r.status_code == 200, r.text
            assert (await _run_status(cb, run["run_id"], "finished", 10))["outputs"] == {
                "response": "done: x"
            }
    assert len({run["worker"] for run in paused}) == 2  # both processes paused a turn
