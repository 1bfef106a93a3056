"""The tree stays lint-clean (ruff) and the engine type-clean (mypy)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_finds_nothing() -> None:
    done = subprocess.run(
        [str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_mypy_is_clean_on_the_engine() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout


def _imports(path: Path, package: str) -> list[tuple[int, str]]:
    """Return ``(line, absolute module name)`` of every import in a module of ``package``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            name = node.module or ""
            found.append((node.lineno, ".".join([*base, name]) if node.level else name))
    return found


def test_the_engine_imports_nothing_above_it() -> None:
    """engine/ is the bottom layer: it imports no node kinds, no web layer, no demo and
    none of the application modules at the top of the package (settings, assembly)."""
    above = ("cogpipe.nodes", "cogpipe.server", "cogpipe.demo", "cogpipe.settings")
    above += ("cogpipe.assembly", "nodes", "server", "demo")
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = ".".join(("cogpipe", *parts[:-1]))
        for line, name in _imports(path, package):
            if name == "cogpipe" or any(name == a or name.startswith(a + ".") for a in above):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert found == []
