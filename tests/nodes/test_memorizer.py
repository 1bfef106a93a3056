"""memorizer_v1: name, situation, topics, facts, rolling summary, and its context."""

from __future__ import annotations

import time
from typing import Any

import pytest

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session, Turn
from cogpipe.engine.testing import run_node
from cogpipe.nodes.memorizer import Memorizer
from cogpipe.nodes.types import Analysis, Command, ThoughtResult, ToolOutcome
from tests.helpers.openai_server import OpenAITestServer


def command(topic: str, text: str = "x") -> Command:
    analysis = Analysis(intent="question", topic=topic, complexity="simple", needs_data=True)
    return Command(analysis=analysis, source_text=text)


BERLIN = ToolOutcome(
    tool="count_customers", arguments={"city": "Berlin"}, ok=True, data={"count": 39}
)


def note(**values: Any) -> dict[str, Any]:
    return {"introduction": None, "name": None, "situation": None, "facts": [], **values}


def events(run: Any, type_: str) -> list[dict[str, Any]]:
    return [data for t, data in run.events if t == type_]


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
    assert events(run, "memory.updated") == [
        {
            "changed": {"name": "Ada", "situation": "I run the operations team at Elbtech"},
            "evidence": {"name": "My name is Ada", "situation": "the user's words"},
        }
    ]
    assert Memorizer("m").context(run.session) == [
        "User's name: Ada.",
        "User's situation: I run the operations team at Elbtech.",
    ]


async def test_offline_keeps_topics_and_facts_from_answered_questions(offline: LLMClient) -> None:
    session = Session(id="s", graph="g")
    question = "How many customers in Berlin?"
    run = await run_node(
        Memorizer,
        {
            "response": {"text": "There are 39 customers with city Berlin."},
            "message": question,
            "command": command("customers in Berlin", question),
            "thought": ThoughtResult(response="39", tool_results=[BERLIN]),
        },
        llm=offline,
        session=session,
    )
    assert events(run, "memory.updated")[0]["evidence"] == {
        "topics": "the user's words",
        "facts": {"There are 39 customers with city Berlin.": "tool results"},
    }
    await run_node(
        Memorizer,
        {
            "response": {"text": "Here you go: Counter, with +1."},
            "message": "Show me a counter",
            "command": command("counter", "Show me a counter"),
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


@pytest.mark.parametrize(
    ("message", "claim", "reason"),
    [
        (
            "and in Paris?",
            note(introduction="and in Paris", name="Paris"),
            "in 'and in Paris' no introduction (my name is, my name's, i am, i'm, call me, "
            "mein name ist, ich bin, ich heiße, je m'appelle) stands before 'Paris'",
        ),
        (
            "I'm in Berlin this week",
            note(introduction="I'm in Berlin", name="Berlin"),
            "in \"I'm in Berlin\" no introduction (my name is, my name's, i am, i'm, call me, "
            "mein name ist, ich bin, ich heiße, je m'appelle) stands before 'Berlin'",
        ),
        (
            "hello there",
            note(introduction="my name is Bob", name="Bob"),
            "the quoted introduction 'my name is Bob' is not in the user's message",
        ),
        (
            "i am fine, thanks",
            note(introduction="i am fine", name="Fine"),
            "'Fine' is not written as a name in the user's message",
        ),
        (
            "what about the Month?",
            note(introduction=None, name="Month"),
            "the quoted introduction '' is not in the user's message",
        ),
    ],
)
async def test_a_name_is_kept_only_when_the_user_introduced_themselves(
    message: str,
    claim: dict[str, Any],
    reason: str,
    remote: LLMClient,
    openai_server: OpenAITestServer,
) -> None:
    openai_server.reply_json(claim)
    run = await run_node(Memorizer, {"response": {"text": "Hi!"}, "message": message}, llm=remote)
    assert "name" not in run.session.state["memory"]
    assert events(run, "memory.updated") == []
    assert events(run, "memory.rejected") == [
        {"rejected": [{"field": "name", "value": claim["name"], "reason": reason}]}
    ]


async def test_a_real_introduction_is_kept_with_its_quote(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    quote = "\N{LEFT DOUBLE QUOTATION MARK}I\N{RIGHT SINGLE QUOTATION MARK}m Ada Lovelace"
    openai_server.reply_json(note(introduction=quote, name="Ada Lovelace"))
    message = "Hi, I\N{RIGHT SINGLE QUOTATION MARK}m Ada Lovelace from Elbtech."
    run = await run_node(Memorizer, {"response": {"text": "Hi!"}, "message": message}, llm=remote)
    assert run.session.state["memory"]["name"] == "Ada Lovelace"
    (updated,) = events(run, "memory.updated")
    assert updated["evidence"] == {"name": quote}
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "memorizer_v1.extract"
    assert request.body["messages"][-1]["content"] == (
        f"User said: {message}\nTool results: (none)\nAssistant answered: Hi!"
    )


async def test_situations_and_facts_need_the_users_words_or_the_tool_results(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    message = "How many customers in Berlin? I lead the sales team."
    openai_server.reply_json(
        note(
            situation="head of sales",
            facts=[". .", "Berlin has 39 customers", "Berlin is big"],  # two at most
        )
    )
    run = await run_node(
        Memorizer,
        {
            "response": {"text": "39."},
            "message": message,
            "thought": ThoughtResult(response="39", tool_results=[BERLIN]),
        },
        llm=remote,
    )
    memory = run.session.state["memory"]
    assert "situation" not in memory
    assert memory["facts"] == ["Berlin has 39 customers"]
    (rejected,) = events(run, "memory.rejected")
    assert rejected["rejected"] == [
        {
            "field": "situation",
            "value": "head of sales",
            "reason": "it is not in the user's message word for word",
        },
        {"field": "fact", "value": ". .", "reason": "'. .' has fewer than 2 words"},
    ]
    assert len(openai_server.chat_requests) == 1


async def test_invented_names_in_facts_are_refused(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json(note(facts=["Berlin Solutions has 150 employees"]))
    run = await run_node(
        Memorizer,
        {
            "response": {"text": "39."},
            "message": "How many customers in Berlin?",
            "thought": ThoughtResult(response="39", tool_results=[BERLIN]),
        },
        llm=remote,
    )
    assert "facts" not in run.session.state["memory"]
    (rejected,) = events(run, "memory.rejected")
    assert rejected["rejected"][0]["reason"] == (
        "150, Solutions occur in no tool result and no word of the user"
    )


async def test_without_a_message_no_llm_is_asked(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    run = await run_node(
        Memorizer,
        {"response": {"text": "Counter shown."}, "command": command("counter", "a counter")},
        llm=remote,
    )
    assert run.session.state["memory"]["topics"] == ["counter"]
    assert openai_server.chat_requests == []


async def test_a_topic_the_user_did_not_speak_of_is_not_kept(remote: LLMClient) -> None:
    run = await run_node(
        Memorizer,
        {"response": {"text": "ok"}, "command": command("Mars colonies", "hello there")},
        llm=remote,
    )
    assert "topics" not in run.session.state["memory"]
    (rejected,) = events(run, "memory.rejected")
    assert rejected["rejected"][0]["field"] == "topic"


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
