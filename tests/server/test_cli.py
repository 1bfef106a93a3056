"""The cogpipe command line: validate, graphs, draw, run (in-process, real graphs)."""

from __future__ import annotations

import argparse
import io
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import cogpipe
from cogpipe.demo.server import argument_parser as demo_parser
from cogpipe.server.cli import build_parser, main
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
    assert re.search(r"critical path \(ms\): input [\d.]+ → .*memorizer [\d.]+ \(of [\d.]+\)", out)
    assert "response:" in out


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("validate", "graphs", "draw", "run", "serve", "demo-db"):
        assert command in text


# -- for scripts ---------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"cogpipe {cogpipe.__version__}\n"


def test_validate_json_gives_each_file_and_its_problems(tmp_path: Path) -> None:
    path = broken_graph(tmp_path)
    code, out = run("validate", "--json", str(SHIPPED / "v1-current.yaml"), str(path))
    assert code == 1
    ok, bad = json.loads(out)
    assert ok == {
        "file": str(SHIPPED / "v1-current.yaml"),
        "valid": True,
        "graph": "v1-current",
        "nodes": 8,
        "problems": [],
    }
    assert bad["valid"] is False and bad["graph"] == "broken"
    lines = path.read_text().splitlines()
    where = [next(i for i, t in enumerate(lines, 1) if w in t) for w in ("_v3", ".plann")]
    assert [p["line"] for p in bad["problems"]] == where
    assert "unknown kind 'director_v3'" in bad["problems"][0]["message"]


def test_graphs_json_lists_every_graph() -> None:
    code, out = run("graphs", "--json")
    listed = {g["name"]: g for g in json.loads(out)}
    assert code == 0 and set(listed) == {"v1-current", "v2-director-drives"}
    assert listed["v2-director-drives"]["default"] and listed["v1-current"]["nodes"] == 8


def test_run_json_prints_one_event_per_line() -> None:
    code, out = run("run", "v2-director-drives", "hello!", "--no-tools", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    types = [e["type"] for e in events]
    assert types[0] == "session.started" and types[1] == "run.started"
    assert types[-2:] == ["run.finished", "run.ledger"]  # the ledger follows the run's end
    assert {e["seq"] for e in events} == set(range(1, len(events) + 1))


def test_run_continues_a_stored_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGPIPE_SESSION_DB", str(tmp_path / "sessions.db"))
    code, out = run("run", "My name is Ada.", "--no-tools")
    sid = re.search(r"continue with --session (\w+)", out)
    assert code == 0 and sid is not None
    code, out = run("run", "--session", sid.group(1), "what is my name?", "--no-tools")
    assert code == 0 and "Ada" in out.split("response:")[1]
    code, _ = run("run", "--session", "nope", "hi", "--no-tools")
    assert code == 1


def test_trace_show_renders_a_run_like_run_did(tmp_path: Path) -> None:
    code, live = run("run", "v2-director-drives", "hello!", "--no-tools")
    run_id = re.search(r"run (\w+) on graph", live)
    assert code == 0 and run_id is not None
    trace = tmp_path / "trace" / "cogpipe.jsonl"
    code, shown = run("trace", "show", str(trace), "--run", run_id.group(1))
    assert code == 0
    assert shown.startswith("== session ")
    # the same lines as the live view, times aside
    strip = lambda text: [re.sub(r"[\d.]+ ms", "", line) for line in text.splitlines()]  # noqa: E731
    live_lines = strip(live.split("\n\n")[0])
    assert strip(shown)[1:] == live_lines


def test_tools_lists_the_demo_servers_tools_with_schemas() -> None:
    code, out = run("tools", "--json")
    (server,) = json.loads(out)["servers"]
    tools = {t["name"]: t for t in server["tools"]}
    assert code == 0 and (server["name"], server["status"]) == ("demo_db", "up")
    assert tools["count_customers"]["input_schema"]["type"] == "object"


def _cogpipe(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "cogpipe"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_closed_pipe_ends_quietly() -> None:
    shell = subprocess.run(
        f"'{Path(sys.executable).parent / 'cogpipe'}' draw v1-current --format cytoscape | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stdout == "{\n" and shell.stderr == ""


def test_ctrl_c_ends_trace_tail_quietly(tmp_path: Path) -> None:
    proc = _cogpipe("trace", "tail", str(tmp_path / "t.jsonl"))
    assert proc.stderr is not None
    assert "waiting for" in proc.stderr.readline()  # started and following
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err


def test_every_option_has_help_text() -> None:
    def check(parser: argparse.ArgumentParser, where: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    check(sub, f"{where} {name}")
            elif action.option_strings or action.dest not in ("command", "trace_command"):
                assert action.help, f"{where}: {action.option_strings or action.dest} has no help"

    check(build_parser(), "cogpipe")
    check(demo_parser(), "cogpipe demo-db")
