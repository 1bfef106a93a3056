// One run's timeline: a bar per node from node.started to its end, on a shared time axis,
// so branches that run concurrently (Output and UI) are seen side by side.

import { h, ms } from './dom.js';
import { runTitle } from './runs.js';

/** The timeline panel. Pick a run from the menu; by default it follows the newest run. */
export class Timeline {
  constructor(root) {
    this.body = root.querySelector('[data-testid="timeline-body"]');
    this.picker = root.querySelector('[data-testid="timeline-run"]');
    this.summary = root.querySelector('[data-testid="timeline-summary"]');
    this.follow = true;
    this.picked = null;
    this.picker.addEventListener('change', () => {
      this.follow = this.picker.value === '';
      this.picked = this.picker.value || null;
      this.onPick?.();
    });
  }

  /** The run to draw: the picked one, or the newest. */
  choose(runs) {
    return (!this.follow && runs.get(this.picked)) || runs.latest;
  }

  render(runs) {
    this.fillPicker(runs);
    const run = this.choose(runs);
    if (!run) {
      this.summary.textContent = '';
      this.body.replaceChildren(h('p', { class: 'empty' }, 'No run yet.'));
      return;
    }
    const now = run.end ?? Math.max(Date.now() / 1000, lastTs(run));
    const total = Math.max(now - run.start, 0.001);
    const pct = (ts) => `${(((ts - run.start) / total) * 100).toFixed(3)}%`;
    this.summary.textContent = `${run.entry ?? ''}: ${runTitle(run).slice(0, 40)} · ` +
      `${run.status} · ${ms(run.duration_ms ?? total * 1000)}`;
    const nodes = [...run.nodes.values()].filter((n) => n.start !== null || n.status === 'skipped');
    nodes.sort((a, b) => (a.start ?? a.end ?? Infinity) - (b.start ?? b.end ?? Infinity));
    const rows = nodes.map((n) => {
      const start = n.start ?? n.end;
      const end = n.end ?? now;
      const bar = h('div', {
        class: `bar state-${n.status}`, testid: 'timeline-bar',
        data: { node: n.id, state: n.status },
        title: `${n.id}: ${n.status} · +${ms((start - run.start) * 1000)} → ` +
          `+${ms((end - run.start) * 1000)}${n.duration_ms != null ? ` (${ms(n.duration_ms)})` : ''}`,
        style: `left:${pct(start)};width:max(3px, calc(${pct(end)} - ${pct(start)}))`,
      });
      return h('div', { class: 'tl-row', data: { node: n.id } },
        h('span', { class: 'tl-name' }, n.id),
        h('div', { class: 'tl-track' }, bar),
        h('span', { class: 'tl-time' }, n.status === 'skipped' ? 'skipped' : ms(n.duration_ms ??
          (end - start) * 1000)));
    });
    const axis = h('div', { class: 'tl-row tl-axis' }, h('span', { class: 'tl-name' }),
      h('div', { class: 'tl-track' }, h('span', { style: 'left:0' }, '0'),
        h('span', { style: 'left:50%' }, ms(total * 500)),
        h('span', { style: 'right:0' }, ms(total * 1000))), h('span', { class: 'tl-time' }));
    this.body.replaceChildren(...rows, axis);
  }

  fillPicker(runs) {
    const list = runs.list().reverse();
    const key = list.map((r) => `${r.id}:${r.entry}`).join(',');
    if (key === this.pickerKey) return;
    this.pickerKey = key;
    const options = [h('option', { value: '' }, 'newest run')].concat(list.map((r) => h('option',
      { value: r.id }, `${new Date(r.start * 1000).toLocaleTimeString()} · ${r.entry ?? ''} ` +
      `${runTitle(r).slice(0, 30)}`)));
    this.picker.replaceChildren(...options);
    this.picker.value = this.follow ? '' : this.picked;
  }
}

function lastTs(run) {
  let last = run.start;
  for (const n of run.nodes.values()) last = Math.max(last, n.end ?? n.start ?? last);
  return last;
}
