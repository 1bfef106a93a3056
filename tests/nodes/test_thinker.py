"""thinker_v1 (function calling) and thinker_v2 (plan executor) with the real demo MCP
server over a generated SQLite database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.testing import run_node
from cogpipe.engine.tools import ToolManager
from cogpipe.nodes.thinker import ThinkerV1, ThinkerV2
from cogpipe.nodes.types import Analysis, Command, DirectorPlan, Guidance
from tests.helpers.openai_server import OpenAITestServer


def sql(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def command(text: str, needs_data: bool = True) -> dict[str, Any]:
    analysis = Analysis(intent="question", topic="t", complexity="simple", needs_data=needs_data)
    return {"command": Command(analysis=analysis, source_text=text)}


async def test_v1_calls_the_tools_the_model_asks_for_and_returns_their_results(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager, demo_db: Path
) -> None:
    ((count,),) = sql(demo_db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")
    openai_server.reply_tool_calls([{"name": "count_customers", "arguments": {"city": "Berlin"}}])
    openai_server.reply_text(f"Berlin has {count} customers.")
    inputs = {**command("How many customers in Berlin?"), "plan": Guidance(plan="Count them.")}
    run = await run_node(ThinkerV1, inputs, llm=remote, tools=tools, context=["Strategy: be brief"])
    thought = run.outputs.thought
    assert thought.response == f"Berlin has {count} customers."
    (outcome,) = thought.tool_results
    assert (outcome.tool, outcome.ok, outcome.data["count"]) == ("count_customers", True, count)
    assert thought.controls == [] and not thought.reflex
    first, second = openai_server.chat_requests
    assert first.headers["x-cogpipe-purpose"] == "thinker_v1.think"
    system = first.body["messages"][0]["content"]
    assert "Director's plan: Count them." in system and "- Strategy: be brief" in system
    offered = {t["function"]["name"] for t in first.body["tools"]}
    assert {"count_customers", "query", "list_tables", "show_controls"} <= offered
    tool_message = second.body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"])["data"]["count"] == count
    assert [t for t, _ in run.events if t.startswith("tool.")] == ["tool.started", "tool.finished"]


async def test_v1_rounds_are_bounded_and_the_last_one_offers_no_tools(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    openai_server.reply_tool_calls([{"name": "list_tables", "arguments": {}}], times=5)
    run = await run_node(
        ThinkerV1, command("Loop forever"), params={"max_rounds": 3}, llm=remote, tools=tools
    )
    requests = openai_server.chat_requests
    assert len(requests) == 3
    assert [("tools" in r.body) for r in requests] == [True, True, False]
    thought = run.outputs.thought
    assert [o.tool for o in thought.tool_results] == ["list_tables", "list_tables"]
    assert thought.response.startswith("list_tables: tables: customers (")  # data summary


async def test_v1_reports_a_failed_tool_to_the_model_and_goes_on(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    openai_server.reply_tool_calls(
        [
            {"name": "query", "arguments": {"sql": "SELECT nope FROM customers"}},
            {"name": "no_such_tool", "arguments": {}},
        ]
    )
    openai_server.reply_text("The query failed.")
    run = await run_node(ThinkerV1, command("Break it"), llm=remote, tools=tools)
    bad_sql, unknown = run.outputs.thought.tool_results
    assert not bad_sql.ok and "no such column: nope" in bad_sql.error
    assert not unknown.ok and unknown.error.startswith("unknown tool 'no_such_tool'")
    messages = openai_server.chat_requests[1].body["messages"]
    errors = [json.loads(m["content"])["error"] for m in messages if m["role"] == "tool"]
    assert errors == [bad_sql.error, unknown.error]


async def test_v1_shows_controls_through_its_own_function(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    counter = {"id": "n", "type": "label", "label": "N", "value": 0}
    openai_server.reply_tool_calls(
        [
            {"name": "show_controls", "arguments": {"controls": [{"id": "x", "type": "dial"}]}},
            {"name": "show_controls", "arguments": {"controls": [counter]}},
        ]
    )
    openai_server.reply_text("Here is N.")
    run = await run_node(ThinkerV1, command("a counter", False), llm=remote, tools=tools)
    assert [c.model_dump(exclude_defaults=True) for c in run.outputs.thought.controls] == [counter]
    messages = openai_server.chat_requests[1].body["messages"]
    invalid, shown = (m["content"] for m in messages if m["role"] == "tool")
    assert invalid.startswith("invalid controls, nothing shown: 1 validation error")
    assert shown == "shown: n"


async def test_v1_offline_lists_rows_as_a_table_from_the_database(
    offline: LLMClient, tools: ToolManager, demo_db: Path
) -> None:
    names = sql(demo_db, "SELECT name, company FROM customers WHERE city = 'Hamburg' ORDER BY 1")
    run = await run_node(ThinkerV1, command("List customers in Hamburg"), llm=offline, tools=tools)
    thought = run.outputs.thought
    (table,) = thought.controls
    assert (table.id, table.type, table.label) == ("results", "table", "List customers in Hamburg")
    assert table.columns == ["name", "company", "city", "country", "segment"]
    assert [tuple(r[:2]) for r in table.rows] == names
    assert thought.response.startswith(f"The query call found {len(names)} rows")


async def test_v1_offline_counts_with_the_tool_and_shows_a_counter(
    offline: LLMClient, tools: ToolManager, demo_db: Path
) -> None:
    ((count,),) = sql(demo_db, "SELECT COUNT(*) FROM customers WHERE city = 'Vienna'")
    run = await run_node(
        ThinkerV1, command("How many customers in Vienna?"), llm=offline, tools=tools
    )
    assert run.outputs.thought.response == f"There are {count} customers with city Vienna."
    run = await run_node(ThinkerV1, command("Show me a counter", False), llm=offline, tools=tools)
    thought = run.outputs.thought
    assert [c.id for c in thought.controls] == ["counter", "counter_inc", "counter_dec"]
    assert thought.response == "Here you go: Counter, with the buttons +1, -1."
    assert thought.tool_results == []


async def test_v2_runs_every_step_and_reports_failures(tools: ToolManager, demo_db: Path) -> None:
    ((berlin,),) = sql(demo_db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")
    ((devices,),) = sql(demo_db, "SELECT COUNT(*) FROM devices")
    plan = DirectorPlan(
        goal="g",
        tool_sequence=[
            {"tool": "count_customers", "arguments": {"city": "Berlin"}},
            {"tool": "query", "arguments": {"sql": "DELETE FROM customers"}},
            {"tool": "teleport", "arguments": {}},
            {"tool": "count_customers", "arguments": {"city": 5}},
            {"tool": "query", "arguments": {"sql": "SELECT COUNT(*) AS n FROM devices"}},
        ],
        controls=[{"id": "c", "type": "label"}],
    )
    run = await run_node(ThinkerV2, {"plan": plan}, tools=tools)
    result = run.outputs.result
    assert result.goal == "g" and result.controls == plan.controls
    assert [(s.tool, s.ok) for s in result.steps] == [
        ("count_customers", True),
        ("query", False),
        ("teleport", False),
        ("count_customers", False),
        ("query", True),
    ]
    assert result.steps[0].data["count"] == berlin
    assert "only SELECT (or WITH ... SELECT) queries are allowed" in result.steps[1].error
    assert result.steps[2].error == (
        "not run: step 3: 'teleport' is not a listed tool; the tools are: list_tables, "
        "describe_table, query, count_customers, revenue_by_month, invoice_summary"
    )
    assert result.steps[3].error == (
        "not run: step 4 calls 'count_customers': arguments.city: 5 is not of type 'string', 'null'"
    )
    assert result.steps[4].data["rows"] == [[devices]]
    assert not result.ok
    assert [t for t, _ in run.events] == [
        "tool.started",
        "tool.finished",
        "tool.started",
        "tool.finished",
        "tool.started",
        "tool.finished",
    ]  # the unknown tool and the invalid arguments never reached a server


async def test_v2_stops_at_max_steps_and_says_so(tools: ToolManager) -> None:
    plan = DirectorPlan(goal="g", tool_sequence=[{"tool": "list_tables"}] * 3)
    run = await run_node(ThinkerV2, {"plan": plan}, params={"max_steps": 2}, tools=tools)
    steps = run.outputs.result.steps
    assert [s.ok for s in steps] == [True, True, False]
    assert steps[2].error == "not run: the plan has 3 steps and max_steps is 2"


async def test_v2_without_tool_servers_reports_each_step() -> None:
    plan = DirectorPlan(goal="g", tool_sequence=[{"tool": "list_tables"}])
    run = await run_node(ThinkerV2, {"plan": plan})
    (step,) = run.outputs.result.steps
    assert (step.ok, step.error) == (False, "this runtime has no tool servers")


async def test_v1_arguments_that_are_not_json_go_back_to_the_model_uncalled(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    openai_server.reply_tool_calls([{"name": "count_customers", "arguments": '{"city": "Ber'}])
    openai_server.reply_text("Sorry.")
    run = await run_node(ThinkerV1, command("Customers in Berlin?"), llm=remote, tools=tools)
    assert run.outputs.thought.tool_results == []
    assert not [t for t, _ in run.events if t.startswith("tool.")]  # no server saw it
    (message,) = [m for m in openai_server.chat_requests[1].body["messages"] if m["role"] == "tool"]
    assert message["content"].startswith("not called: ")
    assert message["content"].endswith("call 'count_customers' again with a JSON object")


async def test_v1_falls_back_to_the_data_summary_when_the_draft_repeats_the_prompt(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    openai_server.reply_tool_calls([{"name": "count_customers", "arguments": {"city": "Bern"}}])
    openai_server.reply_text(
        "For facts, call the tools and use only what they return; never guess."
    )
    run = await run_node(ThinkerV1, command("Customers in Bern?"), llm=remote, tools=tools)
    assert run.outputs.thought.response.startswith("There are ")
    (used,) = [d for t, d in run.events if t == "fallback.used"]
    assert (used["purpose"], used["reason"], used["fallback"]) == (
        "thinker_v1.think",
        "the draft repeats the prompt",
        "the data summary",
    )
