"""Settings: every knob of a cogpipe process, read in one place.

:meth:`Settings.load` reads, from the highest precedence down:

1. values passed to it (the command line's options),
2. ``COGPIPE_*`` environment variables (``COGPIPE_<KEY>``; the ``llm`` section's keys
   as ``COGPIPE_LLM_<KEY>``), then the older names ``OPENAI_BASE_URL``,
   ``OPENAI_API_KEY``, ``COGPIPE_MODEL_<ALIAS>`` and ``COGPIPE_TOOLS=none``,
3. the same variables from a ``.env`` file in the working directory,
4. a YAML config file: ``COGPIPE_CONFIG`` (or ``--config``), else ``./cogpipe.yaml``
   when it exists; its keys are the field names below,
5. the defaults, which work out of the box: the graphs shipped with cogpipe, the
   offline model, the demo tool server, and working data under the working directory
   (``./var`` for databases, ``./trace`` for trace files).

``Settings(...)`` itself takes only what it is given (no environment, no files), which
is what code that builds its own settings wants. Parsing is pydantic-settings';
``docs/config.md`` lists every setting and is checked against this model by a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from cogpipe.engine.endpoint import LLMConfig
from cogpipe.engine.tools import ToolServerConfig

__all__ = [
    "CONFIG_FILE",
    "ENV_PREFIX",
    "ModelPrice",
    "Settings",
    "SettingsError",
    "shipped_graphs_dir",
]

ENV_PREFIX = "COGPIPE_"
CONFIG_FILE = "cogpipe.yaml"
"""The config file read from the working directory when ``COGPIPE_CONFIG`` is unset."""


def shipped_graphs_dir() -> Path:
    """Return the folder of the graphs that ship with cogpipe (package data)."""
    import cogpipe.graphs

    return Path(cogpipe.graphs.__file__).resolve().parent


class SettingsError(ValueError):
    """Raised when the settings cannot be read: a config file that is missing or not
    YAML, or a value that does not fit (the message names the key, its environment
    variable and what is wrong)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ModelPrice(BaseModel):
    """What a model costs per 1M tokens, in the operator's currency (``prices``)."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="per 1M input (prompt) tokens")
    output: float = Field(ge=0, description="per 1M output (completion) tokens")


class Settings(BaseSettings):
    """Everything a cogpipe process needs to start. Build it with :meth:`load`.

    Paths not given are derived from ``data_dir`` (``graphs_dir``: the package's own
    graphs); every path of a built instance is absolute.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("."),
        description="folder for working data: var/ (sessions, demo database) and trace/",
    )
    graphs_dir: Path = Field(
        default_factory=lambda: shipped_graphs_dir(),
        description="folder of graph YAML files (default: the graphs shipped with cogpipe)",
    )
    default_graph: str | None = Field(
        None, description="graph new sessions run (default: v2-director-drives if present)"
    )
    node_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Python files or modules imported at start-up for their node kinds "
        "(comma-separated in the environment); trusted code, chosen by the operator",
    )
    trace_dir: Path = Field(
        default_factory=lambda data: data["data_dir"] / "trace",
        description="folder of JSONL trace files (default: DATA_DIR/trace)",
    )
    trace_max_mb: float = Field(
        10, gt=0, description="size of one trace file before it rotates, MB"
    )
    trace_backups: int = Field(4, ge=0, description="rotated trace files kept")
    session_db: Literal["memory"] | Path = Field(
        default_factory=lambda data: data["data_dir"] / "var" / "sessions.db",
        description="SQLite file of sessions, run records and trace events for resume; "
        "'memory' keeps them in RAM only "
        "(default: DATA_DIR/var/sessions.db)",
    )
    session_db_timeout_s: float = Field(
        10,
        gt=0,
        description="how long a write to the session DB waits while another process holds "
        "it, seconds; then the request answers 503",
    )
    demo_db: Path = Field(
        default_factory=lambda data: data["data_dir"] / "var" / "demo.db",
        description="SQLite file of the demo tool server (default: DATA_DIR/var/demo.db)",
    )
    tool_servers: list[ToolServerConfig] | None = Field(
        None,
        description="MCP tool servers (a JSON list in the environment; 'none' for none); "
        "default: the demo database server",
    )
    llm: LLMConfig = Field(default_factory=LLMConfig, description="the LLM endpoint (below)")
    ring_size: int = Field(
        2000, gt=0, description="trace events kept per session, in memory and in the session DB"
    )
    max_events: int = Field(
        200_000,
        gt=0,
        description="trace events kept in memory over all sessions; past it, the oldest "
        "sessions' events are dropped from memory (the session DB still has them)",
    )
    max_sessions: int = Field(
        2000,
        gt=0,
        description="sessions held in memory; past it, the least recently used idle ones "
        "are evicted (reloaded from the store when used again)",
    )
    session_idle_min: float = Field(
        30, gt=0, description="minutes after which an idle session is evicted from memory"
    )
    sessions_per_minute: int = Field(
        60,
        ge=0,
        description="new sessions one client (IP address) may create per minute; "
        "past it, 429 with Retry-After; 0: no limit",
    )
    max_history: int = Field(100, gt=0, description="turns kept per session")
    watch_graphs: bool = Field(
        True,
        description="reload graph files when they change (hot reload): a valid edit runs "
        "from each session's next turn, an invalid one keeps the last valid version",
    )
    pause_timeout_s: float = Field(
        3600,
        gt=0,
        description="seconds a run paused at a breakpoint or approval gate waits for a "
        "decision before it fails",
    )
    approve_destructive_tools: bool = Field(
        False,
        description="pause a run before every call of a tool its server marks "
        "destructiveHint: true (offered with allow_destructive), until it is resumed",
    )
    token: SecretStr | None = Field(
        None, description="when set, every API call and event stream needs this token"
    )
    host: str = Field("127.0.0.1", description="address 'cogpipe serve' binds")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names the server answers to besides localhost, 127.0.0.1, ::1 "
        "and 'host' (comma-separated in the environment; '*.example.org' for subdomains, "
        "'*' for any name, which turns off the protection against DNS rebinding)",
    )
    port: int = Field(8000, ge=0, le=65535, description="port 'cogpipe serve' listens on")
    ledger: bool = Field(
        True, description="emit a run.ledger event (where each node's time went) after each run"
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="price per 1M tokens by model name, for the cost metrics (a JSON object "
        'in the environment: {"gpt-4o": {"input": 2.5, "output": 10}}); none assumed',
    )
    hooks_url: HttpUrl | None = Field(
        None,
        description="where to POST every trace event as a hook-style event (the multi-agent "
        "observability dashboard's /events; docs/observability.md); none: not forwarded",
    )
    hooks_source_app: str = Field(
        "cogpipe", min_length=1, description="the source_app of forwarded hook events"
    )
    redis_url: str | None = Field(
        None,
        description="Redis mode: several server processes share sessions, run records, "
        "turn leases and event streams through this Redis (redis://[:password@]host:port/db; "
        "see docs/deploy.md); unset: one process, SQLite",
    )
    redis_lease_s: float = Field(
        10,
        gt=0,
        description="Redis mode: how long a worker's and a turn's lease outlive a process "
        "that died, seconds (renewed every third of it)",
    )
    redis_prefix: str = Field(
        "cogpipe:", min_length=1, description="Redis mode: the prefix of every Redis key"
    )
    redis_worker_turns: int = Field(
        32,
        gt=0,
        description="Redis mode: turns one process takes from the shared queue at once "
        "(turns of different sessions; one session's turns always run one at a time)",
    )
    redis_events_max: int = Field(
        10_000,
        gt=0,
        description="Redis mode: events kept in the all-sessions Redis stream (each "
        "session's stream keeps ring_size)",
    )

    @field_validator("node_modules", "allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("tool_servers", mode="before")
    @classmethod
    def _none_servers(cls, value: Any) -> Any:
        return [] if isinstance(value, str) and value.strip().lower() == "none" else value

    @field_validator("data_dir", "graphs_dir", "trace_dir", "demo_db", mode="after")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        return path.expanduser().resolve()

    @field_validator("session_db", mode="after")
    @classmethod
    def _absolute_db(cls, path: Literal["memory"] | Path) -> Literal["memory"] | Path:
        return path if path == "memory" else Path(path).expanduser().resolve()

    @property
    def trace_max_bytes(self) -> int:
        """``trace_max_mb`` in bytes."""
        return int(self.trace_max_mb * 1_000_000)

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read the settings from ``overrides``, the environment, ``.env`` and the config
        file (precedence in that order; see the module docstring).

        Args:
            env: the environment (default ``os.environ``); ``.env`` in the working
                directory is read into it unless ``env`` is given.
            config_file: the YAML config file (default ``$COGPIPE_CONFIG``, else
                ``./cogpipe.yaml`` if it exists).
            overrides: values by field name (``None`` values are ignored), e.g. the
                command line's ``--data-dir``.

        Raises:
            SettingsError: a config file that is missing or not a YAML mapping, or a
                value that does not fit (every problem is listed with its key).
        """
        if env is None:
            dotenv = {k: v for k, v in dotenv_values(".env").items() if v is not None}
            env = {**dotenv, **os.environ}
        path = _config_path(env, config_file)
        sources = _Sources(env=env, file=_read_config(path) if path else {})
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            with _loading(sources):
                return cls(**given)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, path)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = _current.get()
        if sources is None:  # Settings(...): only what was passed
            return (init_settings,)
        return (
            init_settings,
            _Environment(settings_cls, sources.env),
            _Values(settings_cls, _legacy(sources.env)),
            _Values(settings_cls, sources.file),
        )


# -- sources -----------------------------------------------------------------------------


class _Sources:
    def __init__(self, env: Mapping[str, str], file: dict[str, Any]) -> None:
        self.env, self.file = env, file


_current: ContextVar[_Sources | None] = ContextVar("cogpipe_settings_sources", default=None)


@contextmanager
def _loading(sources: _Sources) -> Iterator[None]:
    token = _current.set(sources)
    try:
        yield
    finally:
        _current.reset(token)


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` plus
    ``.env``, or a test's dict) instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = {k.lower(): v for k, v in env.items()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in self._given.items() if v != ""}


class _Values(PydanticBaseSettingsSource):
    """A source of fixed values (the config file's, or the older variable names')."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def _legacy(env: Mapping[str, str]) -> dict[str, Any]:
    """The values of the variable names cogpipe read before it had one settings model."""
    get = {k: v.strip() for k, v in env.items() if v and v.strip()}
    llm: dict[str, Any] = {}
    for key, var in (("base_url", "OPENAI_BASE_URL"), ("api_key", "OPENAI_API_KEY")):
        if var in get:
            llm[key] = get[var]
    models = {
        name[len("COGPIPE_MODEL_") :].lower(): value
        for name, value in get.items()
        if name.startswith("COGPIPE_MODEL_")
    }
    if models:
        llm["models"] = models
    values: dict[str, Any] = {"llm": llm} if llm else {}
    if get.get("COGPIPE_TOOLS", "").lower() == "none":
        values["tool_servers"] = []
    return values


def _config_path(env: Mapping[str, str], given: str | Path | None) -> Path | None:
    if given is not None:
        return Path(given)
    if env.get("COGPIPE_CONFIG", "").strip():
        return Path(env["COGPIPE_CONFIG"].strip())
    default = Path(CONFIG_FILE)
    return default if default.is_file() else None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"config file {path}: cannot be read ({exc.strerror or exc}); fix COGPIPE_CONFIG "
            "or --config"
        ) from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"config file {path}: not UTF-8 text ({exc.reason})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise SettingsError(f"config file {path}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"config file {path}: expected a mapping of settings (key: value), "
            f"found {type(data).__name__}"
        )
    return data


def _explain(exc: ValidationError, path: Path | None) -> str:
    """Say which setting is wrong, where it can be set, and why (every problem)."""
    fields = Settings.model_fields
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "(settings)"
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(fields if len(loc) == 1 else LLMConfig.model_fields))
            lines.append(f"  unknown setting '{key}'. Known: {known}")
            continue
        var = ENV_PREFIX + "_".join(loc[:2]).upper()
        lines.append(f"  {key} ({var}): {err['msg']}; got {err.get('input')!r}")
    head = "invalid settings" + (f" (config file {path})" if path else "")
    return "\n".join([head + ":", *sorted(lines)])
