"""Every exception cogpipe raises.

Each class subclasses the builtin that best describes it, so callers can catch either
the precise class or the builtin, and carries its text in ``.message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "GraphValidationError",
    "LLMBodyError",
    "LLMBrokenResponseError",
    "LLMConnectError",
    "LLMError",
    "LLMInvalidOutputError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMTruncatedError",
    "LeaseLostError",
    "NodeDeclarationError",
    "NodeModuleError",
    "NodeRunError",
    "Problem",
    "RedisUnavailableError",
    "SessionBusyError",
    "StoreError",
    "ToolArgumentsError",
    "ToolError",
    "UnknownEntryError",
    "UnknownGraphError",
    "UnknownKindError",
    "UnknownNodeError",
    "UnknownSessionError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph file.

    Attributes:
        line: 1-based line in the YAML file, or ``None`` when no line applies.
        message: what is wrong, one sentence.
        details: follow-up lines: what is available, how to fix it.
    """

    line: int | None
    message: str
    details: tuple[str, ...] = ()

    def render(self) -> str:
        """Return the problem as ``line N: message`` plus indented detail lines."""
        where = f"line {self.line}: " if self.line is not None else ""
        return "\n".join([f"  {where}{self.message}", *(f"    {d}" for d in self.details)])


class GraphValidationError(ValueError):
    """Raised when a YAML graph cannot be loaded; lists every problem found at once.

    Attributes:
        source: the file name (or ``<string>``) the graph came from.
        graph: the graph's name when it could be read, else ``None``.
        problems: every problem, ordered by line.
    """

    def __init__(self, source: str, graph: str | None, problems: list[Problem]) -> None:
        self.source = source
        self.graph = graph
        self.problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        count = len(self.problems)
        head = f"{source}: {count} problem{'s' if count != 1 else ''}"
        if graph:
            head += f" in graph '{graph}'"
        self.message = "\n".join([head, *(p.render() for p in self.problems)])
        super().__init__(self.message)


class UnknownKindError(LookupError):
    """Raised when a node ``kind`` is not in the registry."""

    def __init__(self, kind: str, known: list[str]) -> None:
        self.kind = kind
        self.known = known
        self.message = f"unknown kind '{kind}'. Known kinds: {', '.join(known) or '(none)'}"
        super().__init__(self.message)


class NodeDeclarationError(TypeError):
    """Raised when a node class is declared wrongly (bad ports, duplicate kind)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NodeModuleError(ImportError):
    """Raised when a node module the operator listed (``--nodes``, ``node_modules``)
    cannot be imported: a missing file or module, or code that raised on import."""

    def __init__(self, spec: str, reason: str) -> None:
        self.spec = spec
        self.message = f"node module '{spec}' could not be imported: {reason}"
        super().__init__(self.message)


class UnknownGraphError(LookupError):
    """Raised when a graph name is not in the catalog."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        self.message = f"unknown graph '{name}'. Known graphs: {', '.join(known) or '(none)'}"
        super().__init__(self.message)


class UnknownEntryError(LookupError):
    """Raised when an event is sent to an entry the graph does not declare."""

    def __init__(self, graph: str, entry: str, known: list[str]) -> None:
        self.graph = graph
        self.entry = entry
        self.known = known
        self.message = (
            f"graph '{graph}' has no entry '{entry}'. Entries: {', '.join(known) or '(none)'}"
        )
        super().__init__(self.message)


class UnknownNodeError(LookupError):
    """Raised when a request names nodes its graph does not run (e.g. breakpoints).

    Attributes:
        unknown: the names not found. known: the graph's node ids that run in a turn.
    """

    def __init__(self, graph: str, unknown: list[str], known: list[str]) -> None:
        self.unknown = unknown
        self.known = known
        names = ", ".join(f"'{n}'" for n in unknown)
        self.message = f"graph '{graph}' runs no node {names}; its nodes: {', '.join(known)}"
        super().__init__(self.message)


class UnknownSessionError(LookupError):
    """Raised when a session id does not exist."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.message = f"unknown session '{session_id}'"
        super().__init__(self.message)


class SessionBusyError(RuntimeError):
    """Raised when a session already has the maximum number of queued turns."""

    def __init__(self, session_id: str, limit: int) -> None:
        self.session_id = session_id
        self.message = f"session '{session_id}' already has {limit} turns waiting; retry later"
        super().__init__(self.message)


class StoreError(RuntimeError):
    """Raised when the session store cannot be read or written (a full disk, a
    read-only or locked database file). Nothing was accepted: the request can be
    retried once the store works again (the API answers 503)."""

    def __init__(self, action: str, cause: BaseException) -> None:
        self.message = f"the session store could not {action}: {cause}; nothing was accepted"
        super().__init__(self.message)


class NodeRunError(RuntimeError):
    """Raised when a node fails during a run; the run fails, the session survives.

    Attributes:
        node: node id in the graph.
        kind: the node's registered kind.
        cause: the exception the node raised (also chained as ``__cause__``).
        result: the partial ``RunResult`` of the failed run, when the executor raised it.
    """

    def __init__(self, node: str, kind: str, cause: BaseException) -> None:
        self.node = node
        self.kind = kind
        self.cause = cause
        self.result: Any = None
        text = str(cause) or type(cause).__name__
        self.message = f"node '{node}' ({kind}) failed: {type(cause).__name__}: {text}"
        super().__init__(self.message)


class LLMError(RuntimeError):
    """Raised when an LLM call fails after its retries; the base of the precise kinds below.

    Every subclass has its ``error_kind``, the machine-readable name the ``llm.failed``
    event carries, so a node can catch exactly what it can handle and a dashboard can
    count failures by kind.

    Attributes:
        message: one text naming the call, model, endpoint, purpose, what went wrong,
            the number of attempts and what to check.
        error_kind: ``connect``, ``first_token_timeout``, ``call_timeout``,
            ``broken_response``, ``not_json``, ``http_status``, ``length``,
            ``invalid_output``, ``refused``, or ``error`` (this base class).
        endpoint, model, purpose: where the call went (``None`` when not known).
        attempts: HTTP attempts made by the call (``0`` when not known).
    """

    error_kind = "error"

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        purpose: str | None = None,
        attempts: int = 0,
    ) -> None:
        self.message = message
        self.endpoint, self.model, self.purpose = endpoint, model, purpose
        self.attempts = attempts
        super().__init__(message)


class LLMConnectError(LLMError):
    """Raised when no connection to the endpoint could be made (refused, DNS, connect
    time limit): the server is down or the base URL is wrong."""

    error_kind = "connect"


class LLMTimeoutError(LLMError):
    """Raised when a time limit ran out: no first byte (or, streaming, no next chunk)
    within ``first_token_timeout_s`` (``error_kind == "first_token_timeout"``), or the
    whole call passed ``call_timeout_s`` (``"call_timeout"``)."""

    def __init__(self, message: str, *, error_kind: str, **where: Any) -> None:
        self.error_kind = error_kind
        super().__init__(message, **where)


class LLMBrokenResponseError(LLMError):
    """Raised when the answer broke off: a stream after some text, or a body shorter
    than announced (the connection dropped mid-answer)."""

    error_kind = "broken_response"


class LLMBodyError(LLMError):
    """Raised when the endpoint answered 2xx with a body that is not JSON, or JSON that
    is not a chat completion (a proxy's HTML page, a half-written body)."""

    error_kind = "not_json"


class LLMStatusError(LLMError):
    """Raised when the endpoint answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
    """

    error_kind = "http_status"

    def __init__(self, message: str, *, status: int, **where: Any) -> None:
        self.status = status
        super().__init__(message, **where)


class LLMTruncatedError(LLMError):
    """Raised when a structured answer stopped at the ``max_tokens`` limit
    (``finish_reason: "length"``) twice: it is cut-off JSON.

    Attributes:
        max_tokens: the limit the answer hit.
    """

    error_kind = "length"

    def __init__(self, message: str, *, max_tokens: int, **where: Any) -> None:
        self.max_tokens = max_tokens
        super().__init__(message, **where)


class LLMInvalidOutputError(LLMError):
    """Raised when the model's answer is unusable after one re-ask: JSON invalid for the
    schema, string fields that only repeat their schema description, or prose that
    repeats the prompt's instructions (``error_kind == "invalid_output"``), or the model
    refused (``"refused"``)."""

    def __init__(self, message: str, *, error_kind: str = "invalid_output", **where: Any) -> None:
        self.error_kind = error_kind
        super().__init__(message, **where)


class ToolError(RuntimeError):
    """Raised when a tool call fails before or instead of a result.

    Attributes:
        message: what went wrong and what to do about it.
        kind: why, as a short word also sent as ``error_kind`` in ``tool.failed``:
            ``unknown`` (no tool of that name), ``ambiguous`` (bare name on several
            servers), ``hidden`` (the server's config hides the tool), ``arguments``
            (arguments invalid for the tool's input schema), ``unavailable`` (server
            down or not running), ``timeout``, ``lost`` (the server failed during the
            call and again on the retry), ``rejected`` (a person rejected the call
            while the run was paused for its approval).
    """

    def __init__(self, message: str, kind: str = "unavailable") -> None:
        self.message = message
        self.kind = kind
        super().__init__(message)


class ToolArgumentsError(ToolError):
    """Raised before a call when its arguments do not fit the tool's ``inputSchema``;
    the call never reaches the server.

    Attributes:
        tool: the tool's qualified name (``server.tool``).
        problems: one line per violated rule, e.g. ``arguments.city: 5 is not of type
            'string'`` (see :func:`cogpipe.engine.tools.validate_arguments`).
    """

    def __init__(self, name: str, tool: str, problems: list[str]) -> None:
        self.tool = tool
        self.problems = problems
        super().__init__(f"tool '{name}': {'; '.join(problems)}", kind="arguments")


class RedisUnavailableError(ConnectionError):
    """Raised at start-up in Redis mode (``COGPIPE_REDIS_URL``) when Redis does not
    answer; the message names the URL (its password masked) and the cause."""

    def __init__(self, url: str, cause: BaseException) -> None:
        self.url = url
        self.message = (
            f"cannot reach Redis at {url}: {cause}; start Redis there, or fix "
            "COGPIPE_REDIS_URL (unset it to run without Redis)"
        )
        super().__init__(self.message)


class LeaseLostError(RuntimeError):
    """Raised when a turn's lease on its session (Redis mode) could not be renewed in
    time: another process may have taken the session, so the turn was stopped."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.message = (
            f"the turn lease of session '{session_id}' expired before it could be renewed "
            "(Redis unreachable or this process stalled); the turn was stopped"
        )
        super().__init__(self.message)
