"""The node contract: what a node class declares and what it may touch while it runs.

A node is a small class with a registered ``kind``, pydantic ``Params``, typed
``Inputs`` and ``Outputs`` (each field is a port) and one ``async def run``. It returns
outputs and reaches the world only through its :class:`RunContext`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from .errors import NodeDeclarationError
from .handles import LLMHandle, Service, ToolHandle
from .ports import Port, ports_of

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Node", "NodeParams", "RunContext", "declared_kinds"]

_declared: dict[str, type[Node[Any]]] = {}


def declared_kinds() -> dict[str, type[Node[Any]]]:
    """Return every node class registered by subclassing so far, by kind."""
    return dict(_declared)


class NodeParams(BaseModel):
    """Base of every node's ``Params``: unknown keys in YAML ``params`` are errors."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=NodeParams, default=NodeParams)


class _Missing:
    """Stands in for a service the runtime was not given; fails loudly when used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def bind(self, ctx: RunContext) -> Any:
        """Raise: the runtime was started without this service."""
        raise RuntimeError(
            f"node '{ctx.node}' ({ctx.kind}) used ctx.{self._name}, but this runtime has no "
            f"{self._name} service; pass {self._name}= to Runtime"
        )


class RunContext:
    """Everything a node may use while it runs (or while it starts, with ``run_id=''``).

    Attributes:
        node: the node's id in the graph.
        kind: the node's kind.
        run_id: the current run's id (``''`` inside ``start()``).
        graph: the name of the graph being run.
        session: the session: ``history`` (previous turns) and ``state`` (per-namespace
            dicts that persist across turns and graph switches).
        context: context lines assembled from the graph's ``context:`` providers.
        approve: set by the executor when the run can pause (:mod:`.pauses`): tool
            services await ``approve(tool, names, destructive, arguments, validate)``
            before a call (``tool`` the qualified name, ``names`` every name it is known
            by, ``validate`` checks replacement arguments) and get the arguments to
            call with, or ``None`` when the call was rejected. ``None`` otherwise.
    """

    __slots__ = (
        "_emit",
        "_llm",
        "_llm_source",
        "_tools",
        "_tools_source",
        "approve",
        "context",
        "graph",
        "kind",
        "node",
        "run_id",
        "session",
    )

    def __init__(
        self,
        *,
        node: str,
        kind: str,
        run_id: str,
        graph: str,
        session: Session,
        context: list[str],
        emit: Callable[[str, str, str, dict[str, Any] | None], None],
        llm: Service[LLMHandle] | None = None,
        tools: Service[ToolHandle] | None = None,
    ) -> None:
        self.node = node
        self.kind = kind
        self.run_id = run_id
        self.graph = graph
        self.session = session
        self.context = context
        self._emit = emit
        self._llm_source: Service[LLMHandle] = llm or _Missing("llm")
        self._tools_source: Service[ToolHandle] = tools or _Missing("tools")
        self._llm: LLMHandle | None = None
        self._tools: ToolHandle | None = None
        self.approve: Callable[..., Awaitable[dict[str, Any] | None]] | None = None

    @property
    def llm(self) -> LLMHandle:
        """The LLM handle for this node run.

        Raises:
            RuntimeError: the runtime was started without an LLM service.
        """
        if self._llm is None:
            self._llm = self._llm_source.bind(self)
        return self._llm

    @property
    def tools(self) -> ToolHandle:
        """The tool handle for this node run.

        Raises:
            RuntimeError: the runtime was started without a tool service.
        """
        if self._tools is None:
            self._tools = self._tools_source.bind(self)
        return self._tools

    def emit(self, type: str, data: dict[str, Any] | None = None) -> None:
        """Emit an extra trace event from this node, e.g. ``ui.controls``.

        Args:
            type: event type, past tense or noun-dot-verb (``memory.updated``).
            data: JSON-serialisable details.
        """
        self._emit(type, self.node, self.kind, data)

    def stream(self, text: str, *, call_id: str | None = None) -> None:
        """Send a piece of the answer to the client now, as an ``output.delta`` event.

        Args:
            text: the next piece of the answer.
            call_id: the LLM call it comes from (set by ``ctx.llm.stream``), so the HUD
                can show it with that call; ``None`` for text of the node's own.
        """
        data = {"text": text} if call_id is None else {"text": text, "call_id": call_id}
        self._emit("output.delta", self.node, self.kind, data)


class Node(Generic[P]):
    """Base class of every node kind, generic in its parameters' type.

    Subclasses set ``kind`` (which registers them) and may override ``Inputs``,
    ``Outputs``, ``timeout_s``, ``run`` and the optional hooks. The parameters are the
    type argument: ``class Shout(Node[ShoutParams])`` validates YAML ``params`` with
    ``ShoutParams`` (a :class:`NodeParams` subclass) and types ``self.params`` as it;
    ``Shout.Params`` is that class. A plain ``Node`` has no parameters. Each field of
    ``Inputs`` is an input port (required unless it has a default); each field of
    ``Outputs`` is an output port and must default to ``None``: a port left ``None``
    means "this branch is not taken", and the engine skips what depends on it.

    Pass ``register=False`` in the class statement (``class X(Node, register=False)``)
    for a class that should only be used through an explicit ``Registry``.

    YAML: ``mynode: {kind: my_kind_v1, timeout_s: 10, params: {...}}``

    Raises:
        NodeDeclarationError: at class creation, for a duplicate kind, an output port
            without a ``None`` default, a ``run`` that is not ``async``, or ``Params``
            that are no ``NodeParams`` class.
    """

    kind: ClassVar[str] = ""
    timeout_s: ClassVar[float | None] = None
    """Default time limit of one ``run`` in seconds; YAML ``timeout_s`` overrides it."""

    Params: ClassVar[type[NodeParams]] = NodeParams
    """The parameters' class: the type argument (``Node[ShoutParams]``)."""

    class Inputs(BaseModel):
        """No inputs."""

    class Outputs(BaseModel):
        """No outputs."""

    input_ports: ClassVar[dict[str, Port]] = {}
    output_ports: ClassVar[dict[str, Port]] = {}
    params: P

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.Params = _params_class(cls)
        cls.input_ports = ports_of(cls.Inputs, outputs=False)
        cls.output_ports = ports_of(cls.Outputs, outputs=True)
        for name, field in cls.Outputs.model_fields.items():
            if field.is_required() or field.default is not None:
                raise NodeDeclarationError(
                    f"{cls.__qualname__}.Outputs.{name} must default to None "
                    "(an empty output port means the branch is not taken)"
                )
        if not inspect.iscoroutinefunction(cls.run):
            raise NodeDeclarationError(f"{cls.__qualname__}.run must be 'async def'")
        if register and "kind" in cls.__dict__:
            other = _declared.get(cls.kind)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise NodeDeclarationError(
                    f"kind '{cls.kind}' is declared twice: by {other.__module__}."
                    f"{other.__qualname__} and {cls.__module__}.{cls.__qualname__}"
                )
            _declared[cls.kind] = cls

    def __init__(self, node_id: str, params: P | None = None) -> None:
        """Keep this cheap; slow set-up belongs in ``start()``.

        Args:
            node_id: the node's id in its graph.
            params: a validated ``Params`` instance (defaults when omitted).
        """
        self.id = node_id
        self.params = params if params is not None else self.Params()  # type: ignore[assignment]

    async def run(self, inputs: Any, ctx: RunContext) -> Any:
        """Compute outputs from inputs. Return an ``Outputs`` instance, a dict of port
        values, or ``None`` (every output port empty)."""
        return None

    def context(self, session: Session) -> list[str]:
        """Return context lines for every prompt of a turn (nodes under ``context:``)."""
        return []

    async def start(self, ctx: RunContext) -> None:
        """Session-long background work; runs as its own task until the session's graph
        instance is stopped (it may loop forever, e.g. sensor ticks)."""

    async def stop(self) -> None:
        """Release what ``start()`` acquired."""

    @classmethod
    def provides_context(cls) -> bool:
        """Tell whether the class overrides ``context()``."""
        return cls.context is not Node.context


def _params_class(cls: type[Node[Any]]) -> type[NodeParams]:
    """Return the ``Params`` of a node class: its ``Node[X]`` type argument, a ``Params``
    class in its body (the older spelling), or what it inherits."""
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Node:
            (arg,) = get_args(base)
            if not (inspect.isclass(arg) and issubclass(arg, NodeParams)):
                raise NodeDeclarationError(
                    f"{cls.__qualname__}: the type argument of Node must be a NodeParams "
                    f"subclass, not {arg!r}"
                )
            if "Params" in cls.__dict__ and cls.__dict__["Params"] is not arg:
                raise NodeDeclarationError(
                    f"{cls.__qualname__} declares Params twice: as Node[{arg.__name__}] and "
                    "as a nested class; keep the type argument"
                )
            return arg
    own = cls.__dict__.get("Params", cls.Params)
    if not (inspect.isclass(own) and issubclass(own, NodeParams)):
        raise NodeDeclarationError(
            f"{cls.__qualname__}.Params must subclass cogpipe.NodeParams; better, drop the "
            f"nested class and write 'class {cls.__name__}(Node[MyParams])'"
        )
    return own
