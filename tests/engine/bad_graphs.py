"""A catalogue of graph files that must each give a clear error, fast and in little memory.

Each case is the file's bytes and the first problem the loader must report: its line
(``None`` where a file has no line to point at) and its message. Big files are built
here rather than committed; :func:`write_catalogue` writes every case as
``<name>.yaml`` into a folder, so ``cogpipe validate FOLDER`` can be run on them too.

Run ``python -m tests.engine.bad_graphs [FOLDER]`` to load each file in this process
and print one JSON line per file with its CPU time, its peak traced memory and the
process's peak RSS (what ``tests/engine/test_bad_graphs.py`` measures).
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

GOOD = """\
name: good
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  step: {kind: t_step}
edges:
  - source.out -> step.x
"""


@dataclass(frozen=True)
class Bad:
    """A bad graph file and the first problem it must be reported with."""

    content: bytes
    line: int | None
    message: str


def _text(text: str) -> bytes:
    return text.encode("utf-8")


def _deep_block(levels: int) -> bytes:
    return _text("name: deep\nx:\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, levels)))


def _alias_bomb(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return _text("\n".join(lines) + "\n")


def _merge_bomb(levels: int) -> bytes:
    lines = ["m0: &m0 {k0: 1, k1: 2, k2: 3, k3: 4}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}], own{i}: 1}}")
    return _text("\n".join(lines) + "\n")


CASES: dict[str, Bad] = {
    # -- bytes that are not UTF-8 text ---------------------------------------------------
    "latin1": Bad(
        b"name: caf\xe9\n", 1, "not UTF-8 text at column 10: byte 0xE9 is invalid continuation byte"
    ),
    "binary_junk": Bad(
        bytes(range(256)) * 4, 2, "not UTF-8 text at column 118: byte 0x80 is invalid start byte"
    ),
    "utf16": Bad(
        "name: x\nnodes: {}\n".encode("utf-16"),
        1,
        "not UTF-8 text at column 1: byte 0xFF is invalid start byte",
    ),
    "truncated_utf8": Bad(
        _text(GOOD) + b"description: \xe2\x82",
        8,
        "not UTF-8 text at column 14: byte 0xE2 is unexpected end of data",
    ),
    "nul_byte": Bad(
        b"name: a\x00b\n", 1, "invalid YAML at column 8: the character U+0000 is not allowed"
    ),
    "control_char": Bad(
        _text(GOOD + "description: ring \x07 bell\n"),
        8,
        "invalid YAML at column 19: the character U+0007 is not allowed",
    ),
    "surrogate_escape": Bad(
        _text(GOOD + 'description: "\\ud800"\n'),
        8,
        "invalid YAML at column 17: found invalid Unicode character escape code",
    ),
    "double_bom": Bad(
        _text("\ufeff\ufeff" + GOOD),
        2,
        "invalid YAML at column 1: did not find expected <document start>",
    ),
    # -- size and shape ------------------------------------------------------------------
    "too_large": Bad(
        _text(GOOD + "#" * (1 << 20) + "\n"),
        None,
        "the file is too large: 1,048,707 bytes, and graph files may have 1,048,576 (1 MiB)",
    ),
    "huge_scalar": Bad(
        _text("name: big\ndescription: " + "x" * 1_000_000 + "\n"),
        None,
        "missing required key 'entry' at entry",
    ),
    "huge_key": Bad(
        _text(GOOD + "k" * 500_000 + ": 1\n"),
        8,
        "invalid YAML at column 500001: could not find expected ':'",
    ),
    "huge_int": Bad(
        _text(GOOD.replace("{kind: t_step}", "{kind: t_step, timeout_s: " + "9" * 5000 + "}")),
        5,
        "invalid YAML at column 35: cannot read the value '9999999999999999999999999999999999999...' as int: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits",
    ),
    "deep_flow": Bad(
        _text("name: deep\nx: " + "[" * 2000 + "]" * 2000 + "\n"),
        2,
        "invalid YAML at column 1003: exceeded maximum nesting depth",
    ),
    "deep_flow_mappings": Bad(
        _text("x: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n"), 1, "nested more than 64 levels deep"
    ),
    "deep_block": Bad(_deep_block(100), 66, "nested more than 64 levels deep"),
    "deep_block_lists": Bad(
        _text("x:\n" + "".join(f"{' ' * i}- \n" for i in range(100)) + "\n"),
        65,
        "nested more than 64 levels deep",
    ),
    "too_many_values": Bad(
        _text(GOOD + "".join(f"  - a{i}.out -> b{i}.x\n" for i in range(25_000))),
        19988,
        "more than 20,000 values once aliases (*name) are expanded",
    ),
    "long_flow_list": Bad(
        _text("edges: [" + "a, " * 300_000 + "]\n"),
        1,
        "more than 20,000 values once aliases (*name) are expanded",
    ),
    # -- anchors, aliases, merge keys -------------------------------------------------------
    "alias_bomb": Bad(
        _alias_bomb(9), 5, "more than 20,000 values once aliases (*name) are expanded"
    ),
    "alias_bomb_small": Bad(
        _alias_bomb(7), 5, "more than 20,000 values once aliases (*name) are expanded"
    ),
    "merge_key_bomb": Bad(
        _merge_bomb(12), 8, "more than 20,000 values once aliases (*name) are expanded"
    ),
    "many_aliases": Bad(
        _text("a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"), 2, "more than 100 aliases (*name)"
    ),
    "recursive_alias": Bad(
        _text(GOOD + "x: &x [1, *x]\n"), 8, "alias '*x' refers to a node that contains it"
    ),
    "undefined_alias": Bad(
        _text(GOOD.replace("nodes:", "context: *missing\nnodes:")),
        3,
        "invalid YAML at column 10: found undefined alias",
    ),
    "merge_of_a_scalar": Bad(
        _text("base: &b 1\nnodes:\n  source: {<<: *b, kind: t_source}\n"),
        1,
        "invalid YAML at column 7: expected a mapping or list of mappings for merging, but found scalar",
    ),
    "anchors_then_schema_error": Bad(
        _text(
            GOOD.replace(
                "  step: {kind: t_step}", "  step: &s {kind: t_step}\n  again: {<<: *s, sleep: 1}"
            )
        ),
        6,
        "unknown key 'sleep' in nodes.again",
    ),
    # -- tags --------------------------------------------------------------------------------
    "python_object": Bad(
        _text(GOOD + "x: !!python/object:os.system {}\n"),
        8,
        "invalid YAML at column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object:os.system'",
    ),
    "python_apply": Bad(
        _text(GOOD + "x: !!python/object/apply:os.system ['echo hi']\n"),
        8,
        "invalid YAML at column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    "python_name": Bad(
        _text(GOOD + "x: !!python/name:os.system ''\n"),
        8,
        "invalid YAML at column 4: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'",
    ),
    "include_tag": Bad(
        _text(GOOD + "x: !include other.yaml\n"),
        8,
        "invalid YAML at column 4: could not determine a constructor for the tag '!include'",
    ),
    "tag_directive": Bad(
        _text("%TAG !e! tag:evil.example,2024:\n---\n" + GOOD + "x: !e!thing 1\n"),
        10,
        "invalid YAML at column 4: could not determine a constructor for the tag 'tag:evil.example,2024:thing'",
    ),
    "yaml_2_directive": Bad(
        _text("%YAML 2.0\n---\n" + GOOD),
        1,
        "invalid YAML at column 1: found incompatible YAML document",
    ),
    "int_tag_on_text": Bad(
        _text(GOOD + "x: !!int abc\n"),
        8,
        "invalid YAML at column 4: cannot read the value 'abc' as int: invalid literal for int() with base 10: 'abc'",
    ),
    "bool_tag_on_text": Bad(
        _text(GOOD + "x: !!bool maybe\n"),
        8,
        "invalid YAML at column 4: cannot read the value 'maybe' as bool: 'maybe'",
    ),
    "binary_tag_junk": Bad(
        _text(GOOD + "x: !!binary 'abc'\n"),
        8,
        "invalid YAML at column 4: failed to decode base64 data: Incorrect padding",
    ),
    "impossible_date": Bad(
        _text(GOOD.replace("name: good", "name: good\ndescription: 2024-13-45")),
        2,
        "invalid YAML at column 14: cannot read the value '2024-13-45' as timestamp: month must be in 1..12",
    ),
    "str_tag_on_mapping": Bad(
        _text(GOOD + "x: !!str {a: 1}\n"),
        8,
        "invalid YAML at column 4: expected a scalar node, but found mapping",
    ),
    # -- empty and not a mapping ----------------------------------------------------------
    "empty": Bad(b"", 1, "a graph file must be a mapping, got empty"),
    "only_comments": Bad(
        b"# a graph\n# will go here\n", 1, "a graph file must be a mapping, got empty"
    ),
    "only_whitespace": Bad(b"   \n\n  \n", 1, "a graph file must be a mapping, got empty"),
    "scalar_document": Bad(b"just some text\n", 1, "a graph file must be a mapping, got str"),
    "list_document": Bad(b"- name: a\n- name: b\n", 1, "a graph file must be a mapping, got list"),
    "two_documents": Bad(
        _text(GOOD + "---\n" + GOOD), 8, "invalid YAML at column 1: but found another document"
    ),
    # -- keys ----------------------------------------------------------------------------
    "duplicate_key_at_depth": Bad(
        _text(GOOD.replace("{kind: t_step}", "{kind: t_step, params: {a: 1, a: 2}}")),
        5,
        "duplicate key 'a' in nodes.step.params",
    ),
    "duplicate_top_key": Bad(
        _text(GOOD + "name: again\n"), 8, "duplicate key 'name' at the top level"
    ),
    "integer_node_id": Bad(
        _text(GOOD.replace("  step: {kind: t_step}", "  1: {kind: t_step}")),
        5,
        "key 1 in nodes is read as int, but keys must be text",
    ),
    "null_key": Bad(
        _text(GOOD + "~: nothing\n"),
        8,
        "key None at the top level is read as null, but keys must be text",
    ),
    "bool_key": Bad(
        _text(GOOD + "yes: indeed\n"),
        8,
        "key True at the top level is read as bool, but keys must be text",
    ),
    "complex_key": Bad(
        _text(GOOD + "? [a, b]\n: c\n"), 8, "invalid YAML at column 3: found unhashable key"
    ),
    # -- syntax --------------------------------------------------------------------------
    "tab_indent": Bad(
        _text(GOOD.replace("  step:", "\tstep:")),
        5,
        "invalid YAML at column 1: found character that cannot start any token",
    ),
    "unclosed_quote": Bad(
        _text(GOOD.replace("name: good", 'name: "good')),
        8,
        "invalid YAML at column 1: found unexpected end of stream",
    ),
    "unclosed_flow": Bad(
        _text("name: a\nnodes: {source: {kind: t_source}\n"),
        3,
        "invalid YAML at column 1: did not find expected ',' or '}'",
    ),
    "bad_indent": Bad(
        _text("name: a\n  entry: b\n"),
        2,
        "invalid YAML at column 8: mapping values are not allowed in this context",
    ),
    "key_without_colon": Bad(
        _text("name: a\nentry\nnodes: {}\n"),
        3,
        "invalid YAML at column 1: could not find expected ':'",
    ),
    "nan_timeout": Bad(
        _text(GOOD.replace("{kind: t_step}", "{kind: t_step, timeout_s: .nan}")),
        5,
        "nodes.step.timeout_s: Input should be greater than 0 (got float)",
    ),
}


def write_catalogue(folder: Path) -> list[Path]:
    """Write every case as ``folder/<name>.yaml``; return the paths in catalogue order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, case in CASES.items():
        path = folder / f"{name}.yaml"
        path.write_bytes(case.content)
        paths.append(path)
    return paths


def measure(paths: list[Path]) -> list[dict[str, object]]:
    """Load each file with the test kinds; return its first problem, CPU seconds, peak
    traced bytes and the process's peak RSS (bytes) after it."""
    from cogpipe.engine import GraphValidationError, load_graph

    from .kinds import REGISTRY

    found = []
    for path in paths:
        tracemalloc.start()
        started = time.process_time()
        try:
            load_graph(path, REGISTRY)
            first: tuple[int | None, str] | None = None
        except GraphValidationError as exc:
            first = (exc.problems[0].line, exc.problems[0].message)
        cpu = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss = _peak_rss()
        found.append(
            {"file": path.name, "first": first, "cpu_s": cpu, "peak_bytes": peak, "rss_bytes": rss}
        )
    return found


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: ``VmHWM`` from ``/proc/self/status``
    (Linux), not ``ru_maxrss``, which after ``fork`` + ``exec`` still holds the parent's
    peak (the pytest process that started this one)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # not Linux


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    for row in measure(write_catalogue(where)):
        print(json.dumps(row))
