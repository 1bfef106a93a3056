// The trace file dialog: pick one of the server's trace files (GET /api/traces) or a
// JSONL file from disk, then show or replay one of its runs.

import { h } from './dom.js';
import { runSummary } from './runbar.js';
import { parseTrace } from './traces.js';

const MAX_LISTED = 200;

function size(bytes) {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} KB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * The dialog. listFiles() resolves to [{name, size, modified}]; readFile(name) to its
 * text; onRuns(runs) receives a file's runs; onShow(run) and onReplay(run) act on one.
 */
export class TraceDialog {
  constructor(dialog, { listFiles, readFile, onRuns, onShow, onReplay }) {
    Object.assign(this, { dialog, listFiles, readFile, onRuns, onShow, onReplay });
    const $ = (id) => dialog.querySelector(`[data-testid="${id}"]`);
    this.files = $('trace-files');
    this.runs = $('trace-runs');
    this.note = $('trace-note');
    $('trace-upload').addEventListener('change', async (e) => {
      const file = e.target.files?.[0];
      if (file) this.load(file.name, await file.text());
      e.target.value = '';
    });
    $('trace-close').addEventListener('click', () => dialog.close());
  }

  async open() {
    this.dialog.showModal();
    this.files.replaceChildren(h('li', { class: 'muted' }, 'listing the server’s trace files…'));
    try {
      const files = await this.listFiles();
      this.files.replaceChildren(...(files.length ? files.map((f) => h('li', {},
        h('button', { type: 'button', testid: 'trace-file', data: { name: f.name },
          onclick: () => this.fetch(f.name) }, f.name),
        h('span', { class: 'muted' }, ` ${size(f.size)} · ${new Date(f.modified * 1000).toLocaleString()}`)))
        : [h('li', { class: 'muted' }, 'The server has no trace files yet.')]));
    } catch (err) {
      this.files.replaceChildren(h('li', { class: 'err' }, `Could not list trace files: ${err.message}`));
    }
  }

  async fetch(name) {
    this.say(`reading ${name}…`);
    try {
      this.load(name, await this.readFile(name));
    } catch (err) {
      this.say(`Could not read ${name}: ${err.message}`, true);
    }
  }

  load(name, text) {
    const { runs, skipped } = parseTrace(text, name);
    this.onRuns(runs);
    this.say(`${name}: ${runs.length} run${runs.length === 1 ? '' : 's'}` +
      (skipped ? `, ${skipped} line${skipped === 1 ? '' : 's'} that are not trace events skipped` : '') +
      (runs.length > MAX_LISTED ? ` (the newest ${MAX_LISTED} listed)` : ''));
    this.runs.replaceChildren(...runs.slice(0, MAX_LISTED).map((run) => h('li', { testid: 'trace-run',
      data: { run: run.id } },
    h('span', { class: 'trace-run-text' }, `${new Date(run.start * 1000).toLocaleString()} · ` +
      `${runSummary({ ...run, source: null }, null)} · ${run.events.length} events · ` +
      `session ${run.session.slice(0, 8)}`),
    h('button', { type: 'button', testid: 'trace-show', onclick: () => this.pick(run, this.onShow) }, 'Show'),
    h('button', { type: 'button', testid: 'trace-replay', onclick: () => this.pick(run, this.onReplay) },
      '▶ Replay'))));
  }

  pick(run, action) {
    this.dialog.close();
    action(run);
  }

  say(text, bad = false) {
    this.note.textContent = text;
    this.note.classList.toggle('err', bad);
  }
}
