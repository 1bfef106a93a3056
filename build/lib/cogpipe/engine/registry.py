"""The kind registry: the only way a YAML ``kind`` becomes a node class.

Kinds come from node classes that subclass :class:`~cogpipe.engine.node.Node` with a
``kind`` and have been imported: by the ``cogpipe.nodes`` entry-point group of installed
packages (cogpipe's own built-in kinds register this way too), or by the node modules
the operator lists (:func:`import_node_modules`). A graph never names an import path,
so a graph uploaded through the API cannot make the server import code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from .errors import NodeModuleError, UnknownKindError
from .node import Node, declared_kinds

__all__ = ["ENTRY_POINT_GROUP", "Registry", "default_registry", "import_node_modules"]

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
    """Return the process-wide registry: the kinds of the ``cogpipe.nodes`` entry points
    (the built-ins among them) and every other ``Node`` subclass with a kind that has
    been imported, node modules included."""
    global _default
    if _default is None:
        _default = Registry()
        _load_entry_points(_default)
    for cls in declared_kinds().values():
        if cls.kind not in _default:
            _default.register(cls)
    return _default


def import_node_modules(specs: Sequence[str]) -> list[ModuleType]:
    """Import the operator's node modules, so the kinds they define can be used in YAML.

    Args:
        specs: each a Python file (``my_nodes.py``, ``./lib/extra.py``; relative to the
            working directory) or an importable module name (``my_pkg.nodes``). A file
            is imported under a private module name derived from its path, so it cannot
            shadow or be shadowed by another module, and importing it twice is a no-op.

    Returns:
        The imported modules, in order.

    Raises:
        NodeModuleError: a file that does not exist, a module that cannot be found, or
            code that raised while it was imported (the message names the spec and the
            error).
    """
    return [_import_one(spec) for spec in specs]


def _import_one(spec: str) -> ModuleType:
    path = Path(spec).expanduser()
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise NodeModuleError(spec, "no such file")
        path = path.resolve()
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
        name = f"cogpipe_node_module_{path.stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        found = importlib.util.spec_from_file_location(name, path)
        if found is None or found.loader is None:
            raise NodeModuleError(spec, "not a Python file")
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module
        try:
            found.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            raise NodeModuleError(spec, f"{type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        if exc.name and spec.startswith(exc.name):
            raise NodeModuleError(
                spec, "no such module (give a .py file path, or a module on the Python path)"
            ) from exc
        raise NodeModuleError(spec, f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise NodeModuleError(spec, f"{type(exc).__name__}: {exc}") from exc
