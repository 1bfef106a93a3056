"""The demo database's offline rules: data requests become steps, named as listed."""

from __future__ import annotations

from typing import Any

import pytest

from cogpipe.demo import offline
from cogpipe.nodes.offline import planner
from cogpipe.nodes.offline.planner import plan

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
    assert [(s["tool"], s["arguments"]) for s in offline.tool_steps(text)] == steps


def listed(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "description": "", "input_schema": {}} for n in names]


def test_steps_name_the_demo_tools_as_listed() -> None:
    bare = listed(*offline.TOOLS, "get_current_time")
    assert offline.steps("How many customers in Bern?", bare) == [
        {
            "tool": "count_customers",
            "arguments": {"city": "Bern"},
            "why": "count matching customers",
        }
    ]
    # another server also has a 'query': the demo server's tools are qualified
    qualified = listed(*(f"demo_db.{n}" for n in offline.TOOLS), "other.query")
    assert offline.steps("How many devices are there?", qualified)[0]["tool"] == "demo_db.query"
    openai = listed(*(f"demo_db__{n}" for n in offline.TOOLS), "other__query")
    assert offline.steps("How many devices are there?", openai)[0]["tool"] == "demo_db__query"


def test_without_the_demo_tools_the_rules_stay_silent() -> None:
    assert offline.steps("How many customers in Bern?", listed("query", "get_current_time")) == []


def test_registered_the_rules_answer_before_the_generic_planner() -> None:
    tools = listed(*offline.TOOLS)
    before = offline.steps in planner._extras  # the composition root may have done it
    offline.register()
    try:
        assert plan("Which tables are in the database?", tools)[0]["tool"] == "list_tables"
    finally:
        if not before:
            planner.unregister_planner(offline.steps)
