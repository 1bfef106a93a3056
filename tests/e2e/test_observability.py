"""The HUD's observability parts in Chromium: the run's OpenTelemetry trace id in the
inspector, and the Agents dialog showing hook events other agents post."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx2
from opentelemetry import trace
from playwright.sync_api import Page, expect

from tests.helpers.spans import recording

from .conftest import LiveServer
from .helpers import answer, click_node, shot


def test_inspector_shows_the_runs_trace_id(hud: Page, screenshot_dir: Path) -> None:
    with recording() as exporter:
        expect(answer(hud, "how many customers do we have in Berlin?")).to_contain_text("Berlin")
        click_node(hud, "thinker")
        shown = hud.get_by_test_id("inspector-trace-id")
        expect(shown).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
        runs = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent ")]
    assert shown.inner_text() in {trace.format_trace_id(s.context.trace_id) for s in runs}
    shot(hud, screenshot_dir, "inspector_trace_id")


def post(server: LiveServer, session: str, type_: str, **payload: Any) -> None:
    body = {
        "source_app": "claude-code",
        "session_id": session,
        "hook_event_type": type_,
        "payload": payload,
    }
    r = httpx2.post(f"{server.url}/api/hooks/events", json=body, timeout=10)
    assert r.status_code == 200, r.text


def test_agents_dialog_shows_an_external_session(
    hud: Page, live_server: LiveServer, screenshot_dir: Path
) -> None:
    sid = f"cc-{uuid.uuid4().hex[:8]}"
    post(live_server, sid, "SessionStart", source="startup")
    post(live_server, sid, "UserPromptSubmit", prompt="fix the failing test")
    post(live_server, sid, "PreToolUse", tool_name="Bash", tool_use_id="t1", tool_input={})
    post(live_server, sid, "PreToolUse", tool_name="Read", tool_use_id="t2", tool_input={})
    post(live_server, sid, "PostToolUse", tool_name="Read", tool_use_id="t2", tool_response={})
    post(live_server, sid, "PostToolUseFailure", tool_name="Bash", tool_use_id="t1", error="exit 1")

    hud.get_by_test_id("agents-button").click()
    dialog = hud.get_by_test_id("agents-dialog")
    expect(dialog).to_be_visible()
    entry = dialog.locator(f'[data-testid="agents-session"][data-session="{sid}"]')
    expect(entry).to_contain_text("claude-code")
    entry.click()
    expect(entry).to_have_attribute("aria-pressed", "true")
    expect(dialog.get_by_test_id("agents-event")).to_have_count(6)
    expect(dialog.get_by_test_id("agents-event").nth(1)).to_contain_text("fix the failing test")
    tools = dialog.get_by_test_id("agents-tool")
    expect(tools).to_have_count(2)
    expect(tools.nth(0)).to_contain_text("Bash")
    expect(tools.nth(0)).to_have_class("failed")
    expect(tools.nth(1)).to_contain_text("Read")
    expect(tools.nth(1)).to_have_class("done")
    shot(hud, screenshot_dir, "agents_dialog")

    post(live_server, sid, "Stop")  # arrives while the dialog is open: polled in
    expect(dialog.get_by_test_id("agents-event")).to_have_count(7)
    expect(dialog.get_by_test_id("agents-event").nth(6)).to_contain_text("Stop")
    dialog.get_by_test_id("agents-close").click()
    expect(dialog).to_be_hidden()
