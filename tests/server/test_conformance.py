"""The API against its own OpenAPI schema: schemathesis (``st run --checks all``) fuzzes
every operation of a real server on 127.0.0.1, with the token, and must find nothing.

The checks include 5xx answers, statuses, content types, headers and bodies that the
schema does not document, schema-valid requests refused and schema-invalid ones taken,
405 answers and their ``Allow`` header, endpoints that work without the token, and
stateful sequences that follow the schema's links (a session created, then used; a run
accepted, then read and cancelled). The two event streams are left out: they never end,
and ``test_streams.py`` tests them. A fixed seed keeps the run the same every time; 25
examples per operation keep it under half a minute on two cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cogpipe.server.app import create_app

from .conftest import make_settings, start_server

ST = Path(sys.executable).parent / "st"


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    running = start_server(create_app(make_settings(tmp_path / "server"), token="fuzz-token"))
    try:
        done = subprocess.run(
            [
                str(ST),
                "run",
                f"{running.url}/openapi.json",
                "--checks",
                "all",
                "--header",
                "Authorization: Bearer fuzz-token",
                "--exclude-path-regex",
                r"^/api(/sessions/\{session_id\})?/events$",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--workers",
                "1",
            ],
            cwd=tmp_path,  # schemathesis and hypothesis keep their caches here
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        running.stop()
    assert done.returncode == 0, done.stdout[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts is not None, done.stdout[-3000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed > 500
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", done.stdout)
    assert selected is not None, done.stdout[-3000:]
    chosen, total, tested = map(int, selected.groups())
    assert tested == chosen == total - 2  # every operation but the two event streams
