// The active graph as a cytoscape.js view: dagre left to right, nodes coloured by state,
// edges that flash and count payloads. cytoscape and cytoscape-dagre are classic scripts
// loaded before the modules (globals `cytoscape`, registered layout 'dagre').

/* global cytoscape */

export const STATES = ['idle', 'running', 'done', 'skipped', 'failed', 'cancelled'];

const MAX_FIT_ZOOM = 1.4;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const STYLE = [
  { selector: 'node', style: {
    shape: 'round-rectangle', label: 'data(display)', 'text-wrap': 'wrap',
    'text-valign': 'center', 'text-halign': 'center', 'font-family': FONT, 'font-size': 11,
    color: '#1f2933', width: (n) => labelWidth(n), height: (n) => labelHeight(n),
    'background-color': '#eef1f5', 'border-width': 2, 'border-color': '#97a3b4',
    'transition-property': 'background-color, border-color, border-width, border-opacity',
    'transition-duration': '180ms' } },
  { selector: 'node[role = "context"]', style: {
    shape: 'barrel', 'border-style': 'dashed', 'background-color': '#f4f0ff',
    'border-color': '#8b5cf6' } },
  { selector: 'node.running', style: {
    'background-color': '#fde68a', 'border-color': '#d97706', 'border-width': 3 } },
  // The pulse: a timer toggles .pulse on running nodes and the transition animates it.
  { selector: 'node.running.pulse', style: {
    'background-color': '#fbbf24', 'border-width': 8, 'border-opacity': 0.35 } },
  { selector: 'node.done', style: { 'background-color': '#bbf7d0', 'border-color': '#16a34a' } },
  { selector: 'node.skipped', style: {
    'background-color': '#f8fafc', 'border-color': '#cbd5e1', 'border-style': 'dashed',
    color: '#94a3b8' } },
  { selector: 'node.failed', style: {
    'background-color': '#fecaca', 'border-color': '#dc2626', 'border-width': 3 } },
  { selector: 'node.cancelled', style: {
    'background-color': '#ffedd5', 'border-color': '#ea580c', 'border-style': 'dashed' } },
  // Entry pseudo-nodes keep their look whatever their state (listed after the states).
  { selector: 'node[role = "entry"]', style: {
    shape: 'round-tag', 'background-color': '#334155', 'border-color': '#334155', 'border-style': 'solid',
    color: '#f8fafc', 'font-weight': 'bold' } },
  { selector: 'node:selected', style: {
    'underlay-color': '#2563eb', 'underlay-opacity': 0.18, 'underlay-padding': 7 } },
  { selector: 'edge', style: {
    width: 1.5, 'curve-style': 'bezier', 'line-color': '#b8c1cc',
    'target-arrow-shape': 'triangle', 'target-arrow-color': '#b8c1cc', 'arrow-scale': 0.9,
    label: 'data(display)', 'font-family': FONT, 'font-size': 9, color: '#64748b',
    'text-rotation': 'autorotate', 'text-background-color': '#ffffff',
    'text-background-opacity': 0.85, 'text-background-padding': '2px',
    'transition-property': 'line-color, target-arrow-color, width',
    'transition-duration': '250ms' } },
  { selector: 'edge.used', style: {
    'line-color': '#60a5fa', 'target-arrow-color': '#60a5fa', width: 2.5, color: '#1d4ed8' } },
  { selector: 'edge.flash', style: {
    'line-color': '#1d4ed8', 'target-arrow-color': '#1d4ed8', width: 5 } },
];

// Node boxes fit their label (cytoscape deprecated width/height: 'label').
function labelWidth(node) {
  const lines = node.data('display').split('\n');
  return Math.max(...lines.map((l) => l.length)) * 6.6 + 22;
}

function labelHeight(node) {
  return node.data('display').split('\n').length * 14 + 14;
}

function nodeLabel(data) {
  if (data.role === 'entry') return data.label;
  return `${data.label}\n${data.kind}`;
}

/** The graph view. onSelect(nodeData | null) is called when a node is clicked. */
export class GraphView {
  constructor(container, { onSelect }) {
    this.name = null;
    this.cy = cytoscape({
      container, style: STYLE, elements: [], minZoom: 0.3, maxZoom: 2.5,
      boxSelectionEnabled: false,
    });
    this.cy.on('tap', 'node', (e) => onSelect(e.target.data()));
    this.cy.on('tap', (e) => { if (e.target === this.cy) onSelect(null); });
    this.pulse = setInterval(() => this.cy.nodes('.running').toggleClass('pulse'), 450);
    new ResizeObserver(() => this.fit()).observe(container);
  }

  /** Replace the view with a graph's cytoscape elements ({nodes, edges}). */
  render(name, elements) {
    this.name = name;
    const cy = this.cy;
    cy.batch(() => {
      cy.elements().remove();
      cy.add([
        ...(elements?.nodes ?? []).map((n) => ({ group: 'nodes',
          data: { ...n.data, display: nodeLabel(n.data) } })),
        ...(elements?.edges ?? []).map((e) => ({ group: 'edges',
          data: { ...e.data, display: e.data.label ?? '', count: 0 } })),
      ]);
    });
    this.resetStates();
    cy.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 14, rankSep: 42, edgeSep: 6,
      nodeDimensionsIncludeLabels: true, fit: false }).run();
    this.fit();
  }

  /** Fit the graph to the panel, but never blow a small graph up past MAX_FIT_ZOOM. */
  fit() {
    const cy = this.cy;
    cy.resize();
    cy.fit(undefined, 18);
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    }
  }

  /** Every node back to idle, every edge count to zero (at each run.started). */
  resetStates() {
    this.cy.batch(() => {
      this.cy.nodes().removeClass(STATES.join(' ')).removeClass('pulse').addClass('idle');
      this.cy.edges().removeClass('used flash').forEach((e) => {
        e.data({ count: 0, display: e.data('label') ?? '' });
      });
    });
  }

  setState(id, state) {
    const node = this.cy.getElementById(id);
    if (node.empty()) return;
    node.removeClass(STATES.join(' ')).removeClass('pulse').addClass(state);
  }

  /** A payload passed along an edge: count it, and flash it if `animate`. */
  fire(edgeId, animate) {
    const edge = this.cy.getElementById(edgeId);
    if (edge.empty()) return;
    const count = edge.data('count') + 1;
    edge.data({ count, display: `${edge.data('label') ?? ''} ×${count}` });
    edge.addClass('used');
    if (animate) {
      edge.addClass('flash');
      setTimeout(() => edge.removeClass('flash'), 600);
    }
  }

  /** The edges from an entry pseudo-node light up when a run enters there. */
  enter(entry, animate) {
    const source = this.cy.getElementById(`entry:${entry}`);
    if (source.empty()) return;
    source.connectedEdges().forEach((e) => this.fire(e.id(), animate));
  }

  nodeIds() {
    return this.cy.nodes().filter((n) => n.data('role') !== 'entry').map((n) => n.id());
  }

  data(id) {
    const node = this.cy.getElementById(id);
    return node.empty() ? null : node.data();
  }

  select(id) {
    this.cy.nodes().unselect();
    this.cy.getElementById(id).select();
  }

  /** What a person sees of one node: its state and drawn colours (for tests and debugging). */
  describe(id) {
    const node = this.cy.getElementById(id);
    if (node.empty()) return null;
    const state = STATES.find((s) => node.hasClass(s)) ?? 'idle';
    const pos = node.renderedPosition();
    return { id, state, role: node.data('role'), kind: node.data('kind'),
      background: node.style('background-color'), border: node.style('border-color'),
      x: pos.x, y: pos.y, visible: node.visible() };
  }

  edgeCount(id) {
    const edge = this.cy.getElementById(id);
    return edge.empty() ? null : edge.data('count');
  }
}
