"""Typed ports: what a node declares as inputs and outputs, and when two ports fit."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

__all__ = ["Port", "fits", "ports_of", "type_name"]


@dataclass(frozen=True)
class Port:
    """One input or output port of a node class.

    Attributes:
        name: the field name in the node's ``Inputs`` or ``Outputs`` model.
        type: the declared type with ``None`` removed (``Command | None`` -> ``Command``).
        required: for inputs, whether the node cannot run without it; outputs are never
            required (an empty output means the branch is not taken).
        description: the field's description, if any.
    """

    name: str
    type: Any
    required: bool
    description: str = ""

    def describe(self) -> str:
        """Return ``name (Type)`` or ``name (Type, optional)`` for error messages."""
        suffix = "" if self.required else ", optional"
        return f"{self.name} ({type_name(self.type)}{suffix})"


def _strip_none(tp: Any) -> Any:
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return typing.Union[tuple(args)]  # noqa: UP007 - rebuilding a union from a tuple
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def ports_of(model: type[BaseModel], *, outputs: bool) -> dict[str, Port]:
    """Read the ports declared by an ``Inputs`` or ``Outputs`` pydantic model.

    Args:
        model: the nested ``Inputs``/``Outputs`` class of a node.
        outputs: ``True`` for an ``Outputs`` model (no port is required).

    Returns:
        Ports by name, in declaration order.
    """
    ports = {}
    for name, field in model.model_fields.items():
        ports[name] = Port(
            name=name,
            type=_strip_none(field.annotation),
            required=False if outputs else field.is_required(),
            description=field.description or "",
        )
    return ports


def type_name(tp: Any) -> str:
    """Return a short, readable name for a type: ``DirectorPlan``, ``list[str]``, ``Any``."""
    if tp is Any:
        return "Any"
    if _is_union(tp):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    origin = typing.get_origin(tp)
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp))


def fits(out_type: Any, in_type: Any) -> bool:
    """Tell whether a value of ``out_type`` may flow into an input of ``in_type``.

    Rules: ``Any`` on either side fits; equal types fit; a subclass fits its base; a
    union output fits when each member fits; a union input accepts any member that
    fits; generics fit when their origins match and their arguments fit pairwise.
    """
    if out_type is Any or in_type is Any or out_type == in_type:
        return True
    if _is_union(out_type):
        return all(fits(member, in_type) for member in typing.get_args(out_type))
    if _is_union(in_type):
        return any(fits(out_type, member) for member in typing.get_args(in_type))
    out_origin, in_origin = typing.get_origin(out_type), typing.get_origin(in_type)
    if out_origin is not None or in_origin is not None:
        if (out_origin or out_type) != (in_origin or in_type):
            return False
        out_args, in_args = typing.get_args(out_type), typing.get_args(in_type)
        if not out_args or not in_args:
            return True
        return len(out_args) == len(in_args) and all(map(fits, out_args, in_args))
    return (
        isinstance(out_type, type) and isinstance(in_type, type) and issubclass(out_type, in_type)
    )
