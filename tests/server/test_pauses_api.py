"""Breakpoints over real HTTP: set them, see a run paused with its pending inputs,
resume it (continue, step, edited inputs, reject), cancel it, let it expire."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2

from cogpipe.server.app import create_app

from .conftest import Running, make_settings, new_session, run_to_end, send, start_server


async def _paused(client: httpx2.AsyncClient, run_id: str) -> dict:
    with anyio.fail_after(5):
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] == "paused":
                return run
            await anyio.sleep(0.01)


async def test_breakpoints_get_and_put(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "slow")
    assert (await client.get(f"/api/sessions/{sid}/breakpoints")).json() == {
        "before": [],
        "after": [],
    }
    r = await client.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["ehco", "nap"]})
    assert r.status_code == 409
    assert r.json() == {
        "error": "graph 'slow' runs no node 'ehco'; its nodes: nap, echo",
        "unknown": ["ehco"],
        "known": ["nap", "echo"],
    }
    r = await client.put(f"/api/sessions/{sid}/breakpoints", json={"after": ["echo"]})
    assert r.json() == {"before": [], "after": ["echo"]}
    assert (await client.get(f"/api/sessions/{sid}/breakpoints")).json()["after"] == ["echo"]
    r = await client.get("/api/sessions/nope/breakpoints")
    assert r.status_code == 404


async def test_a_paused_run_resumes_with_edited_inputs(
    client: httpx2.AsyncClient, server: Running
) -> None:
    sid = await new_session(client, "slow")
    await client.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["echo"]})
    run_id = await send(client, sid, "hi")
    run = await _paused(client, run_id)
    pause = run["pause"]
    assert (pause["node"], pause["where"], pause["inputs"]) == ("echo", "before", {"text": "hi"})
    assert pause["editable"] is True and pause["deadline"] > pause["since"]
    assert run["progress"]["done"] == 1
    r = await client.post(f"/api/runs/{run_id}/resume", json={"action": "go"})
    assert r.status_code == 422 and "action" in r.json()["error"]
    r = await client.post(
        f"/api/runs/{run_id}/resume", json={"action": "continue", "inputs": {"text": 5}}
    )
    assert r.status_code == 422
    assert r.json()["error"].startswith("invalid request: inputs do not fit node 'echo'")
    assert r.json()["problems"][0]["loc"] == ["text"]
    assert (await client.get(f"/api/runs/{run_id}")).json()["status"] == "paused"
    r = await client.post(
        f"/api/runs/{run_id}/resume", json={"action": "continue", "inputs": {"text": "edited"}}
    )
    assert r.status_code == 200 and r.json()["status"] == "running" and r.json()["pause"] is None
    run = await run_to_end(client, run_id)
    assert (run["status"], run["outputs"]) == ("finished", {"response": "echo: edited"})
    types = [e.type for e in server.runtime.ring.events(sid) if e.run_id == run_id]
    assert types.index("run.paused") < types.index("run.resumed") < types.index("run.finished")
    r = await client.post(f"/api/runs/{run_id}/resume", json={"action": "continue"})
    assert r.status_code == 409
    assert r.json()["error"] == f"run '{run_id}' is not paused (it is finished)"
    assert (await client.post("/api/runs/nope/resume", json={"action": "step"})).status_code == 404


async def test_step_then_reject(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "slow")
    await client.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["nap"]})
    run_id = await send(client, sid, "hi")
    assert (await _paused(client, run_id))["pause"]["node"] == "nap"
    r = await client.post(f"/api/runs/{run_id}/resume", json={"action": "step"})
    assert r.status_code == 200
    run = await _paused(client, run_id)
    assert (run["pause"]["node"], run["pause"]["where"]) == ("echo", "step")
    await client.post(f"/api/runs/{run_id}/resume", json={"action": "reject"})
    run = await run_to_end(client, run_id)
    assert (run["status"], run["outputs"], run["progress"]["skipped"]) == ("finished", {}, 1)


async def test_a_paused_run_can_be_cancelled(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "slow")
    await client.put(f"/api/sessions/{sid}/breakpoints", json={"after": ["nap"]})
    run_id = await send(client, sid, "hi")
    assert (await _paused(client, run_id))["pause"]["outputs"] == {"text": "hi"}
    r = await client.post(f"/api/runs/{run_id}/cancel")
    assert (r.status_code, r.json()["status"]) == (202, "cancelled")


async def test_a_paused_run_fails_after_the_time_limit(serve) -> None:
    running = serve(settings={"pause_timeout_s": 0.3})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c, "slow")
        await c.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["echo"]})
        run = await run_to_end(c, await send(c, sid, "hi"))
    assert run["status"] == "failed"
    assert run["error"] == (
        "node 'echo' (srv_echo_v1) failed: PauseExpiredError: paused before node 'echo' for "
        "0.3 s without a decision (pause_timeout_s); resume paused runs with "
        "POST /api/runs/{run_id}/resume"
    )


async def test_a_paused_run_survives_a_server_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first = start_server(create_app(settings, token=None))
    try:
        async with httpx2.AsyncClient(base_url=first.url) as c:
            sid = await new_session(c, "slow")
            await c.put(f"/api/sessions/{sid}/breakpoints", json={"before": ["echo"]})
            run_id = await send(c, sid, "hi")
            await _paused(c, run_id)
    finally:
        first.stop()
    second = start_server(create_app(settings, token=None))
    try:
        async with httpx2.AsyncClient(base_url=second.url) as c:
            run = await _paused(c, run_id)  # known again, and paused where it was
            assert (run["pause"]["node"], run["pause"]["inputs"]) == ("echo", {"text": "hi"})
            assert run["progress"]["done"] == 1  # nap's stored output, not run again
            r = await c.post(f"/api/runs/{run_id}/resume", json={"action": "continue"})
            assert r.status_code == 200
            run = await run_to_end(c, run_id)
            assert (run["status"], run["outputs"]) == ("finished", {"response": "echo: hi"})
            history = (await c.get(f"/api/sessions/{sid}")).json()["history"]
            assert [(t["run_id"], t["status"]) for t in history] == [(run_id, "finished")]
        events = [e for e in second.runtime.ring.events(sid) if e.run_id == run_id]
        nap = [e for e in events if e.node == "nap" and e.type.startswith("node.")]
        assert [(e.type, e.data["restored"]) for e in nap] == [("node.finished", True)]
    finally:
        second.stop()
    third = start_server(create_app(settings, token=None))  # nothing left to restore
    try:
        async with httpx2.AsyncClient(base_url=third.url) as c:
            run = (await c.get(f"/api/runs/{run_id}")).json()  # the stored record
            assert (run["status"], run["outputs"]) == ("finished", {"response": "echo: hi"})
            history = (await c.get(f"/api/sessions/{sid}")).json()["history"]
            assert [(t["run_id"], t["status"]) for t in history] == [(run_id, "finished")]
    finally:
        third.stop()
