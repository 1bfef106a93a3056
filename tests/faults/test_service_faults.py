"""Faults of the services a turn uses, through the real server: every one fails its
turn with a clear error, keeps what was accepted (the run record and the history say
what happened), and the next turn of the same session works."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Callable

import anyio
import httpx2
import pytest

from tests.helpers.openai_server import OpenAITestServer
from tests.helpers.server_thread import ServerThread

from .conftest import history, session_on, turn


@pytest.fixture
async def client(faulty: ServerThread) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=faulty.url, timeout=30) as c:
        yield c


LLM_FAULTS: dict[str, tuple[Callable[[OpenAITestServer], None], str, str]] = {
    # name: (the endpoint's fault, the message, what the run's error says)
    "500": (lambda s: s.fail(500, "upstream exploded", times=2), "hi", "HTTP 500"),
    "429": (lambda s: s.fail(429, "slow down", times=2), "hi", "HTTP 429"),
    "timeout": (lambda s: s.hang(), "hi", "no first byte"),  # timeouts are not retried
    "garbage": (lambda s: s.reply_non_json(times=2), "hi", "not JSON"),
    "truncated body": (lambda s: s.truncate_body(times=2), "hi", "broke off"),
    "broken stream": (
        lambda s: s.break_stream(after_chunks=2, times=1),
        "stream please",
        "broke off",
    ),
}


@pytest.mark.parametrize("fault", list(LLM_FAULTS))
async def test_an_llm_fault_fails_the_turn_clearly_and_the_next_turn_works(
    fault: str, client: httpx2.AsyncClient, openai_server: OpenAITestServer
) -> None:
    inject, text, says = LLM_FAULTS[fault]
    sid = await session_on(client, "ask")
    inject(openai_server)
    failed = await turn(client, sid, text)
    assert failed["status"] == "failed"
    assert "node 'ask' (fault_llm_v1) failed" in failed["error"]
    assert "LLM call" in failed["error"] and says in failed["error"], failed["error"]
    ok = await turn(client, sid, "hello again")
    assert ok["status"] == "finished" and ok["outputs"]["response"]
    assert [t["status"] for t in await history(client, sid)] == ["failed", "finished"]


async def _helper_pid(client: httpx2.AsyncClient, sid: str) -> int:
    run = await turn(client, sid, json.dumps({"tool": "helper.pid"}))
    assert run["status"] == "finished", run
    return int(run["outputs"]["response"])


async def _helper_status(client: httpx2.AsyncClient) -> dict:
    tools = (await client.get("/api/health")).json()["tools"]
    return next(t for t in tools if t["name"] == "helper")


async def test_a_tool_server_killed_mid_call_fails_the_turn_then_comes_back(
    client: httpx2.AsyncClient,
) -> None:
    sid = await session_on(client, "tool")
    before = await _helper_pid(client, sid)
    failed = await turn(client, sid, json.dumps({"tool": "helper.crash"}))
    assert failed["status"] == "failed"
    assert "tool server 'helper' failed during 'helper.crash'" in failed["error"]
    assert "the server process exited" in failed["error"]
    assert await _helper_pid(client, sid) != before  # restarted for the next turn
    echo = await turn(client, sid, json.dumps({"tool": "helper.echo", "arguments": {"text": "x"}}))
    assert (echo["status"], echo["outputs"]) == ("finished", {"response": "x"})


async def test_a_tool_server_killed_while_idle_is_restarted_for_the_next_turn(
    client: httpx2.AsyncClient,
) -> None:
    sid = await session_on(client, "tool")
    before = await _helper_pid(client, sid)
    os.kill(before, signal.SIGKILL)
    with anyio.fail_after(5):  # noticed without a call, and shown in /api/health
        while (helper := await _helper_status(client))["status"] == "up":
            await anyio.sleep(0.05)
    assert helper["error"] == "the server process exited"
    assert await _helper_pid(client, sid) != before
    assert (await _helper_status(client))["status"] == "up"
    assert [t["status"] for t in await history(client, sid)] == ["finished", "finished"]


async def test_a_node_exception_fails_its_run_not_the_session(client: httpx2.AsyncClient) -> None:
    sid = await session_on(client, "step")
    failed = await turn(client, sid, "fail")
    assert failed["status"] == "failed"
    assert failed["error"] == "node 'step' (fault_step_v1) failed: RuntimeError: told to fail"
    assert (await turn(client, sid, "next"))["outputs"] == {"response": "done: next"}


async def test_a_client_leaving_mid_stream_loses_nothing(
    client: httpx2.AsyncClient, faulty: ServerThread
) -> None:
    sid = await session_on(client, "step")
    r = await client.post(f"/api/sessions/{sid}/messages", json={"text": "sleep:0.5"})
    run_id = r.json()["run_id"]
    path = f"/api/sessions/{sid}/events?last_event_id=0"
    async with (
        httpx2.AsyncClient(base_url=faulty.url) as leaving,
        leaving.stream("GET", path) as resp,
    ):
        async for line in resp.aiter_lines():
            if "fault.tick" in line:
                break  # leave in the middle of the turn
    with anyio.fail_after(10):
        while (run := (await client.get(f"/api/runs/{run_id}")).json())["status"] == "running":
            await anyio.sleep(0.02)
    assert run["status"] == "finished"
    # a new stream gets every event of the turn, the ones after the disconnect included
    async with client.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
        types = []
        async for line in resp.aiter_lines():
            if line.startswith("data: "):
                types.append(json.loads(line[6:])["type"])
                if types[-1] == "run.finished":
                    break
    assert types.count("fault.tick") == 5 and "stream.lost" not in types
    assert (await turn(client, sid, "after"))["status"] == "finished"
