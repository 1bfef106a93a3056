"""sensor_v1: idle and dashboard flags from background ticks, one turn of context each."""

from __future__ import annotations

import time
from typing import Any

import anyio

from cogpipe.engine.node import RunContext
from cogpipe.engine.session import Session, Turn
from cogpipe.nodes.sensor import Sensor
from cogpipe.nodes.ui import dashboard_mismatch

Events = list[tuple[str, dict[str, Any] | None]]


def session_with_history(idle_s: float) -> Session:
    session = Session(id="s", graph="g")
    session.add_turn(Turn("r1", "g", "message", "hi", {}, "finished", time.time() - idle_s))
    return session


def context_for(sensor: Sensor, session: Session, events: Events) -> RunContext:
    return RunContext(
        node=sensor.id,
        kind=sensor.kind,
        run_id="",
        graph="g",
        session=session,
        context=[],
        emit=lambda t, n, k, d: events.append((t, d)),
    )


async def run_ticks(sensor: Sensor, session: Session, events: Events, until: Any) -> None:
    """Run sensor.start() in the background until ``until()`` holds (at most 5 s)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(sensor.start, context_for(sensor, session, events))
        with anyio.fail_after(5):
            while not until():
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()


def make(**params: Any) -> Sensor:
    return Sensor("sensor", Sensor.Params(tick_s=0.01, **params))


async def test_idle_user_is_flagged_and_the_return_reaches_one_turn() -> None:
    sensor, session, events = make(idle_after_s=60), session_with_history(3700), []
    await run_ticks(sensor, session, events, lambda: events)
    assert events == [("sensor.flag", {"flag": "idle", "detail": "no activity for 62 minutes"})]
    lines = sensor.context(session)
    assert lines == ["The user is back after 62 minutes of inactivity."]
    assert events[1:] == [
        ("sensor.flag", {"flag": "idle_return", "detail": "back after 62 minutes"})
    ]
    session.add_turn(Turn("r2", "g", "message", "back", {}, "finished", time.time()))
    assert sensor.context(session) == []  # cleared after one turn
    sensor.tick(session)
    assert len(events) == 2  # active again: no new idle flag


async def test_an_active_user_raises_nothing() -> None:
    sensor, session, events = make(idle_after_s=60), session_with_history(5), []
    for _ in range(3):
        sensor.tick(session)
    assert sensor.context(session) == [] and events == []
    assert make().context(Session(id="new", graph="g", updated=0.0)) == []  # no history yet


async def test_dashboard_mismatch_is_flagged_after_the_grace_time() -> None:
    sensor, session, events = make(dashboard_grace_s=0.05), session_with_history(1), []
    session.state["ui"] = {"controls": [{"id": "counter", "type": "label"}], "version": 3}
    session.state["dashboard"] = {"version": 2, "controls": []}
    detail = dashboard_mismatch(session)
    assert detail == (
        "the browser shows version 2 with no controls, the server sent version 3 with ['counter']"
    )
    start = time.monotonic()
    await run_ticks(sensor, session, events, lambda: events)
    assert time.monotonic() - start >= 0.05
    assert events == [("sensor.flag", {"flag": "dashboard_mismatch", "detail": detail})]
    assert sensor.context(session) == [
        f"The user's screen does not show the latest controls: {detail}."
    ]
    assert sensor.context(session) == []
    sensor.tick(session)
    assert len(events) == 1  # the same mismatch is flagged once


async def test_a_mismatch_that_resolves_within_the_grace_time_is_not_flagged() -> None:
    sensor, session, events = make(dashboard_grace_s=60), session_with_history(1), []
    session.state["ui"] = {"controls": [], "version": 1}
    session.state["dashboard"] = {"version": 0, "controls": []}
    sensor.tick(session, now=1000.0)
    session.state["dashboard"] = {"version": 1, "controls": []}
    sensor.tick(session, now=2000.0)
    assert events == [] and sensor.context(session) == []
    assert "mismatch" not in session.state["sensor"]


async def test_a_flag_raised_before_start_is_emitted_at_the_first_tick() -> None:
    sensor, session, events = make(idle_after_s=60), session_with_history(600), []
    assert sensor.context(session) == ["The user is back after 10 minutes of inactivity."]
    assert events == []
    await run_ticks(sensor, session, events, lambda: events)
    sensor.tick(session)  # the idle period ended with the return: no 'idle' flag for it
    assert events == [("sensor.flag", {"flag": "idle_return", "detail": "back after 10 minutes"})]
