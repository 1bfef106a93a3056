"""The offline model's conversation rules: small talk, names, controls, analysis."""

from __future__ import annotations

import pytest

from cogpipe.nodes.offline.conversation import OFFLINE_HELP, analyse, chat_reply, social_reply


@pytest.mark.parametrize(
    ("text", "context", "reply"),
    [
        ("Hello!", [], "Hello! How can I help?"),
        ("hey there", ["User's name: Ada."], "Hello, Ada! How can I help?"),
        ("I'm Ada", [], "Nice to meet you, Ada! How can I help?"),
        ("Thanks, bye!", [], "You're welcome! Goodbye!"),
        (
            "Hi!",
            ["User's name: Ada.", "The user is back after 2 hours of inactivity."],
            "Welcome back, Ada! How can I help?",
        ),
        ("Hi, how many customers are in Bern?", [], None),
        ("Hi, show me a counter", [], None),
        ("i am looking for revenue", [], None),
    ],
)
def test_social_turns(text: str, context: list[str], reply: str | None) -> None:
    assert social_reply(text, context) == reply


def test_the_analysis_follows_the_planned_steps() -> None:
    step = [{"tool": "count_customers", "arguments": {}, "why": "count"}]
    asked = analyse("How many customers do we have in Berlin?", [], step)
    assert asked == {
        "intent": "question",
        "topic": "customers Berlin",
        "complexity": "simple",
        "needs_data": True,
        "needs_tools": True,
        "reply": "",
    }
    assert analyse("Compare revenue in 2024 and 2025", [], step)["complexity"] == "complex"
    assert analyse("Hi, count the customers", [], step)["intent"] == "request"  # not social
    counter = analyse("Show me a counter", [], [])
    assert (counter["needs_data"], counter["needs_tools"]) == (False, True)
    hello = analyse("Hello!", [], [])
    assert (hello["intent"], hello["reply"]) == ("social", "Hello! How can I help?")


def test_chat_replies_use_memory_from_the_context() -> None:
    assert chat_reply("What is my name?", ["User's name: Ada."]) == "Your name is Ada."
    assert chat_reply("who am I", []).startswith("You haven't told me your name yet")
    assert chat_reply("show me a switch", []) == "Here you go: Switch, with the buttons Toggle."
    assert chat_reply("What's the weather?", []) == OFFLINE_HELP
