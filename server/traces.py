"""The JSONL trace files under the trace folder: list them, send one.

Only names that the listing itself returns can be downloaded, so a request can never
reach outside the folder (no ``..``, no slashes, no symlinks).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

__all__ = ["find_trace", "read_trace", "trace_files"]

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
