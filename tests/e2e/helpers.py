"""Helpers of the browser tests: what a person does (send, click a node) and sees (a
node's state and colour, the legend), throwaway node kinds, screenshots.

Waiting is on conditions, never on fixed sleeps (the machine may be busy); only
:func:`shot` pauses, to let colour transitions settle before a screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
from playwright.sync_api import Locator, Page, expect
from pydantic import BaseModel

from cogpipe.engine import Node, RunContext

if TYPE_CHECKING:
    from .conftest import LiveServer


def shot(page: Page, screenshot_dir: Path, name: str) -> None:
    page.wait_for_timeout(300)  # let the graph's colour transitions settle
    page.screenshot(path=str(screenshot_dir / f"{name}.png"))


def session_id(page: Page) -> str:
    return str(page.evaluate("window.__hud.session()"))


def node(page: Page, node_id: str) -> dict[str, Any] | None:
    """What the graph draws for a node: state, colours, position (None if not drawn)."""
    return page.evaluate("id => window.__hud.node(id)", node_id)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("chat-input")
    box.fill(text)
    box.press("Enter")


def answer(page: Page, text: str, nth: int = 0) -> Locator:
    """Send ``text`` and return the ``nth`` answer once it is complete."""
    send(page, text)
    done = page.locator('[data-testid="chat-assistant"].final').nth(nth)
    expect(done).to_be_visible()
    return done


def expect_node(page: Page, node_id: str, state: str, colour: str, timeout: float = 10.0) -> None:
    """Wait until the graph draws ``node_id`` in ``state`` with fill ``colour`` (colour
    changes are animated, so the fill settles a moment after the state)."""
    deadline = time.monotonic() + timeout
    while (drawn := node(page, node_id)) is None or (drawn["state"], drawn["background"]) != (
        state,
        colour,
    ):
        if time.monotonic() > deadline:
            raise AssertionError(f"{node_id} should be drawn {state} in {colour}: {drawn}")
        time.sleep(0.05)


def legend_colour(page: Page, state: str) -> str:
    """The legend swatch's fill for ``state``, as cytoscape writes colours (no spaces)."""
    colour = page.locator(f".legend .sw.{state}").evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    return str(colour).replace(" ", "")


def click_node(page: Page, node_id: str) -> None:
    """Click a node where the graph draws it, until the inspector shows it (the graph
    refits when its panel changes size, which may move the node under the pointer)."""
    title = node_id.removeprefix("entry:")
    for _ in range(3):
        drawn = node(page, node_id)
        assert drawn is not None, f"node {node_id} is not drawn"
        box = page.get_by_test_id("graph").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + drawn["x"], box["y"] + drawn["y"])
        shown = page.get_by_test_id("inspector-title")
        if shown.count() and shown.inner_text() == title:
            return
    raise AssertionError(f"clicking {node_id} did not show it in the inspector")


def session_state(server: LiveServer, sid: str) -> dict[str, Any]:
    return httpx2.get(f"{server.url}/api/sessions/{sid}").json()


@contextmanager
def slow_model(
    server: LiveServer, seconds_per_chunk: float, seconds_per_call: float = 0.0
) -> Iterator[None]:
    """Make the offline model slow (a pause between streamed chunks and before each
    answer), so a run lasts long enough to act or look mid-run."""
    offline = server.app.state.runtime.llm.offline
    before = offline.chunk_delay_s, offline.call_delay_s
    offline.chunk_delay_s, offline.call_delay_s = seconds_per_chunk, seconds_per_call
    try:
        yield
    finally:
        offline.chunk_delay_s, offline.call_delay_s = before


class Relay(Node, register=False):
    """Passes the text on (a throwaway kind, registered only in the graph below)."""

    kind = "e2e_relay"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        return self.Outputs(text=inputs.text)


class Broken(Node, register=False):
    """Always fails, naming what it was given."""

    kind = "e2e_broken"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        raise RuntimeError(f"cannot handle {inputs.text!r}")


FAILING_GRAPH = """
name: e2e-failing
description: relay, then a node that always fails, then one it never reaches
entry: {message: relay.text}
nodes:
  relay: {kind: e2e_relay}
  broken: {kind: e2e_broken}
  after: {kind: e2e_relay}
edges:
  - relay.text -> broken.text
  - broken.text -> after.text
"""
