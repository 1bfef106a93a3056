"""cogpipe installed from its wheel into a fresh venv works anywhere, as a new user runs it.

The wheel is built from this checkout (after ``make setup``, which puts the HUD's vendor
files in place), installed into a new virtual environment outside the repository, and
run from an empty folder holding a ``server.py``, an ``engine/`` package and a
``nodes.py`` that would break cogpipe if any of them shadowed its modules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.helpers.server_thread import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHADOW = "raise SystemExit('a module in the working directory shadowed cogpipe')\n"

pytestmark = pytest.mark.timeout(600)


class Installed:
    """A fresh venv with the cogpipe wheel, and an empty working folder with shadows."""

    def __init__(self, wheel: Path, venv: Path, work: Path) -> None:
        self.wheel, self.venv, self.work = wheel, venv, work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COGPIPE_")}
        self.env.pop("PYTHONPATH", None)
        self.env["HOME"] = str(work)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "cogpipe"), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def site_packages(self) -> dict[str, int]:
        """Every file under site-packages (bytecode caches aside) with its size."""
        found = {}
        for path in self.venv.glob("lib/python*/site-packages/**/*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = path.stat().st_size
        return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("cogpipe-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert pip.returncode == 0, pip.stderr
    work = tmp_path_factory.mktemp("work")
    (work / "server.py").write_text(SHADOW)
    (work / "nodes.py").write_text(SHADOW)
    (work / "engine").mkdir()
    (work / "engine" / "__init__.py").write_text(SHADOW)
    return Installed(wheel, venv, work)


def test_the_wheel_holds_one_namespace_and_its_package_data(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("cogpipe-")}
    assert tops == {"cogpipe"}
    for expected in (
        "cogpipe/engine/executor.py",
        "cogpipe/nodes/input.py",
        "cogpipe/server/app.py",
        "cogpipe/demo/server.py",
        "cogpipe/graphs/v2-director-drives.yaml",
        "cogpipe/graphs/v1-current.yaml",
        "cogpipe/frontend/index.html",
        "cogpipe/frontend/js/main.js",
        "cogpipe/frontend/vendor/cytoscape/dist/cytoscape.min.js",
        "cogpipe/frontend/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "cogpipe/py.typed",
    ):
        assert expected in names


def test_cli_works_from_an_empty_folder_with_shadowing_files(installed: Installed) -> None:
    before = installed.site_packages()
    version = installed.run("--version")
    assert version.returncode == 0 and re.fullmatch(r"cogpipe \d+\.\d+\.\d+\S*\n", version.stdout)
    graphs = installed.run("graphs", "--json")
    assert graphs.returncode == 0, graphs.stderr
    listed = {g["name"]: g for g in json.loads(graphs.stdout)}
    assert set(listed) == {"v1-current", "v2-director-drives"}
    assert all(g["valid"] for g in listed.values()) and listed["v2-director-drives"]["default"]
    assert installed.site_packages() == before


@pytest.fixture(scope="module")
def served(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("log") / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(installed.venv / "bin" / "cogpipe"), "serve", "--port", str(port)],
            cwd=installed.work,
            env=installed.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx2.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        assert proc.poll() is None, log_path.read_text()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_from_the_wheel_serves_the_hud_docs_and_tools(
    installed: Installed, served: str
) -> None:
    before = installed.site_packages()
    with httpx2.Client(base_url=served, timeout=10) as http:
        health = http.get("/api/health").json()
        assert {t["name"]: t["up"] for t in health["tools"]} == {"demo_db": True}
        hud = http.get("/").text
        scripts = re.findall(r'src="(/vendor/[^"]+)"', hud)
        assert any("cytoscape.min.js" in s for s in scripts)
        for src in scripts:
            assert http.get(src).status_code == 200, src
        docs = http.get("/docs").text
        assert not re.findall(r"https?://", docs), "the API docs page loads something external"
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', docs):
            assert http.get(asset).status_code == 200, asset
        session = http.post("/api/sessions", json={}).json()["id"]
        run = http.post(
            f"/api/sessions/{session}/messages", json={"text": "how many customers are in Berlin?"}
        ).json()["run_id"]
        deadline = time.monotonic() + 30
        while (info := http.get(f"/api/runs/{run}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert info["status"] == "finished" and "39" in info["outputs"]["response"]["text"]
    assert (installed.work / "var" / "sessions.db").is_file()
    assert (installed.work / "trace" / "cogpipe.jsonl").is_file()
    assert installed.site_packages() == before


def test_trace_show_reads_what_serve_wrote(installed: Installed, served: str) -> None:
    shown = installed.run("trace", "show")
    assert shown.returncode == 0, shown.stderr
    assert "tool demo_db.count_customers" in shown.stdout
    assert "timeline (each bar: node start → finish)" in shown.stdout


def test_a_sample_node_type_checks_strictly_against_the_installed_api(
    installed: Installed, tmp_path: Path
) -> None:
    sample = tmp_path / "shout.py"
    sample.write_text(
        '''"""A node as an author writes it, checked by mypy --strict."""

from __future__ import annotations

from pydantic import BaseModel

from cogpipe import Node, NodeParams, RunContext


class ShoutParams(NodeParams):
    times: int = 1


class Shout(Node[ShoutParams]):
    kind = "shout_v1"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        loud: str = await ctx.llm.complete("fast", inputs.text.upper())
        listed = await ctx.tools.list()
        names: list[str] = [t.name for t in listed]
        repeat: int = self.params.times
        return self.Outputs(text=" ".join([loud] * repeat + names))
'''
    )
    bad = tmp_path / "wrong.py"
    bad.write_text(
        sample.read_text().replace(
            "repeat: int = self.params.times", "repeat: int = self.params.loudness"
        )
    )
    check = [sys.executable, "-m", "mypy", "--strict", "--no-incremental"]
    check += ["--python-executable", str(installed.venv / "bin" / "python")]
    done = subprocess.run(
        [*check, str(sample)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout
    done = subprocess.run(
        [*check, str(bad)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert '"ShoutParams" has no attribute "loudness"' in done.stdout
