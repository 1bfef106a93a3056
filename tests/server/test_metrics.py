"""Metrics: ``/metrics`` in the Prometheus text format, whose counters match a scripted
conversation's trace exactly, the per-session and aggregate JSON, token protection, and
the event catalogue's schema route."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx2
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cogpipe.engine import TraceEvent
from cogpipe.engine.events import EVENTS
from cogpipe.server.metrics import Metrics, percentile
from cogpipe.settings import ModelPrice, shipped_graphs_dir

from .conftest import new_session, run_to_end, send, wait_for

PRICE = {"input": 2.0, "output": 8.0}
SCRIPT = [
    "How many customers are in Berlin?",
    "Hi there!",
    "List customers in Munich",
    "Thanks, bye!",
]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def expected(events: list[Any]) -> dict[str, Counter[Any]]:
    """What the trace says: LLM attempts, tokens and tool calls by their labels."""
    want: dict[str, Counter[Any]] = {"llm": Counter(), "tokens": Counter(), "tools": Counter()}
    for e in events:
        d = e.data or {}
        if e.type == "llm.response":
            want["llm"][(d["model"], "ok")] += 1
            want["tokens"][(d["model"], "input")] += d["tokens_in"] or 0
            want["tokens"][(d["model"], "output")] += d["tokens_out"] or 0
        elif e.type == "llm.failed":
            want["llm"][(d["model"], "failed")] += 1
        elif e.type == "tool.finished":
            want["tools"][(d["server"], d["tool"], "ok" if d["ok"] else "error")] += 1
        elif e.type == "tool.failed":
            refused = d["server"] is None
            want["tools"][(d["server"] or "", "(refused)" if refused else d["tool"], "failed")] += 1
    return want


async def test_metrics_match_a_scripted_conversation_exactly(serve) -> None:
    running = serve(
        settings={
            "tool_servers": None,  # the demo database server
            "graphs_dir": shipped_graphs_dir(),
            "default_graph": "v2-director-drives",
            "prices": {"offline": PRICE},
        }
    )
    async with httpx2.AsyncClient(base_url=running.url, timeout=30) as client:
        sids = [await new_session(client), await new_session(client, "v1-current")]
        for sid in sids:
            for text in SCRIPT:
                run = await run_to_end(client, await send(client, sid, text), timeout=30)
                assert run["status"] == "finished", run
        text = (await client.get("/metrics")).text
        per_session = [(await client.get(f"/api/metrics/sessions/{sid}")).json() for sid in sids]
        aggregate = (await client.get("/api/metrics/aggregate")).json()
        missing = await client.get("/api/metrics/sessions/nope")
    events = [e for sid in sids for e in running.runtime.ring.events(sid)]
    want = expected(events)
    assert want["tools"] and want["llm"], "the script must call tools and the model"
    got = samples(text)

    def counted(name: str, keys: tuple[str, ...]) -> Counter[Any]:
        return Counter(
            {
                tuple(dict(labels)[k] for k in keys): value
                for (n, labels), value in got.items()
                if n == name and value
            }
        )

    assert counted("cogpipe_llm_requests_total", ("model", "outcome")) == want["llm"]
    assert counted("cogpipe_llm_tokens_total", ("model", "direction")) == want["tokens"]
    assert counted("cogpipe_tool_calls_total", ("server", "tool", "outcome")) == want["tools"]
    turns = counted("cogpipe_turns_total", ("graph", "status"))
    assert turns == {("v2-director-drives", "finished"): 4, ("v1-current", "finished"): 4}
    assert got[("cogpipe_queued_turns", ())] == 0
    assert got[("cogpipe_turn_duration_seconds_count", (("graph", "v1-current"),))] == 4
    tokens_in = sum(v for (_, d), v in want["tokens"].items() if d == "input")
    tokens_out = sum(v for (_, d), v in want["tokens"].items() if d == "output")
    assert tokens_in > 0 and tokens_out > 0
    cost = (tokens_in * PRICE["input"] + tokens_out * PRICE["output"]) / 1e6
    assert got[("cogpipe_llm_cost_total", (("model", "offline"),))] == pytest.approx(cost)

    for sid, figures in zip(sids, per_session, strict=True):
        mine = expected(running.runtime.ring.events(sid))
        assert figures["turns"] == 4 and figures["turns_by_status"] == {"finished": 4}
        assert figures["llm_calls"] == sum(mine["llm"].values())
        assert figures["tool_calls"] == sum(mine["tools"].values())
        assert figures["latency_ms"]["p50"] <= figures["latency_ms"]["p95"]
        assert {(e["from"], e["to"]) for e in figures["edges"]} >= {("input", "director")}
    assert aggregate["turns"] == 8 and aggregate["sessions"] == 2
    assert aggregate["tokens_in"] == tokens_in and aggregate["tokens_out"] == tokens_out
    assert aggregate["cost"] == pytest.approx(cost) and aggregate["unpriced_tokens"] == 0
    assert aggregate["tool_calls"] == sum(want["tools"].values())
    assert missing.status_code == 404


async def test_metrics_need_the_token_and_apps_do_not_share_counts(serve) -> None:
    guarded, other = serve(token="s3cret"), serve()
    async with httpx2.AsyncClient(base_url=guarded.url) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/api/metrics/aggregate")).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        sid = (await client.post("/api/sessions", json={}, headers=auth)).json()["id"]
        r = await client.post(f"/api/sessions/{sid}/messages", json={"text": "x"}, headers=auth)
        run_id = r.json()["run_id"]
        client.headers.update(auth)
        await run_to_end(client, run_id)
        ok = await client.get("/metrics")
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert samples(ok.text)[("cogpipe_turns_total", (("graph", "chat"), ("status", "finished")))]
    async with httpx2.AsyncClient(base_url=other.url) as client:
        fresh = samples((await client.get("/metrics")).text)
    assert not any(n == "cogpipe_turns_total" for n, _ in fresh)


async def test_the_event_schema_route_lists_every_catalogued_type(client) -> None:
    r = await client.get("/api/events/schema")
    assert r.status_code == 200
    body = r.json()
    assert set(body["events"]) == set(EVENTS)
    edge = body["events"]["edge.fired"]["data"]
    assert edge["required"] == ["from", "to", "preview"]
    assert edge["additionalProperties"] is False


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


async def test_gauges_count_queued_turns_and_open_streams(serve) -> None:
    running = serve()
    async with httpx2.AsyncClient(base_url=running.url, timeout=10) as client:
        sid = await new_session(client, "slow")
        first, second = await send(client, sid, "a"), await send(client, sid, "b")
        got = samples((await client.get("/metrics")).text)
        assert got[("cogpipe_queued_turns", ())] == 1  # 'b' waits behind 'a'
        assert got[("cogpipe_sse_clients", ())] == 0
        async with client.stream("GET", f"/api/sessions/{sid}/events"):
            await wait_for(lambda: running.subscribers() == 1)
            got = samples((await client.get("/metrics")).text)
            assert got[("cogpipe_sse_clients", ())] == 1
        for run_id in (first, second):
            await run_to_end(client, run_id)
        got = samples((await client.get("/metrics")).text)
    assert got[("cogpipe_queued_turns", ())] == 0
    assert got[("cogpipe_turns_total", (("graph", "slow"), ("status", "finished")))] == 2
    nap = got[("cogpipe_node_duration_seconds_sum", (("kind", "srv_nap_v1"),))]
    assert 0.6 <= nap < 1.5  # two naps of 0.3 s


def test_refused_tool_calls_share_one_series_and_unpriced_tokens_are_counted() -> None:
    metrics = Metrics({"priced": ModelPrice(input=1, output=1)})

    def event(type: str, **data: Any) -> TraceEvent:
        return TraceEvent(1, 0.0, "s1", "r1", "g", type, "n", "k", data)

    for name in ("made_up_1", "made_up_2"):
        metrics.on_event(
            event(
                "tool.failed",
                server=None,
                tool=name,
                call_id="c",
                error="unknown tool",
                error_kind="unknown",
                duration_ms=0.0,
            )
        )
    for model in ("priced", "free"):
        metrics.on_event(
            event(
                "llm.response",
                call_id="c",
                call="complete",
                model=model,
                purpose="p",
                attempt=1,
                tokens_in=1000,
                tokens_out=500,
                latency_ms=5.0,
                finish_reason="stop",
                truncated=False,
                output="x",
            )
        )
    got = samples(generate_latest(metrics.registry).decode())
    labels = (("outcome", "failed"), ("server", ""), ("tool", "(refused)"))
    assert got[("cogpipe_tool_calls_total", labels)] == 2
    assert not any("made_up" in str(key) for key in got)
    figures = metrics.session("s1").to_json()
    assert figures["tool_failures"] == 2
    assert figures["cost"] == pytest.approx(1500 / 1e6) and figures["unpriced_tokens"] == 1500
