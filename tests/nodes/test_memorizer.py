"""memorizer_v1: name, situation, topics, facts, rolling summary, and its context."""

from __future__ import annotations

import time

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session, Turn
from cogpipe.engine.testing import run_node
from cogpipe.nodes.memorizer import Memorizer
from cogpipe.nodes.types import Analysis, Command
from tests.helpers.openai_server import OpenAITestServer


def command(topic: str, text: str = "x") -> Command:
    analysis = Analysis(intent="question", topic=topic, complexity="simple", needs_data=True)
    return Command(analysis=analysis, source_text=text)


async def test_offline_learns_name_situation_and_provides_context(offline: LLMClient) -> None:
    run = await run_node(
        Memorizer,
        {
            "response": {"text": "Nice to meet you, Ada!"},
            "message": "My name is Ada and I run the operations team at Elbtech.",
        },
        llm=offline,
    )
    memory = run.session.state["memory"]
    assert (memory["name"], memory["situation"]) == ("Ada", "I run the operations team at Elbtech")
    assert run.events[-1] == (
        "memory.updated",
        {"changed": {"name": "Ada", "situation": "I run the operations team at Elbtech"}},
    )
    assert Memorizer("m").context(run.session) == [
        "User's name: Ada.",
        "User's situation: I run the operations team at Elbtech.",
    ]


async def test_offline_keeps_topics_and_facts_from_answered_questions(offline: LLMClient) -> None:
    session = Session(id="s", graph="g")
    await run_node(
        Memorizer,
        {
            "response": {"text": "There are 39 customers with city Berlin."},
            "message": "How many customers in Berlin?",
            "command": command("customers in Berlin"),
        },
        llm=offline,
        session=session,
    )
    await run_node(
        Memorizer,
        {
            "response": {"text": "Here you go: Counter, with +1."},
            "message": "Show me a counter",
            "command": command("counter"),
        },
        llm=offline,
        session=session,
    )
    memory = session.state["memory"]
    assert memory["topics"] == ["customers in Berlin", "counter"]
    assert memory["facts"] == ["There are 39 customers with city Berlin."]
    assert "name" not in memory
    assert Memorizer("m").context(session) == [
        "Topics so far: customers in Berlin; counter.",
        "Facts learned: There are 39 customers with city Berlin.",
    ]


async def test_a_name_the_user_did_not_say_is_not_kept(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({"name": "Bob", "situation": None, "facts": []})
    run = await run_node(
        Memorizer, {"response": {"text": "Hi!"}, "message": "hello there"}, llm=remote
    )
    assert "name" not in run.session.state["memory"]
    assert [t for t, _ in run.events if t == "memory.updated"] == []
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "memorizer_v1.extract"
    assert (
        request.body["messages"][-1]["content"] == "User said: hello there\nAssistant answered: Hi!"
    )


async def test_without_a_message_no_llm_is_asked(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    run = await run_node(
        Memorizer,
        {"response": {"text": "Counter shown."}, "command": command("counter")},
        llm=remote,
    )
    assert run.session.state["memory"]["topics"] == ["counter"]
    assert openai_server.chat_requests == []


async def test_rolling_summary_once_history_grows(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    session = Session(id="s", graph="g")
    for i in range(6):
        session.add_turn(
            Turn(
                f"r{i}",
                "g",
                "message",
                f"question {i}",
                {"response": {"text": f"answer {i}"}},
                "finished",
                time.time(),
            )
        )
    params = {"summary_after": 6, "summary_every": 2, "keep_recent": 2}
    openai_server.reply_text("Ada asked six questions.")
    run = await run_node(
        Memorizer,
        {"response": {"text": "ok"}, "command": command("t")},
        llm=remote,
        session=session,
        params=params,
    )
    assert run.session.state["memory"]["summary"] == "Ada asked six questions."
    prompt = openai_server.chat_requests[0].body["messages"][-1]["content"]
    assert prompt.startswith("Previous summary: (none)\nTurns: user: question 0\n")
    assert "question 3" in prompt and "question 4" not in prompt  # the last two are kept out
    await run_node(
        Memorizer, {"response": {"text": "ok"}}, llm=remote, session=session, params=params
    )
    assert len(openai_server.chat_requests) == 1  # next summary in two turns
    assert (
        Memorizer("m").context(session)[-1]
        == "Earlier in this conversation: Ada asked six questions."
    )
