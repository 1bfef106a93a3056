"""Shared pytest set-up: anyio on asyncio for every async test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cogpipe.engine import EventBus, RunContext, TraceEvent
from cogpipe.engine.events import EVENTS, validate_event

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


@pytest.fixture(autouse=True)
def _events_fit_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Check every event any test makes against the catalogue (engine/events.py): an
    event of a catalogued type whose ``data`` does not fit its model fails the test that
    emitted it. Types the catalogue does not know (a test's own) pass unchecked."""
    publish, emit = EventBus.publish, RunContext.emit

    def checked_publish(self: EventBus, event: TraceEvent) -> None:
        if event.type in EVENTS:
            validate_event(event)
        publish(self, event)

    def checked_emit(self: RunContext, type: str, data: dict[str, Any] | None = None) -> None:
        if type in EVENTS:
            validate_event({"type": type, "data": data})
        emit(self, type, data)

    monkeypatch.setattr(EventBus, "publish", checked_publish)
    monkeypatch.setattr(RunContext, "emit", checked_emit)
    yield
