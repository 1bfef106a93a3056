// The graph of the run shown, as a cytoscape.js view: laid out left to right by ELK with
// edges routed around the nodes (elk.js), nodes coloured by their state in that run,
// edges lit where a payload passed. Everything is painted from one run's record
// (runs.js), so the graph never lags the timeline or the inspector. cytoscape is a classic
// script loaded before the modules (global `cytoscape`).

/* global cytoscape */

import { edgeStyle, layered } from './elk.js';
import { nodeState } from './runs.js';

const STATES = ['idle', 'running', 'done', 'skipped', 'failed', 'cancelled', 'unreached'];

const MAX_FIT_ZOOM = 1.3;
const MIN_ZOOM = 0.45; // farther out no label can be read in its box
const READABLE_ZOOM = 0.85; // below this, fonts grow so labels stay about 9 px on screen
const ENTRY_INSIDE_ZOOM = 0.6; // below this, an entry's name no longer fits its tag
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const STYLE = [
  { selector: 'node', style: {
    shape: 'round-rectangle', label: 'data(display)', 'text-wrap': 'wrap',
    'text-valign': 'center', 'text-halign': 'center', 'font-family': FONT, 'font-size': 11,
    color: '#1f2933', width: 'data(w)', height: 'data(h)', 'z-index-compare': 'manual', 'z-index': 5,
    'background-color': '#eef1f5', 'border-width': 2, 'border-color': '#97a3b4',
    'transition-property': 'background-color, border-color, border-width, border-opacity',
    'transition-duration': '150ms' } },
  { selector: 'node.compact', style: {
    label: 'data(label)', 'text-wrap': 'ellipsis', 'text-max-width': 'data(tw)' } },
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
  { selector: 'node.unreached', style: {
    'background-color': '#e2e8f0', 'border-color': '#94a3b8', 'border-style': 'dotted',
    color: '#64748b' } },
  // A run paused at this node (breakpoint, approval gate): an outline around its state.
  { selector: 'node.paused', style: {
    'outline-width': 5, 'outline-color': '#7c3aed', 'outline-offset': 3, 'outline-opacity': 0.9 } },
  // A graph file changed while the server runs: the diff until dismissed (pause.js).
  { selector: 'node[diff = "added"]', style: {
    'outline-width': 4, 'outline-color': '#16a34a', 'outline-offset': 3 } },
  { selector: 'node[diff = "changed"]', style: {
    'outline-width': 4, 'outline-color': '#ea580c', 'outline-offset': 3 } },
  { selector: 'node[diff = "removed"]', style: {
    opacity: 0.4, 'border-style': 'dashed', 'background-color': '#f1f5f9' } },
  { selector: 'edge[diff = "added"]', style: {
    'line-color': '#16a34a', 'target-arrow-color': '#16a34a', width: 3 } },
  { selector: 'edge[diff = "removed"]', style: { opacity: 0.35, 'line-style': 'dashed' } },
  // Entry pseudo-nodes keep their look whatever their state (listed after the states).
  { selector: 'node[role = "entry"]', style: {
    shape: 'round-tag', 'background-color': '#475569', 'border-color': '#475569',
    'border-style': 'solid', color: '#f8fafc', 'font-weight': 'bold' } },
  { selector: 'node[role = "entry"].entered', style: {
    'background-color': '#1e293b', 'border-color': '#1d4ed8', 'border-width': 3 } },
  // Zoomed far out an entry's tag is too small for its name: the name goes above it.
  { selector: 'node[role = "entry"].outside', style: {
    'text-valign': 'top', 'text-margin-y': -3, color: '#1e293b', 'text-max-width': 400 } },
  { selector: 'node:selected', style: {
    'underlay-color': '#2563eb', 'underlay-opacity': 0.18, 'underlay-padding': 7 } },
  { selector: 'edge', style: {
    width: 1.5, 'curve-style': 'straight', 'line-color': '#b8c1cc', 'z-index-compare': 'manual', 'z-index': 1,
    'target-arrow-shape': 'triangle', 'target-arrow-color': '#b8c1cc', 'arrow-scale': 0.8,
    label: 'data(badge)', 'font-family': FONT, 'font-size': 9, color: '#1d4ed8',
    'text-background-color': '#ffffff', 'text-background-opacity': 0.9,
    'text-background-padding': '2px', 'text-background-shape': 'roundrectangle',
    'transition-property': 'line-color, target-arrow-color, width', 'transition-duration': '200ms' } },
  { selector: 'edge.used', style: {
    'line-color': '#60a5fa', 'target-arrow-color': '#60a5fa', width: 2.5, 'z-index': 2 } },
  { selector: 'edge.flash', style: {
    'line-color': '#1d4ed8', 'target-arrow-color': '#1d4ed8', width: 4.5, 'z-index': 3 } },
  // Port names on hover (of the edge, or of a node for all its edges).
  // Drawn above the nodes, so a label near a node is not hidden under it.
  { selector: 'edge.hover', style: {
    label: 'data(ports)', color: '#334155', 'z-index': 9,
    'line-color': '#64748b', 'target-arrow-color': '#64748b' } },
];

const lines = (text) => text.split('\n');

function box(display) {
  const rows = lines(display);
  return { w: Math.max(...rows.map((l) => l.length)) * 6.6 + 22, h: rows.length * 14 + 14 };
}

function nodeLabel(data) {
  return data.role === 'entry' ? data.label : `${data.label}\n${data.kind}`;
}

/** The graph view. onSelect(nodeData | null) is called when a node is clicked. */
export class GraphView {
  constructor(container, { onSelect }) {
    this.name = null;
    this.elements = null;
    this.tickets = 0;
    this.layouts = new Map(); // graph name -> {key, result}: a graph shown again is not laid out again
    this.cy = cytoscape({
      container, style: STYLE, elements: [], minZoom: MIN_ZOOM, maxZoom: 3,
      boxSelectionEnabled: false,
    });
    const cy = this.cy;
    cy.on('tap', 'node', (e) => onSelect(e.target.data()));
    cy.on('tap', (e) => { if (e.target === cy) onSelect(null); });
    cy.on('mouseover', 'edge', (e) => e.target.addClass('hover'));
    cy.on('mouseout', 'edge', (e) => e.target.removeClass('hover'));
    cy.on('mouseover', 'node', (e) => e.target.connectedEdges().addClass('hover'));
    cy.on('mouseout', 'node', (e) => e.target.connectedEdges().removeClass('hover'));
    cy.on('zoom', () => { this.zoomFrame ??= requestAnimationFrame(() => this.readable()); });
    this.pulse = setInterval(() => cy.nodes('.running').toggleClass('pulse'), 450);
    new ResizeObserver(() => this.fit()).observe(container);
  }

  /** Show a graph's cytoscape elements ({nodes, edges}), laid out; resolves when drawn. */
  async render(name, elements) {
    if (name === this.name && elements === this.elements) return;
    const key = JSON.stringify(elements ?? {});
    const ticket = ++this.tickets;
    const nodes = (elements?.nodes ?? []).map((n) => {
      const display = nodeLabel(n.data);
      return { ...n.data, display, ...box(display) };
    });
    const edges = (elements?.edges ?? []).map((e) => ({ ...e.data,
      ports: e.data.source_port === e.data.target_port || e.data.source.startsWith('entry:')
        ? e.data.target_port : `${e.data.source_port} → ${e.data.target_port}` }));
    const cached = this.layouts.get(name);
    const result = cached?.key === key ? cached.result : await layered(
      nodes.map((n) => ({ id: n.id, width: n.w, height: n.h })),
      edges.map((e) => ({ id: e.id, source: e.source, target: e.target,
        sourcePort: e.source.startsWith('entry:') ? 'out' : e.source_port, targetPort: e.target_port })));
    if (ticket !== this.tickets) return; // a newer graph was asked for meanwhile
    this.layouts.set(name, { key, result });
    this.draw(nodes, edges, result);
    Object.assign(this, { name, elements });
  }

  draw(nodes, edges, result) {
    const cy = this.cy;
    cy.batch(() => {
      cy.elements().remove();
      cy.add(nodes.map((n) => {
        const at = result.nodes.get(n.id) ?? { x: 0, y: 0, width: n.w, height: n.h };
        return { group: 'nodes', position: { x: at.x, y: at.y },
          data: { ...n, w: at.width, h: at.height, tw: at.width - 8 } };
      }));
      for (const e of edges) {
        const edge = cy.add({ group: 'edges', data: { ...e, badge: '', count: 0 } });
        const route = result.edges.get(e.id);
        if (route) edge.style(edgeStyle(route, edge.source().position(), edge.target().position()));
      }
    });
    this.fit();
  }

  /** Fit the graph to the panel, but never blow a small graph up past MAX_FIT_ZOOM. */
  fit() {
    const cy = this.cy;
    cy.resize();
    cy.fit(undefined, 14);
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    }
    this.readable();
  }

  /** Below READABLE_ZOOM, labels grow as the graph shrinks and nodes show their id only. */
  readable() {
    this.zoomFrame = null;
    const scale = Math.max(1, READABLE_ZOOM / this.cy.zoom());
    this.cy.batch(() => {
      this.cy.nodes().toggleClass('compact', scale > 1).style('font-size', 11 * scale);
      this.cy.nodes('[role = "entry"]').toggleClass('outside', this.cy.zoom() < ENTRY_INSIDE_ZOOM);
      this.cy.edges().style('font-size', 9 * scale);
    });
  }

  /** Draw `run` (or nothing: every node idle): node states, lit edges, entry. */
  paint(run) {
    this.cy.batch(() => {
      for (const node of this.cy.nodes()) {
        const role = node.data('role');
        const state = role === 'entry' ? 'idle'
          : nodeState(run?.nodes.get(node.id()) ?? null, run, role);
        if (!node.hasClass(state)) {
          node.removeClass(STATES.join(' ')).removeClass('pulse').addClass(state);
        }
        node.toggleClass('entered', role === 'entry' && run?.entry === node.data('label'));
        node.toggleClass('paused', run?.status === 'paused' && run.pause?.node === node.id());
      }
      for (const edge of this.cy.edges()) {
        const source = edge.data('source');
        const count = source.startsWith('entry:')
          ? Number(run?.entry === source.slice(6)) : run?.edges.get(edge.id()) ?? 0;
        if (count !== edge.data('count')) {
          edge.data({ count, badge: count > 1 ? `×${count}` : '' });
          edge.toggleClass('used', count > 0);
        }
      }
    });
  }

  /** Flash the edges a payload just passed (ids as in the elements). */
  flash(ids) {
    for (const id of ids) {
      const edge = this.cy.getElementById(id);
      if (edge.empty()) continue;
      edge.addClass('flash');
      setTimeout(() => edge.removeClass('flash'), 600);
    }
  }

  /** The ids of the edges a run's entry lights (its entry pseudo-node's edges). */
  entryEdges(entry) {
    return this.cy.getElementById(`entry:${entry}`).connectedEdges().map((e) => e.id());
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
    if (id) this.cy.getElementById(id).select();
  }

  /** What a person sees of one node: its state and drawn colours (for tests and debugging). */
  describe(id) {
    const node = this.cy.getElementById(id);
    if (node.empty()) return null;
    const state = STATES.find((s) => node.hasClass(s)) ?? 'idle';
    const pos = node.renderedPosition();
    return { id, state, role: node.data('role'), kind: node.data('kind'),
      paused: node.hasClass('paused'), diff: node.data('diff') ?? null,
      background: node.style('background-color'), border: node.style('border-color'),
      x: pos.x, y: pos.y, visible: node.visible(), font: node.renderedStyle('font-size') };
  }

  edgeCount(id) {
    const edge = this.cy.getElementById(id);
    return edge.empty() ? null : edge.data('count');
  }

  /** Rendered geometry (pixels in the panel): node boxes and each edge's polyline. */
  geometry() {
    const cy = this.cy;
    return {
      nodes: cy.nodes().map((n) => ({ id: n.id(),
        box: n.renderedBoundingBox({ includeLabels: false, includeOverlays: false,
          includeUnderlays: false }) })),
      edges: cy.edges().map((e) => ({ id: e.id(), source: e.data('source'), target: e.data('target'),
        points: [e.renderedSourceEndpoint(),
          ...(e.pstyle('curve-style').value.endsWith('segments') ? e.renderedSegmentPoints() : []),
          e.renderedTargetEndpoint()] })),
    };
  }
}
