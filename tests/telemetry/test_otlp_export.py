"""``cogpipe serve`` exports its spans over OTLP/HTTP to a receiver this test starts.

The receiver is a real HTTP server on a free 127.0.0.1 port that decodes each
``POST /v1/traces`` body as an OTLP ``ExportTraceServiceRequest`` (opentelemetry-proto);
the server is the real ``cogpipe serve`` process, configured only by ``OTEL_*``
variables, with the offline model and the demo MCP server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.helpers.server_thread import free_port

from .conftest import QUESTION


class Receiver:
    """An OTLP/HTTP trace receiver (protobuf bodies, as the spec's default)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []  # (service.name, span)
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for scope in rs.scope_spans:
                        receiver.spans += [(attrs["service.name"], s) for s in scope.spans]
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def named(self, name: str) -> list[Span]:
        return [s for _, s in self.spans if s.name == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def attrs(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        v = a.value
        out[a.key] = getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None
    return out


def serve(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "cogpipe"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "COGPIPE_DATA_DIR": str(tmp_path), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx2.TransportError:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
    proc.kill()
    raise AssertionError("cogpipe serve did not start")


def turn(url: str) -> dict[str, Any]:
    with httpx2.Client(base_url=url, timeout=10) as client:
        sid = client.post("/api/sessions", json={"graph": "v1-current"}).json()["id"]
        text = "How many customers do we have in Berlin?"
        run_id = client.post(f"/api/sessions/{sid}/messages", json={"text": text}).json()["run_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run = client.get(f"/api/runs/{run_id}").json()
            if run["status"] not in ("queued", "running"):
                return dict(run)
            time.sleep(0.05)
    raise AssertionError("the run did not end")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return err


def test_serve_exports_the_run_span_tree_over_otlp_http(tmp_path: Path, receiver: Receiver) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "cogpipe-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    proc, url = serve(tmp_path, env)
    try:
        run = turn(url)
    finally:
        err = stop(proc)  # shutting down flushes the spans still queued
    assert "Traceback" not in err, err
    assert run["status"] == "finished" and len(run["trace_id"]) == 32
    assert set(receiver.paths) == {"/v1/traces"}
    assert {service for service, _ in receiver.spans} == {"cogpipe-under-test"}

    (root,) = receiver.named("invoke_agent v1-current")
    assert root.trace_id.hex() == run["trace_id"] and root.parent_span_id == b""
    assert attrs(root)["cogpipe.run_id"] == run["run_id"]
    ours = [s for _, s in receiver.spans if s.trace_id == root.trace_id]
    nodes = [s for s in ours if s.parent_span_id == root.span_id]
    assert {s.name for s in nodes} >= {"node director", "node thinker", "node output"}
    (tool,) = [s for s in ours if s.name == "execute_tool count_customers"]
    assert tool.parent_span_id in {s.span_id for s in nodes}
    assert attrs(tool)["gen_ai.tool.name"] == "count_customers"
    (mcp,) = [s for s in ours if s.parent_span_id == tool.span_id]
    assert mcp.name == "MCP send tools/call count_customers"
    chats = [s for s in ours if s.name.startswith("chat ")]
    assert chats and all(s.kind == Span.SPAN_KIND_CLIENT for s in chats)
    assert all(attrs(s)["gen_ai.usage.output_tokens"] > 0 for s in chats)

    # the HTTP request that posted the turn (FastAPI's server span) is the run's link
    (post,) = [
        s
        for _, s in receiver.spans
        if s.name == "POST /api/sessions/{session_id}/messages" and s.kind == Span.SPAN_KIND_SERVER
    ]
    assert [(link.trace_id, link.span_id) for link in root.links] == [(post.trace_id, post.span_id)]


def test_serve_exports_nothing_without_an_endpoint_or_when_disabled(
    tmp_path: Path, receiver: Receiver
) -> None:
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url + "/v1/traces"}
    proc, url = serve(tmp_path, {**env, "OTEL_SDK_DISABLED": "true"})
    try:
        run = turn(url)
    finally:
        stop(proc)
    assert run["status"] == "finished" and run["trace_id"] is None
    assert receiver.spans == []


def test_serve_refuses_an_unknown_protocol(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cogpipe"), "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env={
            **os.environ,
            "COGPIPE_DATA_DIR": str(tmp_path),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported" in proc.stderr


def test_cogpipe_run_exports_its_turn_too(tmp_path: Path, receiver: Receiver) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cogpipe"), "run", "--memory", "--json", QUESTION],
        cwd=tmp_path,
        env={
            **os.environ,
            "COGPIPE_DATA_DIR": str(tmp_path),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    started = next(
        e for e in map(json.loads, done.stdout.splitlines()) if e["type"] == "run.started"
    )
    (root,) = receiver.named("invoke_agent v2-director-drives")  # sent before the exit
    assert root.trace_id.hex() == started["data"]["trace_id"]
    assert {service for service, _ in receiver.spans} == {"cogpipe"}
    assert receiver.named("execute_tool count_customers")
