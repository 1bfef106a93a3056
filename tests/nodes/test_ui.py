"""ui_v1: controls from thoughts, local clicks without an LLM, the dashboard check."""

from __future__ import annotations

from typing import Any

import pytest

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session
from cogpipe.engine.testing import run_node
from cogpipe.nodes.offline.conversation import controls_for
from cogpipe.nodes.types import Control, Controls, ThoughtResult
from cogpipe.nodes.ui import UI, apply_action, merge
from tests.helpers.openai_server import OpenAITestServer

COUNTER = [Control.model_validate(c) for c in controls_for("counter")]
LIGHT = [Control.model_validate(c) for c in controls_for("traffic light")]


def shown(session: Session) -> Controls:
    return Controls.model_validate(session.state["ui"])


async def show(controls: list[Control], session: Session | None = None) -> Session:
    thought = ThoughtResult(response="here", controls=controls)
    return (await run_node(UI, {"thought": thought}, session=session)).session


async def test_thought_controls_become_the_session_controls() -> None:
    run = await run_node(UI, {"thought": ThoughtResult(response="x", controls=COUNTER)})
    expected = Controls(controls=COUNTER, version=1)
    assert run.outputs.controls == expected
    assert shown(run.session) == expected
    assert run.events == [("ui.controls", expected.model_dump(mode="json"))]


async def test_unchanged_controls_send_no_event_and_keep_the_version() -> None:
    session = await show(COUNTER)
    run = await run_node(
        UI, {"thought": ThoughtResult(response="again", controls=COUNTER)}, session=session
    )
    assert run.outputs.controls.version == 1
    assert run.events == []


async def test_increment_click_changes_the_label_with_zero_llm_requests(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    session = await show(COUNTER)
    click = {"action": "increment", "control": "counter_inc", "payload": {"target": "counter"}}
    run = await run_node(UI, {"action": click}, session=session, llm=remote)
    label = next(c for c in run.outputs.controls.controls if c.id == "counter")
    assert label.value == 1 and run.outputs.controls.version == 2
    assert [t for t, _ in run.events] == ["ui.controls"]
    assert openai_server.chat_requests == []


def apply(controls: list[Control], **action: Any) -> tuple[list[Control], str | None]:
    from cogpipe.nodes.types import UIAction

    return apply_action(controls, UIAction.model_validate(action))


def value(controls: list[Control], cid: str) -> Any:
    return next(c for c in controls if c.id == cid).value


def test_clicks_find_their_label_through_the_button_payload() -> None:
    after, error = apply(COUNTER, action="decrement", control="counter_dec")
    assert error is None and value(after, "counter") == -1
    after, _ = apply(after, action="increment", control="counter_inc", payload={"step": 5})
    assert value(after, "counter") == 4
    after, _ = apply(after, action="reset", control="counter")
    assert value(after, "counter") == 0
    assert value(COUNTER, "counter") == 0  # the input is not changed


def test_toggle_flips_a_switch() -> None:
    switch = [Control.model_validate(c) for c in controls_for("a switch")]
    after, _ = apply(switch, action="toggle", control="switch_toggle")
    assert value(after, "switch") is True
    after, _ = apply(after, action="toggle", control="switch_toggle")
    assert value(after, "switch") is False


def test_machine_goes_only_along_its_transitions() -> None:
    after, error = apply(LIGHT, action="go", control="light", payload={"to": "green"})
    assert error is None and after[0].state == "green"
    same, error = apply(after, action="go", control="light", payload={"to": "red"})
    assert same is after
    assert error == "machine 'light' cannot go from 'green' to 'red'; allowed: yellow"


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ({"action": "increment", "payload": {"target": "nope"}}, "no control 'nope'"),
        (
            {"action": "go", "control": "counter", "payload": {"to": "x"}},
            "'counter' is a label, not a machine",
        ),
        ({"action": "increment", "control": "light"}, "'light' is a machine, not a label"),
        (
            {"action": "increment", "control": "counter", "payload": {"step": "2"}},
            "step must be a number, not '2'",
        ),
    ],
)
def test_refused_clicks_say_why(action: dict[str, Any], error: str) -> None:
    assert apply([*COUNTER, *LIGHT], **action) == ([*COUNTER, *LIGHT], error)


async def test_refused_click_is_reported_and_changes_nothing() -> None:
    session = await show(COUNTER)
    run = await run_node(
        UI, {"action": {"action": "increment", "payload": {"target": "x"}}}, session=session
    )
    assert run.outputs.controls.version == 1
    assert run.events == [
        (
            "ui.ignored",
            {
                "action": {"action": "increment", "control": None, "payload": {"target": "x"}},
                "reason": "no control 'x'",
            },
        )
    ]


async def test_non_local_actions_are_left_to_the_thinking_path() -> None:
    session = await show(COUNTER)
    run = await run_node(
        UI, {"action": {"action": "ask", "payload": {"text": "hi"}}}, session=session
    )
    assert run.outputs.controls.version == 1 and run.events == []


def test_merge_replaces_by_id_appends_new_ones_and_keeps_the_last() -> None:
    table = Control(id="results", type="table", columns=["a"], rows=[[1], [2]])
    newer = Control(id="counter", type="label", label="Counter", value=7)
    merged = merge([*COUNTER, table], [newer, *LIGHT], limit=4)
    assert [c.id for c in merged] == ["counter_inc", "counter_dec", "results", "light"]
    assert merge(COUNTER, [newer], limit=10)[0] == newer


async def test_dashboard_mismatch_resends_the_controls() -> None:
    session = await show(COUNTER)
    session.state["dashboard"] = {
        "version": 1,
        "controls": ["counter_inc", "counter_dec", "counter"],
    }
    run = await run_node(UI, {"thought": ThoughtResult(response="x")}, session=session)
    assert run.events == []  # the browser shows what was sent
    session.state["dashboard"] = {"version": 0, "controls": []}
    run = await run_node(UI, {"thought": ThoughtResult(response="x")}, session=session)
    assert run.events == [
        (
            "ui.mismatch",
            {
                "detail": "the browser shows version 0 with no controls, the server "
                "sent version 1 with ['counter', 'counter_inc', "
                "'counter_dec']"
            },
        ),
        ("ui.controls", Controls(controls=COUNTER, version=1).model_dump(mode="json")),
    ]
