"""A hook-event receiver like the multi-agent observability dashboard's ``POST /events``:
a real HTTP server on a free 127.0.0.1 port, in a thread."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .server_thread import free_port

__all__ = ["HookReceiver"]


class HookReceiver:
    """Takes ``POST /events`` like the dashboard: records each JSON body, after
    ``delay`` seconds, answering ``status``."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0
        self.delay, self.status = delay, status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                time.sleep(receiver.delay)
                if receiver.status == 200:
                    assert self.path == "/events"
                    receiver.events.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
