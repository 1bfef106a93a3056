"""The HUD as a debugger (issue 9): a graph whose edges go around the nodes, every panel
drawing one run, time travel and replay (from the session and from trace files), the
inspector showing LLM and tool calls as they happen, a readable timeline, a layout that
fits a small screen, the model pill, and a pace a person can watch.

Screenshots go to ``test-results/hud/``. Transient states (a replay half way, tokens
while a call streams) are caught by a sampler that runs in the page at every animation
frame, or by waiting on a condition: never by sleeping and hoping.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Page, expect

from cogpipe.engine.llm import LLMConfig
from cogpipe.server.app import create_app
from cogpipe.server.cli import main as cogpipe
from tests.helpers.server_thread import free_port

from .conftest import LiveServer, _serving, _settings
from .helpers import (
    answer,
    click_node,
    expect_node,
    legend_colour,
    node,
    send,
    session_id,
    shot,
    slow_model,
    wait_until,
)

BERLIN = "how many customers do we have in Berlin?"
# "null" as a word, not inside quotes (a JSON schema's "type": "null" is content)
STRAY = re.compile(r'(?<!")\b(null|undefined|NaN)\b(?!")|\[object ')

# Records, at every animation frame, what the page draws: the replay's position and the
# states of the nodes named. The HUD paints in animation frames too, so every state it
# paints is seen here (one frame later), however slow the machine is.
SAMPLER = """ids => {
  window.__samples = [];
  const sample = () => {
    const replay = window.__hud.replay();
    const states = Object.fromEntries(ids.map((id) => [id, window.__hud.node(id)?.state]));
    const at = { index: replay?.index ?? null, playing: replay?.playing ?? null };
    window.__samples.push({ ...at, states });
    window.__sampling = requestAnimationFrame(sample);
  };
  sample();
}"""


def run_of_last_message(page: Page) -> str:
    """The run id of the last message sent (the chat marks each bubble with its run)."""
    run_id = page.get_by_test_id("chat-user").last.get_attribute("data-run")
    assert run_id, "the last message has no run yet"
    return run_id


def trace_events(server: LiveServer, run_id: str) -> list[dict[str, Any]]:
    """The run's events as the server's JSONL trace file holds them (once it has all)."""
    path = server.app.state.settings.trace_dir / "cogpipe.jsonl"

    def events() -> list[dict[str, Any]]:
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [e for e in map(json.loads, filter(None, lines)) if e["run_id"] == run_id]

    wait_until(lambda: any(e["type"] == "run.finished" for e in events()), "the trace has the run")
    return events()


def replay_finished(page: Page) -> None:
    page.wait_for_function(
        "() => { const r = window.__hud.replay(); return r && !r.playing && r.index === r.total }"
    )


def segment_hits_box(a: dict[str, float], b: dict[str, float], box: dict[str, float]) -> bool:
    """Whether the segment a-b passes through the inside of ``box`` (1 px inset)
    (Liang-Barsky clipping)."""
    x1, y1, x2, y2 = box["x1"] + 1, box["y1"] + 1, box["x2"] - 1, box["y2"] - 1
    dx, dy = b["x"] - a["x"], b["y"] - a["y"]
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, a["x"] - x1), (dx, x2 - a["x"]), (-dy, a["y"] - y1), (dy, y2 - a["y"])):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            lo = max(lo, q / p)
        else:
            hi = min(hi, q / p)
    return lo < hi


def crossings(geometry: dict[str, Any]) -> list[str]:
    """Every edge segment that crosses a node other than the edge's own two."""
    found = []
    for edge in geometry["edges"]:
        points = edge["points"]
        for a, b in itertools.pairwise(points):
            for n in geometry["nodes"]:
                if n["id"] not in (edge["source"], edge["target"]) and segment_hits_box(
                    a, b, n["box"]
                ):
                    found.append(f"{edge['id']} crosses {n['id']}")
    return found


def page_text(page: Page) -> str:
    """Everything a person can read that the HUD wrote: the visible text, tooltips and
    menu entries, without what it shows verbatim (``.verbatim``: prompts, streamed
    tokens, raw previews, whose words are the model's or the graph's, such as a prompt
    saying "else null")."""
    return page.evaluate(
        """() => {
          const verbatim = [...document.querySelectorAll('.verbatim')];
          verbatim.forEach((el) => {
            el.dataset.display = el.style.display;
            el.style.display = 'none';
          });
          const text = [document.body.innerText,
            ...[...document.querySelectorAll('[title]')].map((e) => e.title),
            ...[...document.querySelectorAll('option, optgroup')].map((o) => o.label || o.text)];
          verbatim.forEach((el) => { el.style.display = el.dataset.display; });
          return text.join('\\n');
        }"""
    )


# -- the graph ------------------------------------------------------------------------------


def test_the_crossing_check_finds_a_crossing() -> None:
    """The geometry check below can fail: an edge through a third node is found."""
    box = {"x1": 40.0, "y1": 0.0, "x2": 60.0, "y2": 20.0}
    geometry = {
        "nodes": [{"id": "a", "box": box}],
        "edges": [
            {
                "id": "e",
                "source": "s",
                "target": "t",
                "points": [{"x": 0, "y": 10}, {"x": 99, "y": 10}],
            },
            {
                "id": "f",
                "source": "s",
                "target": "t",
                "points": [{"x": 0, "y": 30}, {"x": 99, "y": 30}],
            },
        ],
    }
    assert crossings(geometry) == ["e crosses a"]


@pytest.mark.parametrize("graph", ["v2-director-drives", "v1-current"])
@pytest.mark.parametrize("size", [(1440, 900), (1024, 700)])
def test_edges_route_around_nodes(
    hud: Page, screenshot_dir: Path, graph: str, size: tuple[int, int]
) -> None:
    hud.set_viewport_size({"width": size[0], "height": size[1]})
    if graph != hud.evaluate("window.__hud.graph()"):
        hud.get_by_test_id("graph-switcher").select_option(graph)
        hud.wait_for_function(f"() => window.__hud.graph() === '{graph}'")
    geometry = hud.evaluate("window.__hud.geometry()")
    assert len(geometry["edges"]) > 10 and len(geometry["nodes"]) > 8
    assert crossings(geometry) == []
    # the entry's fan-out leaves as one bundle: every edge from an entry starts at one point
    for entry in ("entry:message", "entry:action"):
        starts = {
            (round(e["points"][0]["x"]), round(e["points"][0]["y"]))
            for e in geometry["edges"]
            if e["source"] == entry
        }
        assert len(starts) == 1, (entry, starts)
    # every node inside the panel, its label at least 9 px on screen
    panel = hud.get_by_test_id("graph").bounding_box()
    assert panel is not None
    for n in geometry["nodes"]:
        b = n["box"]
        assert (
            b["x1"] >= 0
            and b["x2"] <= panel["width"]
            and b["y1"] >= 0
            and b["y2"] <= panel["height"]
        ), n
        assert float(node(hud, n["id"])["font"].rstrip("px")) >= 9, n["id"]
    shot(hud, screenshot_dir, f"graph_{graph}_{size[0]}")


def test_labels_stay_readable_when_zoomed_out(hud: Page, screenshot_dir: Path) -> None:
    box = hud.get_by_test_id("graph").bounding_box()
    assert box is not None
    hud.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = hud.evaluate("window.__hud.node('interpreter').font")
    zoom = hud.evaluate("window.__hud.zoom()")
    for _ in range(60):  # each notch zooms out a few per cent, down to the least zoom
        hud.mouse.wheel(0, 200)
        hud.wait_for_function(f"() => window.__hud.zoom() < {zoom}")
        zoom = hud.evaluate("window.__hud.zoom()")
        if zoom <= 0.46:
            break
    assert zoom < 0.5
    hud.wait_for_function("() => parseFloat(window.__hud.node('interpreter').font) >= 9")
    assert float(before.rstrip("px")) >= 9
    shot(hud, screenshot_dir, "zoomed_out")


def test_a_failed_run_marks_the_nodes_it_never_reached(
    hud: Page, live_server: LiveServer, failing_graph: str, screenshot_dir: Path
) -> None:
    httpx2.put(
        f"{live_server.url}/api/sessions/{session_id(hud)}/graph", json={"graph": failing_graph}
    )
    hud.wait_for_function(f"() => window.__hud.graph() === '{failing_graph}'")
    send(hud, "boom")
    expect(hud.get_by_test_id("chat-error")).to_contain_text("broken")
    expect_node(hud, "broken", "failed", legend_colour(hud, "failed"))
    expect_node(hud, "after", "unreached", legend_colour(hud, "unreached"))
    click_node(hud, "after")
    expect(hud.get_by_test_id("inspector-state")).to_have_text("unreached")
    expect(hud.get_by_test_id("inspector-timing")).to_contain_text("never reached")
    shot(hud, screenshot_dir, "failed_unreached")


# -- one run on every panel: time travel ----------------------------------------------------


def test_picking_an_old_run_redraws_every_panel(hud: Page, screenshot_dir: Path) -> None:
    answer(hud, "hello")  # the reflex path: the planners are skipped
    hello = run_of_last_message(hud)
    answer(hud, BERLIN, nth=1)  # the planners run
    done, skipped = legend_colour(hud, "done"), legend_colour(hud, "skipped")
    expect_node(hud, "director", "done", done)
    assert hud.evaluate("window.__hud.edgeCount('interpreter.thought -> output.thought')") == 1

    hud.get_by_test_id("run-picker").select_option(hello)
    expect_node(hud, "director", "skipped", skipped)
    expect_node(hud, "output", "done", done)
    assert hud.evaluate("window.__hud.edgeCount('interpreter.thought -> output.thought')") == 0
    assert hud.evaluate("window.__hud.edgeCount('input.reflex -> output.thought')") == 1
    bar = hud.locator('[data-testid="timeline-bar"][data-node="director"]')
    expect(bar).to_have_attribute("data-state", "skipped")
    expect(hud.get_by_test_id("run-summary")).to_contain_text("message: hello")
    click_node(hud, "director")
    expect(hud.get_by_test_id("inspector-state")).to_have_text("skipped")
    expect(hud.get_by_test_id("inspector-timing")).to_contain_text("skipped: ")
    shot(hud, screenshot_dir, "time_travel")

    # a new run does not pull the view away from the run picked
    answer(hud, BERLIN, nth=2)
    assert hud.evaluate("window.__hud.shown().id") == hello
    expect(hud.get_by_test_id("inspector-state")).to_have_text("skipped")
    hud.get_by_test_id("run-picker").select_option("")  # back to the newest
    expect_node(hud, "director", "done", done)
    assert hud.evaluate("window.__hud.shown().id") == run_of_last_message(hud)


def test_an_old_graphs_run_is_history_after_a_switch_and_reload(
    hud: Page, live_server: LiveServer
) -> None:
    hud.get_by_test_id("graph-switcher").select_option("v1-current")
    hud.wait_for_function("() => window.__hud.graph() === 'v1-current'")
    answer(hud, "hello")
    v1_run = run_of_last_message(hud)
    hud.get_by_test_id("graph-switcher").select_option("v2-director-drives")
    hud.wait_for_function("() => window.__hud.graph() === 'v2-director-drives'")
    hud.reload()
    expect(hud.get_by_test_id("connection")).to_have_text("live")
    hud.wait_for_function("() => window.__hud.graph() === 'v2-director-drives'")
    # the newest run belongs to the old graph: nothing of it is drawn on the new one
    expect(hud.get_by_test_id("timeline-bar")).to_have_count(0)
    assert hud.evaluate("window.__hud.shown()") is None
    # ... but it can be picked, and then its own graph is drawn
    hud.get_by_test_id("run-picker").select_option(v1_run)
    hud.wait_for_function("() => window.__hud.graph() === 'v1-current'")
    expect_node(hud, "strategy", "done", legend_colour(hud, "done"))
    expect(hud.get_by_test_id("run-summary")).to_contain_text("graph v1-current")


# -- replay ------------------------------------------------------------------------------


def test_replay_animates_the_run_in_order(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    # every LLM call takes 0.15 s, so the replay has long enough steps to see
    with slow_model(live_server, 0.02, seconds_per_call=0.15):
        answer(hud, BERLIN)
    run_id = run_of_last_message(hud)
    recorded = [e["seq"] for e in trace_events(live_server, run_id)]
    hud.evaluate(SAMPLER, ["input", "director", "output"])
    hud.get_by_test_id("replay-speed").select_option("1")
    hud.get_by_test_id("replay-button").click()
    expect(hud.get_by_test_id("replay-position")).to_be_visible()
    replay_finished(hud)
    samples = hud.evaluate("cancelAnimationFrame(window.__sampling), window.__samples")
    log = hud.evaluate("window.__hud.replay().log")
    assert [e["seq"] for e in log] == recorded  # every event once, in the order they happened
    drawn = [s["states"] for s in samples if s["playing"]]
    # the graph went through the run step by step: input done while director ran, then
    # director done while output had not started, and output ran before it was done
    assert {"input": "done", "director": "running", "output": "idle"} in drawn, drawn
    assert {"input": "done", "director": "done", "output": "idle"} in drawn, drawn
    assert any(s["output"] == "running" for s in drawn), drawn
    positions = [s["index"] for s in samples if s["index"] is not None]
    assert positions == sorted(positions) and positions[-1] == len(recorded)
    expect_node(hud, "output", "done", legend_colour(hud, "done"))
    expect(hud.get_by_test_id("replay-position")).to_have_text(
        f"{len(recorded)}/{len(recorded)} events"
    )

    # the scrubber jumps anywhere: back to before the run started
    hud.get_by_test_id("replay-progress").fill("0")
    expect_node(hud, "input", "idle", legend_colour(hud, "idle"))
    shot(hud, screenshot_dir, "replay_scrubbed")
    hud.get_by_test_id("replay-stop").click()
    expect(hud.get_by_test_id("replay-position")).to_be_hidden()
    expect_node(hud, "output", "done", legend_colour(hud, "done"))


def test_a_run_from_a_trace_file_is_shown_and_replayed(
    hud: Page, live_server: LiveServer, tmp_path: Path, screenshot_dir: Path
) -> None:
    # a run of another session, on the other graph, that this page never saw
    with httpx2.Client(base_url=live_server.url, timeout=30) as api:
        sid = api.post("/api/sessions", json={"graph": "v1-current"}).json()["id"]
        run_id = api.post(f"/api/sessions/{sid}/messages", json={"text": BERLIN}).json()["run_id"]
    recorded = trace_events(live_server, run_id)
    # what `cogpipe trace show --json` prints is what the HUD reads
    out = io.StringIO()
    trace = live_server.app.state.settings.trace_dir / "cogpipe.jsonl"
    assert cogpipe(["trace", "show", "--json", "--run", run_id, str(trace)], out=out) == 0
    upload = tmp_path / "one-run.jsonl"
    upload.write_text(out.getvalue(), encoding="utf-8")

    hud.get_by_test_id("trace-button").click()
    dialog = hud.get_by_test_id("trace-dialog")
    expect(dialog.get_by_test_id("trace-file").first).to_be_visible()
    dialog.get_by_test_id("trace-upload").set_input_files(str(upload))
    expect(dialog.get_by_test_id("trace-note")).to_have_text("one-run.jsonl: 1 run")
    shot(hud, screenshot_dir, "trace_dialog")
    dialog.locator(f'[data-testid="trace-run"][data-run="{run_id}"]').get_by_test_id(
        "trace-show"
    ).click()
    expect(dialog).to_be_hidden()
    hud.wait_for_function("() => window.__hud.graph() === 'v1-current'")
    expect_node(hud, "strategy", "done", legend_colour(hud, "done"))
    expect(hud.get_by_test_id("run-summary")).to_contain_text("from one-run.jsonl")
    expect(hud.get_by_test_id("graph-name")).to_contain_text("graph v1-current (this run's")
    shot(hud, screenshot_dir, "trace_run_shown")

    # the server's own file lists the same run; replay it from there
    hud.get_by_test_id("trace-button").click()
    dialog.get_by_test_id("trace-file").filter(has_text="cogpipe.jsonl").first.click()
    row = dialog.locator(f'[data-testid="trace-run"][data-run="{run_id}"]')
    row.get_by_test_id("trace-replay").click()
    replay_finished(hud)
    log = hud.evaluate("window.__hud.replay().log")
    assert [e["seq"] for e in log] == [e["seq"] for e in recorded]
    expect_node(hud, "strategy", "done", legend_colour(hud, "done"))


# -- the inspector ------------------------------------------------------------------------


def test_the_inspector_shows_a_streaming_call_before_it_finishes(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    with slow_model(live_server, 0.08):
        send(hud, BERLIN)
        hud.wait_for_function("() => window.__hud.node('output')?.state === 'running'")
        click_node(hud, "output")
        call = hud.get_by_test_id("inspector-llm-call")
        # one moment where the call is still open and its tokens are already shown
        hud.wait_for_function(
            """() => {
              const call = document.querySelector('[data-testid="inspector-llm-call"]');
              const tokens = call?.querySelector('[data-testid="inspector-llm-tokens"]');
              return call?.dataset.status === 'pending' && tokens?.textContent.trim().length > 0;
            }"""
        )
        request = call.get_by_test_id("inspector-llm-request")
        expect(request).to_contain_text("system")
        expect(request).to_contain_text(BERLIN)  # the user message as sent
        # a fold the reader closes stays closed while tokens keep arriving
        fold = hud.get_by_test_id("inspector-inputs").locator("details.j-fold").first
        fold.locator("summary").first.click()
        expect(fold).not_to_have_attribute("open", "")
        shot(hud, screenshot_dir, "inspector_streaming")
        expect(call).to_have_attribute("data-status", "done", timeout=30_000)
    expect(fold).not_to_have_attribute("open", "")
    final = hud.locator('[data-testid="chat-assistant"].final').first
    expect(call.get_by_test_id("inspector-llm-tokens")).to_have_text(final.inner_text())
    expect(call.locator("summary").first).to_contain_text("first token")
    expect(call.locator("summary").first).to_contain_text("tokens")

    click_node(hud, "thinker")
    tool = hud.get_by_test_id("inspector-tool-call")
    arguments, result = tool.locator(".json").nth(0), tool.locator(".json").nth(1)
    expect(arguments.locator(".j-key", has_text="city")).to_be_visible()
    expect(result.locator(".j-key", has_text="count")).to_be_visible()
    expect(hud.get_by_test_id("inspector-outputs").locator(".json")).to_be_visible()


def test_no_stray_null_text_anywhere(hud: Page, live_server: LiveServer) -> None:
    answer(hud, BERLIN)
    answer(hud, "list the customers in Berlin", nth=1)
    ids = hud.evaluate("window.__hud.geometry().nodes.map((n) => n.id)")
    for node_id in ids:
        click_node(hud, node_id)
        expect(hud.get_by_test_id("inspector-title")).to_have_text(node_id.removeprefix("entry:"))
        hud.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        assert not STRAY.search(page_text(hud)), (node_id, STRAY.findall(page_text(hud)))
    hud.get_by_test_id("tab-log").click()
    hud.get_by_test_id("log-filter-type").select_option("")
    hud.get_by_test_id("trace-button").click()
    expect(hud.get_by_test_id("trace-file").first).to_be_visible()
    text = page_text(hud)
    assert not STRAY.search(text), STRAY.findall(text)


# -- the timeline ------------------------------------------------------------------------


def test_the_timeline_shows_calls_inside_bars_and_what_ran_at_once(
    hud: Page, screenshot_dir: Path
) -> None:
    answer(hud, BERLIN)
    timeline = hud.get_by_test_id("timeline")

    def row(node_id: str) -> Any:
        return timeline.locator(f'.tl-row[data-node="{node_id}"]')

    def box(locator: Any) -> dict[str, float]:
        found = locator.bounding_box()
        assert found is not None
        return found

    bar, tool = (
        box(row("thinker").get_by_test_id("timeline-bar")),
        box(row("thinker").locator('[data-kind="tool"]')),
    )
    assert bar["x"] - 1 <= tool["x"] and tool["x"] + tool["width"] <= bar["x"] + bar["width"] + 1
    out_bar = box(row("output").get_by_test_id("timeline-bar"))
    llm = box(row("output").locator('[data-kind="llm"]'))
    assert (
        out_bar["x"] - 1 <= llm["x"]
        and llm["x"] + llm["width"] <= out_bar["x"] + out_bar["width"] + 1
    )
    # output and ui ran at once: said in words, and a band covers both bars
    expect(row("ui").get_by_test_id("timeline-duration")).to_contain_text("∥ output")
    expect(row("output").get_by_test_id("timeline-duration")).to_contain_text("∥ ui")
    ui_bar = box(row("ui").get_by_test_id("timeline-bar"))
    band = box(timeline.get_by_test_id("timeline-overlap").first)
    for b in (ui_bar, out_bar):
        assert band["x"] <= b["x"] + b["width"] and b["x"] <= band["x"] + band["width"]
    assert ui_bar["width"] >= 6  # a tiny span still shows, its true duration in the label
    shot(hud, screenshot_dir, "timeline_subspans")

    timeline.locator('[data-zoom="in"]').click()
    expect(timeline.get_by_test_id("timeline-zoom")).to_have_text("2\N{MULTIPLICATION SIGN}")
    wider = box(row("output").get_by_test_id("timeline-bar"))
    assert wider["width"] > 1.8 * out_bar["width"]


# -- layout ------------------------------------------------------------------------------


def test_graph_and_chat_fit_a_small_screen(hud: Page, screenshot_dir: Path) -> None:
    hud.set_viewport_size({"width": 1024, "height": 700})
    answer(hud, BERLIN)
    for testid in ("graph", "chat-input", "chat-send", "timeline", "inspector", "run-picker"):
        b = hud.get_by_test_id(testid).bounding_box()
        assert b is not None and b["width"] > 0, testid
        assert b["x"] >= 0 and b["y"] >= 0, testid
        assert b["x"] + b["width"] <= 1024 and b["y"] + b["height"] <= 700, (testid, b)
    assert hud.evaluate("document.scrollingElement.scrollHeight") <= 700
    shot(hud, screenshot_dir, "small_screen_1024x700")
    hud.set_viewport_size({"width": 1440, "height": 900})
    click_node(hud, "output")
    shot(hud, screenshot_dir, "large_screen_1440x900")


def test_panes_resize_and_keep_their_size(hud: Page) -> None:
    chat = hud.get_by_test_id("chat-panel")
    before = chat.bounding_box()
    gutter = hud.get_by_test_id("gutter-left").bounding_box()
    assert before is not None and gutter is not None
    x, y = gutter["x"] + gutter["width"] / 2, gutter["y"] + gutter["height"] / 2
    hud.mouse.move(x, y)
    hud.mouse.down()
    hud.mouse.move(x + 120, y, steps=5)
    hud.mouse.up()
    wait_until(
        lambda: abs(chat.bounding_box()["width"] - before["width"] - 120) < 3, "chat widened"
    )
    graph = hud.get_by_test_id("graph-panel")
    height = graph.bounding_box()["height"]
    hud.get_by_test_id("gutter-top").focus()
    hud.keyboard.press("ArrowDown")
    wait_until(lambda: abs(graph.bounding_box()["height"] - height - 24) < 3, "graph taller")
    hud.reload()
    expect(hud.get_by_test_id("connection")).to_have_text("live")
    assert abs(chat.bounding_box()["width"] - before["width"] - 120) < 3  # kept
    hud.get_by_test_id("gutter-left").dblclick()
    wait_until(lambda: abs(chat.bounding_box()["width"] - before["width"]) < 3, "chat reset")
    hud.evaluate("localStorage.removeItem('cogpipe.layout')")


# -- the model pill and the pace -------------------------------------------------------------


def test_the_model_pill_says_whether_the_endpoint_answers(
    page: Page, hud: Page, tmp_path: Path
) -> None:
    expect(hud.get_by_test_id("model")).to_have_attribute("data-reach", "up")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = _settings(tmp_path, tool_servers=[], llm=LLMConfig(base_url=dead))
    with _serving(create_app(settings, token=None)) as server:
        other = page.context.new_page()
        other.goto(server.url + "/")
        pill = other.get_by_test_id("model")
        expect(pill).to_have_attribute("data-reach", "down")
        expect(pill).to_contain_text("unreachable")
        assert "cannot connect" in (pill.get_attribute("title") or "")
        other.close()


@pytest.fixture(scope="module")
def paced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose offline model has a human pace (as ``make run`` sets it)."""
    llm = LLMConfig(offline_call_s=0.25, offline_tokens_per_s=12)
    settings = _settings(tmp_path_factory.mktemp("paced"), llm=llm)
    with _serving(create_app(settings, token=None)) as server:
        yield server


def test_at_a_human_pace_a_person_sees_each_step(
    page: Page, paced_server: LiveServer, screenshot_dir: Path
) -> None:
    page.goto(paced_server.url + "/")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    page.evaluate(SAMPLER, ["input", "director", "interpreter", "output"])
    page.evaluate(
        """() => {
          window.__partial = [];
          new MutationObserver(() => {
            const b = document.querySelector('[data-testid="chat-assistant"].streaming');
            if (b?.textContent) window.__partial.push(b.textContent);
          }).observe(document.body, { subtree: true, childList: true, characterData: true });
        }"""
    )
    final = answer(page, BERLIN).inner_text()
    drawn = page.evaluate("cancelAnimationFrame(window.__sampling), window.__samples")
    for node_id in ("input", "director", "interpreter", "output"):
        frames = sum(1 for s in drawn if s["states"][node_id] == "running")
        assert frames >= 3, f"{node_id} was drawn running in {frames} frames"
    partial = page.evaluate("window.__partial")
    assert len(set(partial)) >= 3 and all(final.startswith(p.strip()) for p in partial), partial
    shot(page, screenshot_dir, "human_pace")
