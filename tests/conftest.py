"""Shared pytest set-up: anyio on asyncio for every async test."""

from __future__ import annotations

import pytest

# The OpenAI-compatible test server fixtures (openai_server, openai_server_session).
pytest_plugins = ["tests.helpers.openai_server"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run async tests and fixtures on asyncio (the backend uvicorn and the server use)."""
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    pytest-playwright's sync API keeps an event loop running in the main thread once a
    browser test has run; an anyio test after it would fail with "Cannot run the event
    loop while another loop is running". A stable sort moves them to the end.
    """
    items.sort(key=lambda item: "page" in getattr(item, "fixturenames", ()))
