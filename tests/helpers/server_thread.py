"""uvicorn serving an ASGI app in a background thread on 127.0.0.1, for tests that need
real HTTP (streaming, disconnects, a browser)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["ServerThread", "free_port"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """Serve ``app`` with uvicorn in a daemon thread.

    uvicorn skips signal handlers off the main thread, so it runs fine in one; a short
    graceful-shutdown timeout ends open event streams instead of waiting for them.

    Args:
        app: the ASGI app.
        port: the port to listen on; 0 picks a free one (see :attr:`url`).
        name: the thread's name.
        config: more ``uvicorn.Config`` arguments (``lifespan``, ``log_level`` ...).
    """

    def __init__(self, app: Any, port: int = 0, *, name: str = "uvicorn", **config: Any) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        options = {"log_level": "warning", "timeout_graceful_shutdown": 1, **config}
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, **options)
        )
        self.thread: threading.Thread | None = None

    def start(self, timeout_s: float = 30) -> None:
        """Bind, start serving, and return once requests are accepted.

        Raises:
            RuntimeError: the server did not start within ``timeout_s`` seconds.
        """
        self.thread = threading.Thread(target=self.server.run, name=self.name, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on {self.url} did not start")
            time.sleep(0.01)

    def stop(self, timeout_s: float = 15) -> None:
        """Ask the server to exit and wait for its thread.

        Raises:
            RuntimeError: the thread is still alive after ``timeout_s`` seconds.
        """
        if self.thread is None:
            return
        self.server.should_exit = True
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            raise RuntimeError(f"the test server on {self.url} did not stop within {timeout_s} s")
        self.thread = None
