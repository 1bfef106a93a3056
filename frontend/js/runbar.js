// The bar above the graph: which run every panel shows (the newest, live, or any past
// run: time travel), what that run was, and the replay controls.

import { h, ms } from './dom.js';
import { SPEEDS } from './replay.js';
import { runTitle } from './runs.js';

const LIVE = '';

function when(run) {
  return new Date(run.start * 1000).toLocaleTimeString();
}

/** One line about a run: entry and input, status, duration, graph, where it came from. */
export function runSummary(run, sessionGraph) {
  if (!run) return 'no run yet';
  const took = run.duration_ms ?? (run.last - run.start) * 1000;
  return [`${run.entry ?? '?'}: ${runTitle(run)}`, run.status, ms(took),
    run.graph !== sessionGraph ? `graph ${run.graph}` : '',
    run.source ? `from ${run.source}` : ''].filter(Boolean).join(' · ');
}

/**
 * The run bar. Callbacks: onPick(runId | null), onReplay(), onPlayPause(), onSpeed(x),
 * onSeek(index), onStop(), onTrace().
 */
export class RunBar {
  constructor(root, callbacks) {
    const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
    Object.assign(this, callbacks);
    this.picker = $('run-picker');
    this.summary = $('run-summary');
    this.replayBtn = $('replay-button');
    this.speed = $('replay-speed');
    this.progress = $('replay-progress');
    this.position = $('replay-position');
    this.stopBtn = $('replay-stop');
    this.speed.replaceChildren(...SPEEDS.map((s) => h('option', { value: s }, `${s}×`)));
    this.speed.value = '1';
    this.picker.addEventListener('change', () => this.onPick(this.picker.value || null));
    this.replayBtn.addEventListener('click', () => this.onPlayPause());
    this.speed.addEventListener('change', () => this.onSpeed(Number(this.speed.value)));
    this.progress.addEventListener('input', () => this.onSeek(Number(this.progress.value)));
    this.stopBtn.addEventListener('click', () => this.onStop());
    $('trace-button').addEventListener('click', () => this.onTrace());
  }

  /** runs: the session's (oldest first); loaded: runs from trace files; shown: the run drawn. */
  render({ runs, loaded, shown, pinned, replay, sessionGraph }) {
    this.fill(runs, loaded, pinned);
    const text = replay && !shown ? 'replay: before the run started' : runSummary(shown, sessionGraph);
    if (this.summary.textContent !== text) {
      this.summary.textContent = text;
      this.summary.title = shown ? `run ${shown.id}\n${text}` : '';
    }
    this.summary.dataset.status = shown?.status ?? 'none';
    const active = Boolean(replay);
    this.replayBtn.textContent = replay?.playing ? '❚❚ Pause' : '▶ Replay';
    this.replayBtn.disabled = !shown && !replay;
    this.replayBtn.title = 'replay the run shown from its events';
    for (const el of [this.progress, this.position, this.stopBtn]) el.hidden = !active;
    if (active) {
      this.progress.max = String(replay.total);
      this.progress.value = String(replay.index);
      this.position.textContent = `${replay.index}/${replay.total} events`;
    }
  }

  fill(runs, loaded, pinned) {
    const key = [...runs, ...loaded].map((r) => `${r.id}:${r.status}`).join(',') + `|${pinned}`;
    if (key === this.key) return;
    this.key = key;
    const option = (r) => h('option', { value: r.id },
      `${when(r)} · ${r.entry ?? '?'}: ${runTitle(r).slice(0, 40)} · ${r.status}`);
    const bySource = new Map();
    for (const r of loaded) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
    this.picker.replaceChildren(...[
      h('option', { value: LIVE }, 'newest run (live)'),
      runs.length ? h('optgroup', { label: 'this session' }, [...runs].reverse().map(option)) : null,
      ...[...bySource].map(([source, list]) => h('optgroup', { label: `trace ${source}` }, list.map(option))),
    ].filter(Boolean));
    this.picker.value = pinned ?? LIVE;
  }
}
