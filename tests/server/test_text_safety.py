"""One bad value poisons nothing: text UTF-8 cannot encode is refused at every endpoint
that takes text (422 naming the field, never a 500), and a bad value that comes from a
node instead (as from a model's reply) is repaired at every serialisation point while
the event streams and the JSONL trace go on for every session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import BaseModel

from cogpipe.engine import JsonlSink, Node, RunContext
from cogpipe.server.app import create_app

from .conftest import Running, SSEReader, make_settings, new_session, run_to_end, send, start_server

BAD = "\ud800"
SURROGATE = "holds a lone surrogate U+D800 at character 0, which UTF-8 cannot encode"


class Mangle(Node):
    """Answers, streams, emits and remembers text with lone surrogates and a NaN, as a
    node passing on a model's or a tool's JSON reply could."""

    kind = "srv_mangle_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        response: str | None = None
        score: float | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        ctx.stream(f"{BAD} piece ")
        ctx.emit("mangle.said", {"text": f"bad {BAD}", "n": float("nan"), BAD: 1})
        ctx.session.state["mangle"] = {"said": "\udfff", "nan": float("nan")}
        return self.Outputs(response=f"{inputs.text} {BAD}", score=float("nan"))


MANGLE = """\
name: mangle
description: Produces text UTF-8 cannot encode.
entry: {message: mangle.text}
nodes:
  mangle: {kind: srv_mangle_v1}
outputs: {response: mangle.response, score: mangle.score}
"""

S = "{sid}"
JSON = {"content-type": "application/json"}
# (method, path, raw body, status, start of the error): every endpoint that takes text
REQUESTS: list[tuple[str, str, bytes | None, int, str]] = [
    ("POST", "/api/sessions", b'{"graph": "\\ud800"}', 422, f"invalid request: graph: {SURROGATE}"),
    (
        "PUT",
        "/api/default-graph",
        b'{"name": "\\ud800"}',
        422,
        f"invalid request: name: {SURROGATE}",
    ),
    (
        "PUT",
        f"/api/sessions/{S}/graph",
        b'{"graph": "chat\\udfff"}',
        422,
        "invalid request: graph: holds a lone surrogate U+DFFF at character 4",
    ),
    (
        "POST",
        f"/api/sessions/{S}/messages",
        b'{"text": "\\ud800x"}',
        422,
        f"invalid request: text: {SURROGATE}",
    ),
    (  # raw bytes of a surrogate: not UTF-8 at all
        "POST",
        f"/api/sessions/{S}/messages",
        b'{"text": "\xed\xa0\x80"}',
        422,
        f"invalid request: text: {SURROGATE}",
    ),
    (
        "POST",
        f"/api/sessions/{S}/messages",
        b'{"text": "\xff"}',
        422,
        "invalid request: body: not JSON in UTF-8",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        b'{"action": "\\ud800"}',
        422,
        f"invalid request: action: {SURROGATE}",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        b'{"action": "go", "control": "\\ud800"}',
        422,
        f"invalid request: control: {SURROGATE}",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        b'{"action": "go", "payload": {"deep": [1, {"x": ["\\ud800"]}]}}',
        422,
        f"invalid request: payload.deep.1.x.0: {SURROGATE}",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        b'{"action": "go", "payload": {"\\ud800": 1}}',
        422,
        f"invalid request: payload.(key): {SURROGATE}",
    ),
    (
        "POST",
        f"/api/sessions/{S}/actions",
        b'{"action": "go", "payload": {"n": NaN}}',
        422,
        "invalid request: payload.n: is nan, which JSON cannot hold; send a finite number",
    ),
    (
        "PUT",
        f"/api/sessions/{S}/dashboard",
        b'{"version": 1, "controls": ["ok", "\\ud800"]}',
        422,
        f"invalid request: controls.1: {SURROGATE}",
    ),
    # in paths, uvicorn decodes the bytes of a surrogate to U+FFFD: an unknown name
    ("GET", "/api/sessions/%ED%A0%80", None, 404, "unknown session '\ufffd\ufffd\ufffd'"),
    ("POST", "/api/sessions/%ED%A0%80/messages", b'{"text": "hi"}', 404, "unknown session"),
    ("GET", "/api/sessions/%ED%A0%80/events", None, 404, "unknown session"),
    ("GET", "/api/graphs/%ED%A0%80", None, 404, "unknown graph '\ufffd\ufffd\ufffd'"),
    ("GET", "/api/runs/%ED%A0%80", None, 404, "unknown run '\ufffd\ufffd\ufffd'"),
    ("POST", "/api/runs/%ED%A0%80/cancel", None, 404, "unknown run"),
    ("GET", "/api/traces/%ED%A0%80", None, 404, "unknown trace file"),
    ("GET", "/api/sessions?limit=%ED%A0%80", None, 422, "invalid request: query.limit: "),
]


def _mangle_server(tmp_path: Path) -> tuple[Running, Any]:
    settings = make_settings(tmp_path)
    (settings.graphs_dir / "mangle.yaml").write_text(MANGLE, encoding="utf-8")
    return start_server(create_app(settings, token=None)), settings


def _sink(running: Running) -> JsonlSink:
    (sink,) = [o for o in running.runtime.bus.observers if isinstance(o, JsonlSink)]
    return sink


async def test_bad_text_is_refused_everywhere_and_poisons_nothing(tmp_path: Path) -> None:
    running, _ = _mangle_server(tmp_path)
    try:
        async with httpx2.AsyncClient(base_url=running.url, timeout=10) as c:
            victim, other = await new_session(c), await new_session(c)
            async with (
                c.stream("GET", "/api/events") as every,
                c.stream("GET", f"/api/sessions/{other}/events") as mine,
            ):
                every_reader, mine_reader = SSEReader(every), SSEReader(mine)
                for method, path, body, status, error in REQUESTS:
                    r = await c.request(method, path.replace(S, victim), content=body, headers=JSON)
                    assert (r.status_code, r.json()["error"][: len(error)]) == (status, error)
                # the streams and the trace file go on for every session
                size = _sink(running).path.stat().st_size
                run_id = await send(c, other, "still here")
                got = await mine_reader.until("run.finished")
                assert {m.event["run_id"] for m in got} == {run_id}
                seen = await every_reader.until("run.finished")
                assert seen[-1].event["session_id"] == other
            assert (await run_to_end(c, run_id))["outputs"] == {"response": "echo: still here"}
            assert (await c.get(f"/api/sessions/{victim}")).json()["history"] == []
        _sink(running).flush()
        assert _sink(running).path.stat().st_size > size
    finally:
        running.stop()


async def test_bad_text_from_a_node_is_repaired_where_it_is_written(tmp_path: Path) -> None:
    running, settings = _mangle_server(tmp_path)
    try:
        async with httpx2.AsyncClient(base_url=running.url, timeout=10) as c:
            bad, other = await new_session(c, "mangle"), await new_session(c)
            async with c.stream("GET", "/api/events") as every:
                reader = SSEReader(every)
                run = await run_to_end(c, await send(c, bad, "hi"))
                got = await reader.until("run.finished")
                run_id = await send(c, other, "after")  # the stream still delivers
                while (
                    got[-1].event["session_id"] != other or got[-1].event["type"] != "run.finished"
                ):
                    got.append(await reader.next_event())
            assert run["status"] == "finished"
            assert run["outputs"] == {"response": "hi \ufffd", "score": None}
            said = next(m.event for m in got if m.event["type"] == "mangle.said")
            assert said["data"] == {"text": "bad \ufffd", "n": None, "\ufffd": 1}
            delta = next(m.event for m in got if m.event["type"] == "output.delta")
            assert delta["data"]["text"] == "\ufffd piece "
            session = (await c.get(f"/api/sessions/{bad}")).json()
            assert session["state"]["mangle"] == {"said": "\ufffd", "nan": None}
            assert session["history"][0]["outputs"] == {"response": "hi \ufffd", "score": None}
            assert (await run_to_end(c, run_id))["status"] == "finished"
        sink = _sink(running)
        sink.flush()
        lines = [json.loads(line) for line in sink.path.read_text(encoding="utf-8").splitlines()]
        assert sink.failed == 0 and sink._thread.is_alive()
        assert any(e["type"] == "mangle.said" for e in lines)
        assert lines[-1]["session_id"] == other
    finally:
        running.stop()
    again = start_server(create_app(settings, token=None))  # the stored session loads
    try:
        async with httpx2.AsyncClient(base_url=again.url) as c:
            r = await c.get(f"/api/sessions/{bad}")
        assert r.status_code == 200 and r.json()["state"]["mangle"]["said"] == "\ufffd"
    finally:
        again.stop()


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/sessions/\ud800", f"invalid request: session_id: {SURROGATE}"),
        ("/api/graphs/x\udc00", "invalid request: name: holds a lone surrogate U+DC00"),
    ],
)
async def test_a_server_that_passes_surrogates_in_paths_gets_a_422(
    tmp_path: Path, path: str, error: str
) -> None:
    """uvicorn never puts a surrogate in ``scope["path"]``; an ASGI server that keeps
    undecodable bytes as surrogates (``surrogateescape``) could."""
    app = create_app(make_settings(tmp_path), token=None)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send_(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(10):
        await app(scope, receive, send_)
    assert sent[0]["status"] == 422
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"].startswith(error)
