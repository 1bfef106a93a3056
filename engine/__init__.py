"""cogpipe's engine: graph specs and validation, the node contract, the executor,
sessions, and trace events. It imports no web framework."""

from .catalog import CatalogEntry, GraphCatalog
from .errors import (
    GraphValidationError,
    LLMBodyError,
    LLMBrokenResponseError,
    LLMConnectError,
    LLMError,
    LLMInvalidOutputError,
    LLMStatusError,
    LLMTimeoutError,
    LLMTruncatedError,
    NodeDeclarationError,
    NodeModuleError,
    NodeRunError,
    Problem,
    SessionBusyError,
    StoreError,
    ToolArgumentsError,
    ToolError,
    UnknownEntryError,
    UnknownGraphError,
    UnknownKindError,
    UnknownNodeError,
    UnknownSessionError,
)
from .executor import RunResult, execute
from .export import to_cytoscape, to_mermaid
from .graph import Graph, NodeDecl
from .guards import echoed_descriptions, echoes_prompt
from .handles import ChatReply, LLMHandle, Messages, Service, ToolCall, ToolHandle
from .loader import load_graph, load_graph_text
from .node import Node, NodeParams, RunContext
from .pauses import Breakpoints, Pause, PauseExpiredError, ResumeError
from .ports import Port, fits, type_name
from .registry import Registry, default_registry, import_node_modules
from .runs import RunRecord, RunStatus
from .runtime import Runtime, tune_gc
from .session import MemorySessionStore, Session, SessionStore, Turn
from .sinks import CallbackObserver, EventLog, JsonlSink, RingBuffer, Subscription
from .trace import EventBus, Observer, TraceEvent, preview

__all__ = [
    "Breakpoints",
    "CallbackObserver",
    "CatalogEntry",
    "ChatReply",
    "EventBus",
    "EventLog",
    "Graph",
    "GraphCatalog",
    "GraphValidationError",
    "JsonlSink",
    "LLMBodyError",
    "LLMBrokenResponseError",
    "LLMConnectError",
    "LLMError",
    "LLMHandle",
    "LLMInvalidOutputError",
    "LLMStatusError",
    "LLMTimeoutError",
    "LLMTruncatedError",
    "MemorySessionStore",
    "Messages",
    "Node",
    "NodeDecl",
    "NodeDeclarationError",
    "NodeModuleError",
    "NodeParams",
    "NodeRunError",
    "Observer",
    "Pause",
    "PauseExpiredError",
    "Port",
    "Problem",
    "Registry",
    "ResumeError",
    "RingBuffer",
    "RunContext",
    "RunRecord",
    "RunResult",
    "RunStatus",
    "Runtime",
    "Service",
    "Session",
    "SessionBusyError",
    "SessionStore",
    "StoreError",
    "Subscription",
    "ToolArgumentsError",
    "ToolCall",
    "ToolError",
    "ToolHandle",
    "TraceEvent",
    "Turn",
    "UnknownEntryError",
    "UnknownGraphError",
    "UnknownKindError",
    "UnknownNodeError",
    "UnknownSessionError",
    "default_registry",
    "echoed_descriptions",
    "echoes_prompt",
    "execute",
    "fits",
    "import_node_modules",
    "load_graph",
    "load_graph_text",
    "preview",
    "to_cytoscape",
    "to_mermaid",
    "tune_gc",
    "type_name",
]
