"""Hook-style event forwarding to a real HTTP receiver on 127.0.0.1: mapped events in
order, and a receiver that is down, slow or refusing never holds up a run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from cogpipe.assembly import open_runtime
from cogpipe.engine import TraceEvent
from cogpipe.forward import HookForwarder
from tests.helpers.hooks_receiver import HookReceiver
from tests.helpers.runtime import Conversation
from tests.helpers.server_thread import free_port

from .conftest import QUESTION, demo_settings


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver()
    yield r
    r.close()


async def drained(forwarder: HookForwarder, timeout_s: float = 10) -> None:
    with anyio.fail_after(timeout_s):
        while forwarder.stats()["queued"] or forwarder.sent + forwarder.failed == 0:
            await anyio.sleep(0.02)
        await anyio.sleep(0.1)


async def test_a_turn_arrives_mapped_and_in_order(tmp_path: Path, receiver: HookReceiver) -> None:
    conv = Conversation()
    config = demo_settings(tmp_path, hooks_url=receiver.url, hooks_source_app="ops-bot")
    async with open_runtime(config, observers=[conv.observer]) as rt:
        (forwarder,) = [o for o in rt.bus.observers if isinstance(o, HookForwarder)]
        conv.attach(rt, rt.create_session("v1-current").id)
        turn = await conv.say(QUESTION)
        await drained(forwarder)
        stats = forwarder.stats()
    forwarded = [e for e in conv.events if not e.type.endswith(".delta")]
    assert stats["sent"] == len(forwarded) == len(receiver.events)
    assert stats["dropped"] == stats["failed"] == stats["queued"] == 0
    got = receiver.events
    # the same events, in the same order, each with its cogpipe type and seq
    assert [e["payload"]["cogpipe"]["seq"] for e in got] == [e.seq for e in forwarded]
    assert [e["payload"]["cogpipe"]["type"] for e in got] == [e.type for e in forwarded]
    assert {e["source_app"] for e in got} == {"ops-bot"}
    assert {e["session_id"] for e in got} == {conv.session_id}
    assert [e["timestamp"] for e in got] == [round(e.ts * 1000) for e in forwarded]

    types = [e["hook_event_type"] for e in got]
    # the run's ledger (on by default) is computed after it ended, so it follows the Stop
    assert types[:2] == ["SessionStart", "UserPromptSubmit"]
    assert types[-2:] == ["Stop", "run.ledger"]
    assert got[1]["payload"]["prompt"] == QUESTION
    assert got[-2]["payload"]["status"] == "finished"
    pre, post = types.index("PreToolUse"), types.index("PostToolUse")
    assert pre < post and "node.started" in types and "llm.response" in types
    call = turn.of("tool.finished")[0]
    assert got[pre]["payload"]["tool_name"] == f"demo_db.{call['tool']}"
    assert got[pre]["payload"]["tool_use_id"] == got[post]["payload"]["tool_use_id"]
    assert got[pre]["payload"]["tool_use_id"] == call["call_id"]
    assert got[pre]["tool_name"] == got[pre]["payload"]["tool_name"]  # as send_event.py
    assert got[post]["tool_use_id"] == call["call_id"]
    assert "Berlin" in got[pre]["payload"]["tool_input"]
    assert got[post]["payload"]["tool_response"] == call["result"]
    llm = got[types.index("llm.response")]
    assert llm["model_name"] == turn.of("llm.response")[0]["model"]


async def timed_turn(tmp_path: Path, forwarder: HookForwarder | None) -> float:
    """Run a tool-using turn after a first one (which starts what starts lazily); return
    the second turn's duration in seconds."""
    conv = Conversation()
    observers = [conv.observer] + ([forwarder] if forwarder is not None else [])
    async with open_runtime(demo_settings(tmp_path), observers=observers) as rt:
        conv.attach(rt, rt.create_session("v1-current").id)
        await conv.say(QUESTION)  # warm: tools listed
        t0 = time.perf_counter()
        turn = await conv.say("How many customers do we have in Hamburg?")
        duration = time.perf_counter() - t0
    assert turn.tools()
    return duration


async def test_a_slow_receiver_does_not_slow_runs_and_drops_the_oldest(tmp_path: Path) -> None:
    slow = HookReceiver(delay=1.0)
    try:
        base = await timed_turn(tmp_path, None)
        async with HookForwarder(slow.url, max_queue=5) as forwarder:
            with_slow = await timed_turn(tmp_path, forwarder)
            stats = forwarder.stats()
    finally:
        slow.close()
    # waiting for the receiver would take ~1 s per event, some 60 s per turn
    assert with_slow < base + 0.5, (with_slow, base)
    assert stats["queued"] <= 5 and stats["dropped"] > 40
    assert stats["sent"] <= 2


async def test_a_receiver_that_is_down_counts_failures_after_retries(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/events"  # nothing listens there
    async with HookForwarder(url, retries=2, backoff_s=0.01, max_queue=10_000) as forwarder:
        base_duration = await timed_turn(tmp_path, forwarder)
        await drained(forwarder)
        stats = forwarder.stats()
    assert stats["sent"] == 0 and stats["dropped"] == 0 and stats["failed"] > 20
    assert base_duration < 5


async def test_a_refusing_receiver_is_not_retried(tmp_path: Path) -> None:
    refusing = HookReceiver(status=422)
    try:
        async with HookForwarder(refusing.url, retries=3, backoff_s=0.01) as forwarder:
            await timed_turn(tmp_path, forwarder)
            await drained(forwarder)
            stats = forwarder.stats()
    finally:
        refusing.close()
    assert stats["failed"] == refusing.requests > 0 and stats["sent"] == 0


async def test_leaving_delivers_what_is_queued(receiver: HookReceiver) -> None:
    events = [TraceEvent(i, 1.0, "s1", "r1", "g", "node.finished", "n") for i in range(1, 51)]
    async with HookForwarder(receiver.url) as forwarder:
        for event in events:
            forwarder.on_event(event)
    assert forwarder.stats()["sent"] == 50
    assert [e["payload"]["cogpipe"]["seq"] for e in receiver.events] == list(range(1, 51))


def test_cogpipe_run_forwards_its_turn(tmp_path: Path, receiver: HookReceiver) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cogpipe"), "run", "--memory", QUESTION],
        cwd=tmp_path,
        env={
            **os.environ,
            "COGPIPE_DATA_DIR": str(tmp_path),
            "COGPIPE_HOOKS_URL": receiver.url,
            "COGPIPE_HOOKS_SOURCE_APP": "terminal",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    types = [e["hook_event_type"] for e in receiver.events]
    assert types[:2] == ["SessionStart", "UserPromptSubmit"]
    assert types[-2:] == ["Stop", "run.ledger"]  # the ledger is computed after the run
    assert {"PreToolUse", "PostToolUse"} <= set(types)
    assert {e["source_app"] for e in receiver.events} == {"terminal"}
