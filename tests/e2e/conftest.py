"""Browser tests of the HUD: the real server (offline model, demo SQLite tools) under
uvicorn on 127.0.0.1, and Debian's Chromium driven by pytest-playwright.

``CHROMIUM_PATH`` picks the browser binary (default ``/usr/bin/chromium``): Playwright's
own browser downloads are not reachable from this environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cogpipe.engine import Registry, load_graph_text
from cogpipe.engine.llm import LLMConfig
from cogpipe.server.app import create_app
from cogpipe.settings import Settings
from tests.helpers.openai_server import OpenAITestServer
from tests.helpers.server_thread import ServerThread, free_port

from .helpers import FAILING_GRAPH, Broken, Relay

# Runs share 2 cores with a server, its tool subprocess and Chromium: allow for a busy machine.
expect.set_options(timeout=15_000)

CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass
class LiveServer:
    """The app under test, where it listens, and the token it wants (if any)."""

    url: str
    app: Any
    token: str | None = None


@contextmanager
def _serving(app: Any, token: str | None = None) -> Iterator[LiveServer]:
    thread = ServerThread(app, name="hud", ws="none", lifespan="on")
    thread.start()
    try:
        yield LiveServer(thread.url, app, token)
    finally:
        thread.stop()


def _settings(tmp: Path, **changes: Any) -> Settings:
    return Settings(
        session_db=tmp / "sessions.db",
        trace_dir=tmp / "trace",
        demo_db=tmp / "demo.db",
        **changes,
    )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app with the shipped graphs, sessions/traces/demo DB in a temp folder."""
    app = create_app(_settings(tmp_path_factory.mktemp("server")), token=None)
    with _serving(app) as server:
        yield server


@pytest.fixture(scope="session")
def failing_graph(live_server: LiveServer) -> str:
    """A graph whose second node always fails, added to the running server's catalog."""
    graph = load_graph_text(FAILING_GRAPH, registry=Registry([Relay, Broken]))
    live_server.app.state.runtime.catalog.add(graph)
    return graph.name


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second app that wants a token (no tool servers: the token is what is tested)."""
    token = "e2e-secret"
    app = create_app(_settings(tmp_path_factory.mktemp("token"), tool_servers=[]), token=token)
    with _serving(app, token) as server:
        yield server


@pytest.fixture(scope="module")
def scripted_server(
    tmp_path_factory: pytest.TempPathFactory, openai_server_session: OpenAITestServer
) -> Iterator[LiveServer]:
    """The real app whose LLM is the OpenAI-compatible test server: a test scripts the
    answers it needs, the offline model (given the calls' hints) gives the rest."""
    llm = LLMConfig(
        base_url=openai_server_session.url + "/v1", api_key="t", max_retries=0, send_hints=True
    )
    app = create_app(_settings(tmp_path_factory.mktemp("scripted"), llm=llm), token=None)
    with _serving(app) as server:
        yield server


class RestartableServer:
    """A server that can be stopped and started again on the same port with the same
    session database, like a server process restarting."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.running: ServerThread | None = None

    def start(self) -> None:
        app = create_app(self.settings, token=None)
        self.running = ServerThread(app, self.port, name="hud", ws="none", lifespan="on")
        self.running.start()

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


@pytest.fixture
def restartable_server(tmp_path: Path) -> Iterator[RestartableServer]:
    """A started :class:`RestartableServer` (no tool servers: restarts are what is tested)."""
    server = RestartableServer(_settings(tmp_path, tool_servers=[]))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """pytest-playwright resolves ``page.goto("/")`` against this."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium instead of a Playwright download."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """The HUD is designed for a 1280x800 screen."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig: pytest.Config) -> Path:
    """``test-results/hud/`` under the project root (or ``$HUD_SCREENSHOT_DIR``): one PNG
    per scenario. pytest-playwright empties ``test-results/`` when any pytest run starts."""
    default = Path(pytestconfig.rootpath) / "test-results" / "hud"
    path = Path(os.environ.get("HUD_SCREENSHOT_DIR") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page_errors() -> list[str]:
    """What the page reported as errors (uncaught exceptions, console errors, failed
    loads); a test that provokes one removes it, anything left fails the test."""
    return []


@pytest.fixture
def hud(page: Page, page_errors: list[str]) -> Iterator[Page]:
    """The HUD opened on a fresh session, its stream live."""
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda msg: page_errors.append(msg.text) if msg.type == "error" else None)
    page.set_default_timeout(15_000)
    page.goto("/")
    expect(page.get_by_test_id("connection")).to_have_text("live")
    yield page
    assert page_errors == [], f"the page reported errors: {page_errors}"
