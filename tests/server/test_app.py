"""The app around the API over real HTTP: lifespan, auth, body limits, the HUD's static
files, OpenAPI, and ``cogpipe serve``."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2

from cogpipe.server import app as server_app
from cogpipe.server.app import create_app
from tests.engine.bad_graphs import CASES, write_catalogue

from .conftest import make_settings, new_session, run_to_end, send, start_server

ROOT = Path(__file__).resolve().parents[2]

# -- lifespan --------------------------------------------------------------------------


async def test_tool_servers_start_and_stop_with_the_app(serve) -> None:
    running = serve(settings={"tool_servers": None})  # None: the demo SQLite server
    async with httpx2.AsyncClient(base_url=running.url) as c:
        (demo,) = (await c.get("/api/health")).json()["tools"]
    assert (demo["name"], demo["transport"], demo["up"], demo["status"]) == (
        "demo_db",
        "stdio",
        True,
        "up",
    )
    assert demo["tools"] > 0 and demo["error"] is None
    assert {"name": "query", "title": "Run a SQL query", "hints": ["read-only"]} in demo["offered"]
    assert len(demo["offered"]) == demo["tools"] and demo["hidden"] == []
    running.stop()
    assert running.runtime.tools.status()[0]["status"] != "up"


async def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    running = start_server(create_app(settings, token=None))
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c)
        await run_to_end(c, await send(c, sid, "remember me"))
    running.stop()
    running = start_server(create_app(settings, token=None))
    try:
        async with httpx2.AsyncClient(base_url=running.url) as c:
            session = (await c.get(f"/api/sessions/{sid}")).json()
            assert [t["input"] for t in session["history"]] == ["remember me"]
            assert sid in [s["id"] for s in (await c.get("/api/sessions")).json()]
    finally:
        running.stop()


# -- auth, body limit, static files, OpenAPI -------------------------------------------


async def test_chunked_bodies_are_limited_while_read(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)

    async def chunks(parts: list[bytes]):  # no Content-Length
        for part in parts:
            yield part

    headers = {"content-type": "application/json"}
    r = await client.post(
        f"/api/sessions/{sid}/messages", headers=headers, content=chunks([b"x" * 10_000] * 14)
    )
    assert r.status_code == 413
    r = await client.post(
        f"/api/sessions/{sid}/messages",
        headers=headers,
        content=chunks([b'{"text": ', b'"chunked"}']),
    )
    run = await run_to_end(client, r.json()["run_id"])
    assert run["outputs"] == {"response": "echo: chunked"}


async def test_token_guards_api_and_streams(serve) -> None:
    running = serve(token="s3cret")
    async with httpx2.AsyncClient(base_url=running.url) as c:
        r = await c.get("/api/health")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"].startswith("this server needs a token (no token was given)")
        r = await c.get("/api/health", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "a wrong token was given" in r.json()["error"]
        ok = {"Authorization": "Bearer s3cret"}
        assert (await c.get("/api/health", headers=ok)).status_code == 200
        r = await c.get("/api/health", params={"token": "s3cret"})  # never in a URL
        assert r.status_code == 401 and "a token in the URL is not accepted" in r.json()["error"]
        assert (await c.get("/api/events")).status_code == 401
        assert (await c.post("/api/stream-tickets")).status_code == 401
        ticket = (await c.post("/api/stream-tickets", headers=ok)).json()["ticket"]
        async with c.stream("GET", "/api/events", params={"ticket": ticket}) as resp:
            assert resp.status_code == 200
        assert (await c.post("/api/sessions", json={})).status_code == 401
        assert (await c.get("/")).status_code == 200 and (await c.get("/docs")).status_code == 200


async def test_token_comes_from_the_settings(tmp_path: Path) -> None:
    running = start_server(create_app(make_settings(tmp_path, token="envtoken")))
    try:
        async with httpx2.AsyncClient(base_url=running.url) as c:
            assert (await c.get("/api/health")).status_code == 401
            r = await c.get("/api/health", headers={"Authorization": "Bearer envtoken"})
            assert r.status_code == 200
    finally:
        running.stop()


async def test_frontend_and_vendor_files(serve, tmp_path: Path) -> None:
    async with httpx2.AsyncClient(base_url=serve(frontend_dir=tmp_path / "none").url) as c:
        r = await c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "HUD is not built" in r.text and "make run" in r.text
    front = tmp_path / "frontend"
    (front / "vendor" / "cytoscape" / "dist").mkdir(parents=True)
    (front / "index.html").write_text("<h1>HUD</h1>")
    (front / "app.js").write_text("console.log('hud')")
    (front / "vendor" / "cytoscape" / "dist" / "cytoscape.min.js").write_text("cy()")
    running = serve(frontend_dir=front)
    async with httpx2.AsyncClient(base_url=running.url) as c:
        assert (await c.get("/")).text == "<h1>HUD</h1>"
        assert (await c.get("/app.js")).text == "console.log('hud')"
        assert (await c.get("/vendor/cytoscape/dist/cytoscape.min.js")).text == "cy()"
        assert (await c.get("/vendor/..%2F..%2Findex.html")).status_code == 404
        assert (await c.get("/missing.js")).status_code == 404


async def test_openapi_documents_every_endpoint(client: httpx2.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    s = "/api/sessions/{session_id}"
    assert {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops} == {
        "GET /api/health",
        "GET /api/graphs",
        "GET /api/graphs/{name}",
        "GET /api/events",
        "GET /api/default-graph",
        "PUT /api/default-graph",
        "POST /api/sessions",
        "GET /api/sessions",
        f"GET {s}",
        f"PUT {s}/graph",
        f"POST {s}/messages",
        f"POST {s}/actions",
        f"PUT {s}/dashboard",
        f"GET {s}/events",
        f"GET {s}/breakpoints",
        f"PUT {s}/breakpoints",
        "GET /api/runs/{run_id}",
        "POST /api/runs/{run_id}/cancel",
        "POST /api/runs/{run_id}/resume",
        "GET /api/traces",
        "GET /api/traces/{name}",
        "POST /api/stream-tickets",
    }
    assert {"RunInfo", "SessionDetail", "ErrorBody"} <= set(spec["components"]["schemas"])
    assert (await client.get("/docs")).status_code == 200


# -- cogpipe serve ---------------------------------------------------------------------


def test_serve_tunes_gc_and_binds_loopback_by_default(tmp_path: Path, monkeypatch, capsys) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(server_app.uvicorn.Server, "run", lambda self: seen.append(self.config))
    before = gc.get_threshold()
    try:
        settings = make_settings(tmp_path, default_graph="slow")
        assert server_app.serve(settings) == 1  # run() returned at once
        assert gc.get_threshold() == (50_000, 20, 100) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    (config,) = seen
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.app.state.settings.default_graph == "slow"
    assert capsys.readouterr().out == "cogpipe HUD on http://127.0.0.1:8000  (API docs: /docs)\n"


def test_serve_starts_with_the_valid_graphs_and_names_the_broken(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    settings = make_settings(tmp_path)
    write_catalogue(settings.graphs_dir)
    monkeypatch.setattr(server_app.uvicorn.Server, "run", lambda self: None)
    monkeypatch.setattr(server_app, "tune_gc", lambda: None)
    server_app.serve(settings)
    err = capsys.readouterr().err.splitlines()
    broken = len(CASES) + 1  # the catalogue and the fixture graph 'broken.yaml'
    assert err[0] == (
        f"warning: {broken} graph files cannot be used (GET /api/graphs lists their "
        "problems; 'cogpipe validate' checks them):"
    )
    graphs = settings.graphs_dir
    assert f"  {graphs / 'broken.yaml'}: line 5: node 'a': unknown kind 'no_such_kind'. " in (
        "\n".join(err)
    )
    assert f"  {graphs / 'alias_bomb.yaml'}: line 5: more than 20,000 values once aliases" in (
        "\n".join(err)
    )


async def test_the_api_lists_broken_graph_files_next_to_the_valid(serve) -> None:
    running = serve()
    write_catalogue(running.app.state.settings.graphs_dir)
    running.runtime.catalog.reload()
    async with httpx2.AsyncClient(base_url=running.url) as c:
        graphs = (await c.get("/api/graphs")).json()
        detail = (await c.get("/api/graphs/latin1")).json()
    valid = sorted(g["name"] for g in graphs if g["valid"])
    assert valid == ["burst", "chat", "failing", "mistyped", "slow"]
    latin1 = next(g for g in graphs if g["path"].endswith("latin1.yaml"))
    assert latin1["problems"] == [
        "line 1: not UTF-8 text at column 10: byte 0xE9 is invalid continuation byte\n"
        "  fix: save the file as UTF-8 text"
    ]
    assert detail["yaml"] == "name: caf\ufffd\n" and detail["valid"] is False


def _serve(tmp_path: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    (tmp_path / "graphs").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "COGPIPE_GRAPHS_DIR": str(tmp_path / "graphs"),
        "COGPIPE_TRACE_DIR": str(tmp_path / "trace"),
        "COGPIPE_SESSION_DB": "memory",
        "COGPIPE_TOOLS": "none",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cogpipe.server.cli", "serve", *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_serve_rejects_an_unknown_graph(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--graph", "nope")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip() == "error: unknown graph 'nope'. Known graphs: (none)"


def test_serve_binds_loopback_prints_url_and_stops_cleanly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _serve(tmp_path, "--port", str(port))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx2.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx2.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert r.json()["status"] == "ok"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines()[0] == f"cogpipe HUD on http://127.0.0.1:{port}  (API docs: /docs)"
    assert f"Uvicorn running on http://127.0.0.1:{port}" in err
