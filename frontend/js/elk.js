// A layered left-to-right layout whose edges route around the nodes: the Eclipse Layout
// Kernel (elkjs, classic script loaded before the modules; global `ELK`), with one port
// per node input (west side) and output (east side). ELK places the nodes and routes
// every edge orthogonally between them; the edges are then drawn along ELK's routes
// (cytoscape `round-segments` through ELK's bend points, endpoints at ELK's ports).
//
// cytoscape-elk is not used: it hands ELK bare nodes and keeps only the positions, so
// cytoscape would draw straight or curved edges through whatever lies between.
// ELK reference: https://eclipse.dev/elk/reference/algorithms/org-eclipse-elk-layered.html

/* global ELK */

const OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '44',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '8',
  'elk.spacing.nodeNode': '22',
  'elk.spacing.edgeNode': '14',
  'elk.spacing.edgeEdge': '8',
  'elk.spacing.portPort': '12',
  'elk.spacing.componentComponent': '26',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
};

let engine = null;

const portId = (node, side, name) => `${node}\u0000${side}\u0000${name}`;

/**
 * Lay out a graph.
 *
 * @param {Array<{id, width, height}>} nodes  node boxes (model pixels)
 * @param {Array<{id, source, target, sourcePort, targetPort}>} edges  port names
 * @returns {Promise<{nodes: Map<id, {x, y, width, height}>, edges: Map<id, Array<{x, y}>>}>}
 *   node centres and sizes (ELK may widen a box to fit its ports), and each edge's route
 *   from its source port through its bends to its target port.
 */
export async function layered(nodes, edges) {
  engine ??= new ELK();
  const ins = new Map(nodes.map((n) => [n.id, new Set()]));
  const outs = new Map(nodes.map((n) => [n.id, new Set()]));
  for (const e of edges) {
    outs.get(e.source)?.add(e.sourcePort);
    ins.get(e.target)?.add(e.targetPort);
  }
  const port = (id, side, name) => ({ id: portId(id, side, name), width: 1, height: 1,
    layoutOptions: { 'elk.port.side': side } });
  const graph = {
    id: 'root',
    layoutOptions: OPTIONS,
    children: nodes.map((n) => ({
      id: n.id, width: n.width, height: n.height,
      layoutOptions: { 'elk.portConstraints': 'FIXED_SIDE',
        'elk.nodeSize.constraints': '[PORTS, MINIMUM_SIZE]',
        'elk.nodeSize.minimum': `(${n.width}, ${n.height})` },
      ports: [...[...ins.get(n.id)].map((p) => port(n.id, 'WEST', p)),
        ...[...outs.get(n.id)].map((p) => port(n.id, 'EAST', p))],
    })),
    edges: edges.map((e) => ({ id: e.id, sources: [portId(e.source, 'EAST', e.sourcePort)],
      targets: [portId(e.target, 'WEST', e.targetPort)] })),
  };
  const out = await engine.layout(graph);
  const placed = new Map(out.children.map((c) => [c.id,
    { x: c.x + c.width / 2, y: c.y + c.height / 2, width: c.width, height: c.height }]));
  const routes = new Map();
  for (const e of out.edges ?? []) {
    const s = e.sections?.[0];
    if (s) routes.set(e.id, [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]);
  }
  return { nodes: placed, edges: routes };
}

/**
 * The cytoscape style that draws an edge along `route` between nodes centred at `from`
 * and `to`: manual endpoints (offsets from the node centres) and, for bends, segment
 * weights and distances along and across the line between the endpoints
 * (`edge-distances: endpoints`, cytoscape's own geometry: the perpendicular is
 * (-dy, dx) / length).
 */
export function edgeStyle(route, from, to) {
  const a = route[0];
  const b = route.at(-1);
  const style = {
    'source-endpoint': `${a.x - from.x}px ${a.y - from.y}px`,
    'target-endpoint': `${b.x - to.x}px ${b.y - to.y}px`,
  };
  const bends = route.slice(1, -1);
  if (!bends.length) return { ...style, 'curve-style': 'straight' };
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy || 1;
  const len = Math.sqrt(len2);
  const weights = bends.map((p) => ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2);
  const distances = bends.map((p) => ((p.x - a.x) * -dy + (p.y - a.y) * dx) / len);
  return { ...style, 'curve-style': 'round-segments', 'edge-distances': 'endpoints',
    'segment-weights': weights.map((w) => w.toFixed(5)).join(' '),
    'segment-distances': distances.map((d) => d.toFixed(3)).join(' '), 'segment-radii': 6 };
}
