"""Both graphs with unmodified PyPI MCP servers (mcp-server-time, mcp-server-git) next to
the demo database: answers use those servers' tools, through the offline model (whose
planner works over whatever tools are listed) and through a scripted model over HTTP.

Everything runs for real: ``open_runtime`` with the three servers as subprocesses, a
git repository made for the test, the demo database, the SQLite session store.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cogpipe.assembly import open_runtime
from cogpipe.demo.server import demo_db_server_config, ensure_db
from cogpipe.engine.llm import LLMConfig
from cogpipe.settings import Settings, shipped_graphs_dir
from tests.helpers.mcp_servers import git_repo, git_server_config, time_server_config
from tests.helpers.openai_server import OpenAITestServer
from tests.helpers.runtime import Conversation, TurnView

V1, V2 = "v1-current", "v2-director-drives"


def settings(tmp_path: Path, llm: LLMConfig) -> Settings:
    repo = git_repo(tmp_path / "repo")
    db = ensure_db(tmp_path / "demo.db")
    return Settings(
        graphs_dir=shipped_graphs_dir(),
        trace_dir=tmp_path / "trace",
        session_db="memory",
        demo_db=db,
        llm=llm,
        tool_servers=[
            demo_db_server_config(str(db)),
            time_server_config(),
            git_server_config(repo),
        ],
    )


def finished(turn: TurnView) -> dict[str, dict[str, Any]]:
    """tool -> the ``tool.finished`` data of the turn's successful calls."""
    return {d["tool"]: d for d in turn.of("tool.finished") if d["ok"]}


def berlin_customers(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "demo.db") as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM customers WHERE city = 'Berlin'").fetchone()
    return int(count)


@pytest.mark.parametrize("graph", [V1, V2])
async def test_offline_model_uses_whatever_tools_are_connected(graph: str, tmp_path: Path) -> None:
    conv = Conversation()
    async with open_runtime(settings(tmp_path, LLMConfig()), observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session(graph).id)
        turn = await conv.say("What time is it in Europe/Berlin?")
        call = finished(turn)["get_current_time"]
        assert call["server"] == "time"
        now = re.search(r'"datetime":"([^"]+)"', call["result"]).group(1)
        assert now in turn.text and "Europe/Berlin" in turn.text

        turn = await conv.say(f"Show me the git log of {tmp_path / 'repo'}")
        assert finished(turn)["git_log"]["server"] == "git"
        assert "Message: init" in turn.text

        turn = await conv.say("How many customers do we have in Berlin?")  # the demo rules
        assert finished(turn)["count_customers"]["server"] == "demo_db"
        assert str(berlin_customers(tmp_path)) in turn.text


QUESTION = {"intent": "question", "complexity": "simple", "needs_data": True}


async def test_scripted_model_plans_the_time_and_git_tools(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    llm = LLMConfig(base_url=openai_server.url + "/v1", api_key="t", max_retries=0, send_hints=True)
    conv = Conversation()
    async with open_runtime(settings(tmp_path, llm), observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session(V2).id)
        openai_server.reply_json({**QUESTION, "topic": "time", "needs_tools": True, "reply": ""})
        step = {"tool": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}, "why": "now"}
        openai_server.reply_json({"goal": "time", "tool_sequence": [step], "response_style": "x"})
        turn = await conv.say("Wie spät ist es in Tokio?")  # the model, not the planner, knows
        call = finished(turn)["get_current_time"]
        assert '"timezone":"Asia/Tokyo"' in call["result"]
        assert "Asia/Tokyo" in turn.text

        repo = str(tmp_path / "repo")
        openai_server.reply_json({**QUESTION, "topic": "git", "needs_tools": True, "reply": ""})
        step = {"tool": "git_log", "arguments": {"repo_path": repo, "max_count": 1}, "why": "log"}
        openai_server.reply_json({"goal": "log", "tool_sequence": [step], "response_style": "x"})
        turn = await conv.say("What was the last commit?")
        assert finished(turn)["git_log"]["server"] == "git"
        assert "Message: init" in turn.text


async def test_scripted_model_calls_the_time_tool_itself_in_v1(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    llm = LLMConfig(base_url=openai_server.url + "/v1", api_key="t", max_retries=0, send_hints=True)
    conv = Conversation()
    async with open_runtime(settings(tmp_path, llm), observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session(V1).id)
        openai_server.reply_json({**QUESTION, "topic": "time", "needs_tools": True, "reply": ""})
        openai_server.reply_text("Call get_current_time for Asia/Tokyo.")  # director_v1
        call = {"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
        openai_server.reply_tool_calls([call])  # thinker_v1, round 1
        turn = await conv.say("Wie spät ist es in Tokio?")
    assert '"timezone":"Asia/Tokyo"' in finished(turn)["get_current_time"]["result"]
    assert "Asia/Tokyo" in turn.text
    offered = {t["function"]["name"] for t in openai_server.chat_requests[2].body["tools"]}
    assert {"get_current_time", "git_log", "count_customers", "show_controls"} <= offered
