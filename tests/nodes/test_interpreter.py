"""interpreter_v1: a summary of tool results that adds no numbers or names."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.testing import run_node
from cogpipe.engine.tools import ToolManager
from cogpipe.nodes import facts
from cogpipe.nodes.interpreter import Interpreter
from cogpipe.nodes.types import Control, ToolOutcome, ToolResult
from tests.helpers.openai_server import OpenAITestServer

STEPS = [  # (tool, arguments): counts, rows, records, a failure
    ("count_customers", {"city": "Berlin"}),
    ("query", {"sql": "SELECT name, company, city FROM customers WHERE city = 'Graz'"}),
    ("query", {"sql": "SELECT COUNT(*) AS device_count FROM devices WHERE status = 'faulty'"}),
    ("revenue_by_month", {"year": 2024}),
    ("invoice_summary", {}),
    ("query", {"sql": "SELECT missing FROM invoices"}),
]


async def outcome(tools: ToolManager, tool: str, arguments: dict) -> ToolOutcome:
    return facts.outcome_of(await tools.call(tool, arguments))


def numbers_in(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", text)


@pytest.mark.parametrize(("tool", "arguments"), STEPS)
async def test_offline_summary_of_real_results_adds_no_facts(
    offline: LLMClient, tools: ToolManager, tool: str, arguments: dict
) -> None:
    step = await outcome(tools, tool, arguments)
    result = ToolResult(goal="answer the question", steps=[step])
    run = await run_node(Interpreter, {"result": result}, llm=offline)
    summary = run.outputs.thought.response
    source = json.dumps([step.data, step.arguments, step.error], ensure_ascii=False)
    assert summary and all(n in source for n in numbers_in(summary)), summary
    assert facts.unsupported(summary, [step]) == []
    assert ("interpreter.checked", {"ok": True, "unsupported": []}) in run.events
    assert run.outputs.thought.tool_results == [step]


async def test_offline_count_answer_carries_the_database_number(
    offline: LLMClient, tools: ToolManager, demo_db: Path
) -> None:
    with sqlite3.connect(demo_db) as conn:
        ((count,),) = conn.execute("SELECT COUNT(*) FROM customers WHERE city = 'Zurich'")
    step = await outcome(tools, "count_customers", {"city": "Zurich"})
    run = await run_node(Interpreter, {"result": ToolResult(goal="g", steps=[step])}, llm=offline)
    assert run.outputs.thought.response == f"There are {count} customers with city Zurich."


@pytest.mark.parametrize(
    "invented",
    [
        "There are 999 customers in Berlin.",
        "Berlin has 39 customers, most of them at Siemens.",
    ],
)
async def test_a_summary_with_invented_facts_is_replaced_by_the_data(
    remote: LLMClient, openai_server: OpenAITestServer, invented: str
) -> None:
    step = ToolOutcome(
        tool="count_customers",
        arguments={"city": "Berlin"},
        ok=True,
        data={"count": 39, "filters": {"city": "Berlin"}},
    )
    openai_server.reply_text(invented)
    run = await run_node(Interpreter, {"result": ToolResult(goal="g", steps=[step])}, llm=remote)
    assert run.outputs.thought.response == "There are 39 customers with city Berlin."
    bad = "999" if "999" in invented else "Siemens"
    assert ("interpreter.checked", {"ok": False, "unsupported": [bad]}) in run.events
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "interpreter_v1.summarise"
    assert '"count": 39' in request.body["messages"][-1]["content"]


async def test_a_faithful_summary_is_kept(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    step = ToolOutcome(
        tool="query",
        arguments={"sql": "SELECT ..."},
        ok=True,
        data={
            "columns": ["name", "city"],
            "rows": [["Anna Weber", "Graz"], ["Ben Lang", "Graz"]],
            "row_count": 2,
            "truncated": False,
        },
    )
    openai_server.reply_text("Two customers are in Graz: Anna Weber and Ben Lang.")
    run = await run_node(Interpreter, {"result": ToolResult(goal="g", steps=[step])}, llm=remote)
    thought = run.outputs.thought
    assert thought.response == "Two customers are in Graz: Anna Weber and Ben Lang."
    (table,) = thought.controls
    assert (table.type, table.columns, table.rows) == ("table", ["name", "city"], step.data["rows"])


async def test_without_steps_there_is_nothing_to_summarise(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    counter = Control(id="counter", type="label", label="Counter", value=0)
    run = await run_node(
        Interpreter, {"result": ToolResult(goal="g", controls=[counter])}, llm=remote
    )
    assert run.outputs.thought.response == "On screen now: Counter."
    assert run.outputs.thought.controls == [counter]
    run = await run_node(Interpreter, {"result": ToolResult(goal="g")}, llm=remote)
    assert run.outputs.thought.response == ""
    assert openai_server.chat_requests == []


def test_unsupported_finds_numbers_and_names_not_in_the_results() -> None:
    step = ToolOutcome(
        tool="revenue_by_month",
        arguments={"year": 2024},
        ok=True,
        data={
            "currency": "EUR",
            "total_invoiced": 238607.28,
            "months": [{"month": "2024-01", "invoiced": 1234.5}] * 3,
        },
    )
    assert facts.unsupported(
        "In 2024 we invoiced 238,607.28 EUR over 3 months; January alone 1,234.50.", [step]
    ) == ["January"]
    assert facts.unsupported("Revenue was 238607 EUR.", [step]) == ["238607"]
    assert facts.unsupported("Total: 238607.28 EUR (Acme AG).", [step]) == ["Acme", "AG"]


async def test_a_summary_that_repeats_the_prompt_gives_way_to_the_data_summary(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    echo = "Summarise the tool results below as the answer to the question, in one to three"
    openai_server.reply_text(echo, times=2)  # the client re-asks once
    step = ToolOutcome(
        tool="count_customers", arguments={"city": "Bern"}, ok=True, data={"count": 4}
    )
    result = ToolResult(goal="count", steps=[step])
    run = await run_node(Interpreter, {"result": result}, llm=remote)
    assert run.outputs.thought.response == "There are 4 customers with city Bern."
    (used,) = [d for t, d in run.events if t == "fallback.used"]
    assert (used["purpose"], used["fallback"]) == ("interpreter_v1.summarise", "the data summary")
