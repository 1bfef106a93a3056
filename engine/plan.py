"""Per-graph lookup tables the executor builds once and reuses for every run."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from pydantic import BaseModel, TypeAdapter

from .graph import Graph

__all__ = ["Plan", "Step", "plan_of", "trusted_constructor"]


class Step:
    """What the executor needs to know about one flow node, looked up once per graph."""

    __slots__ = (
        "cls",
        "critical",
        "id",
        "kind",
        "make_inputs",
        "optional",
        "required",
        "routes",
        "sources",
        "timeout_s",
    )

    def __init__(self, graph: Graph, nid: str) -> None:
        decl = graph.nodes[nid]
        self.id, self.kind, self.cls, self.timeout_s = nid, decl.kind, decl.cls, decl.timeout_s
        self.critical = decl.critical
        ports = decl.cls.input_ports
        self.required = [p for p, d in ports.items() if d.required]
        self.optional = [p for p, d in ports.items() if not d.required]
        self.sources = dict.fromkeys(ports, 0)
        self.make_inputs = trusted_constructor(decl.cls.Inputs)
        # port -> (result key "node.port", [(dst id, dst port, "dst.port")])
        self.routes: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
            p: (f"{nid}.{p}", []) for p in decl.cls.output_ports
        }


class Plan:
    """Per-graph lookup tables for the executor, computed once per graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.steps = {nid: Step(graph, nid) for nid in graph.order if nid in graph.flow}
        # the run's named results: (name, "node.port" key of RunResult.ports)
        self.outputs = [(name, str(ref)) for name, ref in graph.outputs.items()]
        for e in graph.edges:
            if e.src.node in self.steps:
                self.steps[e.src.node].routes[e.src.port][1].append(
                    (e.dst.node, e.dst.port, str(e.dst))
                )
                self.steps[e.dst.node].sources[e.dst.port] += 1
        for refs in graph.entry.values():
            for ref in refs:
                self.steps[ref.node].sources[ref.port] += 1

    @cached_property
    def adapters(self) -> dict[tuple[str, str], TypeAdapter[Any]]:
        """Validators for payloads entering at entry ports."""
        return {
            (r.node, r.port): TypeAdapter(self.graph.nodes[r.node].cls.input_ports[r.port].type)
            for refs in self.graph.entry.values()
            for r in refs
        }


_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset)


def trusted_constructor(model: type[BaseModel]) -> Callable[[dict[str, Any]], BaseModel]:
    """Return a function building ``model`` from already-validated values, like
    ``model.model_construct(**values)`` but about twice as fast.

    Port values were validated when the upstream node built its ``Outputs``, so inputs
    need no second validation. The fast path covers plain models (no aliases, factories,
    extras, private attributes or mutable defaults); others use ``model_construct``.
    """
    fields = model.model_fields
    plain = (
        not model.__pydantic_post_init__
        and not model.__private_attributes__
        and model.model_config.get("extra") != "allow"
        and all(
            f.alias is None
            and f.validation_alias is None
            and f.default_factory is None
            and isinstance(f.default, _IMMUTABLE)
            for f in fields.values()
            if not f.is_required()
        )
    )
    if not plain:
        return lambda values: model.model_construct(**values)
    defaults = {n: f.default for n, f in fields.items() if not f.is_required()}
    new, setattr_ = model.__new__, object.__setattr__

    def construct(values: dict[str, Any]) -> BaseModel:
        instance = new(model)
        setattr_(instance, "__dict__", {**defaults, **values})
        setattr_(instance, "__pydantic_fields_set__", set(values))
        setattr_(instance, "__pydantic_extra__", None)
        setattr_(instance, "__pydantic_private__", None)
        return instance

    return construct


def plan_of(graph: Graph) -> Plan:
    """Return the (cached) :class:`Plan` of ``graph``."""
    plan = graph.__dict__.get("_plan")
    if plan is None:
        plan = graph.__dict__["_plan"] = Plan(graph)
    return plan
