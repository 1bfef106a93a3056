"""Capture of a stdio tool server's stderr.

:class:`_StderrTail` hands the subprocess the write end of a pipe, reads the other end in
a task, keeps the last lines for error messages, logs them at DEBUG, and sets an event at
EOF, which is how the connection notices that an idle server process has exited.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

import anyio

# One logger for the whole package, named as before it was split into modules.
log = logging.getLogger("cogpipe.engine.tools")


class _StderrTail:
    """A stdio server's stderr, read through a pipe.

    The last lines are kept for error messages and logged at DEBUG; ``eof`` is set when
    the process closes its end, which is how an idle server's exit is noticed.
    """

    def __init__(self, server: str, keep: int = 20) -> None:
        self.server = server
        self.lines: deque[str] = deque(maxlen=keep)
        self.eof: anyio.Event | None = None
        self._writer: TextIO | None = None

    @asynccontextmanager
    async def capture(self) -> AsyncIterator[TextIO]:
        """Yield the pipe's write end for the subprocess, reading the other end meanwhile."""
        self.lines.clear()
        self.eof = eof = anyio.Event()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._writer = os.fdopen(write_fd, "w")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, read_fd, eof)
                try:
                    yield self._writer
                finally:
                    self.release()
                    # Give a dying process's last words (a traceback) a moment to arrive.
                    with anyio.move_on_after(0.5, shield=True):
                        await eof.wait()
                    tg.cancel_scope.cancel()
        finally:
            self.release()
            os.close(read_fd)

    def release(self) -> None:
        """Close our copy of the write end once the subprocess holds it."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def render(self, last: int = 8) -> str:
        """Return the last stderr lines as an indented block ('' when there are none)."""
        lines = list(self.lines)[-last:]
        if not lines:
            return ""
        return f"\n  last stderr lines of '{self.server}':" + "".join(f"\n    {x}" for x in lines)

    async def _read(self, fd: int, eof: anyio.Event) -> None:
        pending = b""
        try:
            while True:
                await anyio.wait_readable(fd)
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > 8192:
                    lines, pending = [*lines, pending], b""
                for line in lines:
                    self._add(line)
            self._add(pending)
        finally:
            eof.set()

    def _add(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip()
        if text:
            self.lines.append(text)
            log.debug("%s stderr: %s", self.server, text)
