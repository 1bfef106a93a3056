"""Fixtures for node tests: the real demo MCP server, the offline model, and the real
``openai`` client against the OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.tools import ToolManager
from tests.helpers.openai_server import OpenAITestServer, client_for
from tests.helpers.runtime import demo_tools, offline_client


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database, generated once per test session."""
    from cogpipe.demo.server import ensure_db

    return ensure_db(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="module")
async def tools(demo_db: Path) -> AsyncIterator[ToolManager]:
    """The real demo MCP server (stdio subprocess) over ``demo_db``."""
    async with demo_tools(demo_db) as manager:
        yield manager


@pytest.fixture
async def offline() -> AsyncIterator[LLMClient]:
    """An LLM client on the built-in offline model (no delay between stream chunks)."""
    async with offline_client() as client:
        yield client


@pytest.fixture
async def remote(openai_server: OpenAITestServer) -> AsyncIterator[LLMClient]:
    """The real openai client against the test server (scriptable, no retries)."""
    async with client_for(openai_server, max_retries=0) as client:
        yield client
