"""``/api/hooks``: hook-style events from other agents, bounded, validated, behind the
same token and body limit as the rest of the API; and the forwarder's counters in
``/api/health``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from cogpipe.hooks import HookEvent
from cogpipe.server import hooks
from tests.helpers.hooks_receiver import HookReceiver

from .conftest import Running, new_session, run_to_end, send


def hook(session: str = "s1", type_: str = "PreToolUse", **extra: Any) -> dict[str, Any]:
    return {
        "source_app": "claude-code",
        "session_id": session,
        "hook_event_type": type_,
        "payload": {"tool_name": "Bash", "tool_use_id": "t1"},
        "timestamp": 1764727200123,
        **extra,
    }


async def test_posted_events_form_external_sessions(serve: Callable[..., Running]) -> None:
    server = serve(token=None)
    async with httpx2.AsyncClient(base_url=server.url) as c:
        r = await c.post("/api/hooks/events", json=hook())
        assert r.status_code == 200
        assert r.json() == {"source_app": "claude-code", "session_id": "s1", "seq": 1}
        # the dashboard's hook script copies payload keys to the top level: kept
        extra = {"model_name": "opus", "tool_name": "Bash", "tool_use_id": "t1"}
        await c.post("/api/hooks/events", json=hook(type_="PostToolUse", **extra))
        await c.post("/api/hooks/events", json=hook("s2", "Stop"))
        sessions = (await c.get("/api/hooks/sessions")).json()
        assert [(s["session_id"], s["events"], s["last_type"]) for s in sessions] == [
            ("s2", 1, "Stop"),
            ("s1", 2, "PostToolUse"),
        ]
        assert sessions[1]["model_name"] == "opus"
        query = {"source_app": "claude-code", "session_id": "s1"}
        events = (await c.get("/api/hooks/events", params=query)).json()
        assert [(e["seq"], e["hook_event_type"]) for e in events] == [
            (1, "PreToolUse"),
            (2, "PostToolUse"),
        ]
        assert events[0]["payload"] == {"tool_name": "Bash", "tool_use_id": "t1"}
        assert events[0]["timestamp"] == 1764727200123
        assert events[1]["tool_name"] == "Bash" and events[1]["tool_use_id"] == "t1"
        later = (await c.get("/api/hooks/events", params={**query, "after": 1})).json()
        assert [e["seq"] for e in later] == [2]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**hook(), "session_id": ""}, "invalid request: session_id: String should have at least"),
        ({k: v for k, v in hook().items() if k != "source_app"}, "invalid request: source_app: "),
        ({**hook(), "timestamp": "soon"}, "invalid request: timestamp: "),
        ({**hook(), "timestamp": True}, "invalid request: timestamp: Input should be a valid int"),
        ({**hook(), "payload": [1]}, "invalid request: payload: Input should be a valid dict"),
        ({**hook(), "hook_event_type": 7}, "invalid request: hook_event_type: Input should be"),
        ({**hook(), "payload": {"x": "y" * 140_000}}, "request body too large"),
    ],
)
async def test_bad_events_are_refused_naming_the_field(
    client: httpx2.AsyncClient, body: dict[str, Any], error: str
) -> None:
    r = await client.post("/api/hooks/events", json=body)
    assert r.status_code in (413, 422) and r.json()["error"].startswith(error), r.json()


async def test_unknown_external_session_is_404(client: httpx2.AsyncClient) -> None:
    r = await client.get("/api/hooks/events", params={"source_app": "x", "session_id": "y"})
    assert r.status_code == 404 and "GET /api/hooks/sessions" in r.json()["error"]


async def test_the_token_guards_the_hook_endpoints(serve: Callable[..., Running]) -> None:
    server = serve(token="secret")
    async with httpx2.AsyncClient(base_url=server.url) as c:
        assert (await c.post("/api/hooks/events", json=hook())).status_code == 401
        assert (await c.get("/api/hooks/sessions")).status_code == 401
        auth = {"Authorization": "Bearer secret"}
        assert (await c.post("/api/hooks/events", json=hook(), headers=auth)).status_code == 200


async def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "MAX_SESSIONS", 3)
    store = hooks.HookStore()
    for i in range(5):
        store.add(HookEvent.model_validate(hook(f"s{i}")))
    store.add(HookEvent.model_validate(hook("s2")))  # active again: kept
    assert [s.session_id for s in store.sessions()] == ["s2", "s4", "s3"]
    for _ in range(hooks.MAX_EVENTS + 5):
        store.add(HookEvent.model_validate(hook("s2")))
    events = store.events("claude-code", "s2")
    assert len(events) == hooks.MAX_EVENTS
    assert events[-1].seq == hooks.MAX_EVENTS + 7  # s2 had 2 events before
    kept = [*events, *store.events("claude-code", "s4"), *store.events("claude-code", "s3")]
    assert store.bytes == sum(len(e.model_dump_json()) for e in kept)


async def test_bytes_are_bounded_oldest_sessions_first(monkeypatch: pytest.MonkeyPatch) -> None:
    store = hooks.HookStore()
    big = {"x": "y" * 10_000}  # each event is some 10 KB of JSON
    store.add(HookEvent.model_validate({**hook("old"), "payload": big}))
    store.add(HookEvent.model_validate({**hook("old"), "payload": big}))
    monkeypatch.setattr(hooks, "MAX_BYTES", store.bytes + 5_000)  # room for two events
    store.add(HookEvent.model_validate({**hook("new"), "payload": big}))  # old's first goes
    assert [e.seq for e in store.events("claude-code", "old")] == [2]
    store.add(HookEvent.model_validate({**hook("new"), "payload": big}))  # and old is gone
    assert [s.session_id for s in store.sessions()] == ["new"]
    kept = store.events("claude-code", "new")
    assert [e.seq for e in kept] == [1, 2]
    assert store.bytes == sum(len(e.model_dump_json()) for e in kept) <= hooks.MAX_BYTES


async def test_health_shows_the_forwarders_counters(serve: Callable[..., Running]) -> None:
    receiver = HookReceiver()
    try:
        server = serve(token=None, settings={"hooks_url": receiver.url})
        async with httpx2.AsyncClient(base_url=server.url, timeout=10) as c:
            sid = await new_session(c)
            await run_to_end(c, await send(c, sid, "hello"))
            health = (await c.get("/api/health")).json()
    finally:
        receiver.close()
    assert health["hooks"]["url"] == receiver.url
    assert health["hooks"]["source_app"] == "cogpipe"
    assert health["hooks"]["sent"] + health["hooks"]["queued"] >= 3
    assert health["hooks"]["dropped"] == health["hooks"]["failed"] == 0


async def test_health_without_forwarding(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/api/health")).json()["hooks"] is None
