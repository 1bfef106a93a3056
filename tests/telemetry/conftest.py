"""Shared set-up of the telemetry tests: settings for a real runtime with the shipped
graphs and the demo MCP server over a fresh database, and one tool-using turn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cogpipe.assembly import open_runtime
from cogpipe.demo.server import ensure_db
from cogpipe.settings import Settings, shipped_graphs_dir
from tests.helpers.runtime import Conversation, TurnView

QUESTION = "How many customers do we have in Berlin?"
"""A question both shipped graphs answer with a tool call (count_customers)."""


def demo_settings(tmp_path: Path, **changes: Any) -> Settings:
    """Settings with the shipped graphs, the demo tool server over a database in
    ``tmp_path``, sessions in memory; ``changes`` override any field."""
    ensure_db(tmp_path / "demo.db")
    return Settings(
        graphs_dir=shipped_graphs_dir(),
        trace_dir=tmp_path / "trace",
        session_db="memory",
        demo_db=tmp_path / "demo.db",
        **changes,
    )


async def one_turn(settings: Settings, graph: str) -> tuple[TurnView, str]:
    """Ask :data:`QUESTION` on a new session of ``graph``; return the turn and the
    session id."""
    conv = Conversation()
    async with open_runtime(settings, observers=[conv.observer]) as rt:
        conv.attach(rt, rt.create_session(graph).id)
        return await conv.say(QUESTION), conv.session_id
