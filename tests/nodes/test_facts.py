"""Facts from tool results: summaries of each result shape and tool messages."""

from __future__ import annotations

from cogpipe.nodes import facts
from cogpipe.nodes.types import ToolOutcome


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
