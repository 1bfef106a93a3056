"""The cogpipe command line: validate, graphs, draw, run (in-process, real graphs)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cogpipe.server.cli import main
from cogpipe.settings import shipped_graphs_dir

SHIPPED = shipped_graphs_dir()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGPIPE_SESSION_DB", "memory")
    monkeypatch.setenv("COGPIPE_TRACE_DIR", str(tmp_path / "trace"))
    monkeypatch.setenv("COGPIPE_DEMO_DB", str(tmp_path / "demo.db"))
    monkeypatch.delenv("COGPIPE_GRAPHS_DIR", raising=False)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def broken_graph(tmp_path: Path) -> Path:
    text = (SHIPPED / "v2-director-drives.yaml").read_text()
    text = text.replace("kind: director_v2", "kind: director_v3")
    text = text.replace("director.plan -> thinker.plan", "director.plan -> thinker.plann")
    path = tmp_path / "graphs" / "broken.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace("name: v2-director-drives", "name: broken"))
    return path


def test_validate_passes_on_the_shipped_graphs() -> None:
    code, out = run("validate")
    assert code == 0
    assert "ok    " in out and "v2-director-drives" in out and "v1-current" in out
    assert out.rstrip().endswith("2 valid, 0 invalid")


def test_validate_lists_every_problem_and_fails(tmp_path: Path) -> None:
    path = broken_graph(tmp_path)
    code, out = run("validate", str(SHIPPED), str(path))
    assert code == 1
    assert f"FAIL  {path}: 2 problems in graph 'broken'" in out
    assert "node 'director': unknown kind 'director_v3'" in out
    assert "has no input port 'plann'. Did you mean 'plan'?" in out
    assert out.rstrip().endswith("2 valid, 1 invalid")


def test_validate_reports_a_missing_file(tmp_path: Path) -> None:
    code, out = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 1
    assert "cannot read: No such file or directory" in out


def test_graphs_lists_names_sizes_and_validity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken_graph(tmp_path)
    for name in ("v1-current.yaml", "v2-director-drives.yaml"):
        (tmp_path / "graphs" / name).write_text((SHIPPED / name).read_text())
    monkeypatch.setenv("COGPIPE_GRAPHS_DIR", str(tmp_path / "graphs"))
    code, out = run("graphs")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("  broken") and "INVALID  2 problem(s)" in lines[0]
    assert lines[1].startswith("  v1-current") and "8 nodes  valid" in lines[1]
    assert lines[2].startswith("* v2-director-drives") and "8 nodes  valid" in lines[2]


def test_draw_mermaid_and_cytoscape() -> None:
    code, out = run("draw", "v1-current")
    assert code == 0 and out.startswith("flowchart LR\n")
    assert "    input -->|command| thinker" in out
    code, out = run("draw", "v1-current", "--format", "cytoscape")
    elements = json.loads(out)
    assert {n["data"]["id"] for n in elements["nodes"]} >= {"input", "thinker", "ui", "output"}


def test_an_unknown_graph_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("draw", "v3")
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "error: unknown graph 'v3'. Known graphs: v1-current, v2-director-drives"
    )


def test_run_prints_the_live_trace_and_the_answer() -> None:
    code, out = run("run", "v2-director-drives", "hello!", "--no-tools")
    assert code == 0
    assert "▶ input (input_v1)" in out
    assert "⤼ director (director_v2) skipped" in out  # the reflex path
    assert "timeline (each bar: node start → finish)" in out
    assert "response:" in out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("validate", "graphs", "draw", "run", "serve", "demo-db"):
        assert command in text
