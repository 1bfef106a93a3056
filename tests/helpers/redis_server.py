"""A real ``redis-server`` (Debian's package) on a free 127.0.0.1 port with its own
temporary folder, for the Redis mode tests: started and stopped by a fixture."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .server_thread import free_port

__all__ = ["RedisServer", "redis_server"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """``redis-server`` in a subprocess, without persistence, restartable on its port.

    Args:
        folder: its working folder (``--dir``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10) -> None:
        """Start it and wait until it answers ``PING``."""
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--dir", str(self.folder), "--save", "", "--appendonly", "no"]
        with (self.folder / "redis.log").open("ab") as log:  # the child keeps its own
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, (self.folder / "redis.log").read_text()[-2000:]
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Stop it (SIGTERM; SIGKILL after 5 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def client(self) -> redis.Redis:
        """Return a new synchronous client of it."""
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One ``redis-server`` for a test module (tests keep apart by key prefix)."""
    if not Path(REDIS_SERVER).exists():
        pytest.fail("redis-server is not installed: run 'make redis' (Debian's redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
