"""Tool server configuration and the records the tool manager hands out.

:class:`ToolServerConfig` says how to reach one MCP server (stdio command or streamable
HTTP URL) and how long to wait for it; :class:`ToolInfo` is a tool as its server lists it;
:class:`ToolCallResult` is the outcome of a call the server answered.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)


class ToolServerConfig(BaseModel):
    """One MCP server: how to reach it and how long to wait for it.

    Give exactly one of ``command`` (stdio: the server runs as our subprocess) or ``url``
    (streamable HTTP endpoint, e.g. ``http://127.0.0.1:8000/mcp``).

    Attributes:
        name: the server's name in qualified tool names (``name.tool``); letters,
            digits, ``_`` and ``-``.
        command: program and arguments of a stdio server.
        env: extra environment variables for a stdio server (the SDK passes only a
            safe default set such as ``PATH`` and ``HOME`` otherwise).
        cwd: working directory of a stdio server.
        url: endpoint of a streamable HTTP server.
        timeout_s: default time limit of one call, seconds.
        connect_timeout_s: time limit to start/connect and finish the MCP handshake.
        enabled: ``False`` keeps the server configured but not started.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=30.0, gt=0)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(
                f"tool server name '{name}' may contain only letters, digits, "
                "'_' and '-' (it prefixes qualified tool names as 'name.tool')"
            )
        return name

    @model_validator(mode="after")
    def _check_transport(self) -> ToolServerConfig:
        if (self.command is None) == (self.url is None):
            given = "both" if self.command is not None else "neither"
            raise ValueError(
                f"tool server '{self.name}' needs exactly one of 'command' "
                f"(stdio) or 'url' (streamable HTTP); {given} was given"
            )
        if self.command is not None and not self.command:
            raise ValueError(f"tool server '{self.name}': 'command' must not be empty")
        if self.url is not None and (self.env or self.cwd):
            raise ValueError(
                f"tool server '{self.name}': 'env' and 'cwd' apply to stdio "
                "servers ('command') only"
            )
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        """``"stdio"`` or ``"http"``."""
        return "stdio" if self.command is not None else "http"


class ToolInfo(BaseModel):
    """A tool as its server lists it (MCP ``tools/list``).

    Attributes:
        server: the server's configured name.
        name: the tool's name on that server.
        description: what the tool does ('' when the server gives none).
        input_schema: JSON Schema of the arguments object.
    """

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def qualified(self) -> str:
        """``"server.name"``."""
        return f"{self.server}.{self.name}"


class ToolCallResult(BaseModel):
    """The outcome of a call the server answered (MCP ``tools/call``).

    Attributes:
        server, tool: where the call went. arguments: what it was given.
        ok: ``False`` when the tool reported an error (``isError``) or the server
            rejected the call (e.g. invalid arguments); ``error`` then says why.
        text: the result's text content blocks joined with newlines.
        data: structured content when the server gives it, else the text parsed as
            JSON when it is JSON, else ``None``.
        duration_ms: wall time of the call including a reconnect, milliseconds.
    """

    server: str
    tool: str
    arguments: dict[str, Any]
    ok: bool
    text: str = ""
    data: Any | None = None
    error: str | None = None
    duration_ms: float
