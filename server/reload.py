"""Hot reload: watch the graph folders with ``watchfiles`` and reload the catalog on
every change (:meth:`cogpipe.engine.Runtime.reload_graphs` emits ``graph.updated`` or
``graph.invalid`` to the sessions on a changed graph)."""

from __future__ import annotations

import logging

import anyio
from watchfiles import awatch

from cogpipe.engine import Runtime

__all__ = ["watch_graphs"]

log = logging.getLogger(__name__)


def _is_graph_file(_change: object, path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


async def watch_graphs(
    runtime: Runtime, stop: anyio.Event | None = None, *, debounce_ms: int = 200
) -> None:
    """Reload the runtime's graphs whenever a ``*.yaml``/``*.yml`` file in one of its
    folders is added, changed or removed; runs until ``stop`` is set or it is cancelled.

    Args:
        stop: set it before cancelling: the watch waits in a thread that a cancel cannot
            interrupt, so without it a stop waits for watchfiles' 5 s wake-up.
        debounce_ms: changes within this many milliseconds are one reload (an editor's
            save is often several writes).
    """
    folders = [d for d in runtime.catalog.dirs if d.is_dir()]
    if not folders:
        return
    changes = awatch(*folders, watch_filter=_is_graph_file, debounce=debounce_ms, stop_event=stop)
    async for _ in changes:
        try:
            for change in runtime.reload_graphs():
                log.info("graph '%s' reloaded: %s", change["graph"], change["type"])
        except Exception:  # a reload must never stop the watcher, nor the server
            log.exception("reloading the graphs failed")
        await anyio.lowlevel.checkpoint()
