"""A scripted conversation a user would have, on both graphs, with the offline model and
again through the real openai client against the OpenAI-compatible test server.

Everything runs for real: ``open_runtime(Settings(...))`` with tmp paths, the demo MCP
server as a subprocess over a generated SQLite database, the SQLite session store and
the JSONL trace. Numbers in answers are checked against the database with sqlite3.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cogpipe.assembly import open_runtime
from cogpipe.demo.server import ensure_db
from cogpipe.engine.events import validate_event
from cogpipe.engine.llm import LLMConfig
from cogpipe.engine.store import SqliteSessionStore
from cogpipe.server.cli import main
from cogpipe.settings import Settings, shipped_graphs_dir
from tests.engine.test_ledger import assert_sums
from tests.helpers.openai_server import (  # noqa: F401  (fixtures)
    OpenAITestServer,
    openai_server_fixture,
    openai_server_session_fixture,
)
from tests.helpers.runtime import Conversation, TurnView

V1, V2 = "v1-current", "v2-director-drives"
PLANNERS = {V1: {"director", "thinker"}, V2: {"director", "thinker", "interpreter"}}


def one(db: Path, query: str) -> Any:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchone()[0]


def names(db: Path, city: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM customers WHERE city = ? ORDER BY name", (city,))
        return [name for (name,) in rows]


def says(turn: TurnView, number: int) -> bool:
    return re.search(rf"(?<![\d.]){number}(?![\d])", turn.text) is not None


def no_llm(turn: TurnView) -> bool:
    return not turn.of("llm.request") and not turn.of("llm.response")


def assert_reflex(turn: TurnView, graph: str) -> None:
    assert PLANNERS[graph] <= turn.skipped(), turn.skipped()
    assert turn.tools() == [] and turn.text


def assert_table(turn: TurnView, db: Path, city: str) -> None:
    table = turn.control("results")
    assert table.type == "table" and table.columns[:3] == ["name", "company", "city"]
    assert [row[0] for row in table.rows] == names(db, city)
    assert {row[2] for row in table.rows} == {city}


def settings_for(tmp_path: Path, model: str, server: OpenAITestServer) -> Settings:
    llm = (
        LLMConfig()
        if model == "offline"
        # the test server answers with the offline model: it needs the calls' hints
        else LLMConfig(base_url=server.url + "/v1", api_key="test", max_retries=0, send_hints=True)
    )
    return Settings(
        graphs_dir=shipped_graphs_dir(),
        trace_dir=tmp_path / "trace",
        session_db=tmp_path / "sessions.db",
        demo_db=tmp_path / "demo.db",
        llm=llm,
    )


async def opening(conv: Conversation, db: Path, graph: str) -> None:
    """Turns 1-9: greeting, introduction, a count, a list, a counter, a state machine."""
    turn = await conv.say("Hello!")
    assert_reflex(turn, graph)
    assert turn.text == "Hello! How can I help?"
    turn = await conv.say("My name is Ada and I run the operations team.")
    assert_reflex(turn, graph)
    assert "Ada" in turn.text
    assert {"name": "Ada"}.items() <= turn.of("memory.updated")[0]["changed"].items()

    turn = await conv.say("How many customers do we have in Berlin?")
    assert "count_customers" in turn.tools()
    assert says(turn, one(db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")), turn.text
    turn = await conv.say("List customers in Hamburg")
    assert turn.tools() == ["query"]
    assert_table(turn, db, "Hamburg")

    turn = await conv.say("Show me a counter")
    assert turn.control("counter").value == 0
    assert turn.control("counter_inc").action == "increment"
    for expected in (1, 2):
        turn = await conv.click("increment", "counter_inc", target="counter", step=1)
        assert turn.control("counter").value == expected
        assert no_llm(turn) and turn.text == ""
        assert turn.of("ui.controls")[0]["version"] == turn.controls.version
    turn = await conv.say("Show me a traffic light")
    assert turn.control("light").state == "red"
    turn = await conv.click("go", "light", to="green")
    assert turn.control("light").state == "green" and no_llm(turn)
    assert turn.control("counter").value == 2  # other controls stay


async def after_a_break(conv: Conversation, server: OpenAITestServer | None) -> None:
    """Turn 10: the user comes back after an hour; the sensor flags it."""
    assert conv.runtime is not None
    conv.runtime.session(conv.session_id).updated -= 3600
    sent = len(server.chat_requests) if server else 0
    turn = await conv.say("Hi again!")
    assert {"flag": "idle_return", "detail": "back after 60 minutes"} in turn.of("sensor.flag")
    assert turn.text.startswith("Welcome back, Ada!")  # the context line reached the model
    if server is not None:
        prompts = [r.body["messages"][0]["content"] for r in server.chat_requests[sent:]]
        assert any("- The user is back after 60 minutes of inactivity." in p for p in prompts)


async def on_the_other_graph(conv: Conversation, db: Path, graph: str) -> None:
    """Turns 11-14 after the switch: memory, a count, a button that asks, goodbye."""
    turn = await conv.say("What is my name?")
    assert turn.result.graph == graph
    assert "Ada" in turn.text and turn.tools() == []
    turn = await conv.say("How many devices are there?")
    assert turn.tools() == ["query"]
    assert says(turn, one(db, "SELECT COUNT(*) FROM devices")), turn.text
    turn = await conv.click("ask", "more", text="List customers in Munich")
    assert turn.result.graph == graph and not turn.skipped() & PLANNERS[graph]
    assert_table(turn, db, "Munich")
    turn = await conv.say("Thanks, bye!")
    assert_reflex(turn, graph)
    assert turn.text == "You're welcome! Goodbye!"


@pytest.mark.parametrize("model", ["offline", "server"])
@pytest.mark.parametrize("start", [V1, V2])
async def test_conversation(
    start: str, model: str, tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    db = ensure_db(tmp_path / "demo.db")
    other = V2 if start == V1 else V1
    conv = Conversation()
    settings = settings_for(tmp_path, model, openai_server)
    async with open_runtime(settings, observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session(start).id)
        await opening(conv, db, start)
        await after_a_break(conv, openai_server if model == "server" else None)
        rt.switch_graph(conv.session_id, other)
        await on_the_other_graph(conv, db, other)

    assert len(conv.turns) == 14
    for event in conv.events:  # every event the shipped graphs emit is in the catalogue
        validate_event(event)
    ledgers = [e.data for e in conv.events if e.type == "run.ledger"]
    assert len(ledgers) == 14
    for ledger in ledgers:
        assert_sums(ledger)
    nodes = [n for ledger in ledgers for n in ledger["nodes"].values()]
    assert any(n["tool_ms"] > 0 for n in nodes) and any(n["llm_ms"] > 0 for n in nodes)
    for turn in conv.turns:
        thought = "output" in {e.node for e in turn.events if e.type == "node.started"}
        if thought and not turn.skipped() & PLANNERS[turn.result.graph]:
            assert turn.overlap("output", "ui"), turn.result.outputs
    requests = sum(1 for e in conv.events if e.type == "llm.request")
    assert len(openai_server.chat_requests) == (requests if model == "server" else 0)
    store = SqliteSessionStore(tmp_path / "sessions.db")  # as after a restart
    stored = store.load(conv.session_id)
    store.close()
    assert stored is not None and stored.state["memory"]["name"] == "Ada"
    assert [t.graph for t in stored.history].count(other) == 4
    assert list((tmp_path / "trace").glob("*.jsonl"))


def test_cli_run_answers_with_the_database_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = ensure_db(tmp_path / "demo.db")
    for var in (
        "COGPIPE_CONFIG",
        "COGPIPE_GRAPHS_DIR",
        "COGPIPE_DEFAULT_GRAPH",
        "COGPIPE_TOOLS",
        "COGPIPE_LLM_BASE_URL",
        "OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COGPIPE_DEMO_DB", str(db))
    monkeypatch.setenv("COGPIPE_TRACE_DIR", str(tmp_path / "trace"))
    monkeypatch.setenv("COGPIPE_SESSION_DB", "memory")
    out = io.StringIO()
    assert main(["run", V2, "how many customers are in Berlin?"], out=out) == 0
    text = out.getvalue()
    assert 'tool demo_db.count_customers {"city":"Berlin"}' in text
    response = json.loads(re.search(r"^response: (.*)$", text, re.M).group(1))
    count = one(db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")
    assert response == {"text": f"There are {count} customers with city Berlin."}
