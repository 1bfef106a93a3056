"""``cogpipe tools``: the configured servers, their tools with titles and hints, and the
tools their config hides (real servers: the demo database and mcp-server-git)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cogpipe.demo.server import demo_db_server_config
from tests.helpers.mcp_servers import git_repo, git_server_config
from tests.server.test_cli import run


def test_tools_shows_titles_hints_and_hidden_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_repo(tmp_path / "repo")
    git = git_server_config(repo, include=["git_status", "git_reset"])
    servers = [demo_db_server_config(str(tmp_path / "demo.db")), git]
    monkeypatch.setenv("COGPIPE_TOOL_SERVERS", json.dumps([s.model_dump() for s in servers]))
    code, out = run("tools")
    assert code == 0
    lines = out.splitlines()
    assert "demo_db (stdio) up" in lines and "git (stdio) up" in lines
    assert "  query (Run a SQL query) [read-only]: Run one read-only SQL query; returns " in out
    assert "  git_status [read-only]: Shows the working tree status" in out
    assert (
        "  hidden git_reset: marked destructive by its server (destructiveHint: true); set "
        "'allow_destructive: true' on tool server 'git' to offer it"
    ) in lines
    assert "  hidden git_log: not matched by 'include' of tool server 'git' (git_status, " in out

    code, out = run("tools", "--json")
    listed = json.loads(out)["servers"][1]
    assert [t["name"] for t in listed["tools"]] == ["git_status"]
    assert listed["tools"][0]["annotations"]["read_only_hint"] is True
    assert "offered" not in listed and len(listed["hidden"]) == 11
