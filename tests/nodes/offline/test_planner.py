"""The offline planner over any tool set: matching names and filling arguments."""

from __future__ import annotations

from typing import Any

import pytest

from cogpipe.nodes.offline import planner
from cogpipe.nodes.offline.planner import Finder, plan, register_planner, unregister_planner


def tool(name: str, description: str, **params: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": params, "required": list(params)}
    return {"name": name, "description": description, "input_schema": schema}


STRING: dict[str, Any] = {"type": "string"}
# as mcp-server-time and mcp-server-git list them (descriptions shortened)
TOOLS = [
    tool(
        "get_current_time",
        "Get current time in a specific timezone",
        timezone={"type": "string", "description": "IANA timezone name (e.g. 'Europe/London')"},
    ),
    tool(
        "convert_time",
        "Convert time between timezones",
        source_timezone={"type": "string", "description": "Source IANA timezone name"},
        time={"type": "string", "description": "Time to convert in 24-hour format (HH:MM)"},
        target_timezone={"type": "string", "description": "Target IANA timezone name"},
    ),
    tool("git_status", "Shows the working tree status", repo_path=STRING),
    tool("git_log", "Shows the commit logs", repo_path=STRING),
    tool("git_show", "Shows the contents of a commit", repo_path=STRING, revision=STRING),
    tool(
        "git_branch",
        "List Git branches",
        repo_path=STRING,
        branch_type={
            "type": "string",
            "description": "Whether to list local branches ('local'), remote branches "
            "('remote') or all branches ('all').",
        },
    ),
    tool("weather.forecast", "Weather forecast for a city", city=STRING, days={"type": "integer"}),
    tool("set_level", "Set the level", level={"enum": ["low", "high"]}),
]


@pytest.mark.parametrize(
    ("message", "step"),
    [
        ("what time is it in Europe/Berlin?", ("get_current_time", {"timezone": "Europe/Berlin"})),
        ("What's the time in UTC?", ("get_current_time", {"timezone": "Etc/UTC"})),
        (
            "Convert 14:30 from Europe/Berlin to Asia/Tokyo",
            (
                "convert_time",
                {
                    "source_timezone": "Europe/Berlin",
                    "time": "14:30",
                    "target_timezone": "Asia/Tokyo",
                },
            ),
        ),
        ("show me the git log of /tmp/repo", ("git_log", {"repo_path": "/tmp/repo"})),
        ("git status of ~/src/app please", ("git_status", {"repo_path": "~/src/app"})),
        (
            "list the local branches in /tmp/repo",
            ("git_branch", {"repo_path": "/tmp/repo", "branch_type": "local"}),
        ),
        (
            "git show 'HEAD~1' in /tmp/repo",
            ("git_show", {"repo_path": "/tmp/repo", "revision": "HEAD~1"}),
        ),
        (
            "weather forecast for Bad Ems, 3 days",
            ("weather.forecast", {"city": "Bad Ems", "days": 3}),
        ),
        ("set the level to high", ("set_level", {"level": "high"})),
    ],
)
def test_the_tool_a_message_names_is_planned_with_its_arguments(
    message: str, step: tuple[str, dict[str, Any]]
) -> None:
    (planned,) = plan(message, TOOLS)
    assert (planned["tool"], planned["arguments"]) == step
    assert planned["why"].startswith("the message speaks of ")


@pytest.mark.parametrize(
    "message",
    [
        "hello",
        "what time is it?",  # no time zone: get_current_time is not guessed
        "show me the git log",  # no path
        "Convert 14:30 to Asia/Tokyo",  # one time zone of two
        "set the level to medium",  # not one of the allowed values
        "How many customers in Berlin?",  # no tool speaks of customers
    ],
)
def test_nothing_is_planned_without_a_named_tool_and_all_required_arguments(
    message: str,
) -> None:
    assert plan(message, TOOLS) == []


def test_registered_planners_answer_first_and_may_pass() -> None:
    def mine(message: str, tools: Any) -> list[dict[str, Any]]:
        return [{"tool": "x", "arguments": {}, "why": "mine"}] if "mine" in message else []

    register_planner(mine)
    register_planner(mine)  # once is enough
    try:
        assert plan("mine: git log /tmp/r", TOOLS) == [
            {"tool": "x", "arguments": {}, "why": "mine"}
        ]
        assert plan("git log /tmp/r", TOOLS)[0]["tool"] == "git_log"
        assert planner._extras.count(mine) == 1
    finally:
        unregister_planner(mine)
    assert plan("mine: git log /tmp/r", TOOLS)[0]["tool"] == "git_log"


def test_the_finder_hands_out_each_value_once_and_keeps_kinds_apart() -> None:
    found = Finder('At 09:15 on 2026-05-01 read "a b" from ./x/y.txt in Europe/Paris, 7 times')
    assert (found.times, found.dates, found.paths, found.zones) == (
        ["09:15"],
        ["2026-05-01"],
        ["./x/y.txt"],
        ["Europe/Paris"],
    )
    assert (found.quoted, found.numbers) == (["a b"], ["7"])
    assert found.take(found.numbers) == "7" and found.take(found.numbers) is None
