"""The kind registry: the only way a YAML ``kind`` becomes a node class.

Kinds come from node classes that subclass :class:`~engine.node.Node` with a ``kind``
(the built-ins in ``nodes/`` and anything imported) and from the ``cogpipe.nodes``
entry-point group of installed packages. A graph never names an import path, so a
graph uploaded through the API cannot make the server import code.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from .errors import UnknownKindError
from .node import Node, declared_kinds

__all__ = ["ENTRY_POINT_GROUP", "Registry", "default_registry"]

ENTRY_POINT_GROUP = "cogpipe.nodes"
log = logging.getLogger(__name__)


class Registry:
    """A mapping from kind to node class.

    Args:
        classes: node classes to register (each must have a ``kind``).
    """

    def __init__(self, classes: Iterable[type[Node]] = ()) -> None:
        self._kinds: dict[str, type[Node]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: type[Node]) -> type[Node]:
        """Add ``cls`` under ``cls.kind`` and return it (usable as a decorator).

        Raises:
            TypeError: when ``cls`` is not a Node subclass with a non-empty ``kind``.
        """
        if not (inspect.isclass(cls) and issubclass(cls, Node) and cls.kind):
            raise TypeError(f"{cls!r} is not a Node subclass with a kind")
        self._kinds[cls.kind] = cls
        return cls

    def get(self, kind: str) -> type[Node]:
        """Return the class of ``kind``.

        Raises:
            UnknownKindError: listing the known kinds.
        """
        try:
            return self._kinds[kind]
        except KeyError:
            raise UnknownKindError(kind, self.kinds()) from None

    def kinds(self) -> list[str]:
        """Return every registered kind, sorted."""
        return sorted(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def __len__(self) -> int:
        return len(self._kinds)


def _load_entry_points(registry: Registry) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the server down
            log.warning("cogpipe.nodes entry point %r failed to load: %s", ep.name, exc)
            continue
        if inspect.isclass(obj) and issubclass(obj, Node):
            registry.register(obj)
        # a module entry point registers its classes by being imported


_default: Registry | None = None


def default_registry() -> Registry:
    """Return the process-wide registry: built-in ``nodes``, entry points, and every
    other ``Node`` subclass with a kind that has been imported."""
    global _default
    if _default is None:
        importlib.import_module("cogpipe.nodes")
        _default = Registry()
        _load_entry_points(_default)
    for cls in declared_kinds().values():
        if cls.kind not in _default:
            _default.register(cls)
    return _default
