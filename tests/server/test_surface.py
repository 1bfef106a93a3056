"""The closed web surface over real HTTP: the Host allow-list, the Origin check on
changes, one-time stream tickets, an access log without secrets, the token in OpenAPI,
405 answers with every allowed method, and private files."""

from __future__ import annotations

import logging
import socket
import stat
from pathlib import Path

import httpx2
import pytest

from cogpipe.server.accesslog import redact
from cogpipe.server.app import allowed_hosts, create_app
from cogpipe.server.tickets import StreamTickets
from cogpipe.settings import Settings
from tests.helpers.server_thread import ServerThread

from .conftest import Running, make_settings, new_session, run_to_end, send, start_server

TOKEN = {"Authorization": "Bearer s3cret"}


# -- Host ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
async def test_loopback_names_are_answered(server: Running, host: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    async with httpx2.AsyncClient(base_url=server.url) as c:
        for value in (host, f"{host}:{port}"):
            assert (await c.get("/api/health", headers={"Host": value})).status_code == 200


@pytest.mark.parametrize("path", ["/api/health", "/", "/docs", "/openapi.json"])
async def test_a_foreign_host_is_refused_everywhere(server: Running, path: str) -> None:
    async with httpx2.AsyncClient(base_url=server.url) as c:
        r = await c.get(path, headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "this server does not answer to Host 'evil.example': it answers to 127.0.0.1, "
        "::1, localhost; to reach it under another name, add that name to "
        "COGPIPE_ALLOWED_HOSTS (allowed_hosts)"
    }


def test_a_request_without_a_host_header_is_refused(server: Running) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /api/health HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"this server does not answer to no Host header" in answer


async def test_allowed_hosts_add_names_and_patterns(serve) -> None:
    running = serve(settings={"allowed_hosts": ["cogpipe.example", "*.lan"]})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        for host, status in [
            ("cogpipe.example", 200),
            ("cogpipe.example:8080", 200),
            ("box.lan", 200),
            ("a.b.lan", 200),
            ("lan", 400),
            ("evil.example", 400),
        ]:
            r = await c.get("/api/health", headers={"Host": host})
            assert (host, r.status_code) == (host, status)
    anything = serve(settings={"allowed_hosts": ["*"]})
    async with httpx2.AsyncClient(base_url=anything.url) as c:
        assert (await c.get("/api/health", headers={"Host": "x.example"})).status_code == 200


def test_the_bound_host_is_allowed_unless_it_is_a_wildcard() -> None:
    assert allowed_hosts(Settings(host="10.0.0.5", allowed_hosts=["a.example"])) == [
        "localhost",
        "127.0.0.1",
        "::1",
        "10.0.0.5",
        "a.example",
    ]
    assert allowed_hosts(Settings(host="0.0.0.0")) == ["localhost", "127.0.0.1", "::1"]


def test_allowed_hosts_come_from_the_environment() -> None:
    settings = Settings.load({"COGPIPE_ALLOWED_HOSTS": "a.example, *.lan"})
    assert settings.allowed_hosts == ["a.example", "*.lan"]


# -- Origin ----------------------------------------------------------------------------


async def test_changes_from_a_foreign_origin_are_refused(server: Running) -> None:
    async with httpx2.AsyncClient(base_url=server.url) as c:
        sid = await new_session(c)
        foreign = {"Origin": "http://evil.example"}
        for method, path, body in [
            ("POST", "/api/sessions", {}),
            ("POST", f"/api/sessions/{sid}/messages", {"text": "hi"}),
            ("PUT", f"/api/sessions/{sid}/graph", {"graph": "slow"}),
            ("POST", "/api/runs/nope/cancel", None),
            ("POST", "/api/stream-tickets", None),
        ]:
            r = await c.request(method, path, json=body, headers=foreign)
            assert r.status_code == 403, (method, path)
        assert r.json()["error"] == (
            "POST from a page of another origin (http://evil.example) is refused: this server "
            f"takes changes only from its own pages (http://{server.url[7:]}) or from clients "
            "that send no Origin header"
        )
        null = await c.post("/api/sessions", json={}, headers={"Origin": "null"})
        assert null.status_code == 403  # a sandboxed frame or a file:// page
        other_port = await c.post(
            "/api/sessions", json={}, headers={"Origin": "http://127.0.0.1:1"}
        )
        assert other_port.status_code == 403
        # the page's own origin, reads from anywhere, and clients without Origin pass
        own = await c.post("/api/sessions", json={}, headers={"Origin": server.url})
        assert own.status_code == 201
        assert (await c.get("/api/health", headers=foreign)).status_code == 200
        assert (await c.post("/api/sessions", json={})).status_code == 201


# -- stream tickets --------------------------------------------------------------------


async def test_a_stream_ticket_opens_one_stream_once(serve) -> None:
    running = serve(token="s3cret")
    async with httpx2.AsyncClient(base_url=running.url, headers=TOKEN) as c:
        sid = await new_session(c)
        r = await c.post("/api/stream-tickets")
        assert r.status_code == 201 and r.json()["expires_in"] == 60
        ticket = r.json()["ticket"]
        assert len(ticket) >= 32
    async with httpx2.AsyncClient(base_url=running.url) as anon:  # what EventSource has
        async with anon.stream("GET", f"/api/sessions/{sid}/events?ticket={ticket}") as resp:
            assert resp.status_code == 200
        again = await anon.get(f"/api/sessions/{sid}/events", params={"ticket": ticket})
        assert again.status_code == 401
        assert "the stream ticket is unknown, used or expired" in again.json()["error"]
        async with httpx2.AsyncClient(base_url=running.url, headers=TOKEN) as c:
            fresh = (await c.post("/api/stream-tickets")).json()["ticket"]
        # a ticket opens an event stream and nothing else
        other = await anon.get("/api/health", params={"ticket": fresh})
        assert other.status_code == 401
        post = await anon.post(f"/api/sessions/{sid}/messages", params={"ticket": fresh})
        assert post.status_code == 401


def test_tickets_expire_and_are_bounded() -> None:
    now = [0.0]
    tickets = StreamTickets(ttl_s=60, max_open=3, clock=lambda: now[0])
    first = tickets.issue()
    now[0] = 59.9
    assert tickets.redeem(first) and not tickets.redeem(first)
    late = tickets.issue()
    now[0] = 120.0
    assert not tickets.redeem(late)
    issued = [tickets.issue() for _ in range(5)]
    assert [tickets.redeem(t) for t in issued] == [False, False, True, True, True]
    assert not tickets.redeem("made-up")


# -- the access log --------------------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_access_log_prints_no_secret(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), token="tok-SECRET-42")
    thread = ServerThread(app, log_level="info", access_log=True)
    thread.start()  # uvicorn has (re)configured its loggers: listen from now on
    logger, lines = logging.getLogger("uvicorn.access"), _Lines()
    logger.addHandler(lines)
    try:
        async with httpx2.AsyncClient(base_url=thread.url) as c:
            await c.get("/api/health?token=tok-SECRET-42&limit=5")
            auth = {"Authorization": "Bearer tok-SECRET-42"}
            ticket = (await c.post("/api/stream-tickets", headers=auth)).json()["ticket"]
            async with c.stream("GET", f"/api/events?ticket={ticket}&last_event_id=0") as r:
                assert r.status_code == 200
    finally:
        thread.stop()
        logger.removeHandler(lines)
    log = "\n".join(lines.lines)
    assert "tok-SECRET-42" not in log and ticket not in log
    assert '"GET /api/health?token=[redacted]&limit=5 HTTP/1.1" 401' in log
    assert '"GET /api/events?ticket=[redacted]&last_event_id=0 HTTP/1.1" 200' in log


def test_redact_keeps_paths_names_and_harmless_values() -> None:
    assert redact("/api/sessions/abc/events") == "/api/sessions/abc/events"
    assert (
        redact("/x?a=1&a=2&limit=3&flag") == "/x?a=[redacted]&a=[redacted]&limit=3&flag=[redacted]"
    )


# -- OpenAPI, 405, malformed bodies ----------------------------------------------------


async def test_the_token_is_a_security_scheme(serve) -> None:
    guarded = serve(token="s3cret")
    async with httpx2.AsyncClient(base_url=guarded.url) as c:
        spec = (await c.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "COGPIPE_TOKEN, as 'Authorization: Bearer <token>'",
    }
    assert schemes["streamTicket"]["in"] == "query" and schemes["streamTicket"]["name"] == "ticket"
    paths = spec["paths"]
    assert paths["/api/health"]["get"]["security"] == [{"token": []}]
    assert paths["/api/events"]["get"]["security"] == [{"token": []}, {"streamTicket": []}]
    open_ = serve()
    async with httpx2.AsyncClient(base_url=open_.url) as c:
        spec = (await c.get("/openapi.json")).json()
    assert "token" in spec["components"]["securitySchemes"]
    assert "security" not in spec["paths"]["/api/health"]["get"]


async def test_bodies_that_name_a_graph_list_the_valid_ones(client: httpx2.AsyncClient) -> None:
    models = (await client.get("/openapi.json")).json()["components"]["schemas"]
    valid = ["burst", "chat", "failing", "mistyped", "slow"]
    assert models["GraphChoice"]["properties"]["name"]["enum"] == valid
    assert models["SwitchGraph"]["properties"]["graph"]["enum"] == valid
    string, null = models["SessionCreate"]["properties"]["graph"]["anyOf"]
    assert string["enum"] == valid and null == {"type": "null"}
    r = await client.post("/api/sessions", json={"graph": "broken"})  # listed, not valid
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/default-graph", "GET, PUT"),
        ("DELETE", "/api/sessions", "GET, POST"),
        ("DELETE", "/api/runs/abc", "GET"),
        ("GET", "/api/runs/abc/cancel", "POST"),
        ("HEAD", "/api/health", "GET"),
        ("GET", "/api/stream-tickets", "POST"),
        ("PUT", "/api/sessions/abc/messages", "POST"),
    ],
)
async def test_405_names_every_allowed_method(
    client: httpx2.AsyncClient, method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path)
    assert (r.status_code, r.headers["allow"]) == (405, allow)
    if method != "HEAD":
        assert r.json()["error"] == (
            f"{method} is not allowed on {path}; it answers {allow} (see /docs)"
        )


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (b'{"text": "\xff"}', "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff"),
        (b"[" * 30_000, "RecursionError: maximum recursion depth exceeded"),
    ],
)
async def test_unreadable_bodies_are_422_like_every_bad_body(
    client: httpx2.AsyncClient, body: bytes, msg: str
) -> None:
    sid = await new_session(client)
    r = await client.post(
        f"/api/sessions/{sid}/messages", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid request: body: not JSON in UTF-8 (see 'detail')"
    assert r.json()["detail"][0]["msg"].startswith(msg)


# -- private files ---------------------------------------------------------------------


async def test_the_server_keeps_sessions_and_traces_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = make_settings(tmp_path, session_db=data / "var" / "sessions.db")
    settings = settings.model_copy(update={"trace_dir": data / "trace"})
    running = start_server(create_app(settings, token=None))
    try:
        async with httpx2.AsyncClient(base_url=running.url) as c:
            await run_to_end(c, await send(c, await new_session(c), "hello"))
        modes = {str(p.relative_to(data)): stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
    finally:
        running.stop()
    assert modes == {
        "var": 0o700,
        "var/sessions.db": 0o600,
        "var/sessions.db-wal": 0o600,
        "var/sessions.db-shm": 0o600,
        "trace": 0o700,
        "trace/cogpipe.jsonl": 0o600,
    }
