"""Settings: defaults that work anywhere, one precedence order, every key documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cogpipe.engine.llm import LLMConfig
from cogpipe.settings import Settings, SettingsError, shipped_graphs_dir

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_defaults_put_working_data_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.load({})
    assert settings.graphs_dir == shipped_graphs_dir()
    assert (shipped_graphs_dir() / "v2-director-drives.yaml").is_file()
    assert settings.session_db == tmp_path / "var" / "sessions.db"
    assert settings.demo_db == tmp_path / "var" / "demo.db"
    assert settings.trace_dir == tmp_path / "trace"
    assert settings.llm.base_url is None  # the offline model
    assert settings.tool_servers is None  # the composition root's default: the demo server


def test_data_dir_moves_every_derived_path(tmp_path: Path) -> None:
    settings = Settings.load({"COGPIPE_DATA_DIR": str(tmp_path / "data")})
    assert settings.session_db == tmp_path / "data" / "var" / "sessions.db"
    assert settings.trace_dir == tmp_path / "data" / "trace"
    given = Settings.load({}, data_dir=tmp_path / "cli", trace_dir=tmp_path / "t")
    assert given.demo_db == tmp_path / "cli" / "var" / "demo.db"
    assert given.trace_dir == tmp_path / "t"


def test_precedence_arguments_then_environment_then_file(tmp_path: Path) -> None:
    config = tmp_path / "cogpipe.yaml"
    config.write_text(
        "default_graph: v1-current\nring_size: 7\nport: 9000\n"
        "llm:\n  base_url: http://file.example/v1\n  models: {fast: small-model}\n"
        "  first_token_timeout_s: 5\n"
        "tool_servers:\n  - {name: time, command: [python, -m, mcp_server_time]}\n"
    )
    settings = Settings.load(
        {
            "COGPIPE_CONFIG": str(config),
            "COGPIPE_LLM_API_KEY": "sk-env",
            "COGPIPE_RING_SIZE": "9",
            "COGPIPE_SESSION_DB": "memory",
            "COGPIPE_TRACE_MAX_MB": "2",
            "COGPIPE_NODE_MODULES": "a.py, pkg.more",
        },
        port=9100,
    )
    assert settings.default_graph == "v1-current"
    assert settings.llm.base_url == "http://file.example/v1"
    assert settings.llm.api_key == "sk-env"
    assert settings.llm.models == {
        "fast": "small-model",
        "smart": "gpt-4o",
        "default": "gpt-4o-mini",
    }
    assert settings.llm.first_token_timeout_s == 5
    assert (settings.ring_size, settings.port) == (9, 9100)
    assert settings.session_db == "memory"
    assert settings.trace_max_bytes == 2_000_000
    assert settings.node_modules == ["a.py", "pkg.more"]
    assert [s.name for s in settings.tool_servers or []] == ["time"]


def test_the_older_variable_names_keep_working() -> None:
    settings = Settings.load(
        {
            "OPENAI_BASE_URL": "http://openai.example/v1",
            "OPENAI_API_KEY": "sk-old",
            "COGPIPE_MODEL_SMART": "big-model",
            "COGPIPE_TOOLS": "none",
        }
    )
    assert settings.llm.base_url == "http://openai.example/v1"
    assert settings.llm.api_key == "sk-old"
    assert settings.llm.models["smart"] == "big-model"
    assert settings.tool_servers == []
    newer = Settings.load({"OPENAI_API_KEY": "sk-old", "COGPIPE_LLM_API_KEY": "sk-new"})
    assert newer.llm.api_key == "sk-new"


def test_dotenv_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("COGPIPE_RING_SIZE=11\nCOGPIPE_MAX_HISTORY=12\nOTHER=x\n")
    monkeypatch.setenv("COGPIPE_MAX_HISTORY", "13")
    settings = Settings.load()
    assert (settings.ring_size, settings.max_history) == (11, 13)


def test_cogpipe_yaml_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cogpipe.yaml").write_text("max_history: 3\n")
    assert Settings.load({}).max_history == 3


def test_settings_built_in_code_read_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGPIPE_RING_SIZE", "5")
    assert Settings().ring_size == 2000


def test_the_old_timeout_s_still_sets_the_first_token_limit_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "old.yaml"
    config.write_text("llm: {timeout_s: 12}\n")
    assert Settings.load({"COGPIPE_CONFIG": str(config)}).llm.first_token_timeout_s == 12
    assert Settings.load({"COGPIPE_LLM_TIMEOUT_S": "7"}).llm.first_token_timeout_s == 7
    assert "llm.timeout_s (COGPIPE_LLM_TIMEOUT_S) is deprecated" in caplog.text
    given = LLMConfig(timeout_s=3, first_token_timeout_s=4)  # type: ignore[call-arg]
    assert given.first_token_timeout_s == 4  # the new name wins


def test_max_tokens_come_from_json_and_keep_a_default() -> None:
    settings = Settings.load({"COGPIPE_LLM_MAX_TOKENS": '{"output_v1.answer": 600}'})
    assert settings.llm.max_tokens == {"default": 1024, "output_v1.answer": 600}
    assert settings.llm.tokens_for("output_v1.answer", "output_v1") == 600
    assert settings.llm.tokens_for("input_v1.analyse", "input_v1") == 1024
    with pytest.raises(SettingsError, match="max_tokens must be at least 1; not so for x"):
        Settings.load({"COGPIPE_LLM_MAX_TOKENS": '{"x": 0}'})


def test_a_bad_value_names_the_key_and_its_variable(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("ring_size: -3\nllm: {call_timeout_s: soon}\n")
    with pytest.raises(SettingsError) as err:
        Settings.load({"COGPIPE_CONFIG": str(config)})
    assert err.value.message.splitlines() == [
        f"invalid settings (config file {config}):",
        "  llm.call_timeout_s (COGPIPE_LLM_CALL_TIMEOUT_S): Input should be a valid number, "
        "unable to parse string as a number; got 'soon'",
        "  ring_size (COGPIPE_RING_SIZE): Input should be greater than 0; got -3",
    ]


def test_an_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("ring_sise: 3\n")
    known = r"unknown setting 'ring_sise'\. Known: allowed_hosts, approve_destructive_tools, "
    with pytest.raises(SettingsError, match=known):
        Settings.load({"COGPIPE_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "cannot be read (No such file or directory)"),
        ("a: [1\n", "not valid YAML at line 2, column 1"),
        ("- 1\n", "expected a mapping of settings (key: value), found list"),
    ],
)
def test_a_broken_config_file_is_reported(tmp_path: Path, text: str | None, message: str) -> None:
    config = tmp_path / "c.yaml"
    if text is not None:
        config.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.load({"COGPIPE_CONFIG": str(config)})


def _documented() -> set[str]:
    return set(re.findall(r"^\| `(COGPIPE_[A-Z_]+)`", DOCS.read_text(), re.M))


def test_docs_list_every_setting_and_its_variable() -> None:
    expected = {f"COGPIPE_{name.upper()}" for name in Settings.model_fields if name != "llm"}
    expected |= {f"COGPIPE_LLM_{name.upper()}" for name in LLMConfig.model_fields}
    assert _documented() >= expected, f"missing in docs/config.md: {expected - _documented()}"
