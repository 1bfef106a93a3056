"""The offline model's keyword rules and the shared fact helpers."""

from __future__ import annotations

import pytest

from cogpipe.nodes import facts, rules
from cogpipe.nodes.types import ToolOutcome

CUSTOMERS = "SELECT c.name, c.company, c.city, c.country, c.segment FROM customers c"


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("How many customers do we have in Berlin?", [("count_customers", {"city": "Berlin"})]),
        ("how many customers are in Berlin?", [("count_customers", {"city": "Berlin"})]),
        (
            "Number of enterprise customers in Austria",
            [("count_customers", {"country": "Austria", "segment": "enterprise"})],
        ),
        ("How many customers do we have in total?", [("count_customers", {})]),
        (
            "List customers in Hamburg",
            [
                (
                    "query",
                    {
                        "sql": f"{CUSTOMERS} WHERE c.city = 'Hamburg' COLLATE NOCASE ORDER BY 1",
                        "limit": 100,
                    },
                )
            ],
        ),
        (
            "How many devices are there?",
            [
                (
                    "query",
                    {
                        "sql": "SELECT COUNT(*) AS device_count FROM devices d JOIN customers c ON "
                        "c.id = d.customer_id"
                    },
                )
            ],
        ),
        ("How many invoices are overdue?", [("invoice_summary", {"status": "overdue"})]),
        ("What was our revenue in 2024?", [("revenue_by_month", {"year": 2024})]),
        ("Which tables are in the database?", [("list_tables", {})]),
        ("Show me a counter", []),
        ("Hello!", []),
    ],
)
def test_data_requests_become_tool_steps(text: str, steps: list[tuple[str, dict]]) -> None:
    assert [(s["tool"], s["arguments"]) for s in rules.tool_steps(text)] == steps


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
    assert rules.social_reply(text, context) == reply


def test_complex_requests_touch_several_tables_or_ask_for_comparisons() -> None:
    assert rules.analyse("Compare revenue in 2024 and 2025", [])["complexity"] == "complex"
    assert (
        rules.analyse("How many devices do customers in Bern have?", [])["complexity"] == "complex"
    )
    assert rules.analyse("How many devices are there?", [])["complexity"] == "simple"


def test_chat_replies_use_memory_from_the_context() -> None:
    assert rules.chat_reply("What is my name?", ["User's name: Ada."]) == "Your name is Ada."
    assert rules.chat_reply("who am I", []).startswith("You haven't told me your name yet")
    assert (
        rules.chat_reply("show me a switch", []) == "Here you go: Switch, with the buttons Toggle."
    )
    assert rules.chat_reply("What's the weather?", []) == rules.OFFLINE_HELP


def test_summaries_of_each_result_shape() -> None:
    def one(data: object, tool: str = "query", **arguments: object) -> str:
        return facts.summarise([ToolOutcome(tool=tool, ok=True, data=data, arguments=arguments)])

    rows = {
        "columns": ["name", "city"],
        "rows": [["A", "X"], ["B", "Y"], ["C", "Z"], ["D", "W"]],
        "row_count": 4,
        "truncated": True,
    }
    assert one(rows) == (
        "The query call found 4 rows (name, city), more matched than the "
        "limit. The first: A, X; B, Y; C, Z."
    )
    assert one({"columns": ["n"], "rows": [[7]], "row_count": 1}) == "The n is 7."
    assert one({"columns": ["n"], "rows": [], "row_count": 0}) == "The query call found no rows."
    assert one({"count": 3, "filters": {}}, "count_devices") == "There are 3 devices."
    assert one([{"a": "x", "b": 1}], "t") == "t returned 1 items: x (b 1)"
    failed = ToolOutcome(tool="query", ok=False, error="boom")
    assert facts.summarise([failed]) == "The query call failed: boom"
    assert facts.summarise([]) == "No tools were called."


def test_tool_messages_stay_within_their_limit_and_keep_the_row_count() -> None:
    data = {"columns": ["n"], "rows": [[i] for i in range(500)], "row_count": 500}
    message = facts.tool_message(ToolOutcome(tool="query", ok=True, data=data), limit=400)
    assert len(message) <= 400
    back = ToolOutcome.model_validate_json(message)
    assert back.data["row_count"] == 500 and back.data["rows_shown"] == len(back.data["rows"])
