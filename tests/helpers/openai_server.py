"""An OpenAI-compatible HTTP server on 127.0.0.1 for tests: scriptable, faulty on demand.

It speaks the OpenAI chat-completions protocol over real HTTP (uvicorn in a background
thread): ``POST /v1/chat/completions`` as plain JSON or ``stream: true`` server-sent
events (tool calls and response formats included) and ``GET /v1/models``. Every request
is recorded (method, path, headers, JSON body, arrival time).

Who answers: unscripted requests go to ``server.model``, an
:class:`~engine.offline.OfflineModel` by default, so whole conversations work;
``server.use(RandomModel(seed=1, ...))`` (:mod:`tests.helpers.random_model`) answers
instead with random schema-valid instances, random tool calls and random text, with
configurable rates of invalid output. ``reset()`` brings the offline model back.

Scripted steps, consumed in order by the next chat requests (``times=`` repeats one):

* answers: ``reply_text``, ``reply_json``, ``reply_tool_calls`` (arguments may be a raw
  string), ``reply_invalid_json`` (cut-off JSON text);
* faults: ``fail(status, message, retry_after=None)`` (an OpenAI error body; 500/429
  with ``Retry-After`` when given, else ``retry-after-ms: 1``), ``delay(seconds)``,
  ``hang()`` (no headers until the client leaves), ``break_stream(after_chunks,
  stall_s)`` (``stall_s=math.inf``: hang after N chunks), ``truncate_body()`` (headers
  announce the whole body, half arrives, the connection drops), ``reply_non_json()``
  (200, ``application/json``, an HTML page), ``cut_off(keep=0.5)`` (the normal answer
  cut to ``keep`` of its text with ``finish_reason: "length"``, streamed or not).

Endpoint traits that last until ``reset()``: ``reject("json_schema")`` answers every
request using ``response_format`` ``json_schema`` like llama-cpp-python's server (HTTP 422,
FastAPI ``detail``), ``reject("json_object")`` likewise for ``json_object``,
``reject("tools")`` every request with ``tools`` like Ollama for a model without tool
support (HTTP 400 "does not support tools").

What the server saw: ``requests`` / ``chat_requests`` (each with ``at``, a
``time.monotonic()`` arrival time) and ``disconnects`` (``time.monotonic()`` of each
client that left while a ``hang``/``delay``/stalled stream held its request).

Use the ``openai_server`` fixture (one server per test session, reset for every test;
``pytest_plugins = ["tests.helpers.openai_server"]`` in the root conftest, or importing
``openai_server_fixture`` and ``openai_server_session_fixture``, makes it available),
:func:`client_for` to build an :class:`~engine.llm.LLMClient` pointed at it, and
:func:`llm_context` for a run context whose ``ctx.llm`` uses that client::

    async def test_retries(openai_server):
        openai_server.fail(500, times=3)
        async with client_for(openai_server, max_retries=2) as llm:
            ctx, events = llm_context(llm)
            ...
        assert len(openai_server.chat_requests) == 3
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.node import RunContext
from cogpipe.engine.offline import OfflineModel
from cogpipe.engine.session import Session
from tests.helpers.random_model import RandomModel
from tests.helpers.server_thread import ServerThread

__all__ = [
    "Event",
    "OpenAITestServer",
    "RandomModel",
    "RecordedRequest",
    "client_for",
    "events_of",
    "llm_context",
    "openai_server_fixture",
    "openai_server_session_fixture",
]

Event = tuple[str, str, str, dict[str, Any] | None]
"""A recorded trace event: ``(type, node, kind, data)``."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: ``headers`` has lower-case names, ``body`` is
    the parsed JSON (``None`` for an empty or non-JSON body), ``at`` the
    ``time.monotonic()`` of its arrival."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float = 0.0


@dataclass
class _Step:
    """One scripted answer: ``kind`` is text, json, tool_calls, fail, delay, break,
    truncate, non_json or cut."""

    kind: str
    value: Any = None
    times: int = 1
    status: int = 500
    retry_after: float | None = None


# What servers say when they do not take a request shape (see reject()).
_REJECTIONS: dict[str, tuple[int, dict[str, Any]]] = {
    "json_schema": (  # llama-cpp-python's server: FastAPI validation of response_format
        422,
        {
            "detail": [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                    "input": "json_schema",
                    "ctx": {"expected": "'text' or 'json_object'"},
                }
            ]
        },
    ),
    "json_object": (
        400,
        {"error": {"message": "response_format type 'json_object' is not supported"}},
    ),
    "tools": (  # Ollama, for a model without tool support
        400,
        {"error": {"message": "registry.ollama.ai/library/gemma3:270m does not support tools"}},
    ),
}


class _BrokenStreamError(RuntimeError):
    """Raised inside a scripted broken stream so the server drops the connection."""


class OpenAITestServer:
    """A real OpenAI-compatible HTTP server for tests (start with ``with``).

    Args:
        model: answers unscripted requests (default: an OfflineModel without delays).
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``,
            else they get HTTP 401.

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started (append ``/v1`` for the SDK).
        requests: every request received, in order.
    """

    def __init__(self, model: OfflineModel | None = None, *, api_key: str | None = None) -> None:
        self.default_model = model or OfflineModel(chunk_delay_s=0.0)
        self.model = self.default_model
        self.api_key = api_key
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[float] = []
        self.rejects: set[str] = set()
        self._script: deque[_Step] = deque()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: ServerThread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # -- scripting ---------------------------------------------------------------------

    def reply_text(self, text: str, *, times: int = 1) -> None:
        """Answer the next ``times`` chat requests with ``text`` as the content."""
        self._push(_Step("text", text, times))

    def reply_json(self, obj: dict[str, Any], *, times: int = 1) -> None:
        """Answer with ``obj`` as JSON content (a structured output)."""
        self._push(_Step("json", obj, times))

    def reply_invalid_json(self, *, times: int = 1) -> None:
        """Answer with content that is not JSON (for structured requests)."""
        self._push(_Step("text", '{"answer": "cut off', times))

    def reply_tool_calls(
        self, calls: list[dict[str, Any]], *, content: str | None = None, times: int = 1
    ) -> None:
        """Answer with tool calls: ``[{"name": ..., "arguments": {...} or "raw text"}]``."""
        self._push(_Step("tool_calls", {"tool_calls": calls, "content": content}, times))

    def fail(
        self,
        status: int = 500,
        message: str = "scripted failure",
        *,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer with HTTP ``status`` and an OpenAI error body; the response carries
        ``Retry-After: <retry_after>`` when given, else ``retry-after-ms: 1`` (retry at once)."""
        self._push(_Step("fail", message, times, status, retry_after))

    def delay(self, seconds: float, *, times: int = 1) -> None:
        """Wait ``seconds`` before answering normally (stops waiting if the client leaves)."""
        self._push(_Step("delay", seconds, times))

    def hang(self, *, times: int = 1) -> None:
        """Send nothing, not even headers, until the client leaves."""
        self.delay(math.inf, times=times)

    def break_stream(self, after_chunks: int = 2, *, stall_s: float = 0.0, times: int = 1) -> None:
        """Stream ``after_chunks`` chunks of the normal answer, then go silent for
        ``stall_s`` seconds (or until the client leaves), then drop the connection."""
        self._push(_Step("break", (after_chunks, stall_s), times))

    def truncate_body(self, *, times: int = 1) -> None:
        """Send a non-streamed answer's headers (with its full Content-Length) and half
        its body, then drop the connection."""
        self._push(_Step("truncate", None, times))

    def reply_non_json(self, body: str = "<html>502 Bad Gateway</html>", *, times: int = 1) -> None:
        """Answer 200 with ``content-type: application/json`` and ``body``, not JSON."""
        self._push(_Step("non_json", body, times))

    def cut_off(self, keep: float = 0.5, *, times: int = 1) -> None:
        """Answer normally but with only the first ``keep`` share of the text and
        ``finish_reason: "length"``, as a model that reached ``max_tokens``."""
        self._push(_Step("cut", keep, times))

    def reject(self, *features: str) -> None:
        """From now until :meth:`reset`, refuse requests that use ``features``:
        ``json_schema``, ``json_object`` (their ``response_format``) or ``tools``."""
        unknown = set(features) - set(_REJECTIONS)
        if unknown:
            raise ValueError(f"reject() knows {', '.join(_REJECTIONS)}, not {', '.join(unknown)}")
        self.rejects.update(features)

    def use(self, model: OfflineModel) -> None:
        """Answer unscripted requests with ``model`` (e.g. a :class:`RandomModel`)."""
        self.model = model

    def reset(self) -> None:
        """Forget recorded requests, disconnects, unused scripted steps and rejections;
        answer with the default model again."""
        with self._lock:
            self.requests.clear()
            self.disconnects.clear()
            self._script.clear()
            self.rejects.clear()
            self.model = self.default_model

    def _push(self, step: _Step) -> None:
        with self._lock:
            self._script.append(step)

    def _pop(self) -> _Step | None:
        with self._lock:
            if not self._script:
                return None
            step = self._script[0]
            step.times -= 1
            if step.times <= 0:
                self._script.popleft()
            return step

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The ``/v1/chat/completions`` requests received, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- HTTP --------------------------------------------------------------------------

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        at = time.monotonic()
        rec = RecordedRequest(request.method, request.url.path, dict(request.headers), body, at)
        with self._lock:
            self.requests.append(rec)
        return rec

    def _unauthorized(self, rec: RecordedRequest) -> Response | None:
        if self.api_key is None or rec.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Incorrect API key provided.", retry=False)

    async def _models(self, request: Request) -> Response:
        rec = await self._record(request)
        return self._unauthorized(rec) or JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": self.model.model_name,
                        "object": "model",
                        "created": 0,
                        "owned_by": "test",
                    }
                ],
            }
        )

    async def _chat(self, request: Request) -> Response:
        rec = await self._record(request)
        denied = self._unauthorized(rec)
        if denied is not None:
            return denied
        body = rec.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "request body must be JSON with a 'messages' list", retry=False)
        rejected = self._rejected(body)
        if rejected is not None:
            return rejected
        step = self._pop()
        if step is not None and step.kind == "fail":
            return _error(step.status, step.value, retry_after=step.retry_after)
        if step is not None and step.kind == "non_json":
            return Response(step.value, media_type="application/json")
        if step is not None and step.kind == "delay" and await self._wait(request, step.value):
            return Response(status_code=499)  # the client went away; nobody reads this
        try:
            completion = self._completion(rec, step)
        except Exception as exc:
            return _error(500, f"responder failed: {type(exc).__name__}: {exc}", retry=False)
        if step is not None and step.kind == "truncate":
            return _truncated(completion)
        if not body.get("stream"):
            return JSONResponse(completion)
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        limit = step.value if step is not None and step.kind == "break" else None
        return StreamingResponse(
            self._sse(request, completion, usage, limit), media_type="text/event-stream"
        )

    def _rejected(self, body: dict[str, Any]) -> Response | None:
        used = {(body.get("response_format") or {}).get("type")} | (
            {"tools"} if body.get("tools") else set()
        )
        for feature in sorted(self.rejects & used):
            status, content = _REJECTIONS[feature]
            return JSONResponse(content, status_code=status)
        return None

    def _completion(self, rec: RecordedRequest, step: _Step | None) -> dict[str, Any]:
        body = rec.body
        if step is not None and step.kind in ("text", "json", "tool_calls"):
            return self.model.completion(step.value, body)
        hints = json.loads(rec.headers.get("x-cogpipe-hints") or "{}")  # send_hints=True
        completion = self.model.respond(body, rec.headers.get("x-cogpipe-purpose"), hints)
        if step is not None and step.kind == "cut":
            choice = completion["choices"][0]
            content = choice["message"]["content"] or ""
            choice["message"]["content"] = content[: int(len(content) * step.value)]
            choice["finish_reason"] = "length"
        return completion

    async def _sse(
        self,
        request: Request,
        completion: dict[str, Any],
        usage: bool,
        limit: tuple[int, float] | None,
    ) -> AsyncIterator[bytes]:
        sent = 0
        async for line in self.model.sse(completion, usage):
            if limit is not None and sent >= limit[0]:
                await self._wait(request, limit[1])
                raise _BrokenStreamError("scripted broken stream")
            sent += 1
            yield line

    async def _wait(self, request: Request, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True as soon as the client disconnects (and
        record when), or when the server stops."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            if await request.is_disconnected():
                with self._lock:
                    self.disconnects.append(time.monotonic())
                return True
            await anyio.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        return False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start serving on a free port of 127.0.0.1; return once it accepts requests."""
        self._thread = ServerThread(
            self.app,
            name="openai-test-server",
            log_config=None,
            log_level="critical",
            access_log=False,
            lifespan="off",
        )
        self._stopping.clear()
        self._thread.start(10)
        self.url = self._thread.url

    def stop(self) -> None:
        """Stop serving and wait for the server thread (at most 10 s)."""
        self._stopping.set()  # ends hangs, so the server can shut down
        if self._thread is not None:
            self._thread.stop(10)
        self._thread = None

    def __enter__(self) -> OpenAITestServer:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _error(
    status: int, message: str, retry: bool | None = None, retry_after: float | None = None
) -> JSONResponse:
    if retry_after is None:
        headers = {"retry-after-ms": "1"}
    else:
        headers = {"retry-after": f"{retry_after:g}"}
    if retry is not None:
        headers["x-should-retry"] = str(retry).lower()
    return JSONResponse(
        {"error": {"message": message, "type": "test_error", "param": None, "code": None}},
        status_code=status,
        headers=headers,
    )


def _truncated(completion: dict[str, Any]) -> Response:
    """Headers announcing the whole body, then half of it, then a dropped connection."""
    raw = json.dumps(completion).encode()

    async def half() -> AsyncIterator[bytes]:
        yield raw[: len(raw) // 2]
        raise _BrokenStreamError("scripted truncated body")

    return StreamingResponse(
        half(), media_type="application/json", headers={"content-length": str(len(raw))}
    )


def client_for(server: OpenAITestServer, **config: Any) -> LLMClient:
    """Return an (unopened) LLMClient pointed at ``server``; ``config`` overrides
    :class:`LLMConfig` fields (``first_token_timeout_s``, ``max_retries``, ``models`` ...)."""
    return LLMClient(LLMConfig(**{"base_url": server.url + "/v1", "api_key": "test", **config}))


def llm_context(llm: LLMClient, kind: str = "test_v1") -> tuple[RunContext, list[Event]]:
    """Return a run context for node ``n`` of ``kind`` whose ``ctx.llm`` binds ``llm``,
    and the list its trace events are appended to."""
    events: list[Event] = []
    ctx = RunContext(
        node="n",
        kind=kind,
        run_id="r1",
        graph="g",
        session=Session(id="s", graph="g"),
        context=[],
        emit=lambda type_, node, kind_, data: events.append((type_, node, kind_, data)),
        llm=llm,
    )
    return ctx, events


def events_of(events: list[Event], type_: str) -> list[dict[str, Any]]:
    """Return the ``data`` of every recorded event of ``type_``, in order."""
    return [data or {} for t, _, _, data in events if t == type_]


@pytest.fixture(scope="session", name="openai_server_session")
def openai_server_session_fixture() -> Iterator[OpenAITestServer]:
    """One started :class:`OpenAITestServer` for the whole test session."""
    with OpenAITestServer() as server:
        yield server


@pytest.fixture(name="openai_server")
def openai_server_fixture(openai_server_session: OpenAITestServer) -> OpenAITestServer:
    """The session's :class:`OpenAITestServer`, with no recorded requests and no script."""
    openai_server_session.reset()
    return openai_server_session
