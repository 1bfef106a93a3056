"""Server test helpers: throwaway node kinds, fixture graphs, a real uvicorn server on
127.0.0.1 in a thread, and a small SSE reader.

The kinds register in the default registry when this module is imported (by pytest),
so the fixture graphs in a temporary graph folder can use them through the normal
catalog, exactly as built-in kinds are used.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from cogpipe.engine import Node, NodeParams, RunContext
from cogpipe.nodes.types import UIAction
from cogpipe.server.app import create_app
from cogpipe.settings import Settings
from tests.helpers.server_thread import ServerThread

# -- throwaway node kinds --------------------------------------------------------------


class EchoParams(NodeParams):
    pieces: int = 3
    delay_s: float = 0.0


class Echo(Node[EchoParams]):
    """Streams the message back in pieces, emits ui.controls and keeps them in state the
    way ui_v1 does (``state["ui"]`` is the Controls JSON)."""

    kind = "srv_echo_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        response: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        for i in range(self.params.pieces):
            if self.params.delay_s:
                await anyio.sleep(self.params.delay_s)
            ctx.stream(f"{inputs.text}[{i}] ")
        controls = {
            "controls": [{"id": "again", "type": "button", "label": "Again", "action": "again"}],
            "version": ctx.session.state.get("ui", {}).get("version", 0) + 1,
        }
        ctx.session.state["ui"] = controls
        ctx.emit("ui.controls", controls)
        return self.Outputs(response=f"echo: {inputs.text}")


class NapParams(NodeParams):
    sleep_s: float = 0.2


class Nap(Node[NapParams]):
    """Sleeps ``sleep_s`` then passes the text on."""

    kind = "srv_nap_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        await anyio.sleep(self.params.sleep_s)
        return self.Outputs(text=inputs.text)


class Boom(Node):
    """Always fails."""

    kind = "srv_boom_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        raise ValueError(f"told to fail on '{inputs.text}'")


class Clicked(Node):
    """Answers a UI action."""

    kind = "srv_clicked_v1"

    class Inputs(BaseModel):
        action: UIAction

    class Outputs(BaseModel):
        done: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        a = inputs.action
        return self.Outputs(done=f"{a.action}:{a.control}:{json.dumps(a.payload)}")


class Burst(Node):
    """Emits ``count`` ``bench.tick`` events of ``size`` bytes, ``delay_ms`` apart; the
    message text is JSON ``{"count", "size", "delay_ms"}``."""

    kind = "srv_burst_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        count: int | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        spec = json.loads(inputs.text)
        pad = "x" * spec.get("size", 10)
        for i in range(spec["count"]):
            ctx.emit("bench.tick", {"i": i, "pad": pad})
            if spec.get("delay_ms"):
                await anyio.sleep(spec["delay_ms"] / 1000)
        return self.Outputs(count=spec["count"])


GRAPHS = {
    "chat.yaml": """\
name: chat
description: Echoes messages and answers clicks.
entry: {message: echo.text, action: clicked.action}
nodes:
  echo: {kind: srv_echo_v1}
  clicked: {kind: srv_clicked_v1}
outputs: {response: echo.response, done: clicked.done}
""",
    "slow.yaml": """\
name: slow
description: Naps, then echoes slowly.
entry: {message: nap.text}
nodes:
  nap: {kind: srv_nap_v1, params: {sleep_s: 0.3}}
  echo: {kind: srv_echo_v1, params: {pieces: 5, delay_s: 0.05}}
edges:
  - nap.text -> echo.text
outputs: {response: echo.response}
""",
    "failing.yaml": """\
name: failing
description: Its second node fails.
entry: {message: nap.text}
nodes:
  nap: {kind: srv_nap_v1, params: {sleep_s: 0.01}}
  boom: {kind: srv_boom_v1}
edges:
  - nap.text -> boom.text
""",
    "burst.yaml": """\
name: burst
description: Emits many events.
entry: {message: burst.text}
nodes:
  burst: {kind: srv_burst_v1}
outputs: {count: burst.count}
""",
    "mistyped.yaml": """\
name: mistyped
description: Its message entry expects a UI action, so a text cannot enter.
entry: {message: clicked.action}
nodes:
  clicked: {kind: srv_clicked_v1}
""",
    "broken.yaml": """\
name: broken
description: Uses a kind nobody registered.
entry: {message: a.text}
nodes:
  a: {kind: no_such_kind}
""",
}


def make_settings(root: Path, **overrides: Any) -> Settings:
    """Return settings with every file under ``root`` and the fixture graphs in it."""
    graphs = root / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    for name, text in GRAPHS.items():
        (graphs / name).write_text(text, encoding="utf-8")
    values: dict[str, Any] = {
        "graphs_dir": graphs,
        "default_graph": "chat",
        "trace_dir": root / "trace",
        "session_db": root / "sessions.db",
        "demo_db": root / "demo.db",
        "tool_servers": [],
    }
    return Settings(**{**values, **overrides})


# -- a real server ---------------------------------------------------------------------


@dataclass
class Running:
    """A uvicorn server running ``app`` on 127.0.0.1 in a thread."""

    app: FastAPI
    thread: ServerThread

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def subscribers(self) -> int:
        """Return how many event stream subscriptions the runtime's bus holds."""
        from cogpipe.server.streams import StreamSubscription

        return sum(isinstance(o, StreamSubscription) for o in list(self.runtime.bus.observers))

    def stop(self) -> None:
        self.thread.stop(10)


def start_server(app: FastAPI) -> Running:
    """Start ``app`` with uvicorn on a free port of 127.0.0.1; wait until it serves."""
    thread = ServerThread(app, timeout_graceful_shutdown=2)
    thread.start(15)
    return Running(app, thread)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start servers built by ``create_app(make_settings(...), **kwargs)``; stop them after.

    Call as ``serve(token="x", settings={"ring_size": 10}, ...)``.
    """
    started: list[Running] = []

    def start(settings: dict[str, Any] | None = None, **kwargs: Any) -> Running:
        kwargs.setdefault("token", None)
        app = create_app(make_settings(tmp_path / f"s{len(started)}", **(settings or {})), **kwargs)
        running = start_server(app)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server with the default options for a whole test module."""
    app = create_app(make_settings(tmp_path_factory.mktemp("server")), token=None)
    running = start_server(app)
    yield running
    running.stop()


@pytest.fixture
async def client(server: Running) -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client for ``server``."""
    async with httpx2.AsyncClient(base_url=server.url, timeout=10) as c:
        yield c


# -- helpers ---------------------------------------------------------------------------


@dataclass
class Message:
    """One SSE message or comment as it arrived."""

    id: str | None = None
    data: str | None = None
    comment: str | None = None

    @property
    def event(self) -> dict[str, Any]:
        """The ``data`` line as JSON."""
        assert self.data is not None, f"not a data message: {self}"
        return json.loads(self.data)


@dataclass
class SSEReader:
    """Parses an SSE byte stream into :class:`Message` objects (comments included)."""

    response: httpx2.Response
    buffer: bytes = b""
    messages: list[Message] = field(default_factory=list)
    _chunks: AsyncIterator[bytes] | None = None

    async def next(self) -> Message:
        """Return the next message or comment block."""
        if self._chunks is None:
            self._chunks = self.response.aiter_raw()
        while b"\n\n" not in self.buffer:
            self.buffer += await self._chunks.__anext__()
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        msg = Message()
        for line in block.decode().split("\n"):
            key, _, value = line.partition(": ")
            if key == "id":
                msg.id = value
            elif key == "data":
                msg.data = value
            elif key == "":
                msg.comment = value
        self.messages.append(msg)
        return msg

    async def next_event(self) -> Message:
        """Return the next message that has data (skipping comments)."""
        while True:
            msg = await self.next()
            if msg.data is not None:
                return msg

    async def until(self, type: str, timeout: float = 10) -> list[Message]:
        """Return the data messages up to and including the first of ``type``."""
        got: list[Message] = []
        with anyio.fail_after(timeout):
            while True:
                msg = await self.next_event()
                got.append(msg)
                if msg.event["type"] == type:
                    return got


async def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    with anyio.fail_after(timeout):
        while not (value := predicate()):
            await anyio.sleep(0.01)
    return value


async def new_session(client: httpx2.AsyncClient, graph: str | None = None) -> str:
    """Create a session (on the default graph unless ``graph`` is given); return its id."""
    r = await client.post("/api/sessions", json={"graph": graph} if graph else {})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def send(client: httpx2.AsyncClient, sid: str, text: str) -> str:
    """Post a message to session ``sid``; return the run id."""
    r = await client.post(f"/api/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 202, r.text
    return r.json()["run_id"]


async def run_to_end(client: httpx2.AsyncClient, run_id: str, timeout: float = 10) -> dict:
    """Poll ``GET /api/runs/{run_id}`` until the run ended; return its last state."""
    with anyio.fail_after(timeout):
        while True:
            run = (await client.get(f"/api/runs/{run_id}")).json()
            if run["status"] in ("finished", "failed", "cancelled"):
                return run
            await anyio.sleep(0.02)
