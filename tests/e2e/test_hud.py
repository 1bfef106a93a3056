"""The HUD in a real Chromium against the real server (offline model, demo SQLite tools).

Each scenario saves what the page looked like to ``test-results/hud/<scenario>.png``.
Assertions are about what a person sees: text, visible elements, the colours the graph
draws (read through ``window.__hud``, documented in ``frontend/js/main.js``, because the
graph is a canvas).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

from cogpipe.engine import RunRecord, RunStatus
from cogpipe.engine.store import SqliteSessionStore
from tests.helpers.openai_server import OpenAITestServer

from .conftest import LiveServer, RestartableServer
from .helpers import (
    answer,
    click_node,
    expect_node,
    legend_colour,
    node,
    send,
    session_id,
    session_state,
    shot,
    slow_model,
    wait_until,
)

V2_NODES = ["input", "director", "thinker", "interpreter", "output", "ui", "memorizer", "sensor"]


# -- scenarios -----------------------------------------------------------------------


def test_default_graph_renders_all_nodes(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    expect(hud.get_by_test_id("graph-switcher")).to_have_value("v2-director-drives")
    expect(hud.get_by_test_id("model")).to_contain_text("offline")
    spec = httpx2.get(f"{live_server.url}/api/graphs/v2-director-drives").json()
    drawn_ids = sorted(n["data"]["id"] for n in spec["elements"]["nodes"])
    assert sorted([*V2_NODES, "entry:action", "entry:message"]) == drawn_ids
    box = hud.get_by_test_id("graph").bounding_box()
    assert box is not None
    for node_id in drawn_ids:
        drawn = node(hud, node_id)
        assert drawn is not None, f"{node_id} is not drawn"
        assert drawn["visible"]
        assert 0 < drawn["x"] < box["width"] and 0 < drawn["y"] < box["height"], drawn
        assert drawn["state"] == "idle"
    # laid out left to right: the entry before input, input before output
    assert node(hud, "entry:message")["x"] < node(hud, "input")["x"] < node(hud, "output")["x"]
    sensor = node(hud, "sensor")
    assert sensor is not None and sensor["role"] == "context"
    assert sensor["background"] == legend_colour(hud, "context")
    shot(hud, screenshot_dir, "default_graph")


def test_greeting_takes_the_reflex_path(hud: Page, screenshot_dir: Path) -> None:
    reply = answer(hud, "hello")
    expect(reply).not_to_be_empty()
    expect(hud.get_by_test_id("chat-user")).to_have_text(["hello"])
    done, skipped = legend_colour(hud, "done"), legend_colour(hud, "skipped")
    assert done != skipped
    for node_id in ["input", "output", "ui"]:
        expect_node(hud, node_id, "done", done)
    for node_id in ["director", "thinker", "interpreter"]:
        expect_node(hud, node_id, "skipped", skipped)
    bars = hud.get_by_test_id("timeline-bar")
    expect(bars.and_(hud.locator('[data-node="thinker"]'))).to_have_attribute(
        "data-state", "skipped"
    )
    shot(hud, screenshot_dir, "greeting_reflex")


def test_data_question_shows_the_tool_call(hud: Page, screenshot_dir: Path) -> None:
    reply = answer(hud, "how many customers do we have in Berlin?")
    expect(reply).to_contain_text("Berlin")
    expect(reply).to_contain_text(re.compile(r"\d+"))
    count = re.search(r"\d+", reply.inner_text())
    assert count is not None

    click_node(hud, "thinker")
    inspector = hud.get_by_test_id("inspector")
    expect(inspector.get_by_test_id("inspector-title")).to_have_text("thinker")
    expect(inspector.get_by_test_id("inspector-state")).to_have_text("done")
    call = inspector.get_by_test_id("inspector-tool-call")
    expect(call).to_have_count(1)
    expect(call).to_contain_text("demo_db.")
    expect(call).to_contain_text("Berlin")  # the arguments
    expect(call.locator(".hint")).to_have_text("read-only")  # the tool's MCP annotation
    expect(call).to_contain_text(count.group())  # the result the answer came from
    shot(hud, screenshot_dir, "data_question_inspector")

    hud.get_by_test_id("tab-log").click()
    hud.get_by_test_id("log-filter-type").select_option("tool.*")
    rows = hud.locator('[data-testid="log-row"]:visible')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("tool.started")
    expect(rows.nth(1)).to_contain_text("tool.finished")
    hud.get_by_test_id("log-filter-node").select_option("output")
    expect(rows).to_have_count(0)
    hud.get_by_test_id("log-filter-type").select_option("llm.*")
    expect(rows.first).to_contain_text("output")
    shot(hud, screenshot_dir, "data_question_log")


def test_list_request_renders_a_table(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    answer(hud, "list the customers in Berlin")
    table = hud.get_by_test_id("control-table")
    expect(table).to_be_visible()
    headers = table.locator("th").all_inner_texts()
    assert "name" in headers and "city" in headers, headers
    cities = table.locator(f"tbody td:nth-child({headers.index('city') + 1})").all_inner_texts()
    assert cities and set(cities) == {"Berlin"}, cities
    expect(table).to_contain_text(f"{len(cities)} rows")

    # after drawing, the page told the server what it shows
    version = int(hud.get_by_test_id("controls-version").inner_text().lstrip("v"))
    shown = hud.get_by_test_id("controls").locator(":scope > [data-control]")
    ids = shown.evaluate_all("els => els.map(el => el.dataset.control)")
    assert table.get_attribute("data-control") in ids
    sid = session_id(hud)
    report = {"version": version, "controls": ids}
    wait_until(
        lambda: session_state(live_server, sid)["state"].get("dashboard") == report,
        "the dashboard report reached the server",
    )
    shot(hud, screenshot_dir, "list_table")


def test_timeline_shows_output_and_ui_overlapping(hud: Page, screenshot_dir: Path) -> None:
    answer(hud, "how many customers do we have in Berlin?")
    timeline = hud.get_by_test_id("timeline")
    output = timeline.locator('[data-testid="timeline-bar"][data-node="output"]')
    ui = timeline.locator('[data-testid="timeline-bar"][data-node="ui"]')
    expect(output).to_have_attribute("data-state", "done")
    expect(ui).to_have_attribute("data-state", "done")
    out_box, ui_box = output.bounding_box(), ui.bounding_box()
    assert out_box is not None and ui_box is not None
    assert out_box["x"] < ui_box["x"] + ui_box["width"], (out_box, ui_box)
    assert ui_box["x"] < out_box["x"] + out_box["width"], (out_box, ui_box)
    # input ran before both, so its bar ends left of where theirs start
    input_box = timeline.locator('[data-testid="timeline-bar"][data-node="input"]').bounding_box()
    assert input_box is not None
    assert input_box["x"] + input_box["width"] <= min(out_box["x"], ui_box["x"]) + 1
    shot(hud, screenshot_dir, "timeline_overlap")


def test_switching_graphs_from_the_menu_and_from_the_api(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    switcher = hud.get_by_test_id("graph-switcher")
    switcher.select_option("v1-current")
    hud.wait_for_function("() => window.__hud.graph() === 'v1-current'")
    assert node(hud, "strategy") is not None
    assert node(hud, "interpreter") is None
    expect(hud.get_by_test_id("chat-note").last).to_contain_text(
        "from v2-director-drives to v1-current"
    )
    shot(hud, screenshot_dir, "switch_menu")

    sid = session_id(hud)
    res = httpx2.put(
        f"{live_server.url}/api/sessions/{sid}/graph", json={"graph": "v2-director-drives"}
    )
    assert res.status_code == 200, res.text
    hud.wait_for_function("() => window.__hud.graph() === 'v2-director-drives'")
    expect(switcher).to_have_value("v2-director-drives")
    assert node(hud, "interpreter") is not None
    assert node(hud, "strategy") is None
    expect(hud.get_by_test_id("chat-note").last).to_contain_text(
        "from v1-current to v2-director-drives"
    )
    shot(hud, screenshot_dir, "switch_api")


def test_controls_buttons_and_state_machine(hud: Page, screenshot_dir: Path) -> None:
    answer(hud, "show me a counter")
    counter = hud.locator('[data-testid="control-label"][data-control="counter"]')
    value = counter.get_by_test_id("control-value")
    expect(value).to_have_text("0")
    plus = hud.get_by_test_id("control-button").filter(has_text="+1")
    plus.click()
    expect(value).to_have_text("1")
    plus.click()
    expect(value).to_have_text("2")
    hud.get_by_test_id("control-button").filter(has_text="-1").click()
    expect(value).to_have_text("1")
    # a local click runs the UI node alone: the thinking path is skipped
    assert node(hud, "ui")["state"] == "done"
    assert node(hud, "director")["state"] == "skipped"

    answer(hud, "show me a traffic light", nth=1)
    machine = hud.get_by_test_id("control-machine")
    expect(machine.get_by_test_id("machine-state")).to_have_text("Stop")
    machine.get_by_test_id("machine-transition").filter(has_text="Go").click()
    expect(machine.get_by_test_id("machine-state")).to_have_text("Go")
    expect(machine.get_by_test_id("machine-transition")).to_have_text(["Slow down"])
    expect(value).to_have_text("1")  # the counter is still there
    shot(hud, screenshot_dir, "controls")


def test_reload_mid_run_resumes_without_lost_or_repeated_events(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    sid = session_id(hud)
    with slow_model(live_server, 0.03):
        send(hud, "list the customers in Berlin")
        streaming = hud.locator('[data-testid="chat-assistant"].streaming')
        expect(streaming).not_to_be_empty()
        run_id = streaming.get_attribute("data-run")
        assert httpx2.get(f"{live_server.url}/api/runs/{run_id}").json()["status"] == "running"
        hud.reload()
        expect(hud.get_by_test_id("connection")).to_have_text("live")
        assert session_id(hud) == sid
        shot(hud, screenshot_dir, "reload_mid_run")
        final = hud.locator('[data-testid="chat-assistant"].final')
        expect(final).to_have_count(1, timeout=30_000)

    run = httpx2.get(f"{live_server.url}/api/runs/{run_id}").json()
    assert run["status"] == "finished"
    expect(final).to_have_text(run["outputs"]["response"]["text"])
    expect(hud.get_by_test_id("chat-user")).to_have_text(["list the customers in Berlin"])
    last = session_state(live_server, sid)["seq"]
    seqs = hud.evaluate("window.__hud.seqs()")
    assert seqs == list(range(1, last + 1))
    assert node(hud, "output")["state"] == "done"
    shot(hud, screenshot_dir, "reload_resumed")

    # reloaded after the turn: history and the ring overlap, the page shows each once
    hud.reload()
    expect(hud.get_by_test_id("connection")).to_have_text("live")
    expect(final).to_have_text(run["outputs"]["response"]["text"])
    expect(hud.get_by_test_id("chat-user")).to_have_count(1)
    expect(hud.get_by_test_id("control-table")).to_be_visible()
    hud.wait_for_function(f"() => window.__hud.seqs().length >= {last}")
    assert hud.evaluate("window.__hud.seqs()") == list(range(1, last + 1))


@pytest.mark.parametrize("wrong_first", [False, True])
def test_token_is_asked_once_and_kept(
    page: Page, token_server: LiveServer, screenshot_dir: Path, wrong_first: bool
) -> None:
    page.set_default_timeout(15_000)
    if wrong_first:
        page.goto(f"{token_server.url}/static-does-not-matter")
        page.evaluate("localStorage.setItem('cogpipe.token', 'stale')")
    page.goto(token_server.url + "/")
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("refused" if wrong_first else "needs an access token")
    page.get_by_test_id("token-input").fill(token_server.token)
    page.get_by_test_id("token-submit").click()
    expect(page.get_by_test_id("connection")).to_have_text("live")
    expect(dialog).to_be_hidden()
    answer(page, "hello")
    assert page.evaluate("localStorage.getItem('cogpipe.token')") == token_server.token
    page.reload()
    expect(page.get_by_test_id("connection")).to_have_text("live")
    expect(dialog).to_be_hidden()
    expect(page.locator('[data-testid="chat-assistant"].final')).to_have_count(1)
    shot(page, screenshot_dir, f"token{'_stale' if wrong_first else ''}")


def test_errors_are_shown(
    hud: Page,
    live_server: LiveServer,
    failing_graph: str,
    page_errors: list[str],
    screenshot_dir: Path,
) -> None:
    sid = session_id(hud)
    httpx2.put(f"{live_server.url}/api/sessions/{sid}/graph", json={"graph": failing_graph})
    hud.wait_for_function(f"() => window.__hud.graph() === '{failing_graph}'")
    send(hud, "boom")
    error = hud.get_by_test_id("chat-error")
    expect(error).to_contain_text("broken")
    expect(error).to_contain_text("cannot handle 'boom'")
    expect_node(hud, "relay", "done", legend_colour(hud, "done"))
    expect_node(hud, "broken", "failed", legend_colour(hud, "failed"))
    bar = hud.locator('[data-testid="timeline-bar"][data-node="broken"]')
    expect(bar).to_have_attribute("data-state", "failed")

    send(hud, "x" * 8001)  # over the API's limit: refused before any run starts
    expect(error.nth(1)).to_contain_text("Not sent: invalid request: text")
    expect(hud.get_by_test_id("chat-input")).to_have_value("x" * 8001)  # to edit and resend
    assert page_errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    page_errors.clear()
    shot(hud, screenshot_dir, "errors")


def test_server_restart_shows_reconnecting_then_resumes(
    page: Page, restartable_server: RestartableServer, screenshot_dir: Path
) -> None:
    page.set_default_timeout(15_000)
    page.goto(restartable_server.url + "/")
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_text("live")
    answer(page, "hello")

    restartable_server.stop()
    expect(connection).to_have_text("reconnecting…")
    shot(page, screenshot_dir, "reconnecting")
    restartable_server.start()
    expect(connection).to_have_text("live")

    answer(page, "hello again", nth=1)
    sid = session_id(page)
    last = httpx2.get(f"{restartable_server.url}/api/sessions/{sid}").json()["seq"]
    assert page.evaluate("window.__hud.seqs()") == list(range(1, last + 1))
    shot(page, screenshot_dir, "reconnected")


def test_an_answer_with_facts_no_tool_holds_is_corrected_in_the_chat(
    page: Page, scripted_server: LiveServer, openai_server: OpenAITestServer, screenshot_dir: Path
) -> None:
    question = {"intent": "question", "topic": "customers", "complexity": "simple"}
    openai_server.reply_json({**question, "needs_data": True, "needs_tools": True, "reply": ""})
    step = {"tool": "count_customers", "arguments": {"city": "Berlin"}, "why": "count"}
    openai_server.reply_json({"goal": "count", "tool_sequence": [step], "response_style": "x"})
    openai_server.reply_text("")  # interpreter_v1: no summary, so the data summary is the draft
    openai_server.reply_text("Berlin has 7 customers, the biggest is Berlin Solutions.")
    page.set_default_timeout(15_000)
    page.goto(scripted_server.url + "/")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    reply = answer(page, "how many customers are in Berlin?")
    expect(reply).to_have_text(re.compile(r"^There are \d+ customers with city Berlin\.$"))
    note = page.get_by_test_id("chat-note").filter(has_text="Not in any tool result")
    expect(note).to_contain_text("Solutions")
    expect(note).to_contain_text("the answer was replaced by the draft")
    shot(page, screenshot_dir, "answer_corrected")


def test_figures_ledger_and_edge_traffic(hud: Page, screenshot_dir: Path) -> None:
    answer(hud, "how many customers do we have in Berlin?")
    figures = hud.get_by_test_id("figures")
    expect(figures).to_contain_text(
        re.compile(r"^1 turns · [1-9]\d* LLM · [1-9][\d,]* tok · 1 tools$")
    )
    assert "turn latency p50 / p95" in (figures.get_attribute("title") or "")

    click_node(hud, "thinker")
    ledger = hud.get_by_test_id("inspector-ledger")
    expect(ledger).to_contain_text("tools")
    expect(ledger.locator(".ledger-bar .part.tool_ms")).to_have_count(1)
    tool_width = ledger.locator(".ledger-bar .part.tool_ms").evaluate("e => e.style.width")
    assert float(tool_width.rstrip("%")) > 0, tool_width
    expect(hud.get_by_test_id("inspector-critical")).to_have_text(re.compile("critical path"))
    ledger.scroll_into_view_if_needed()
    critical = hud.locator('[data-testid="timeline-name"].critical')
    expect(critical.filter(has_text="thinker")).to_have_count(1)
    expect(critical.filter(has_text=re.compile("^ui$"))).to_have_count(0)
    shot(hud, screenshot_dir, "ledger_inspector")

    edge = next(
        e
        for e in hud.evaluate("window.__hud.geometry()")["edges"]
        if (e["source"], e["target"]) == ("input", "director")
    )
    a, b = edge["points"][-2], edge["points"][-1]  # the last leg: edges leave a node bundled
    box = hud.get_by_test_id("graph").bounding_box()
    assert box is not None
    hud.mouse.move(box["x"] + (a["x"] + b["x"]) / 2, box["y"] + (a["y"] + b["y"]) / 2, steps=5)
    wait_until(lambda: hud.evaluate("window.__hud.hovered()"), "an edge is hovered")
    for shown in hud.evaluate("window.__hud.hovered()"):
        assert re.search(r"\n\d+ msgs? · hop p50 \S+ .s p95", shown["label"]), shown
    shot(hud, screenshot_dir, "edge_traffic")


def test_a_run_cut_short_by_a_crash_is_shown_as_interrupted(
    page: Page, restartable_server: RestartableServer, screenshot_dir: Path
) -> None:
    page.set_default_timeout(15_000)
    page.goto(restartable_server.url + "/")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    answer(page, "hello")
    sid = session_id(page)
    restartable_server.stop()
    # what a server killed mid-turn leaves in its store: a run recorded as running
    store = SqliteSessionStore(restartable_server.settings.session_db)
    store.save_run(
        RunRecord(
            "dead0001",
            sid,
            "v2-director-drives",
            "message",
            "lost turn",
            RunStatus.RUNNING,
            time.time(),
        )
    )
    store.close()
    restartable_server.start()  # marks it interrupted; the HUD hears it on reconnecting
    error = page.get_by_test_id("chat-error")
    expect(error).to_have_text(
        ["This turn was interrupted: the server stopped before it ended. Send it again."]
    )
    expect(page.get_by_test_id("run-summary")).to_contain_text("message: lost turn · interrupted")
    shot(page, screenshot_dir, "interrupted")
    page.reload()  # from the session's history this time
    expect(page.get_by_test_id("chat-user")).to_have_text(["hello", "lost turn"])
    expect(page.get_by_test_id("chat-error")).to_have_count(1)
