"""The REST API over real HTTP: every endpoint and every error answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from cogpipe.engine import JsonlSink
from tests.helpers.server_thread import free_port

from .conftest import Running, new_session, run_to_end, send

VALID = ["burst", "chat", "failing", "mistyped", "slow"]
ALL = sorted([*VALID, "broken"])


# -- every error answer ----------------------------------------------------------------

S = "{sid}"  # replaced by a session on graph 'chat'
ERRORS: list[tuple[str, str, Any, int, str]] = [
    ("GET", "/api/graphs/nope", None, 404, f"unknown graph 'nope'. Known graphs: {', '.join(ALL)}"),
    (
        "PUT",
        "/api/default-graph",
        {"name": "nope"},
        422,
        "invalid request: name: unknown graph 'nope'. Known graphs: ",
    ),
    (
        "PUT",
        "/api/default-graph",
        {"name": "broken"},
        409,
        "graph 'broken' is invalid (1 problem); fix ",
    ),
    ("PUT", "/api/default-graph", {"graph": "chat"}, 422, "invalid request: name: Field required"),
    ("POST", "/api/sessions", {"graph": "nope"}, 422, "invalid request: graph: unknown graph"),
    ("POST", "/api/sessions", {"graph": "broken"}, 409, "graph 'broken' is invalid"),
    (
        "POST",
        "/api/sessions",
        {"graph": "chat", "colour": "red"},
        422,
        "invalid request: colour: Extra inputs are not permitted (see 'detail' for every problem)",
    ),
    ("GET", "/api/sessions?limit=0", None, 422, "invalid request: query.limit: "),
    (
        "GET",
        "/api/sessions/nope",
        None,
        404,
        "unknown session 'nope'; create one with POST "
        "/api/sessions or list them with GET /api/sessions",
    ),
    ("PUT", f"/api/sessions/{S}/graph", {"graph": "nope"}, 422, "invalid request: graph: unknown"),
    ("PUT", f"/api/sessions/{S}/graph", {"graph": "broken"}, 409, "graph 'broken' is invalid"),
    ("PUT", "/api/sessions/nope/graph", {"graph": "slow"}, 404, "unknown session 'nope'"),
    ("POST", "/api/sessions/nope/messages", {"text": "hi"}, 404, "unknown session 'nope'"),
    ("POST", f"/api/sessions/{S}/messages", {"text": ""}, 422, "invalid request: text: "),
    ("POST", f"/api/sessions/{S}/messages", {"text": "x" * 8001}, 422, "invalid request: text: "),
    ("POST", f"/api/sessions/{S}/messages", {}, 422, "invalid request: text: Field required"),
    ("POST", f"/api/sessions/{S}/messages", b"{not json", 422, "invalid request: body: JSON"),
    (
        "POST",
        f"/api/sessions/{S}/messages",
        {"text": "x" * 140_000},
        413,
        "request body too large: the limit is 128 KiB",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        {"control": "m"},
        422,
        "invalid request: action: Field required",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        {"action": "go", "colour": "red"},
        422,
        "invalid request: colour: Extra inputs are not permitted",
    ),
    ("PUT", f"/api/sessions/{S}/dashboard", {"version": -1}, 422, "invalid request: version: "),
    (
        "PUT",
        f"/api/sessions/{S}/dashboard",
        {"version": True},
        422,
        "invalid request: version: Input should be a valid integer",
    ),
    ("PUT", "/api/sessions/nope/dashboard", {"version": 1}, 404, "unknown session 'nope'"),
    ("GET", "/api/sessions/nope/events", None, 404, "unknown session 'nope'"),
    ("GET", "/api/runs/nope", None, 404, "unknown run 'nope': no run with this id"),
    ("POST", "/api/runs/nope/cancel", None, 404, "unknown run 'nope'"),
    ("GET", "/api/traces/nope.jsonl", None, 404, "unknown trace file 'nope.jsonl'; GET /api/"),
    ("GET", "/api/traces/%2E%2E", None, 404, "unknown trace file '..'"),
    ("GET", "/api/traces/..%2Fsessions.db", None, 404, "no such path: /api/traces/../sessions"),
    ("GET", "/api/traces/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", None, 404, "no such path: "),
    ("GET", "/api/nope", None, 404, "no such path: /api/nope; the API is described at /docs"),
    ("PATCH", "/api/health", None, 405, "PATCH is not allowed on /api/health; it answers GET"),
]


@pytest.fixture(scope="module")
async def chat_session(server: Running) -> str:
    async with httpx2.AsyncClient(base_url=server.url) as c:
        return await new_session(c)


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), ERRORS)
async def test_error_answers(
    client: httpx2.AsyncClient,
    chat_session: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    error: str,
) -> None:
    content = body if isinstance(body, bytes) else None
    r = await client.request(
        method,
        path.replace(S, chat_session),
        content=content,
        json=None if content is not None else body,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == status
    assert r.json()["error"].startswith(error), r.json()


async def test_error_answers_carry_what_exists(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/api/graphs/nope")).json()["known"] == ALL
    assert (await client.put("/api/default-graph", json={"name": "x"})).json()["known"] == VALID
    r = await client.post("/api/sessions", json={"graph": "broken"})
    assert r.json()["problems"][0].startswith("line 5: node 'a': unknown kind 'no_such_kind'")
    r = await client.post("/api/sessions", json={"graph": "chat", "colour": "red"})
    assert r.json()["detail"][0]["loc"] == ["body", "colour"]
    r = await client.post(
        f"/api/sessions/{await new_session(client, 'slow')}/actions", json={"action": "go"}
    )
    assert r.status_code == 409 and r.json() == {
        "error": "graph 'slow' has no entry 'action'. Entries: message",
        "known": ["message"],
    }


# -- health, graphs, default graph -----------------------------------------------------


async def test_health_names_llm_tools_default_graph(client: httpx2.AsyncClient) -> None:
    body = (await client.get("/api/health")).json()
    assert (body["status"], body["llm"]["mode"], body["llm"]["base_url"]) == ("ok", "offline", None)
    assert body["tools"] == [] and body["default_graph"] == "chat" and body["version"]
    assert isinstance(body["sessions"], int)
    assert body["llm"]["probe"]["reachable"] is True  # the offline model always answers


async def test_health_says_when_the_llm_endpoint_is_unreachable(serve) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    running = serve(settings={"llm": {"base_url": dead}})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        llm = (await c.get("/api/health")).json()["llm"]
    assert (llm["mode"], llm["base_url"]) == ("remote", dead)
    assert llm["probe"]["reachable"] is False
    assert llm["probe"]["detail"].startswith("cannot connect: ")


async def test_graphs_lists_valid_and_invalid(client: httpx2.AsyncClient) -> None:
    graphs = {g["name"]: g for g in (await client.get("/api/graphs")).json()}
    assert sorted(graphs) == ALL
    chat, broken = graphs["chat"], graphs["broken"]
    assert (chat["valid"], chat["problems"], chat["nodes"]) == (True, None, 2)
    assert chat["description"] == "Echoes messages and answers clicks."
    assert chat["path"].endswith("chat.yaml")
    assert (broken["valid"], broken["nodes"], len(broken["problems"])) == (False, 0, 1)
    assert broken["problems"][0].startswith("line 5: node 'a': unknown kind 'no_such_kind'.")


async def test_graph_detail_valid_and_invalid(client: httpx2.AsyncClient) -> None:
    body = (await client.get("/api/graphs/slow")).json()
    assert body["valid"] and body["problems"] is None and body["yaml"].startswith("name: slow\n")
    assert {n["data"]["id"] for n in body["elements"]["nodes"]} == {"entry:message", "nap", "echo"}
    assert ("nap", "echo") in {
        (e["data"]["source"], e["data"]["target"]) for e in body["elements"]["edges"]
    }
    assert body["mermaid"].startswith("flowchart LR\n")
    r = await client.get("/api/graphs/broken")
    body = r.json()
    assert r.status_code == 200 and body["valid"] is False and body["yaml"].startswith("name: b")
    assert body["elements"] is None and body["mermaid"] is None and body["problems"]


async def test_default_graph_get_and_put(serve) -> None:
    running = serve()
    async with httpx2.AsyncClient(base_url=running.url) as c:
        assert (await c.get("/api/default-graph")).json() == {"name": "chat"}
        r = await c.put("/api/default-graph", json={"name": "slow"})
        assert r.status_code == 200 and r.json() == {"name": "slow"}
        assert (await c.get("/api/default-graph")).json() == {"name": "slow"}
        assert (await c.post("/api/sessions", json={})).json()["graph"] == "slow"
        await c.put("/api/default-graph", json={"name": "broken"})  # refused: stays 'slow'
        assert (await c.get("/api/default-graph")).json() == {"name": "slow"}


async def test_without_a_valid_graph_sessions_cannot_start(serve, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    running = serve(settings={"graphs_dir": tmp_path / "empty", "default_graph": None})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        assert (await c.get("/api/default-graph")).json() == {"name": None}
        assert (await c.get("/api/health")).json()["default_graph"] is None
        assert (await c.get("/api/graphs")).json() == []
        r = await c.post("/api/sessions")
        assert r.status_code == 404 and r.json()["known"] == []
        assert r.json()["error"].startswith("no default graph: no valid graph in ")


# -- sessions and runs -----------------------------------------------------------------


async def test_create_list_get_session(client: httpx2.AsyncClient) -> None:
    r = await client.post("/api/sessions", json={"graph": "slow"})
    session = r.json()
    assert r.status_code == 201 and r.headers["location"] == f"/api/sessions/{session['id']}"
    assert (session["graph"], session["history"], session["seq"]) == ("slow", [], 1)
    assert session["controls"] is None and session["state"] == {}
    default = await new_session(client)
    listed = {s["id"]: s for s in (await client.get("/api/sessions")).json()}
    assert (listed[session["id"]]["graph"], listed[session["id"]]["turns"]) == ("slow", 0)
    assert listed[default]["graph"] == "chat"
    assert (await client.get("/api/sessions", params={"limit": 1})).json()[0]["id"] == default
    got = (await client.get(f"/api/sessions/{session['id']}")).json()
    assert got["id"] == session["id"] and got["created"] == session["created"]


async def test_message_runs_in_background_and_session_keeps_turn(
    client: httpx2.AsyncClient,
) -> None:
    sid = await new_session(client)
    r = await client.post(f"/api/sessions/{sid}/messages", json={"text": "hi"})
    accepted = r.json()
    assert r.status_code == 202 and (accepted["session_id"], accepted["status"]) == (sid, "queued")
    assert r.headers["location"] == f"/api/runs/{accepted['run_id']}"
    run = await run_to_end(client, accepted["run_id"])
    assert (run["status"], run["error"], run["graph"], run["entry"]) == (
        "finished",
        None,
        "chat",
        "message",
    )
    assert run["outputs"] == {"response": "echo: hi"}
    assert run["progress"] == {"done": 1, "skipped": 1, "total": 2}
    assert run["started"] >= run["queued"] and run["duration_ms"] > 0
    session = (await client.get(f"/api/sessions/{sid}")).json()
    (turn,) = session["history"]
    assert (turn["run_id"], turn["input"], turn["outputs"]) == (
        accepted["run_id"],
        "hi",
        {"response": "echo: hi"},
    )
    assert session["controls"] == {
        "version": 1,
        "controls": [{"id": "again", "type": "button", "label": "Again", "action": "again"}],
    }


async def test_action_runs_the_action_entry(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)
    r = await client.post(
        f"/api/sessions/{sid}/actions",
        json={"action": "go", "control": "m", "payload": {"to": "b"}},
    )
    run = await run_to_end(client, r.json()["run_id"])
    assert (r.status_code, run["entry"], run["status"]) == (202, "action", "finished")
    assert run["outputs"] == {"done": 'go:m:{"to": "b"}'}


async def test_switch_graph_takes_effect_next_turn(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)
    first = await run_to_end(client, await send(client, sid, "one"))
    r = await client.put(f"/api/sessions/{sid}/graph", json={"graph": "slow"})
    session = r.json()
    assert r.status_code == 200 and session["graph"] == "slow" and len(session["history"]) == 1
    assert session["controls"]["version"] == 1  # state is kept across the switch
    second = await run_to_end(client, await send(client, sid, "two"))
    assert (first["graph"], second["graph"]) == ("chat", "slow")
    assert second["progress"] == {"done": 2, "skipped": 0, "total": 2}
    assert (await client.get(f"/api/sessions/{sid}")).json()["controls"]["version"] == 2


async def test_dashboard_report_is_stored_in_state(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)
    r = await client.put(
        f"/api/sessions/{sid}/dashboard", json={"version": 3, "controls": ["again", "counter"]}
    )
    assert r.status_code == 204 and r.content == b""
    state = (await client.get(f"/api/sessions/{sid}")).json()["state"]
    assert state["dashboard"] == {"version": 3, "controls": ["again", "counter"]}


async def test_run_goes_queued_running_finished_with_progress(
    client: httpx2.AsyncClient,
) -> None:
    sid = await new_session(client, "slow")
    first, second = await send(client, sid, "first"), await send(client, sid, "second")
    seen: list[tuple[str, int]] = []  # the second waits behind the first
    with anyio.fail_after(10):
        while not seen or seen[-1][0] not in ("finished", "failed", "cancelled"):
            run = (await client.get(f"/api/runs/{second}")).json()
            if not seen or seen[-1] != (run["status"], run["progress"]["done"]):
                seen.append((run["status"], run["progress"]["done"]))
            await anyio.sleep(0.01)
    assert seen[0] == ("queued", 0) and seen[-1] == ("finished", 2)
    assert ("running", 0) in seen and ("running", 1) in seen
    assert [s for i, (s, _) in enumerate(seen) if i == 0 or seen[i - 1][0] != s] == [
        "queued",
        "running",
        "finished",
    ]
    assert (await client.get(f"/api/runs/{first}")).json()["status"] == "finished"


async def test_failing_node_fails_the_run_and_the_server_goes_on(
    client: httpx2.AsyncClient,
) -> None:
    sid = await new_session(client, "failing")
    run = await run_to_end(client, await send(client, sid, "x"))
    assert run["status"] == "failed" and run["outputs"] == {}
    assert run["error"] == "node 'boom' (srv_boom_v1) failed: ValueError: told to fail on 'x'"
    assert run["progress"] == {"done": 1, "skipped": 0, "total": 2}
    history = (await client.get(f"/api/sessions/{sid}")).json()["history"]
    assert [t["status"] for t in history] == ["failed"]
    await client.put(f"/api/sessions/{sid}/graph", json={"graph": "chat"})
    again = await run_to_end(client, await send(client, sid, "after"))
    assert (again["status"], again["outputs"]) == ("finished", {"response": "echo: after"})


async def test_run_that_cannot_start_fails_and_tells_the_streams(
    client: httpx2.AsyncClient,
    server: Running,
) -> None:
    sid = await new_session(client, "mistyped")
    run = await run_to_end(client, await send(client, sid, "not an action"))
    assert (run["status"], run["started"], run["progress"]["done"]) == ("failed", None, 0)
    assert run["error"].startswith("ValueError: entry 'message' -> clicked.action: payload does")
    (event,) = [e for e in server.runtime.ring.events(sid) if e.run_id == run["run_id"]]
    assert (event.type, event.data) == ("run.failed", {"error": run["error"]})


async def test_cancel_running_and_queued_runs(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "slow")
    running, queued = await send(client, sid, "a"), await send(client, sid, "b")
    with anyio.fail_after(5):
        while (await client.get(f"/api/runs/{running}")).json()["status"] != "running":
            await anyio.sleep(0.01)
    r = await client.post(f"/api/runs/{queued}/cancel")
    assert (r.status_code, r.json()["status"], r.json()["started"]) == (202, "cancelled", None)
    assert r.json()["duration_ms"] is None
    r = await client.post(f"/api/runs/{running}/cancel")
    assert (r.status_code, r.json()["status"]) == (202, "cancelled")
    assert 0 < r.json()["duration_ms"] < 2000
    r = await client.post(f"/api/runs/{running}/cancel")
    assert r.status_code == 409 and r.json()["run"]["status"] == "cancelled"
    assert r.json()["error"] == f"run '{running}' already ended as cancelled; nothing to cancel"
    history = (await client.get(f"/api/sessions/{sid}")).json()["history"]
    assert [(t["run_id"], t["status"]) for t in history] == [(running, "cancelled")]
    r = await client.get("/api/runs/nope")
    assert running in r.json()["known"] and queued in r.json()["known"]


async def test_too_many_waiting_runs_is_409(serve) -> None:
    running = serve()
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid, limit = await new_session(c, "slow"), running.runtime.max_waiting_turns
        codes = [
            (await c.post(f"/api/sessions/{sid}/messages", json={"text": "x"})).status_code
            for _ in range(limit + 2)
        ]
        assert codes == [202] * (limit + 1) + [409]
        r = await c.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
        assert r.json()["error"] == (
            f"session '{sid}' already has {limit} turns waiting; retry later"
        )


async def test_traces_list_and_download(client: httpx2.AsyncClient, server: Running) -> None:
    sid = await new_session(client)
    await run_to_end(client, await send(client, sid, "traced"))
    for sink in server.runtime.bus.observers:  # the JSONL sink writes from a thread
        if isinstance(sink, JsonlSink):
            sink.flush()
    (listed,) = (await client.get("/api/traces")).json()
    assert listed["name"] == "cogpipe.jsonl" and listed["size"] > 0 and listed["modified"] > 0
    r = await client.get("/api/traces/cogpipe.jsonl")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    events = [json.loads(line) for line in r.text.splitlines()]
    assert any(e["session_id"] == sid and e["type"] == "run.finished" for e in events)
