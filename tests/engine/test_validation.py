"""Graph validation: one test per rule, comparing the whole message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cogpipe.engine import GraphValidationError, load_graph

from .kinds import REGISTRY

FIXTURES = Path(__file__).parent / "fixtures"

CASES = {
    # YAML syntax errors give line, column and the enclosing construct
    "invalid_yaml": """{path}: 1 problem
  line 5: invalid YAML at column 7: did not find expected ',' or '}'
    while parsing a flow mapping that starts on line 4
    fix: check indentation, colons after keys, and matching quotes/brackets""",
    # a file that is not a mapping
    "not_mapping": """{path}: 1 problem in graph 'not_mapping'
  line 1: a graph file must be a mapping, got list
    fix: start with 'name:', 'entry:', 'nodes:' and 'edges:' keys""",
    # unknown keys and wrong types in the schema
    "schema": """{path}: 3 problems in graph 'schema'
  line 4: unknown key 'param' in nodes.source. Did you mean 'params'?
    allowed keys here: kind, params, timeout_s, critical
  line 5: nodes.step.timeout_s: Input should be a valid number, unable to parse string as a number (got str)
  line 6: unknown key 'edge' at the top level. Did you mean 'edges'?
    allowed keys here: name, description, entry, context, nodes, edges, outputs, approval""",
    # duplicate keys, which YAML would silently merge
    "duplicate_key": """{path}: 1 problem in graph 'duplicate'
  line 6: duplicate key 'step' in nodes
    fix: keep one entry per key; YAML would silently drop the first""",
    # unknown kind lists the known kinds and the closest one
    "unknown_kind": """{path}: 1 problem in graph 'unknown-kind'
  line 5: node 'step': unknown kind 't_stepp'. Known kinds: t_echo, t_join, t_memory, t_pair, t_source, t_step, t_text, t_ticker
    fix: did you mean 't_step'?
    a kind is available when it is built in, declared by an installed package (entry point group 'cogpipe.nodes'), or defined in a node module given with --nodes FILE.py or the node_modules setting (COGPIPE_NODE_MODULES)""",
    # nothing close: no suggestion, only the ways to make a kind available
    "unknown_kind_far": """{path}: 1 problem in graph 'unknown-kind-far'
  line 5: node 'step': unknown kind 'shout_v1'. Known kinds: t_echo, t_join, t_memory, t_pair, t_source, t_step, t_text, t_ticker
    fix: use a known kind, or make yours available:
    a kind is available when it is built in, declared by an installed package (entry point group 'cogpipe.nodes'), or defined in a node module given with --nodes FILE.py or the node_modules setting (COGPIPE_NODE_MODULES)""",
    # unknown and invalid params list the kind's params
    "params": """{path}: 2 problems in graph 'params'
  line 5: node 'step': unknown param 'sleep' for kind 't_step'. Did you mean 'sleep_s'?
    t_step params: sleep_s (float, default 0.0), fail (bool, default False), silent (bool, default False)
  line 6: node 'other': param 'sleep_s': Input should be a valid number, unable to parse string as a number
    t_step params: sleep_s (float, default 0.0), fail (bool, default False), silent (bool, default False)""",
    # unknown ports list the node's ports
    "unknown_port": """{path}: 2 problems in graph 'unknown-port'
  line 7: edge 'source.out -> step.z': node 'step' (t_step) has no input port 'z'
    step inputs: x (dict[str, Any])
  line 8: edge 'source.outt -> step.x': node 'source' (t_source) has no output port 'outt'. Did you mean 'out'?
    source outputs: out (dict[str, Any], optional), reflex (str, optional)""",
    # an edge whose output type does not fit the input type
    "type_mismatch": """{path}: 1 problem in graph 'type-mismatch'
  line 7: edge 'source.reflex -> step.x': output type str does not fit input type dict[str, Any]
    source outputs: out (dict[str, Any], optional), reflex (str, optional); step inputs: x (dict[str, Any])""",
    # a required input with no incoming edge suggests outputs that fit
    "missing_input": """{path}: 1 problem in graph 'missing-input'
  line 6: node 'pair' (t_pair): required input 'b' (dict[str, Any]) has no incoming edge
    fix: add an edge such as 'source.out -> pair.b' (outputs that fit: source.out, step.y)""",
    # nodes that no entry reaches
    "unreachable": """{path}: 2 problems in graph 'unreachable'
  line 6: node 'orphan' (t_step): required input 'x' (dict[str, Any]) has no incoming edge
    fix: add an edge such as 'source.out -> orphan.x' (outputs that fit: source.out, step.y)
  line 7: node 'after' (t_step) is unreachable from every entry (message -> source.text)
    fix: connect it with an edge from a reachable node, or remove it""",
    # cycles
    "cycle": """{path}: 1 problem in graph 'cycle'
  line 9: cycle: a -> b -> a
    fix: remove one edge of the cycle; graphs run without loops""",
    # a critical node must not hang on a non-critical node alone (after-answer work only)
    "critical": """{path}: 1 problem in graph 'critical'
  line 10: edge 'enrich.y -> answer.x': node 'enrich' is critical: false, but the required input 'answer.x' of critical node 'answer' depends on it alone
    fix: mark 'answer' critical: false as well (a failure of 'enrich' would skip it while the run still finishes), or drop critical: false from 'enrich'""",
    # every problem in a file is reported at once
    "many": """{path}: 9 problems in graph 'many'
  line 2: entry 'action': unknown node 'ui'
    nodes: source, step, mem
  line 3: context: node 'step' (t_step) provides no context()
    fix: remove it from 'context:' or use a kind that implements context()
  line 3: context: unknown node 'nobody'
    nodes: source, step, mem
  line 7: node 'mem': unknown kind 't_memorie'. Known kinds: t_echo, t_join, t_memory, t_pair, t_source, t_step, t_text, t_ticker
    fix: did you mean 't_memory'?
    a kind is available when it is built in, declared by an installed package (entry point group 'cogpipe.nodes'), or defined in a node module given with --nodes FILE.py or the node_modules setting (COGPIPE_NODE_MODULES)
  line 10: edge 'source.out step.x' is not of the form 'node.port -> node.port'
    fix: write e.g. 'input.command -> thinker.command'
  line 11: edge 'ghost.y -> step.x': unknown node 'ghost'
    nodes: source, step, mem
  line 12: edge 'step.y -> source.text': output type dict[str, Any] does not fit input type str
    step outputs: y (dict[str, Any], optional); source inputs: text (str)
  line 13: edge 'source.out -> step.x' is listed twice
    fix: remove one of them
  line 14: output 'answer': node 'step' (t_step) has no output port 'x'
    step outputs: y (dict[str, Any], optional)""",
}


@pytest.mark.parametrize("name", list(CASES))
def test_validation_message(name: str) -> None:
    path = FIXTURES / f"{name}.yaml"
    with pytest.raises(GraphValidationError) as info:
        load_graph(path, REGISTRY)
    assert str(info.value) == CASES[name].replace("{path}", str(path))


def test_problems_are_listed_by_line_with_file_and_graph() -> None:
    with pytest.raises(GraphValidationError) as info:
        load_graph(FIXTURES / "many.yaml", REGISTRY)
    err = info.value
    assert err.source == str(FIXTURES / "many.yaml")
    assert err.graph == "many"
    lines = [p.line for p in err.problems]
    assert lines == sorted(lines)
    assert len(lines) == 9


def test_valid_graph_loads_into_a_dag() -> None:
    graph = load_graph(FIXTURES / "valid.yaml", REGISTRY)
    assert graph.name == "valid"
    assert graph.order == ["source", "left", "right", "join", "memory"]
    assert set(graph.dag.edges) == {
        ("source", "left"),
        ("source", "right"),
        ("left", "join"),
        ("right", "join"),
        ("source", "join"),
        ("join", "memory"),
    }
    assert graph.nodes["right"].timeout_s == 5
    assert graph.flow == {"source", "left", "right", "join", "memory"}
