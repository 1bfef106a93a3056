"""Redis mode's connections, opened from the settings (``redis_url`` and ``redis_*``).

:func:`open_redis` checks that Redis answers (else :class:`RedisUnavailableError`
naming the URL), then opens the two clients redis-py offers: the synchronous one for
the session store and the event writer thread (the store protocol is synchronous), the
asyncio one for the leases and for reading streams and pub/sub without blocking the
event loop. :func:`cogpipe.assembly.open_runtime` uses it; ``docs/deploy.md`` describes
the mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import redis
import redis.asyncio

from cogpipe.engine.distributed import (
    Coordinator,
    Keys,
    RedisEventLog,
    RedisSessionStore,
    masked,
    new_worker_id,
    sync_client,
)

from .settings import Settings

__all__ = ["RedisMode", "open_redis"]


@dataclass
class RedisMode:
    """What a process of a Redis deployment holds open.

    Attributes:
        url: the Redis URL with its password masked (for messages and ``/api/health``).
        keys: the key names (``redis_prefix``). worker_id: this process's name.
        client: the asyncio client. store: sessions and run records.
        events: the event streams (the runtime's event log).
        coordinator: this worker's lease and the sessions' turn leases.
    """

    url: str
    keys: Keys
    worker_id: str
    client: redis.asyncio.Redis
    store: RedisSessionStore
    events: RedisEventLog
    coordinator: Coordinator


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[RedisMode]:
    """Connect to ``settings.redis_url`` and yield the Redis mode's parts; close them
    after (the event writer flushes first).

    Raises:
        RedisUnavailableError: Redis does not answer at ``redis_url``.
        ValueError: ``redis_url`` is not set.
    """
    if not settings.redis_url:
        raise ValueError("redis_url is not set")
    url = settings.redis_url
    keys, worker = Keys(settings.redis_prefix), new_worker_id()
    async with AsyncExitStack() as stack:
        sync: redis.Redis = sync_client(url)
        stack.callback(sync.close)
        client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2)
        stack.push_async_callback(client.aclose)
        store = RedisSessionStore(sync, keys, worker)
        events = RedisEventLog(sync, keys, settings.ring_size, settings.redis_events_max)
        stack.callback(events.close)
        coordinator = Coordinator(client, keys, worker, settings.redis_lease_s)
        await stack.enter_async_context(coordinator)
        yield RedisMode(masked(url), keys, worker, client, store, events, coordinator)
