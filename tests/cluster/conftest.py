"""Redis mode tests: a real ``redis-server`` per module and real ``cogpipe serve``
processes against it (each test keeps to its own key prefix)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.faults.test_crash import Serve
from tests.helpers.redis_server import RedisServer, redis_server

__all__ = ["Serve", "data_events", "redis_server"]


@pytest.fixture
def cluster(tmp_path: Path, redis_server: RedisServer) -> Iterator[Callable[..., Serve]]:
    """Make ``cogpipe serve`` processes that share ``redis_server`` under one fresh key
    prefix (each with its own data folder); all are stopped after the test."""
    prefix = f"t{secrets.token_hex(4)}:"
    made: list[Serve] = []

    def make(name: str, lease_s: float = 1.0, **env: str) -> Serve:
        serve = Serve(
            tmp_path / name,
            {
                "COGPIPE_REDIS_URL": redis_server.url,
                "COGPIPE_REDIS_PREFIX": prefix,
                "COGPIPE_REDIS_LEASE_S": str(lease_s),
                **env,
            },
        )
        serve.prefix = prefix  # type: ignore[attr-defined]
        made.append(serve)
        return serve

    yield make
    for serve in made:
        serve.stop()


async def data_events(resp: httpx2.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of an SSE response, parsed (``id:`` lines and pings skipped)."""
    async for line in resp.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:])
