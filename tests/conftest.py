"""Shared pytest set-up: anyio on asyncio for every async test."""

from __future__ import annotations

import pytest

# The OpenAI-compatible test server fixtures (openai_server, openai_server_session).
pytest_plugins = ["tests.helpers.openai_server"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run async tests and fixtures on asyncio (the backend uvicorn and the server use)."""
    return "asyncio"
