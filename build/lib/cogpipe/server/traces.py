"""The JSONL trace files under the trace folder: list them, send one, read their events.

Only names that the listing itself returns can be downloaded, so a request can never
reach outside the folder (no ``..``, no slashes, no symlinks). Each line of a trace file
is one :class:`~cogpipe.engine.TraceEvent` as JSON (written by
:class:`~cogpipe.engine.JsonlSink`); :func:`read_events` and :func:`follow` read them back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio

from cogpipe.engine import TraceEvent

__all__ = ["event_of", "find_trace", "follow", "read_events", "read_trace", "trace_files"]

_CHUNK = 64 * 1024


def trace_files(folder: Path) -> list[dict[str, Any]]:
    """Return ``[{"name", "size", "modified"}]`` of the trace files, newest first.

    Trace files are ``*.jsonl`` and their rotated backups (``*.jsonl.1`` ...).
    """
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if path.is_symlink() or not path.is_file():
            continue
        if not (path.name.endswith(".jsonl") or ".jsonl." in path.name):
            continue
        stat = path.stat()
        found.append({"name": path.name, "size": stat.st_size, "modified": stat.st_mtime})
    return sorted(found, key=lambda f: (-f["modified"], f["name"]))


def find_trace(folder: Path, name: str) -> Path | None:
    """Return the trace file called ``name``, or ``None`` when it is not listed."""
    if any(f["name"] == name for f in trace_files(folder)):
        return folder / name
    return None


async def read_trace(path: Path) -> AsyncIterator[bytes]:
    """Yield the file's bytes as they are now.

    The current file keeps growing while the server writes (and may be rotated);
    reading stops at the size the opened file had when the download began.
    """
    async with await anyio.open_file(path, "rb") as f:
        left = os.fstat(f.wrapped.fileno()).st_size
        while left > 0:
            chunk = await f.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def event_of(line: str) -> TraceEvent | None:
    """Return the event of one trace file line, or ``None`` when it is not one (a blank
    or cut-off line, or another program's JSON)."""
    try:
        data = json.loads(line)
        return TraceEvent(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def read_events(lines: Iterable[str], skipped: list[str] | None = None) -> Iterator[TraceEvent]:
    """Yield the events of trace file lines in order.

    Args:
        lines: the file's lines (an open file works).
        skipped: when given, lines that are not events are appended to it.
    """
    for line in lines:
        event = event_of(line)
        if event is not None:
            yield event
        elif skipped is not None and line.strip():
            skipped.append(line)


def follow(
    path: Path, *, from_start: bool = False, poll_s: float = 0.2, stop: Callable[[], bool] = bool
) -> Iterator[TraceEvent]:
    """Yield the events appended to a trace file as they are written (``tail -f``).

    Survives rotation: when the file is replaced (a new inode) or shrinks, reading
    starts again at the new file's beginning. A line is read only once it is complete.

    Args:
        path: the current trace file (it may not exist yet).
        from_start: yield the events already in the file first (default: only new ones).
        poll_s: seconds between looks at the file.
        stop: called between looks; following ends when it returns true.
    """
    handle, inode, partial = None, None, ""
    first = True
    while not stop():
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (
            handle is None or stat.st_ino != inode or stat.st_size < handle.tell()
        ):
            if handle is not None:
                handle.close()
            handle, inode, partial = path.open(encoding="utf-8", errors="replace"), stat.st_ino, ""
            if first and not from_start:
                handle.seek(0, os.SEEK_END)
        first = False
        chunk = handle.read() if handle is not None else ""
        if chunk:
            *complete, partial = (partial + chunk).split("\n")
            yield from read_events(complete)
        else:
            time.sleep(poll_s)
    if handle is not None:
        handle.close()
