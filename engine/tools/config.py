"""Tool server configuration and the records the tool manager hands out.

:class:`ToolServerConfig` says how to reach one MCP server (stdio command or streamable
HTTP URL), how long to wait for it and which of its tools to offer
(:meth:`ToolServerConfig.hidden_reason`); :class:`ToolInfo` is a tool as its server lists
it, with its :class:`ToolAnnotations`; :class:`ToolCallResult` is the outcome of a call the
server answered.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
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
        headers: HTTP headers sent with every request to a ``url`` server (e.g.
            ``Authorization``); not allowed for stdio servers.
        include: glob patterns (``fnmatch``, case-sensitive, e.g. ``git_*``) over the
            tool names on this server; when given, only matching tools are offered.
        exclude: glob patterns of tools never offered; they win over ``include``.
        allow_destructive: offer tools the server marks ``destructiveHint: true``
            (default ``False``: such tools are hidden).

    A hidden tool is neither listed nor callable; calling it raises a ``ToolError``
    that names the rule (see :meth:`hidden_reason`).
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
    headers: dict[str, str] = Field(default_factory=dict)
    include: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    allow_destructive: bool = False

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(
                f"tool server name '{name}' may contain only letters, digits, "
                "'_' and '-' (it prefixes qualified tool names as 'name.tool')"
            )
        return name

    @field_validator("include", "exclude")
    @classmethod
    def _check_patterns(cls, patterns: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if patterns is None:
            return None
        where = _where(info)
        if info.field_name == "include" and not patterns:
            raise ValueError(
                f"{where}'include' must name at least one tool; leave it out to offer every "
                "tool, or set 'enabled: false' to offer none"
            )
        if any(not p.strip() for p in patterns):
            raise ValueError(
                f"{where}'{info.field_name}' patterns must not be empty; got {patterns}"
            )
        return patterns

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, headers: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        where = _where(info)
        for key, value in headers.items():
            if not _TOKEN.fullmatch(key):
                raise ValueError(f"{where}header name '{key}' is not a valid HTTP header name")
            if key.lower() in _TRANSPORT_HEADERS:
                raise ValueError(
                    f"{where}header '{key}' is set by the MCP transport itself and cannot be "
                    f"configured; configurable are e.g. Authorization or X-Api-Key"
                )
            if "\r" in value or "\n" in value:
                raise ValueError(f"{where}header '{key}': the value must not contain line breaks")
        return headers

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
        if self.command is not None and self.headers:
            raise ValueError(
                f"tool server '{self.name}': 'headers' apply to HTTP servers ('url') only; "
                "pass settings to a stdio server through 'env' or its 'command' arguments"
            )
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        """``"stdio"`` or ``"http"``."""
        return "stdio" if self.command is not None else "http"

    def hidden_reason(self, tool: ToolInfo) -> str | None:
        """Return why ``tool`` is not offered (the rule that hides it), or ``None``.

        Rules, first match wins: an ``exclude`` pattern matches; ``include`` is given
        and no pattern matches; the server marks the tool destructive and
        ``allow_destructive`` is off.
        """
        where = f"of tool server '{self.name}'"
        for pattern in self.exclude:
            if fnmatchcase(tool.name, pattern):
                return f"excluded by pattern '{pattern}' in 'exclude' {where}"
        if self.include is not None and not any(fnmatchcase(tool.name, p) for p in self.include):
            return f"not matched by 'include' {where} ({', '.join(self.include)})"
        if tool.destructive and not self.allow_destructive:
            return (
                "marked destructive by its server (destructiveHint: true); set "
                f"'allow_destructive: true' on tool server '{self.name}' to offer it"
            )
        return None


def _where(info: ValidationInfo) -> str:
    """``"tool server 'x': "`` once the name is validated (fields validate in order)."""
    name = info.data.get("name")
    return f"tool server '{name}': " if name else ""


# RFC 9110 token characters, the syntax of a header name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Headers the streamable HTTP transport sets on every request; it overrides ours.
_TRANSPORT_HEADERS = {"accept", "content-type", "mcp-session-id", "mcp-protocol-version"}


class ToolAnnotations(BaseModel):
    """A tool's behaviour hints as its server declares them (MCP ``ToolAnnotations``).

    ``None`` means the server did not say. They are hints from the server, not
    guarantees. Field names are the MCP SDK's Python names for ``title``,
    ``readOnlyHint``, ``destructiveHint``, ``idempotentHint`` and ``openWorldHint``.

    Attributes:
        title: a human-readable name.
        read_only_hint: the tool does not modify its environment.
        destructive_hint: the tool may perform destructive updates (meaningful only
            when not read-only).
        idempotent_hint: calling it again with the same arguments has no further effect.
        open_world_hint: the tool interacts with an open world (e.g. the web).
    """

    title: str | None = None
    read_only_hint: bool | None = None
    destructive_hint: bool | None = None
    idempotent_hint: bool | None = None
    open_world_hint: bool | None = None


class ToolInfo(BaseModel):
    """A tool as its server lists it (MCP ``tools/list``).

    Attributes:
        server: the server's configured name.
        name: the tool's name on that server.
        title: its human-readable name: the tool's ``title``, else its annotations'
            ``title`` (MCP's order of precedence), else ``None``.
        description: what the tool does ('' when the server gives none).
        input_schema: JSON Schema of the arguments object.
        annotations: the server's behaviour hints.
    """

    server: str
    name: str
    title: str | None = None
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    annotations: ToolAnnotations = Field(default_factory=ToolAnnotations)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def qualified(self) -> str:
        """``"server.name"``."""
        return f"{self.server}.{self.name}"

    @property
    def read_only(self) -> bool:
        """Whether the server marks the tool read-only (``readOnlyHint: true``)."""
        return self.annotations.read_only_hint is True

    @property
    def destructive(self) -> bool:
        """Whether the server marks the tool destructive: ``destructiveHint: true`` and
        not read-only. A tool without annotations is not counted as destructive (MCP's
        default would be), so servers that declare nothing keep working."""
        return self.annotations.destructive_hint is True and not self.read_only

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hints(self) -> list[str]:
        """``["read-only"]``, ``["destructive"]`` or ``[]``: the hints shown to models,
        in the CLI and in the HUD."""
        return ["read-only"] * self.read_only + ["destructive"] * self.destructive


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
