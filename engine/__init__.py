"""cogpipe's engine: graph specs and validation, the node contract, the executor,
sessions, and trace events. It imports no web framework."""

from .catalog import CatalogEntry, GraphCatalog
from .errors import (
    GraphValidationError,
    LLMError,
    NodeDeclarationError,
    NodeRunError,
    Problem,
    SessionBusyError,
    ToolError,
    UnknownEntryError,
    UnknownGraphError,
    UnknownKindError,
    UnknownSessionError,
)
from .executor import RunResult, execute
from .export import to_cytoscape, to_mermaid
from .graph import Graph, NodeDecl
from .loader import load_graph, load_graph_text
from .node import Node, RunContext
from .ports import Port, fits, type_name
from .registry import Registry, default_registry
from .runtime import Runtime
from .session import MemorySessionStore, Session, SessionStore, Turn
from .sinks import CallbackObserver, JsonlSink, RingBuffer, Subscription
from .trace import EventBus, Observer, TraceEvent, preview

__all__ = [
    "CallbackObserver",
    "CatalogEntry",
    "EventBus",
    "Graph",
    "GraphCatalog",
    "GraphValidationError",
    "JsonlSink",
    "LLMError",
    "MemorySessionStore",
    "Node",
    "NodeDecl",
    "NodeDeclarationError",
    "NodeRunError",
    "Observer",
    "Port",
    "Problem",
    "Registry",
    "RingBuffer",
    "RunContext",
    "RunResult",
    "Runtime",
    "Session",
    "SessionBusyError",
    "SessionStore",
    "Subscription",
    "ToolError",
    "TraceEvent",
    "Turn",
    "UnknownEntryError",
    "UnknownGraphError",
    "UnknownKindError",
    "UnknownSessionError",
    "default_registry",
    "execute",
    "fits",
    "load_graph",
    "load_graph_text",
    "preview",
    "to_cytoscape",
    "to_mermaid",
    "type_name",
]
