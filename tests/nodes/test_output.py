"""output_v1: streams the answer while it is generated; the reflex draft without an LLM."""

from __future__ import annotations

import time

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session, Turn
from cogpipe.engine.testing import run_node
from cogpipe.nodes.output import Output
from cogpipe.nodes.types import Analysis, Command, Response, ThoughtResult
from tests.helpers.openai_server import OpenAITestServer

QUESTION = Command(
    analysis=Analysis(intent="question", topic="customers", complexity="simple", needs_data=True),
    source_text="How many customers in Berlin?",
)


async def test_reflex_draft_is_streamed_without_an_llm_call(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    thought = ThoughtResult(response="Hello Ada! How can I help?", reflex=True)
    run = await run_node(Output, {"thought": thought}, llm=remote)
    assert run.outputs.response == Response(text="Hello Ada! How can I help?")
    assert [d["text"] for t, d in run.events if t == "output.delta"] == [
        "Hello ",
        "Ada! ",
        "How ",
        "can ",
        "I ",
        "help?",
    ]
    assert openai_server.chat_requests == []


async def test_answer_is_streamed_delta_by_delta_from_the_model(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Berlin has 39 customers right now.")
    session = Session(id="s", graph="g")
    session.add_turn(
        Turn("r0", "g", "message", "Hi", {"response": {"text": "Hello!"}}, "finished", time.time())
    )
    session.add_turn(Turn("r1", "g", "action", {"action": "increment"}, {}, "finished", 0.0))
    thought = ThoughtResult(response="There are 39 customers with city Berlin.")
    run = await run_node(
        Output,
        {"thought": thought, "command": QUESTION},
        llm=remote,
        session=session,
        context=["User's name: Ada."],
    )
    deltas = [d["text"] for t, d in run.events if t == "output.delta"]
    assert len(deltas) == 6 and "".join(deltas) == "Berlin has 39 customers right now."
    assert run.outputs.response.text == "Berlin has 39 customers right now."
    types = [t for t, _ in run.events]
    assert types.index("llm.request") < types.index("output.delta") < types.index("llm.response")
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "output_v1.answer"
    assert request.body["stream"] is True
    messages = request.body["messages"]
    assert messages[0]["content"].endswith("Context:\n- User's name: Ada.")
    assert messages[1:] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {
            "role": "user",
            "content": "Question: How many customers in Berlin?\n"
            "Draft: There are 39 customers with city Berlin.",
        },
    ]


async def test_an_empty_answer_falls_back_to_the_draft(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("")
    run = await run_node(Output, {"thought": ThoughtResult(response="The draft.")}, llm=remote)
    assert run.outputs.response.text == "The draft." and run.streamed == "The draft."


async def test_offline_presents_the_draft_or_answers_from_context(offline: LLMClient) -> None:
    thought = ThoughtResult(response="There are 39 customers with city Berlin.")
    run = await run_node(Output, {"thought": thought, "command": QUESTION}, llm=offline)
    assert run.outputs.response.text == thought.response == run.streamed
    name = QUESTION.model_copy(update={"source_text": "What is my name?"})
    run = await run_node(
        Output,
        {"thought": ThoughtResult(response=""), "command": name},
        llm=offline,
        context=["User's name: Ada."],
    )
    assert run.outputs.response.text == "Your name is Ada."
