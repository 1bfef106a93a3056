// The timeline of the run shown: a bar per node from its start to its end on a shared time
// axis, its LLM and tool calls as sub-spans inside the bar, and a band behind the rows
// wherever two or more nodes ran at once (Output and UI side by side). Zoom widens the
// axis (the body scrolls); a bar never gets narrower than MIN_PX, and a bar drawn wider
// than its true duration says so in its label.

import { h, ms } from './dom.js';

const MIN_PX = 6;
const ZOOMS = [1, 2, 4, 8, 16, 32];

/** Intervals (in seconds) where at least two of `spans` overlap: [{from, to, n}]. */
function overlaps(spans) {
  const marks = spans.flatMap(([a, b]) => [[a, 1], [b, -1]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out = [];
  let open = 0;
  let since = null;
  for (const [t, step] of marks) {
    if (open >= 2 && since !== null && t > since) out.push({ from: since, to: t, n: open });
    open += step;
    since = t;
  }
  return out;
}

/** The ids of the nodes that were running at some moment while `n` was. */
function alongside(n, nodes, end) {
  if (n.start === null) return [];
  const stop = n.end ?? end;
  return nodes.filter((o) => o !== n && o.start !== null && o.start < stop && n.start < (o.end ?? end))
    .map((o) => o.id);
}

/** The timeline panel; `now()` is the clock used for bars still running. */
export class Timeline {
  constructor(root) {
    this.body = root.querySelector('[data-testid="timeline-body"]');
    this.zoomLabel = root.querySelector('[data-testid="timeline-zoom"]');
    this.zoom = 1;
    for (const btn of root.querySelectorAll('[data-zoom]')) {
      btn.addEventListener('click', () => this.setZoom(btn.dataset.zoom));
    }
    this.body.addEventListener('wheel', (e) => {
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      this.setZoom(e.deltaY < 0 ? 'in' : 'out');
    }, { passive: false });
  }

  setZoom(how) {
    const i = ZOOMS.indexOf(this.zoom);
    this.zoom = how === 'in' ? ZOOMS[Math.min(i + 1, ZOOMS.length - 1)]
      : how === 'out' ? ZOOMS[Math.max(i - 1, 0)] : 1;
    this.zoomLabel.textContent = `${this.zoom}×`;
    this.onZoom?.();
  }

  render(run, now = Date.now() / 1000) {
    if (!run) {
      this.body.replaceChildren(h('p', { class: 'empty' }, 'No run to show yet.'));
      return;
    }
    const end = run.end ?? Math.max(now, run.last);
    const total = Math.max(end - run.start, 0.001);
    const pct = (ts) => `${(((ts - run.start) / total) * 100).toFixed(3)}%`;
    const nodes = [...run.nodes.values()].filter((n) => n.start !== null || n.status === 'skipped');
    nodes.sort((a, b) => (a.start ?? a.end ?? Infinity) - (b.start ?? b.end ?? Infinity));
    const spans = nodes.filter((n) => n.start !== null).map((n) => [n.start, n.end ?? end]);
    const bands = overlaps(spans).map((o) => h('div', { class: 'tl-band', testid: 'timeline-overlap',
      title: `${o.n} nodes running at once for ${ms((o.to - o.from) * 1000)}`,
      style: `left:${pct(o.from)};width:max(2px, calc(${pct(o.to)} - ${pct(o.from)}))` }));
    const critical = new Set((run.ledger?.critical_path ?? []).map((s) => s.node));
    const rows = nodes.map((n) => this.row(n, run, end, pct, alongside(n, nodes, end), critical));
    const track = h('div', { class: 'tl-lanes', style: `width:${this.zoom * 100}%` },
      h('div', { class: 'tl-bands' }, bands), rows, this.axis(total));
    const keep = this.body.scrollLeft;
    this.body.replaceChildren(track);
    this.body.scrollLeft = keep;
  }

  row(n, run, end, pct, others, critical) {
    const start = n.start ?? n.end;
    const stop = n.end ?? end;
    const skipped = n.status === 'skipped';
    const label = (skipped ? 'skipped' : ms(n.duration_ms ?? (stop - start) * 1000)) +
      (others.length ? ` ∥ ${others.join(', ')}` : '');
    const bar = h('div', {
      class: `bar state-${n.status}`, testid: 'timeline-bar', data: { node: n.id, state: n.status },
      title: `${n.id}: ${n.status} · +${ms((start - run.start) * 1000)} → +${ms((stop - run.start) * 1000)}` +
        ` (${label})`,
      style: `left:${pct(start)};width:max(${MIN_PX}px, calc(${pct(stop)} - ${pct(start)}))`,
    });
    // The duration goes right of the bar, or left of it when the bar ends near the edge.
    const late = (stop - run.start) / Math.max(end - run.start, 0.001) > 0.82;
    const dur = h('span', { class: 'tl-dur', testid: 'timeline-duration', style: late
      ? `right:calc(100% - ${pct(start)} + 4px)` : `left:calc(max(${pct(stop)}, ${pct(start)} + ${MIN_PX}px) + 4px)` },
    label);
    const subs = [...n.llm.map((c) => this.sub(c, 'llm', `${c.purpose ?? 'LLM'} · ${c.model ?? ''}`, pct, end)),
      ...n.tools.map((c) => this.sub(c, 'tool', `${c.server ?? '?'}.${c.tool}`, pct, end))];
    return h('div', { class: 'tl-row', data: { node: n.id } },
      h('span', { class: `tl-name${critical.has(n.id) ? ' critical' : ''}`, testid: 'timeline-name',
        title: critical.has(n.id) ? `${n.id}: on the critical path (run.ledger)` : n.id }, n.id),
      h('div', { class: 'tl-track' }, bar, subs, dur));
  }

  /** An LLM or tool call inside its node's bar (same track coordinates as the bar). */
  sub(call, kind, name, pct, end) {
    const stop = call.end ?? end;
    return h('div', { class: `sub sub-${kind} ${call.status}`, testid: 'timeline-sub',
      data: { kind, call: call.id },
      title: `${kind === 'llm' ? 'LLM' : 'tool'} ${name}: ${call.status} · ${ms((stop - call.start) * 1000)}`,
      style: `left:${pct(call.start)};width:max(3px, calc(${pct(stop)} - ${pct(call.start)}))` });
  }

  axis(total) {
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { style: `left:${f * 100}%` },
      f === 0 ? '0' : ms(total * 1000 * f)));
    return h('div', { class: 'tl-row tl-axis' }, h('span', { class: 'tl-name' }),
      h('div', { class: 'tl-track' }, ticks));
  }
}
