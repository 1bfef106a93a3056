"""input_v1: analysis into a Command, the reflex path, and the action path."""

from __future__ import annotations

import time

import pytest

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session, Turn
from cogpipe.engine.testing import run_node
from cogpipe.engine.tools import ToolManager
from cogpipe.nodes.input import Input
from cogpipe.nodes.types import Analysis, Command, ThoughtResult
from cogpipe.nodes.ui import LOCAL_ACTIONS
from tests.helpers.openai_server import OpenAITestServer

SOCIAL = {
    "intent": "social",
    "topic": "greeting",
    "complexity": "trivial",
    "needs_data": False,
    "needs_tools": False,
    "reply": "Hi Ada, good to see you!",
}
QUESTION = {
    "intent": "question",
    "topic": "customers in Berlin",
    "complexity": "simple",
    "needs_data": True,
    "needs_tools": True,
    "reply": "",
}


async def test_trivial_social_turn_takes_the_reflex_path(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json(SOCIAL)
    run = await run_node(Input, {"text": "hi!"}, llm=remote, context=["User's name: Ada."])
    assert run.outputs.command is None
    assert run.outputs.reflex == ThoughtResult(response="Hi Ada, good to see you!", reflex=True)
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "input_v1.analyse"
    assert request.body["response_format"]["json_schema"]["name"] == "Analysis"
    assert "- User's name: Ada." in request.body["messages"][0]["content"]
    assert request.body["messages"][-1] == {"role": "user", "content": "hi!"}


@pytest.mark.parametrize("needs", ["needs_data", "needs_tools"])
async def test_a_social_turn_that_needs_data_or_tools_is_no_reflex(
    needs: str, remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({**SOCIAL, needs: True, "reply": "Hi!"})
    run = await run_node(Input, {"text": "hi, how many customers in Berlin?"}, llm=remote)
    assert run.outputs.reflex is None
    assert run.outputs.command.analysis.intent == "social"


async def test_the_reflex_rule_is_a_param(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({**SOCIAL, "intent": "feedback", "complexity": "simple"}, times=2)
    rule = {"intents": ["social", "feedback"], "complexity": ["trivial", "simple"]}
    run = await run_node(Input, {"text": "great, thanks"}, llm=remote, params={"reflex": rule})
    assert run.outputs.reflex is not None
    run = await run_node(Input, {"text": "great, thanks"}, llm=remote)  # the default rule
    assert run.outputs.reflex is None and run.outputs.command is not None
    openai_server.reply_json(SOCIAL)
    off = {"reflex": {"intents": []}}
    run = await run_node(Input, {"text": "hello"}, llm=remote, params=off)
    assert run.outputs.reflex is None


async def test_recent_turns_reach_the_analysis_so_follow_ups_keep_their_subject(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    session = Session(id="s", graph="g")
    for i, (said, answer) in enumerate(
        [("hello", "Hi!"), ("How many customers in Berlin?", "There are 39.")]
    ):
        outputs = {"response": {"text": answer}}
        session.add_turn(Turn(f"r{i}", "g", "message", said, outputs, "finished", time.time()))
    openai_server.reply_json(QUESTION)
    await run_node(
        Input, {"text": "and in Paris?"}, llm=remote, session=session, params={"history_turns": 1}
    )
    messages = openai_server.chat_requests[0].body["messages"]
    assert messages[1:] == [
        {"role": "user", "content": "How many customers in Berlin?"},
        {"role": "assistant", "content": "There are 39."},
        {"role": "user", "content": "and in Paris?"},
    ]


async def test_social_turn_without_a_reply_gets_a_default_one(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({**SOCIAL, "reply": "  "})
    run = await run_node(Input, {"text": "hello"}, llm=remote)
    assert run.outputs.reflex.response == "Hello! How can I help?"


async def test_question_becomes_a_command(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json(QUESTION)
    run = await run_node(Input, {"text": " How many customers in Berlin? "}, llm=remote)
    assert run.outputs.reflex is None
    assert run.outputs.command == Command(
        analysis=Analysis(**QUESTION), source_text="How many customers in Berlin?"
    )


async def test_local_action_leaves_both_ports_empty_without_an_llm_call(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    for name in sorted(LOCAL_ACTIONS):
        run = await run_node(Input, {"action": {"action": name, "control": "c"}}, llm=remote)
        assert run.outputs.command is None and run.outputs.reflex is None
    assert openai_server.chat_requests == []


async def test_other_action_becomes_a_command_for_its_text(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json(SOCIAL)  # even if the model says "social": no reflex
    action = {"action": "ask", "control": "more", "payload": {"text": "List customers in Bern"}}
    run = await run_node(Input, {"action": action}, llm=remote)
    command = run.outputs.command
    assert run.outputs.reflex is None
    assert command.source_text == "List customers in Bern"
    assert command.action.action == "ask" and command.action.control == "more"
    assert (command.analysis.intent, command.analysis.complexity) == ("action", "simple")
    assert (
        openai_server.chat_requests[0].body["messages"][-1]["content"] == "List customers in Bern"
    )


async def test_action_without_text_is_described(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json(QUESTION)
    action = {"action": "export", "control": "results", "payload": {"format": "csv"}}
    run = await run_node(Input, {"action": action}, llm=remote)
    assert (
        run.outputs.command.source_text
        == "The user clicked 'export' on control 'results' with {\"format\": \"csv\"}."
    )


async def test_empty_message_fires_nothing(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    run = await run_node(Input, {"text": "   "}, llm=remote)
    assert run.outputs == Input.Outputs()
    assert openai_server.chat_requests == []


async def test_offline_greeting_thanks_and_introduction_are_reflexes(offline: LLMClient) -> None:
    replies = {}
    for text in ("Hello!", "Thanks a lot", "My name is Ada", "Good morning"):
        run = await run_node(Input, {"text": text}, llm=offline)
        assert run.outputs.command is None, text
        replies[text] = run.outputs.reflex.response
    assert replies == {
        "Hello!": "Hello! How can I help?",
        "Thanks a lot": "You're welcome!",
        "My name is Ada": "Nice to meet you, Ada! How can I help?",
        "Good morning": "Hello! How can I help?",
    }


async def test_offline_reflex_welcomes_a_returning_user_by_name(offline: LLMClient) -> None:
    context = ["User's name: Ada.", "The user is back after 61 minutes of inactivity."]
    run = await run_node(Input, {"text": "Hi again!"}, llm=offline, context=context)
    assert run.outputs.reflex.response == "Welcome back, Ada! How can I help?"


async def test_offline_data_questions_and_ui_requests_are_commands(
    offline: LLMClient, tools: ToolManager
) -> None:
    cases = {
        "How many customers do we have in Berlin?": ("question", True, "customers Berlin"),
        "List customers in Hamburg": ("request", True, "List customers Hamburg"),
        "Show me a counter": ("request", False, "Show counter"),
        "What is my name?": ("question", False, "name"),
    }
    for text, (intent, data, topic) in cases.items():
        run = await run_node(Input, {"text": text}, llm=offline, tools=tools)
        analysis = run.outputs.command.analysis
        assert (analysis.intent, analysis.needs_data, analysis.topic) == (intent, data, topic)
        assert run.outputs.reflex is None


async def test_no_usable_analysis_takes_the_thinking_path(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_invalid_json(times=2)  # the client re-asks once
    run = await run_node(Input, {"text": "how many customers are in Berlin?"}, llm=remote)
    analysis = run.outputs.command.analysis
    assert (analysis.needs_data, analysis.needs_tools, analysis.intent) == (True, True, "request")
    (used,) = [d for t, d in run.events if t == "fallback.used"]
    assert (used["purpose"], used["error_kind"], used["fallback"]) == (
        "input_v1.analyse",
        "invalid_output",
        "a request that needs data and tools",
    )
