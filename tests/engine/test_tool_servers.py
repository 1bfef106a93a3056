"""Which tools a ToolManager offers and how it calls them, against servers we did not
write: the unmodified ``mcp-server-git`` and ``mcp-server-time`` from PyPI, plus the
helper server of ``tests/helpers/mcp_servers.py`` where a test needs to see what reached
the server (call counts, request headers)."""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cogpipe.engine.errors import ToolArgumentsError, ToolError
from cogpipe.engine.tools import ToolAnnotations, ToolManager, ToolServerConfig
from tests.helpers.mcp_servers import (
    SCRIPT,
    git_repo,
    git_server_config,
    helper_server_config,
    http_server,
    time_server_config,
)
from tests.helpers.server_thread import free_port

DESTRUCTIVE = (
    "marked destructive by its server (destructiveHint: true); set "
    "'allow_destructive: true' on tool server 'git' to offer it"
)


def _staged(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--cached", "--name-only"], cwd=repo, capture_output=True, text=True
    )
    return out.stdout.split()


def _stage(repo: Path, name: str) -> None:
    (repo / name).write_text("change\n")
    subprocess.run(["git", "add", name], cwd=repo, check=True)


def _hidden(manager: ToolManager, server: str) -> dict[str, str]:
    status = next(s for s in manager.status() if s["name"] == server)
    return {h["name"]: h["reason"] for h in status["hidden"]}


async def _names(manager: ToolManager) -> list[str]:
    return [t.qualified for t in await manager.list_tools()]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "repo")


# --- annotations ---------------------------------------------------------------------------


async def test_annotations_are_read_from_mcp_server_git(repo: Path) -> None:
    # allow_destructive offers git_reset; exclude still wins over it
    config = git_server_config(repo, allow_destructive=True, exclude=["git_reset", "git_c[!r]*"])
    async with ToolManager([config, git_server_config(repo, "all", allow_destructive=True)]) as m:
        tools = {t.name: t for t in await m.list_tools() if t.server == "all"}
        status = {s["name"]: s for s in m.status()}
    assert tools["git_status"].annotations == ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    assert tools["git_reset"].annotations.destructive_hint is True
    hints = {name: tool.hints for name, tool in tools.items()}
    assert hints["git_status"] == hints["git_log"] == ["read-only"]
    assert hints["git_reset"] == ["destructive"]
    assert hints["git_commit"] == hints["git_add"] == []  # writes, but not destructive
    assert [t for t, h in hints.items() if "destructive" in h] == ["git_reset"]
    assert {o["name"]: o["hints"] for o in status["all"]["offered"]} == hints
    assert status["all"]["hidden"] == []
    hidden = {h["name"] for h in status["git"]["hidden"]}
    assert hidden == {"git_checkout", "git_commit", "git_reset"}  # not git_create_branch
    assert {o["name"] for o in status["git"]["offered"]} == set(tools) - hidden


# --- destructive tools ---------------------------------------------------------------------


async def test_destructive_tools_are_hidden_and_refused_unless_allowed(repo: Path) -> None:
    _stage(repo, "a.txt")
    async with ToolManager([git_server_config(repo)]) as manager:
        assert "git.git_reset" not in await _names(manager)
        assert "git.git_status" in await _names(manager)
        assert manager.find("git_reset") is None
        assert "git_reset" not in {s["function"]["name"] for s in manager.openai_tools()}
        assert _hidden(manager, "git") == {"git_reset": DESTRUCTIVE}
        for name in ("git_reset", "git.git_reset"):
            with pytest.raises(ToolError) as info:
                await manager.call(name, {"repo_path": str(repo)})
            assert info.value.kind == "hidden"
            assert info.value.message == f"tool 'git.git_reset' is hidden: {DESTRUCTIVE}"
    assert _staged(repo) == ["a.txt"]  # nothing was reset

    async with ToolManager([git_server_config(repo, allow_destructive=True)]) as manager:
        result = await manager.call("git_reset", {"repo_path": str(repo)})
        assert result.ok, result.error
    assert _staged(repo) == []


# --- include / exclude ---------------------------------------------------------------------


async def test_include_and_exclude_patterns(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = git_server_config(
        repo,
        include=["git_status", "git_diff*", "git_log", "git_blame"],
        exclude=["git_diff_staged"],
    )
    with caplog.at_level(logging.WARNING, "cogpipe.engine.tools"):
        async with ToolManager([config]) as manager:
            assert await _names(manager) == [
                "git.git_status",
                "git.git_diff_unstaged",
                "git.git_diff",
                "git.git_log",
            ]
            hidden = _hidden(manager, "git")
            with pytest.raises(ToolError) as commit:
                await manager.call("git_commit", {"repo_path": str(repo), "message": "x"})
            with pytest.raises(ToolError) as staged:
                await manager.call("git.git_diff_staged", {"repo_path": str(repo)})
            assert (await manager.call("git_status", {"repo_path": str(repo)})).ok
    included = "git_status, git_diff*, git_log, git_blame"
    assert hidden["git_commit"] == f"not matched by 'include' of tool server 'git' ({included})"
    assert hidden["git_diff_staged"] == (
        "excluded by pattern 'git_diff_staged' in 'exclude' of tool server 'git'"
    )
    assert hidden["git_reset"] == f"not matched by 'include' of tool server 'git' ({included})"
    assert commit.value.message == f"tool 'git.git_commit' is hidden: {hidden['git_commit']}"
    assert staged.value.message == (
        f"tool 'git.git_diff_staged' is hidden: {hidden['git_diff_staged']}"
    )
    assert "'git_blame' in 'include' matches none of its tools (git_status, " in caplog.text


# --- headers -------------------------------------------------------------------------------


async def test_headers_reach_an_http_server() -> None:
    port = free_port()
    with http_server([str(SCRIPT), "--name", "web", "--http", str(port)], port) as url:
        headers = {"Authorization": "Bearer s3cret", "X-Team": "blue"}
        async with ToolManager([ToolServerConfig(name="web", url=url, headers=headers)]) as m:
            seen = [(await m.call("header", {"name": h})).text for h in ("authorization", "x-team")]
        async with ToolManager([ToolServerConfig(name="web", url=url)]) as m:
            unset = (await m.call("header", {"name": "authorization"})).text
    assert seen == ["Bearer s3cret", "blue"]
    assert unset == ""


# --- names ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def three(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ToolManager]:
    """mcp-server-time, and mcp-server-git twice (every git tool name on two servers)."""
    repo = git_repo(tmp_path_factory.mktemp("git") / "repo")
    servers = [time_server_config(), git_server_config(repo, "g1"), git_server_config(repo, "g2")]
    async with ToolManager(servers) as manager:
        manager.repo = repo  # type: ignore[attr-defined]
        yield manager


async def test_bare_and_qualified_names_both_call_the_tool(three: ToolManager) -> None:
    for name in ("get_current_time", "time.get_current_time"):
        found = three.find(name)
        assert found is not None and found.qualified == "time.get_current_time"
        result = await three.call(name, {"timezone": "Europe/Berlin"})
        assert (result.server, result.tool, result.ok) == ("time", "get_current_time", True)
    repo = str(three.repo)  # type: ignore[attr-defined]
    assert (await three.call("g2.git_status", {"repo_path": repo})).server == "g2"
    assert "On branch main" in (await three.call("g1.git_status", {"repo_path": repo})).text


async def test_a_shared_bare_name_is_ambiguous_and_lists_the_choices(three: ToolManager) -> None:
    assert three.find("git_status") is None
    with pytest.raises(ToolError) as info:
        await three.call("git_status", {"repo_path": "."})
    assert info.value.kind == "ambiguous"
    assert info.value.message == (
        "tool name 'git_status' is ambiguous: servers g1, g2 all have it; call one of "
        "g1.git_status, g2.git_status"
    )
    openai = {s["function"]["name"] for s in three.openai_tools()}
    assert {"get_current_time", "g1__git_status", "g2__git_status"} <= openai
    assert three.find("g2__git_status") == three.find("g2.git_status")


# --- refused before the server sees it -----------------------------------------------------


@pytest.fixture(scope="module")
async def counted() -> AsyncIterator[ToolManager]:
    async with ToolManager([helper_server_config("c"), time_server_config()]) as manager:
        yield manager


async def test_titles_come_from_the_tool_or_its_annotations(counted: ToolManager) -> None:
    pid = counted.find("c.pid")
    assert pid is not None
    assert (pid.title, pid.hints, pid.annotations.title) == ("Process id", ["read-only"], None)
    echo = counted.find("c.echo")
    assert echo is not None and echo.title == echo.annotations.title == "Echo back"


async def _calls(manager: ToolManager) -> dict[str, int]:
    result = await manager.call("c.calls", {})
    return {k: v for k, v in result.data.items() if k != "calls"}


async def test_invalid_arguments_never_reach_the_server(counted: ToolManager) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    before = await _calls(counted)
    with pytest.raises(ToolArgumentsError) as info:
        await counted.call("add", {"a": "one"}, emit=lambda t, d: events.append((t, d)))
    assert info.value.message == (
        "tool 'add': arguments: 'b' is a required property; "
        "arguments.a: 'one' is not of type 'integer'"
    )
    assert (info.value.kind, info.value.tool) == ("arguments", "c.add")
    assert info.value.problems == [
        "arguments: 'b' is a required property",
        "arguments.a: 'one' is not of type 'integer'",
    ]
    with pytest.raises(ToolArgumentsError, match=r"arguments.color: 'pink' is not one of"):
        await counted.call("c.pick", {"color": "pink"})
    with pytest.raises(ToolArgumentsError, match=r"arguments.size: 11 is greater than the max"):
        await counted.call("c.pick", {"color": "red", "size": 11})
    assert await _calls(counted) == before
    assert events == [
        (
            "tool.failed",
            {
                "server": "c",
                "tool": "add",
                "call_id": events[0][1]["call_id"],
                "error": info.value.message,
                "error_kind": "arguments",
                "duration_ms": 0.0,
            },
        )
    ]
    assert (await counted.call("c.pick", {"color": "red", "size": 2})).text == "red x2"
    assert (await _calls(counted))["pick"] == before.get("pick", 0) + 1


async def test_unknown_names_never_reach_a_server(counted: ToolManager) -> None:
    before = await _calls(counted)
    for name in ("c.frobnicate", "frobnicate", "time.frobnicate"):
        with pytest.raises(ToolError) as info:
            await counted.call(name, {})
        assert info.value.kind == "unknown"
        assert info.value.message.startswith(f"unknown tool '{name}'. Available tools: add, ")
    assert await _calls(counted) == before


async def test_a_server_never_connected_is_listed_before_its_first_call() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    async with ToolManager([ToolServerConfig(name="late", url=url)]) as manager:
        assert manager.status()[0]["status"] == "down"
        with http_server([str(SCRIPT), "--name", "late", "--http", str(port)], port):
            with pytest.raises(ToolArgumentsError) as info:
                await manager.call("late.add", {"a": 1, "b": "2"})
            with pytest.raises(ToolError, match=re.escape("unknown tool 'late.nope'")):
                await manager.call("late.nope", {})
            counts = (await manager.call("late.calls", {})).data
    assert info.value.message == "tool 'late.add': arguments.b: '2' is not of type 'integer'"
    assert counts == {"calls": 1}


async def test_calling_a_disabled_server_says_so() -> None:
    async with ToolManager([helper_server_config("off", enabled=False)]) as manager:
        with pytest.raises(ToolError) as info:
            await manager.call("off.echo", {"text": "x"})
    assert info.value.message == (
        "tool server 'off' is disabled ('enabled: false' in the config); enable it to call "
        "'off.echo'"
    )
