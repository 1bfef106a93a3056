"""docs/writing-nodes.md, executed: the node, its registration through an entry point,
the graph that uses it, the tests it shows, and the CLI commands it quotes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "writing-nodes.md"
BIN = Path(sys.executable).parent


def _blocks(lang: str) -> list[str]:
    """Return the fenced code blocks of the guide written with ```lang, in order."""
    blocks, current, fence = [], [], None
    for line in GUIDE.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence, current = stripped[3:], []
        elif fence is not None and stripped == "```":
            if fence == lang:
                blocks.append(textwrap.dedent("".join(current)))
            fence = None
        elif fence is not None:
            current.append(line)
    return blocks


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's node installed as a package with a ``cogpipe.nodes`` entry point."""
    root = tmp_path_factory.mktemp("guide")
    (root / "my_nodes").mkdir()
    (root / "my_nodes" / "__init__.py").write_text("")
    (root / "my_nodes" / "redactor.py").write_text(_blocks("python")[0])
    dist = root / "my_nodes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-nodes\nVersion: 1.0\n")
    toml = _blocks("toml")[0]
    assert '[project.entry-points."cogpipe.nodes"]' in toml
    entry = toml.split("\n", 1)[1].strip().replace('"', "")  # TOML value -> INI
    (dist / "entry_points.txt").write_text(f"[cogpipe.nodes]\n{entry}\n")
    (root / "graphs").mkdir()
    (root / "graphs" / "v2-redacted.yaml").write_text(_blocks("yaml")[0])
    return root


def _run(args: list[str], package: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in ``package`` with the package importable (``PYTHONPATH``)."""
    full = {
        **os.environ,
        "PYTHONPATH": str(package),
        "COGPIPE_SESSION_DB": "memory",
        "COGPIPE_TRACE_DIR": str(package / "trace"),
        "COGPIPE_TOOLS": "none",
        "COGPIPE_GRAPHS_DIR": str(package / "graphs"),
        **env,
    }
    return subprocess.run(
        args, cwd=package, env=full, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_guides_tests_pass(package: Path) -> None:
    (package / "test_redactor.py").write_text(_blocks("python")[2])
    done = _run(
        [
            str(BIN / "pytest"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "-o",
            "anyio_mode=auto",
            "test_redactor.py",
        ],
        package,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_offline_responder_snippet_registers(package: Path) -> None:
    code = (
        _blocks("python")[1] + "\nfrom cogpipe.engine.offline import OfflineModel\n"
        "assert OfflineModel().responder_for('summary_v1.summarise') is not None\n"
    )
    done = _run([sys.executable, "-c", code], package)
    assert done.returncode == 0, done.stderr


def test_the_graph_validates_with_the_entry_point_kind(package: Path) -> None:
    done = _run([str(BIN / "cogpipe"), "validate", "graphs/v2-redacted.yaml"], package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    graphs/v2-redacted.yaml: graph 'v2-redacted', 9 nodes" in done.stdout


def test_the_quoted_error_is_what_cogpipe_prints(package: Path) -> None:
    broken = package / "graphs" / "v2-redacted.yaml"
    good = broken.read_text()
    broken.write_text(good.replace("redactor.text -> input.text", "redactor.text -> input.txt"))
    try:
        done = _run([str(BIN / "cogpipe"), "validate", "graphs/v2-redacted.yaml"], package)
    finally:
        broken.write_text(good)
    quoted = next(b for b in _blocks("") if "1 problem in graph" in b)
    assert done.returncode == 1
    assert quoted.strip() in done.stdout


def test_cogpipe_run_shows_the_node_at_work(package: Path) -> None:
    done = _run([str(BIN / "cogpipe"), "run", "v2-redacted", "hi, I am ada@example.com"], package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ redactor (redactor_v1)" in done.stdout
    assert 'redactor.masked {"count": 1}' in done.stdout
    assert "ada@example.com" not in done.stdout.split("run.finished")[1]


def test_a_node_module_file_needs_no_package(package: Path, tmp_path: Path) -> None:
    (tmp_path / "graphs").mkdir()
    (tmp_path / "redactor.py").write_text(_blocks("python")[0])
    (tmp_path / "graphs" / "v2-redacted.yaml").write_text(_blocks("yaml")[0])
    validate = [str(BIN / "cogpipe"), "validate", "graphs/v2-redacted.yaml"]
    done = _run(validate, tmp_path, PYTHONPATH="")
    assert done.returncode == 1 and "unknown kind 'redactor_v1'" in done.stdout
    done = _run([*validate, "--nodes", "redactor.py"], tmp_path, PYTHONPATH="")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(
        [str(BIN / "cogpipe"), "run", "v2-redacted", "hi, I am ada@example.com"],
        tmp_path,
        PYTHONPATH="",
        COGPIPE_GRAPHS_DIR=str(tmp_path / "graphs"),
        COGPIPE_NODE_MODULES="redactor.py",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ redactor (redactor_v1)" in done.stdout


def test_the_readme_embedding_snippet_runs(tmp_path: Path) -> None:
    readme = GUIDE.parents[1] / "README.md"
    snippet = readme.read_text().split("## Embed it", 1)[1].split("```python\n", 1)[1]
    snippet = snippet.split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGPIPE_")}
    done = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "There are 39 customers with city Berlin.\n"
