"""Settings: defaults that work on a fresh clone, a config file, and env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cogpipe.engine.config import PROJECT_DIR, Settings


def test_defaults_point_into_the_project() -> None:
    settings = Settings.load({})
    assert settings.graphs_dir == PROJECT_DIR / "graphs"
    assert settings.session_db == PROJECT_DIR / "var" / "sessions.db"
    assert settings.llm.base_url is None  # the offline model
    assert [s.name for s in settings.servers()] == ["demo_db"]


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "cogpipe.yaml"
    config.write_text(
        "default_graph: v1-current\n"
        "llm:\n  base_url: http://file.example/v1\n  models: {fast: small-model}\n  timeout_s: 5\n"
        "tool_servers:\n  - {name: time, command: [python, -m, mcp_server_time]}\n"
    )
    settings = Settings.load(
        {
            "COGPIPE_CONFIG": str(config),
            "COGPIPE_LLM_API_KEY": "sk-env",
            "COGPIPE_MODEL_SMART": "big-model",
            "COGPIPE_SESSION_DB": "memory",
            "COGPIPE_TRACE_MAX_MB": "2",
        }
    )
    assert settings.default_graph == "v1-current"
    assert settings.llm.base_url == "http://file.example/v1"
    assert settings.llm.api_key == "sk-env"
    assert settings.llm.models["fast"] == "small-model"
    assert settings.llm.models["smart"] == "big-model"
    assert settings.llm.timeout_s == 5
    assert settings.session_db is None
    assert settings.trace_max_bytes == 2_000_000
    assert [s.name for s in settings.servers()] == ["time"]


def test_tools_can_be_switched_off() -> None:
    assert Settings.load({"COGPIPE_TOOLS": "none"}).servers() == []


def test_a_bad_value_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("ring_size: -3\n")
    with pytest.raises(ValidationError, match="ring_size"):
        Settings.load({"COGPIPE_CONFIG": str(config)})
