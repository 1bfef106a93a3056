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

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cogpipe.assembly import open_runtime
    from cogpipe.engine import Node, NodeParams, RunContext, Runtime, load_graph
    from cogpipe.settings import Settings

try:
    __version__ = version("cogpipe")
except PackageNotFoundError:  # a bare checkout that was never installed
    __version__ = "0.0.0"

# The public names load on first use, so `import cogpipe` (and `cogpipe --version`) does
# not pay for the openai and mcp SDKs until something needs them.
_LAZY = {
    "Node": "cogpipe.engine",
    "NodeParams": "cogpipe.engine",
    "RunContext": "cogpipe.engine",
    "Runtime": "cogpipe.engine",
    "load_graph": "cogpipe.engine",
    "open_runtime": "cogpipe.assembly",
    "Settings": "cogpipe.settings",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cogpipe' has no attribute {name!r}")


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
