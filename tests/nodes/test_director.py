"""director_v1 (guidance + strategy line), director_strategy_v1, director_v2 (plans)."""

from __future__ import annotations

from typing import Any

import pytest

from cogpipe.engine.errors import LLMInvalidOutputError
from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session
from cogpipe.engine.testing import run_node
from cogpipe.engine.tools import ToolManager
from cogpipe.nodes.director import DirectorStrategy, DirectorV1, DirectorV2
from cogpipe.nodes.types import Analysis, Command, Guidance, Response, ToolStep
from tests.helpers.openai_server import OpenAITestServer


def command(text: str, needs_data: bool = True, complexity: str = "simple") -> dict[str, Any]:
    analysis = Analysis(
        intent="question",
        topic=text.lower().rstrip("?"),
        complexity=complexity,
        needs_data=needs_data,
    )
    return {"command": Command(analysis=analysis, source_text=text)}


async def test_v1_plans_data_and_complex_requests_only(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    run = await run_node(DirectorV1, command("What is my name?", needs_data=False), llm=remote)
    assert run.outputs.plan is None and openai_server.chat_requests == []
    openai_server.reply_text(" Call count_customers with city=Berlin. ", times=2)
    run = await run_node(DirectorV1, command("Customers in Berlin?"), llm=remote)
    assert run.outputs.plan == Guidance(plan="Call count_customers with city=Berlin.")
    run = await run_node(DirectorV1, command("Why?", False, "complex"), llm=remote)
    assert run.outputs.plan is not None
    request = openai_server.chat_requests[0]
    assert request.headers["x-cogpipe-purpose"] == "director_v1.plan"
    assert request.body["messages"][-1]["content"] == "Customers in Berlin?"


async def test_v1_offline_plan_names_the_tool_steps(offline: LLMClient, tools: ToolManager) -> None:
    run = await run_node(
        DirectorV1, command("How many customers in Bern?"), llm=offline, tools=tools
    )
    assert run.outputs.plan.plan == (
        'Call count_customers({"city": "Bern"}). Answer with the '
        "numbers exactly as returned; show rows as a table."
    )


async def test_strategy_updates_after_a_turn_and_becomes_director_context(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    session = Session(id="s", graph="g")
    assert DirectorV1("director").context(session) == []
    openai_server.reply_text("Ada explores customers by city;\nkeep it short.")
    run = await run_node(
        DirectorStrategy,
        {"response": {"text": "39."}, **command("Customers in Berlin?")},
        llm=remote,
        session=session,
    )
    assert session.state["director"] == {
        "topics": ["customers in berlin"],
        "strategy": "Ada explores customers by city; keep it short.",
    }
    assert run.events[-1] == (
        "strategy.updated",
        {"strategy": session.state["director"]["strategy"]},
    )
    assert DirectorV1("director").context(session) == [
        "Strategy: Ada explores customers by city; keep it short."
    ]
    prompt = openai_server.chat_requests[0].body["messages"][-1]["content"]
    assert prompt == (
        "Previous strategy: (none)\nRecent topics: customers in berlin\n"
        "Request: Customers in Berlin?\nAnswer: 39."
    )


async def test_strategy_keeps_still_on_reflex_turns(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    session = Session(id="s", graph="g", state={"director": {"strategy": "old"}})
    await run_node(
        DirectorStrategy, {"response": Response(text="Hi!")}, llm=remote, session=session
    )
    assert session.state["director"] == {"strategy": "old"}
    assert openai_server.chat_requests == []


async def test_strategy_offline_names_recent_topics(offline: LLMClient) -> None:
    session = Session(id="s", graph="g")
    for text in ("Customers in Berlin?", "Revenue in 2024?"):
        await run_node(
            DirectorStrategy,
            {"response": {"text": "ok"}, **command(text)},
            llm=offline,
            session=session,
            params={"topics": 2},
        )
    assert session.state["director"]["strategy"] == (
        "The user is exploring customers in berlin; revenue in 2024; answer briefly with "
        "numbers from the tools and tables for lists."
    )


async def test_v2_lists_the_real_tools_and_returns_the_plan(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    steps = [{"tool": "count_customers", "arguments": {"city": "Berlin"}, "why": "count"}] * 3
    openai_server.reply_json({"goal": "count", "tool_sequence": steps, "response_style": "terse"})
    run = await run_node(
        DirectorV2,
        command("Customers in Berlin?"),
        llm=remote,
        tools=tools,
        params={"max_steps": 2},
    )
    plan = run.outputs.plan
    assert (plan.goal, plan.response_style) == ("count", "terse")
    assert plan.tool_sequence == [ToolStep(**steps[0])] * 2
    request = openai_server.chat_requests[0]
    assert request.headers["x-cogpipe-purpose"] == "director_v2.plan"
    assert request.body["response_format"]["json_schema"]["name"] == "DirectorPlan"
    system = request.body["messages"][0]["content"]
    assert "query (Run a SQL query) [read-only]\n" in system  # describe_tools
    assert "  - city: string, optional" in system


async def test_v2_offline_plans_listed_tools_and_controls(
    offline: LLMClient, tools: ToolManager
) -> None:
    run = await run_node(
        DirectorV2, command("How many customers in Basel?"), llm=offline, tools=tools
    )
    assert run.outputs.plan.tool_sequence == [
        ToolStep(
            tool="count_customers", arguments={"city": "Basel"}, why="count matching customers"
        )
    ]
    run = await run_node(
        DirectorV2, command("Show me a traffic light", False), llm=offline, tools=tools
    )
    plan = run.outputs.plan
    assert plan.tool_sequence == [] and [c.id for c in plan.controls] == ["light"]
    run = await run_node(DirectorV2, command("How many customers in Basel?"), llm=offline)
    assert run.outputs.plan.tool_sequence == []  # no tool servers: nothing is planned


async def test_v2_plans_can_only_name_listed_tools(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    openai_server.reply_json({"goal": "g", "tool_sequence": [], "response_style": "x"})
    await run_node(DirectorV2, command("Anything?"), llm=remote, tools=tools)
    schema = openai_server.chat_requests[0].body["response_format"]["json_schema"]["schema"]
    assert schema["$defs"]["ToolStep"]["properties"]["tool"]["enum"] == [
        "list_tables",
        "describe_table",
        "query",
        "count_customers",
        "revenue_by_month",
        "invoice_summary",
    ]


async def test_v2_reasks_once_quoting_what_breaks_the_schema_then_fails(
    remote: LLMClient, openai_server: OpenAITestServer, tools: ToolManager
) -> None:
    bad = {"tool": "count_customers", "arguments": {"city": 5}, "why": "count"}
    good = {"tool": "count_customers", "arguments": {"city": "Berlin"}, "why": "count"}
    openai_server.reply_json({"goal": "g", "tool_sequence": [bad], "response_style": "x"})
    openai_server.reply_json({"goal": "g", "tool_sequence": [good], "response_style": "x"})
    run = await run_node(DirectorV2, command("Customers in Berlin?"), llm=remote, tools=tools)
    assert run.outputs.plan.tool_sequence == [ToolStep(**good)]
    problem = "step 1 calls 'count_customers': arguments.city: 5 is not of type 'string', 'null'"
    assert [d for t, d in run.events if t == "plan.rejected"] == [
        {"attempt": 1, "problems": [problem]}
    ]
    reask = openai_server.chat_requests[1].body["messages"][-1]["content"]
    assert reask.startswith(f"That plan cannot run: {problem}. Answer again")

    openai_server.reply_json({"goal": "g", "tool_sequence": [bad], "response_style": "x"}, times=2)
    with pytest.raises(LLMInvalidOutputError) as info:
        await run_node(DirectorV2, command("Customers in Berlin?"), llm=remote, tools=tools)
    assert info.value.message == (
        f"director_v2: the model's plan cannot run, also after one re-ask: {problem}"
    )
