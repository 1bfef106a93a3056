"""No graph file can crash, stall or flood the loader: the catalogue in ``bad_graphs.py``.

Cost is measured in a child process (``python -m tests.engine.bad_graphs``) that loads
each file with ``tracemalloc`` on and reads its own CPU time and peak RSS: tracemalloc
gives each file's own peak of Python allocations (where a YAML tree or an alias
expansion would grow), RSS the whole process's high-water mark including libyaml's C
buffers and the interpreter, and CPU time is what the file cost regardless of what
else the machine is doing. RLIMIT_AS was the other choice; it counts reserved address
space (thread stacks, mapped libraries), which says little about a file's cost.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cogpipe.engine import GraphCatalog, GraphValidationError, load_graph, load_graph_text
from cogpipe.server.cli import main

from .bad_graphs import CASES, GOOD, write_catalogue
from .kinds import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_each_bad_file_gives_a_clear_error(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(CASES[name].content)
    with pytest.raises(GraphValidationError) as info:
        load_graph(path, REGISTRY)
    first = info.value.problems[0]
    assert (first.line, first.message) == (CASES[name].line, CASES[name].message)
    assert info.value.message.startswith(f"{path}: ")


def test_each_bad_file_costs_little_time_and_memory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.engine.bad_graphs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in rows] == [f"{name}.yaml" for name in CASES]
    slow = {r["file"]: r["cpu_s"] for r in rows if r["cpu_s"] >= 2.0}
    big = {r["file"]: r["peak_bytes"] for r in rows if r["peak_bytes"] >= 200 * MB}
    assert slow == {} and big == {}
    assert rows[-1]["rss_bytes"] < 200 * MB  # the child's peak over every file
    assert all(r["first"] is not None for r in rows)


def test_validate_reports_every_file_of_a_folder(tmp_path: Path) -> None:
    paths = write_catalogue(tmp_path / "graphs")
    out = io.StringIO()
    assert main(["validate", str(tmp_path / "graphs")], out) == 1
    lines = out.getvalue().splitlines()
    failed = [line for line in lines if line.startswith("FAIL  ")]
    assert len(failed) == len(paths)
    assert lines[-1] == f"0 valid, {len(paths)} invalid"
    assert "Traceback" not in out.getvalue()


def test_the_catalog_keeps_the_valid_graphs_and_lists_the_broken(tmp_path: Path) -> None:
    paths = write_catalogue(tmp_path)
    (tmp_path / "fine.yaml").write_text(GOOD.replace("name: good", "name: fine"), "utf-8")
    (tmp_path / "folder.yaml").mkdir()  # unreadable as a file
    catalog = GraphCatalog(tmp_path, REGISTRY)
    assert catalog.names() == ["fine"]
    broken = {e.path.name for e in catalog.entries() if e.error is not None if e.path}
    assert broken == {p.name for p in paths} | {"folder.yaml"}
    (unreadable,) = [e for e in catalog.entries() if e.path and e.path.name == "folder.yaml"]
    assert unreadable.error is not None
    assert unreadable.error.problems[0].message.startswith("cannot be read: ")


def test_a_byte_order_mark_and_windows_line_ends_are_fine() -> None:
    text = "\ufeff" + GOOD.replace("\n", "\r\n")
    assert load_graph_text(text, registry=REGISTRY).name == "good"


def test_a_few_anchors_and_merge_keys_still_work() -> None:
    text = (
        GOOD.replace(
            "  step: {kind: t_step}", "  step: &s {kind: t_step}\n  again: {<<: *s, timeout_s: 2}"
        )
        + "  - source.out -> again.x\n"
    )
    graph = load_graph_text(text, registry=REGISTRY)
    assert graph.nodes["again"].kind == "t_step" and graph.nodes["again"].timeout_s == 2
