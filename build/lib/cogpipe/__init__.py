"""cogpipe: a runtime for cognitive LLM pipelines written as YAML graphs.

The public API for embedding cogpipe and writing node kinds::

    from cogpipe import Settings, open_runtime

    async with open_runtime(Settings.load()) as runtime:
        session = runtime.create_session()
        result = await runtime.run(session.id, "message", "How many customers are in Berlin?")
        print(result.outputs["response"].text)

Node authors subclass :class:`Node` (``class Shout(Node[ShoutParams])``) with
:class:`NodeParams` and reach the world through :class:`RunContext`. Everything else
lives in the subpackages: ``cogpipe.engine`` (graphs, executor, runtime, LLM and tool
clients), ``cogpipe.nodes`` (the built-in kinds), ``cogpipe.server`` (HTTP API, HUD,
CLI) and ``cogpipe.demo`` (the demo tool server).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cogpipe.engine import Node, NodeParams, RunContext, Runtime, load_graph

from .assembly import open_runtime
from .settings import Settings

try:
    __version__ = version("cogpipe")
except PackageNotFoundError:  # a bare checkout that was never installed
    __version__ = "0.0.0"

__all__ = [
    "Node",
    "NodeParams",
    "RunContext",
    "Runtime",
    "Settings",
    "__version__",
    "load_graph",
    "open_runtime",
]
