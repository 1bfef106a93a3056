"""The graph catalog: every graph file in the graph folders, by name, valid or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GraphValidationError, Problem, UnknownGraphError
from .graph import Graph
from .loader import load_graph
from .registry import Registry, default_registry

__all__ = ["CatalogEntry", "GraphCatalog"]


@dataclass
class CatalogEntry:
    """One graph: its name, file (``None`` if added in memory) and either the graph or
    the reason it is invalid, or both after a :meth:`GraphCatalog.reload` found a valid
    file edited into an invalid one: then ``graph`` is the last valid version, which
    keeps running, and ``error`` says what is wrong with the file now."""

    name: str
    path: Path | None
    graph: Graph | None = None
    error: GraphValidationError | None = None

    @property
    def valid(self) -> bool:
        """Whether the graph file loaded without problems."""
        return self.graph is not None and self.error is None


class GraphCatalog:
    """Graphs by name, loaded from ``*.yaml``/``*.yml`` files in one or more folders.

    Args:
        dirs: folders to read (not recursive).
        registry: where kinds are looked up (default: :func:`default_registry`).
        default: the default graph's name; when ``None``, the first valid graph by name.
    """

    def __init__(
        self,
        dirs: Sequence[Path | str] | Path | str = (),
        registry: Registry | None = None,
        default: str | None = None,
    ) -> None:
        self.dirs = [Path(d) for d in ([dirs] if isinstance(dirs, (str, Path)) else dirs)]
        self.registry = registry or default_registry()
        self._entries: dict[str, CatalogEntry] = {}
        self.reload()
        self._default = default

    def reload(self) -> None:
        """Read every graph file again; a file that is invalid (or unreadable, too large,
        not UTF-8 ...) becomes an entry with its problems, never an exception. A file
        that was valid before keeps its last valid graph (see :class:`CatalogEntry`)."""
        previous = {e.path: e for e in getattr(self, "_entries", {}).values() if e.path}
        entries = {k: e for k, e in getattr(self, "_entries", {}).items() if e.path is None}
        for folder in self.dirs:
            for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
                entry = self._load(path)
                if entry.name in entries:
                    first = entries[entry.name].path
                    entry.graph = None
                    entry.error = GraphValidationError(
                        str(path),
                        entry.name,
                        [
                            Problem(
                                None,
                                f"graph name '{entry.name}' is already used by {first}",
                                ("fix: give this graph a different 'name:'",),
                            )
                        ],
                    )
                    entry.name = f"{entry.name}@{path.name}"
                last = previous.get(path)
                if entry.error is not None and last is not None and last.graph is not None:
                    entry.name, entry.graph = last.name, last.graph  # the last valid version
                entries[entry.name] = entry
        self._entries = entries

    def _load(self, path: Path) -> CatalogEntry:
        try:
            graph = load_graph(path, self.registry)
            return CatalogEntry(graph.name, path, graph=graph)
        except GraphValidationError as exc:
            return CatalogEntry(exc.graph or path.stem, path, error=exc)
        except OSError as exc:  # unreadable (permissions, a folder named *.yaml ...)
            problem = Problem(
                None,
                f"cannot be read: {exc.strerror or exc}",
                ("fix: make it a readable file, or move it out of the graph folder",),
            )
            return CatalogEntry(
                path.stem, path, error=GraphValidationError(str(path), None, [problem])
            )

    def add(self, graph: Graph) -> None:
        """Add (or replace) a graph that has no file in the graph folders, e.g. one built
        from YAML text; it survives :meth:`reload`."""
        self._entries[graph.name] = CatalogEntry(graph.name, None, graph=graph)

    def entries(self) -> list[CatalogEntry]:
        """Return every graph file's entry, sorted by name."""
        return [self._entries[k] for k in sorted(self._entries)]

    def names(self) -> list[str]:
        """Return the names of the valid graphs, sorted."""
        return [e.name for e in self.entries() if e.valid]

    def get(self, name: str) -> Graph:
        """Return the valid graph called ``name``.

        A file edited into an invalid one still gives its last valid graph.

        Raises:
            UnknownGraphError: no graph has that name (the known ones are listed).
            GraphValidationError: the graph exists but its file has problems (and never
                had none since the catalog was built).
        """
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownGraphError(name, self.names())
        if entry.graph is None:
            raise entry.error  # type: ignore[misc]
        return entry.graph

    @property
    def default(self) -> str:
        """The default graph's name.

        Raises:
            UnknownGraphError: the configured default is not in the catalog, or the
                catalog holds no valid graph.
        """
        if self._default is not None:
            if self._default not in self._entries:
                raise UnknownGraphError(self._default, self.names())
            return self._default
        names = self.names()
        if not names:
            raise UnknownGraphError("(default)", [])
        return names[0]

    def set_default(self, name: str) -> None:
        """Make ``name`` the default graph.

        Raises:
            UnknownGraphError, GraphValidationError: as :meth:`get`.
        """
        self.get(name)
        self._default = name
