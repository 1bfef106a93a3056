"""The fault suite's servers: the real app under uvicorn on 127.0.0.1, its LLM endpoint
the scriptable OpenAI-compatible test server, its tool server the MCP helper server
(a real subprocess), and the fault kinds' graphs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from cogpipe.server.app import create_app
from cogpipe.settings import Settings
from tests.helpers.mcp_servers import helper_server_config
from tests.helpers.openai_server import OpenAITestServer
from tests.helpers.server_thread import ServerThread

from .kinds import GRAPHS

ENDED = ("finished", "failed", "cancelled", "interrupted")


def fault_settings(root: Path, llm_url: str | None = None, **overrides: Any) -> Settings:
    """Settings with every file under ``root``, the fault graphs, and short LLM limits."""
    graphs = root / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    for name, text in GRAPHS.items():
        (graphs / name).write_text(text, encoding="utf-8")
    values: dict[str, Any] = {
        "data_dir": root,
        "graphs_dir": graphs,
        "default_graph": "step",
        "tool_servers": [],
        "llm": {
            "base_url": llm_url,
            "api_key": "test",
            "first_token_timeout_s": 0.5,
            "call_timeout_s": 5,
            "max_retries": 1,
        }
        if llm_url
        else {},
    }
    return Settings(**{**values, **overrides})


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory, openai_server_session: OpenAITestServer
) -> Iterator[ServerThread]:
    """One server for a module: LLM at the test endpoint, the helper MCP server."""
    root = tmp_path_factory.mktemp("faults")
    settings = fault_settings(
        root,
        openai_server_session.url + "/v1",
        tool_servers=[helper_server_config("helper", timeout_s=5)],
    )
    thread = ServerThread(create_app(settings, token=None), timeout_graceful_shutdown=2)
    thread.start(30)
    yield thread
    thread.stop()


async def session_on(client: httpx2.AsyncClient, graph: str) -> str:
    r = await client.post("/api/sessions", json={"graph": graph})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def turn(client: httpx2.AsyncClient, sid: str, text: str, timeout: float = 20) -> dict:
    """Send a message, wait until its run ended; return ``GET /api/runs/{id}``."""
    r = await client.post(f"/api/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]
    with anyio.fail_after(timeout):
        while (run := (await client.get(f"/api/runs/{run_id}")).json())["status"] not in ENDED:
            await anyio.sleep(0.02)
    return run


async def history(client: httpx2.AsyncClient, sid: str) -> list[dict[str, Any]]:
    return (await client.get(f"/api/sessions/{sid}")).json()["history"]
