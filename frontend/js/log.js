// Every trace event as one line, filterable by node and by event type.

import { h, keepBottom, ms, show } from './dom.js';

const MAX_ROWS = 2000;
const NO_DELTAS = '!output.delta';

/** One line of text saying what an event means. */
export function describe(ev) {
  const d = ev.data ?? {};
  const cut = (v, n = 140) => { const s = show(v); return s.length > n ? `${s.slice(0, n - 1)}…` : s; };
  switch (ev.type) {
    case 'run.started': return `${d.entry}: ${cut(d.input)}`;
    case 'run.finished': return `${d.executed} ran, ${d.skipped} skipped · ${ms(ev.duration_ms)}`;
    case 'run.failed': case 'run.interrupted': case 'node.failed': case 'llm.failed':
      return cut(d.error);
    case 'run.ledger': return `critical path ${(d.critical_path ?? []).map((s) => s.node).join(' → ')}` +
      ` · ${ms(d.wall_ms)}`;
    case 'node.started': return `inputs: ${Object.keys(d.inputs ?? {}).join(', ') || '–'}`;
    case 'node.finished':
      return `outputs: ${Object.keys(d.outputs ?? {}).join(', ') || 'none'} · ${ms(ev.duration_ms)}`;
    case 'node.skipped': return cut(d.reason);
    case 'edge.fired': return `${d.from} → ${d.to}: ${cut(d.preview, 90)}`;
    case 'output.delta': case 'llm.delta': return JSON.stringify(d.text ?? '');
    case 'ui.controls': return `v${d.version}: ${(d.controls ?? []).map((c) => c.id).join(', ')}`;
    case 'llm.request':
      return `${d.model} · ${d.purpose ?? ''}` + (d.attempt > 1 ? ` · attempt ${d.attempt} after ${d.after}` : '');
    case 'llm.mode_changed': return `${d.model}: ${d.setting} ${d.from} → ${d.to}`;
    case 'llm.response':
      return `${d.model} · ${d.tokens_in ?? '?'}→${d.tokens_out ?? '?'} tokens · ${ms(d.latency_ms)}` +
        (d.ttft_ms !== undefined ? ` · first token ${ms(d.ttft_ms)}` : '');
    case 'tool.started': return `${d.server}.${d.tool} ${cut(d.arguments, 90)}`;
    case 'tool.finished': return `${d.server}.${d.tool} → ${cut(d.result, 100)} · ${ms(d.duration_ms)}`;
    case 'tool.failed': return `${d.server ?? ''}.${d.tool}: ${cut(d.error)}`;
    case 'graph.switched': return `${d.from} → ${d.to}`;
    case 'sensor.flag': return `${d.flag}: ${cut(d.detail)}`;
    case 'session.started': return `graph ${d.graph}`;
    default: return cut(d);
  }
}

/** The event log panel. */
export class EventLog {
  constructor(root) {
    this.list = root.querySelector('[data-testid="log-list"]');
    this.nodeFilter = root.querySelector('[data-testid="log-filter-node"]');
    this.typeFilter = root.querySelector('[data-testid="log-filter-type"]');
    this.count = document.querySelector('[data-testid="log-count"]');
    this.shown = root.querySelector('[data-testid="log-shown"]');
    this.nodes = new Set();
    this.types = new Set();
    this.runStart = new Map();
    this.pending = [];
    this.frame = null;
    this.nodeFilter.addEventListener('change', () => this.refilter());
    this.typeFilter.addEventListener('change', () => this.refilter());
    this.list.addEventListener('click', (e) => e.target.closest('.log-row')?.classList.toggle('open'));
    this.fillTypes();
  }

  /** Make the graph's node ids choosable before they have produced any event. */
  knowNodes(ids) {
    let added = false;
    for (const id of ids) if (!this.nodes.has(id)) { this.nodes.add(id); added = true; }
    if (added) this.fillNodes();
  }

  add(ev) {
    if (ev.type === 'run.started') this.runStart.set(ev.run_id, ev.ts);
    const t0 = this.runStart.get(ev.run_id);
    const when = t0 !== undefined ? `+${ms((ev.ts - t0) * 1000)}` : new Date(ev.ts * 1000).toLocaleTimeString();
    const row = h('div', {
      class: `log-row t-${ev.type.split('.')[0]} ${ev.type.endsWith('failed') ? 'bad' : ''}`,
      testid: 'log-row', data: { seq: ev.seq ?? '', type: ev.type, node: ev.node ?? '' },
      title: `#${ev.seq} at ${when}: click for the whole event`,
    },
    h('span', { class: 'log-seq' }, ev.seq ?? ''),
    h('span', { class: 'log-type' }, ev.type),
    h('span', { class: 'log-node' }, ev.node ?? ''),
    h('span', { class: 'log-text' }, describe(ev)),
    h('pre', { class: 'log-detail verbatim' }, JSON.stringify(ev, null, 2)));
    this.pending.push(row);
    if (ev.node && !this.nodes.has(ev.node)) { this.nodes.add(ev.node); this.fillNodes(); }
    if (!this.types.has(ev.type)) { this.types.add(ev.type); this.fillTypes(); }
    // Rows go in once per frame: a replayed ring of thousands of events costs one layout.
    this.frame ??= requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    const rows = this.pending.splice(0);
    for (const row of rows) row.hidden = !this.matches(row);
    keepBottom(this.list, () => {
      this.list.append(...rows);
      while (this.list.childElementCount > MAX_ROWS) this.list.firstElementChild.remove();
    });
    this.updateCount();
  }

  matches(row) {
    const node = this.nodeFilter.value;
    const type = this.typeFilter.value;
    if (node && row.dataset.node !== node) return false;
    if (type === NO_DELTAS) return row.dataset.type !== 'output.delta';
    if (type.endsWith('.*')) return row.dataset.type.startsWith(type.slice(0, -1));
    return !type || row.dataset.type === type;
  }

  refilter() {
    for (const row of this.list.children) row.hidden = !this.matches(row);
    this.updateCount();
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Scroll to the newest event (when the log becomes visible). */
  reveal() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  updateCount() {
    let shown = 0;
    for (const row of this.list.children) if (!row.hidden) shown++;
    const total = this.list.childElementCount;
    this.count.textContent = `${total}`;
    this.count.title = `${total} events received${total >= MAX_ROWS ? ` (the newest ${MAX_ROWS} kept)` : ''}`;
    const hidden = [this.nodeFilter.value ? `node ${this.nodeFilter.value}` : '',
      this.typeFilter.value === NO_DELTAS ? 'output.delta hidden' : this.typeFilter.value ? `type ${this.typeFilter.value}` : '']
      .filter(Boolean).join(', ');
    this.shown.textContent = shown === total ? `all ${total} events` : `showing ${shown} of ${total} events (${hidden})`;
  }

  fillNodes() {
    const value = this.nodeFilter.value;
    this.nodeFilter.replaceChildren(h('option', { value: '' }, 'all nodes'),
      ...[...this.nodes].sort().map((n) => h('option', { value: n }, n)));
    this.nodeFilter.value = value;
  }

  fillTypes() {
    const value = this.typeFilter.value || NO_DELTAS;
    const groups = [...new Set([...this.types].map((t) => `${t.split('.')[0]}.*`))].sort();
    this.typeFilter.replaceChildren(
      h('option', { value: NO_DELTAS }, 'all but output.delta'),
      h('option', { value: '' }, 'all types'),
      h('optgroup', { label: 'groups' }, groups.map((g) => h('option', { value: g }, g))),
      h('optgroup', { label: 'types' }, [...this.types].sort().map((t) => h('option', { value: t }, t))));
    this.typeFilter.value = value;
  }
}
