"""The HUD stops a run and shows a live graph edit (issue 9, items 5 and 6): a breakpoint
set from the inspector pauses a run; continue, step, edited inputs (a refused edit
first) and reject work from the pause panel; a graph file edited while the server runs
is drawn as a diff, and an invalid edit shows its problems.

Screenshots go to ``test-results/hud/`` like the other HUD tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cogpipe.server.app import create_app
from cogpipe.settings import shipped_graphs_dir

from .conftest import LiveServer, _serving, _settings
from .helpers import click_node, node, send, session_id, shot, wait_until


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app (offline model, demo tools) over a copy of the shipped graphs, so a
    test may edit them."""
    tmp = tmp_path_factory.mktemp("debugger")
    graphs = tmp / "graphs"
    shutil.copytree(shipped_graphs_dir(), graphs, ignore=shutil.ignore_patterns("__*"))
    app = create_app(_settings(tmp, graphs_dir=graphs), token=None)
    with _serving(app) as server:
        yield server


@pytest.fixture
def dhud(page: Page, page_errors: list[str], debug_server: LiveServer) -> Iterator[Page]:
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(15_000)
    page.goto(debug_server.url + "/")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    yield page
    assert page_errors == [], f"the page reported errors: {page_errors}"


def _events(server: LiveServer, sid: str, type: str) -> list[Any]:
    return [e for e in server.app.state.runtime.ring.events(sid) if e.type == type]


def test_a_breakpoint_pauses_a_run_and_the_pause_panel_resumes_it(
    dhud: Page, debug_server: LiveServer, page_errors: list[str], screenshot_dir: Path
) -> None:
    page = dhud
    panel = page.get_by_test_id("pause-panel")
    wait_until(lambda: node(page, "input") is not None, "the graph is drawn")
    click_node(page, "input")
    page.get_by_test_id("bp-before").check()
    wait_until(
        lambda: debug_server.app.state.runtime.breakpoints(session_id(page)).before == ["input"],
        "the breakpoint reached the server",
    )
    expect(panel).to_be_hidden()

    # 1. pause before input; a refused edit, then an accepted one, and step
    send(page, "hello there")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("pause-node")).to_have_text("at input (before)")
    expect(page.get_by_test_id("pause-inputs")).to_have_value('{\n  "text": "hello there"\n}')
    wait_until(lambda: (node(page, "input") or {}).get("paused") is True, "input drawn paused")
    shot(page, screenshot_dir, "pause-1-before-input")
    page.get_by_test_id("pause-inputs").fill('{"text": 5}')
    page.get_by_test_id("pause-continue").click()
    error = page.get_by_test_id("pause-error")
    expect(error).to_contain_text("inputs do not fit node 'input' (input_v1)")
    expect(error).to_contain_text("text: Input should be a valid string")
    page_errors[:] = [e for e in page_errors if "422" not in e]  # the refusal, provoked
    shot(page, screenshot_dir, "pause-2-refused-edit")
    edited = "how many customers are in Paris?"
    page.get_by_test_id("pause-inputs").fill(f'{{"text": "{edited}"}}')
    page.get_by_test_id("pause-step").click()
    expect(page.get_by_test_id("pause-node")).to_contain_text("(step)")
    sid = session_id(page)
    (started,) = [e for e in _events(debug_server, sid, "node.started") if e.node == "input"]
    assert edited in started.data["inputs"]["text"]
    stepped = page.get_by_test_id("pause-node").inner_text().split()[1]
    assert stepped != "input"
    wait_until(lambda: (node(page, stepped) or {}).get("paused") is True, f"{stepped} paused")
    shot(page, screenshot_dir, "pause-3-stepped")

    # 2. reject the stepped-to node: it is skipped, the run goes on to its end
    page.get_by_test_id("pause-reject").click()
    expect(panel).to_be_hidden()
    wait_until(lambda: (node(page, stepped) or {}).get("state") == "skipped", f"{stepped} skipped")
    wait_until(lambda: bool(_events(debug_server, sid, "run.finished")), "the run finished")
    resumed = [e.data["action"] for e in _events(debug_server, sid, "run.resumed")]
    assert resumed == ["step", "reject"]

    # 3. the next message pauses again; continue runs it to an answer
    send(page, "hi")
    expect(panel).to_be_visible()
    page.get_by_test_id("pause-continue").click()
    expect(panel).to_be_hidden()
    wait_until(lambda: len(_events(debug_server, sid, "run.finished")) == 2, "the run finished")
    expect(page.locator('[data-testid="chat-assistant"].final').last).to_be_visible()
    shot(page, screenshot_dir, "pause-4-continued")
    page.get_by_test_id("bp-before").uncheck()
    wait_until(
        lambda: not debug_server.app.state.runtime.breakpoints(sid),
        "the breakpoint was removed",
    )


def test_a_graph_edit_is_drawn_live_and_an_invalid_one_shows_its_problems(
    dhud: Page, debug_server: LiveServer, screenshot_dir: Path
) -> None:
    page = dhud
    path = Path(debug_server.app.state.settings.graphs_dir) / "v2-director-drives.yaml"
    original = path.read_text()
    try:
        wait_until(lambda: node(page, "thinker") is not None, "the graph is drawn")
        edited = (
            original.replace(
                "thinker: {kind: thinker_v2, params: {max_steps: 6}}",
                "thinker: {kind: thinker_v2, params: {max_steps: 4}}",
            )
            .replace("context: [memorizer, sensor]", "context: [memorizer]")
            .replace("  sensor: {kind: sensor_v1, params: {tick_s: 1, idle_after_s: 300}}\n", "")
        )
        path.write_text(edited)
        diff = page.get_by_test_id("graph-diff")
        expect(diff).to_be_visible()
        expect(page.get_by_test_id("graph-diff-summary")).to_have_text(
            "removed: sensor · changed: thinker (params)"
        )
        wait_until(
            lambda: (node(page, "thinker") or {}).get("diff") == "changed", "thinker outlined"
        )
        assert (node(page, "sensor") or {}).get("diff") == "removed"  # drawn as a ghost
        assert (node(page, "output") or {}).get("diff") is None
        shot(page, screenshot_dir, "reload-1-diff")
        page.get_by_test_id("diff-dismiss").click()
        expect(diff).to_be_hidden()
        wait_until(lambda: (node(page, "thinker") or {}).get("diff") is None, "diff dismissed")
        assert node(page, "sensor") is None  # the ghost went with the diff

        path.write_text(original.replace("kind: thinker_v2", "kind: thinker_v9"))
        problems = page.get_by_test_id("graph-problems")
        expect(problems).to_be_visible()
        expect(problems).to_contain_text("v2-director-drives.yaml was edited and is invalid")
        expect(problems).to_contain_text("the last valid version of v2-director-drives keeps")
        expect(problems).to_contain_text("node 'thinker': unknown kind 'thinker_v9'")
        shot(page, screenshot_dir, "reload-2-invalid")
        assert (node(page, "thinker") or {}).get("kind") == "thinker_v2"  # still drawn, runs
    finally:
        path.write_text(original)
