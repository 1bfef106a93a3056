"""docs/examples/nginx.conf, run by a real nginx in front of two ``cogpipe serve``
processes on one Redis: the API and event streams work through it, and when one process
dies (``kill -9``) the proxy sends the next requests to the other."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.faults.conftest import session_on, turn
from tests.helpers.server_thread import free_port

from .conftest import Serve, data_events

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[list[str]], str]]:
    """Start nginx with the example config, its upstreams replaced by ``urls``."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: run 'make nginx' (Debian's nginx)")
    procs: list[subprocess.Popen[bytes]] = []

    def start(urls: list[str]) -> str:
        port = free_port()
        text = EXAMPLE.read_text()
        for old, new in zip(("127.0.0.1:8001", "127.0.0.1:8002"), urls, strict=True):
            text = text.replace(old, new.removeprefix("http://"))
        text = text.replace("listen 127.0.0.1:8000;", f"listen 127.0.0.1:{port};")
        prefix = tmp_path / "nginx"
        (prefix / "tmp").mkdir(parents=True)
        (prefix / "nginx.conf").write_text(text)
        cmd = [NGINX, "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"]
        with (prefix / "stderr.log").open("ab") as err:  # the child keeps its own
            procs.append(subprocess.Popen(cmd, stderr=err))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


async def test_two_servers_behind_the_example_nginx_config(
    cluster: Callable[..., Serve], nginx: Callable[[list[str]], str]
) -> None:
    a, b = cluster("a"), cluster("b")
    await a.start()
    await b.start()
    url = nginx([a.url, b.url])
    async with httpx2.AsyncClient(base_url=url, timeout=10) as c:
        with anyio.fail_after(10):
            while True:
                try:
                    if (await c.get("/api/health")).status_code == 200:
                        break
                except httpx2.TransportError:
                    await anyio.sleep(0.1)
        sid = await session_on(c, "step")
        got: list[dict[str, Any]] = []
        async with (
            httpx2.AsyncClient(base_url=url, timeout=10) as watcher,
            watcher.stream("GET", f"/api/sessions/{sid}/events") as resp,
        ):
            run = await turn(c, sid, "sleep:0.2")
            with anyio.fail_after(10):
                async for event in data_events(resp):
                    got.append(event)
                    if event["type"] == "run.finished":
                        break
        assert run["status"] == "finished"
        assert [e["type"] for e in got].count("fault.tick") == 2  # streamed, not buffered
        a.kill()
        for i in range(4):  # round robin: half of these meet the dead upstream first
            done = await turn(c, sid, f"after {i}")
            assert done["outputs"] == {"response": f"done: after {i}"}
