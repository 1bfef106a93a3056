"""What a node reaches through its run context: the typed LLM and tool handles.

``ctx.llm`` is an :class:`LLMHandle` and ``ctx.tools`` a :class:`ToolHandle`. Both are
protocols, so a node author's IDE and mypy follow every call, and a test (or another
backend) can hand a node anything with the same methods. The runtime's implementations
are :class:`cogpipe.engine.completions.OpenAIHandle` (the OpenAI chat-completions API
through the ``openai`` SDK) and :class:`cogpipe.engine.tools.MCPToolHandle` (MCP servers
through the ``mcp`` SDK).

A *service* (:class:`Service`) is what the runtime is given (the LLM client, the tool
manager); it hands out one handle per node run (:meth:`Service.bind`), so every call
is traced as that node's.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from .node import RunContext
    from .tools.config import ToolCallResult, ToolInfo

__all__ = [
    "ChatReply",
    "LLMHandle",
    "Messages",
    "Service",
    "ToolCall",
    "ToolHandle",
]

M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", covariant=True)

Messages = list[dict[str, Any]] | str
"""An OpenAI chat message list, or a string meaning one user message."""


class ToolCall(BaseModel):
    """One function call the model asked for.

    Attributes:
        id: quote it as ``tool_call_id`` in the ``tool`` message that answers.
        name: the function name as the model wrote it (not checked against the tools
            offered; ``""`` when the model named none).
        arguments: the parsed JSON object; ``{}`` when ``error`` is set.
        error: why the call is unusable as written (arguments that are not JSON or not
            an object, no name), else ``None``. Send it back to the model as the tool
            result so it can correct itself; the turn goes on.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    error: str | None = None


class ChatReply(BaseModel):
    """The assistant's turn from :meth:`LLMHandle.chat`: ``content`` (``None`` when it
    only called tools), ``tool_calls`` in order, ``finish_reason`` (``stop``,
    ``tool_calls``, ``length`` ...)."""

    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None

    def as_message(self) -> dict[str, Any]:
        """Return this reply as an assistant message to append to the conversation
        (a call with an ``error`` is shown with ``{}`` as its arguments)."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in self.tool_calls
            ]
        return msg


class LLMHandle(Protocol):
    """A node run's access to the LLM (``ctx.llm``); every call is traced on that node.

    Common arguments of every method:
        model: an alias from the config (``fast``, ``smart``, ``default``) or a literal
            model name, sent as it is.
        messages: OpenAI chat messages (``[{"role": "user", "content": "..."}]``), or a
            string meaning one user message.
        purpose: the task asking, e.g. ``"output_v1.answer"`` (default: the node kind);
            shown in the trace, used by the offline model to pick its answer and to
            look up ``max_tokens``.
        temperature: sampling temperature; omitted from the request when ``None``.
        max_tokens: the answer's token limit, always sent; ``None`` takes the config's
            ``max_tokens`` for the purpose, else for the node kind, else ``default``.
        hints: structured facts about the request that the model need not see (the
            question, a draft ...). Only the offline model receives them, as
            ``request["hints"]`` in its responders; a real endpoint never does.

    Guarantees:
        * Every HTTP attempt is traced: ``llm.request`` (``attempt`` 1, 2, ...) and then
          exactly one ``llm.response`` or ``llm.failed`` (``error_kind``, ``final``).
        * Retries (connection errors, 408/409/429/5xx, bodies that are not JSON or
          broke off) and mode step-downs happen inside; a call never takes longer than
          the config's ``call_timeout_s``.
        * Failures raise an :class:`~cogpipe.engine.errors.LLMError` subclass whose
          ``error_kind`` says what happened: ``connect``, ``first_token_timeout``,
          ``call_timeout``, ``broken_response``, ``not_json``, ``http_status``,
          ``length``, ``invalid_output``, ``refused``.
        * Token counts the endpoint did not report are ``null`` in ``llm.response``.
    """

    async def complete(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> str:
        """Return the model's text answer (``""`` when it has none).

        An answer cut off at ``max_tokens`` is returned with a visible mark at its end
        (``" […cut off at N tokens]"``; ``truncated: true`` in ``llm.response``). An
        answer that repeats the system prompt
        (:func:`~cogpipe.engine.guards.echoes_prompt`) is re-asked once.

        Raises:
            LLMInvalidOutputError: the re-asked answer repeats the prompt again
                (``error_kind == "invalid_output"``): use the node's fallback.
        """
        ...

    @overload
    async def structured(
        self,
        model: str,
        messages: Messages,
        schema: type[M],
        *,
        name: str | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> M: ...

    @overload
    async def structured(
        self,
        model: str,
        messages: Messages,
        schema: dict[str, Any],
        *,
        name: str | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    async def structured(
        self,
        model: str,
        messages: Messages,
        schema: type[BaseModel] | dict[str, Any],
        *,
        name: str | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> Any:
        """Return the answer as a ``schema`` instance (pydantic model class) or as a
        dict valid for ``schema`` (a JSON Schema dict, checked with ``jsonschema``).

        The request follows the config's ``structured_output`` mode (``json_schema``,
        strict where the schema allows; ``json_object``; ``prompt``). The answer's JSON
        may be bare, fenced or inside prose. It is invalid when it does not validate or
        when a string field only repeats its own schema ``description``; an invalid or
        cut-off (``finish_reason: "length"``) answer is re-asked once, quoting the
        problem.

        Args:
            schema: a pydantic model class, or a JSON Schema (draft 2020-12) dict.
            name: the schema's name (``[a-zA-Z0-9_-]``, default: the class name or the
                dict's ``title``; a dict needs one of them).

        Raises:
            LLMInvalidOutputError: the second answer is invalid too
                (``invalid_output``), or the model refused (``refused``).
            LLMTruncatedError: the second answer was cut off too: "cut off at N tokens".
            ValueError, TypeError: ``schema`` is not a usable schema (a bug in the caller).
        """
        ...

    async def stream(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        on_delta: Callable[[str], None] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> str:
        """Stream the answer (each delta to ``on_delta``, default ``ctx.stream``) and
        return the whole text.

        A cut-off answer gets the truncation mark as a last delta too. Streamed text
        cannot be re-asked, so the prompt-echo check is the caller's:
        ``echoes_prompt(text, messages)`` after the call.

        Raises:
            LLMBrokenResponseError: the stream broke off after some text (the deltas
                sent stay sent; a stream that broke before any text is retried).
        """
        ...

    async def chat(
        self,
        model: str,
        messages: Messages,
        *,
        tools: list[dict[str, Any]] | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One assistant turn that may call the offered ``tools``.

        Args:
            tools: OpenAI function tools, ``{"type": "function", "function": {"name",
                "description", "parameters"}}``; a bare function dict is wrapped. Sent
                as ``tools=`` or, in the ``prompt`` tool mode, described in the system
                prompt (:mod:`~cogpipe.engine.protocol`).

        Returns:
            The text and the tool calls. A call whose arguments cannot be used has
            ``arguments == {}`` and ``error`` set; names are not checked. Append
            ``reply.as_message()`` and one ``{"role": "tool", "tool_call_id",
            "content"}`` message per call to continue the conversation (both modes).
        """
        ...


class ToolHandle(Protocol):
    """A node run's access to the tools (``ctx.tools``); every call is traced on that
    node as ``tool.started`` then ``tool.finished`` or ``tool.failed``.

    Names: a tool is called by its bare name (``get_current_time``) when no other
    server lists that name, by ``server.tool`` (``time.get_current_time``) always, or by
    the function name :meth:`openai_tools` gave it. A bare name two servers share is
    ambiguous: the error lists the qualified choices.

    Offered tools: :meth:`list`, :meth:`find`, :meth:`openai_tools` and :meth:`call` see
    only the tools the config offers; ``include``/``exclude`` patterns and destructive
    tools without ``allow_destructive`` hide the others (calling one names the rule).

    Pure helpers for the same tools, in :mod:`cogpipe.engine.tools`:
    ``validate_arguments(tool, arguments) -> list[str]`` (what :meth:`call` checks
    first; a plan can be checked with it before anything runs) and
    ``describe_tools(tools) -> str`` (the listing to put in a prompt).
    """

    async def list(self) -> builtins.list[ToolInfo]:
        """Return every offered tool with its title, input schema and annotations."""
        ...

    def find(self, name: str) -> ToolInfo | None:
        """Return the offered tool ``name`` (bare, ``server.tool`` or an OpenAI function
        name) means, or ``None`` when it is unknown, ambiguous or hidden. Calls
        nothing, emits nothing."""
        ...

    async def call(
        self, name: str, arguments: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> ToolCallResult:
        """Call a tool by its name and wait for the result.

        Nothing reaches a server unless the name resolves to an offered tool and the
        arguments fit its ``inputSchema`` (checked with ``validate_arguments``). A tool
        that reports an error is a result with ``ok=False``, not an exception.

        Raises:
            ToolArgumentsError: the arguments do not fit the tool's input schema; the
                message names the tool, the path and the rule ("tool
                'count_customers': arguments.city: 5 is not of type 'string'") and
                ``.problems`` lists them.
            ToolError: unknown, ambiguous or hidden name, server unavailable, timeout;
                ``.kind`` says which (also ``error_kind`` of the ``tool.failed`` event).
        """
        ...

    def openai_tools(self) -> builtins.list[dict[str, Any]]:
        """Return the offered tools as OpenAI chat-completions function tools
        (parameter descriptions kept, what OpenAI rejects at the top level dropped)."""
        ...


class Service(Protocol[H]):
    """What the runtime is given to reach the world (the LLM client, the tool manager).

    ``bind`` returns a handle tied to one node run, so the calls it makes are traced
    with that node's id.
    """

    def bind(self, ctx: RunContext) -> H:
        """Return a handle for ``ctx``'s node run."""
        ...
