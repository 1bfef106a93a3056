// The clicked node in the run the HUD shows: what it is (kind, params, ports) and what it
// did in that run (timing, inputs and outputs as JSON, LLM calls with their requests and
// live tokens, tool calls). Redrawn from the run's record whenever it changes; folds the
// reader opened or closed stay so.

import { llmCall, toolCall } from './calls.js';
import { h, ms, show } from './dom.js';
import { jsonView } from './json.js';
import { nodeState } from './runs.js';

const NOT_RUN = {
  idle: 'has not run in the run shown',
  unreached: 'was never reached: the run ended before its inputs arrived',
};

function section(title, body, testid) {
  return h('section', { class: 'insp-section', testid }, h('h3', {}, title), body);
}

function ports(list) {
  if (!list?.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'ports' }, list.map((p) => h('li', {},
    h('b', {}, p.name), ` ${p.type}`, p.required ? '' : h('span', { class: 'muted' }, ' (optional)'))));
}

function values(obj, key, testid, empty) {
  const entries = Object.entries(obj ?? {});
  if (!entries.length) return h('div', { class: 'muted', testid }, empty);
  return h('dl', { class: 'values', testid }, entries.map(([port, preview]) => [
    h('dt', {}, port), h('dd', {}, jsonView(preview, `${key}/${port}`))]));
}

function definition(node, key) {
  const params = Object.entries(node.params ?? {});
  return h('details', { class: 'definition', data: { key: `${key}/def` } },
    h('summary', {}, 'params and ports'),
    h('h4', {}, 'params'),
    params.length ? h('dl', { class: 'kv' }, params.map(([k, v]) => [h('dt', {}, k),
      h('dd', {}, h('code', { class: 'verbatim' }, show(v)))])) : h('span', { class: 'muted' }, 'defaults'),
    node.timeout_s ? h('div', { class: 'muted' }, `timeout ${node.timeout_s} s`) : null,
    h('div', { class: 'ports-grid' },
      h('div', {}, h('h4', {}, 'inputs'), ports(node.inputs)),
      h('div', {}, h('h4', {}, 'outputs'), ports(node.outputs))));
}

const PARTS = [
  ['upstream_ms', 'waiting for upstream'], ['engine_ms', 'engine'], ['own_ms', 'own code'],
  ['llm_ms', 'LLM'], ['tool_ms', 'tools'],
];

const span = (v) => (v ? ms(v) : '0'); // ms() shows at least 1 µs

// Where this node's time went in the run (its run.ledger entry), as a bar and numbers.
function ledgerPart(run, id) {
  const entry = run?.ledger?.nodes?.[id];
  if (!entry) return null;
  const wall = entry.wall_ms || 1;
  const bar = h('div', { class: 'ledger-bar', title: 'first input arrived → node ended' },
    PARTS.map(([k, label]) => h('span', { class: `part ${k}`, title: `${label} ${span(entry[k])}`,
      style: `width: ${(100 * entry[k]) / wall}%` })));
  const onPath = run.ledger.critical_path.some((s) => s.node === id);
  return section('Where the time went', h('div', { testid: 'inspector-ledger' }, bar,
    h('dl', { class: 'kv' }, [['wall', entry.wall_ms], ...PARTS.map(([k, l]) => [l, entry[k]])]
      .map(([label, v]) => [h('dt', {}, label), h('dd', {}, span(v))])),
    entry.ttft_ms != null ? h('div', { class: 'muted' }, `time to first token ${ms(entry.ttft_ms)}`) : null,
    h('div', { class: 'muted', testid: 'inspector-critical' }, onPath
      ? 'on the critical path: making it faster makes the turn faster'
      : 'not on the critical path')));
}

/** The inspector panel. */
export class Inspector {
  constructor(root) {
    this.body = root.querySelector('[data-testid="inspector-body"]');
    this.folds = new Map(); // data-key -> open, as the reader left it
    // A click on a fold's summary is the reader's choice (toggle events also come from
    // folds a redraw creates, later, so they cannot tell).
    this.body.addEventListener('click', (e) => {
      const fold = e.target.closest('summary')?.parentElement;
      if (!fold?.dataset.key) return;
      if (this.folds.size > 2000) this.folds.clear();
      this.folds.set(fold.dataset.key, !fold.open);
    });
    this.clear();
  }

  clear() {
    this.shown = null;
    this.body.replaceChildren(h('p', { class: 'empty' }, 'Click a node in the graph to inspect it.'));
  }

  /** node: cytoscape data of the node; run: the run shown (or null); background: events. */
  show(node, run, background = []) {
    // Redrawn as events arrive: keep the reader's scroll position on the same node.
    const same = this.shown === `${node.id}@${run?.id}`;
    const keep = same ? this.body.scrollTop : 0;
    this.shown = `${node.id}@${run?.id}`;
    // replaceChildren writes null as the text "null": only elements go in
    this.body.replaceChildren(...this.draw(node, run, background).filter(Boolean));
    for (const fold of this.body.querySelectorAll('details[data-key]')) {
      const open = this.folds.get(fold.dataset.key);
      if (open !== undefined) fold.open = open;
    }
    this.body.scrollTop = keep;
  }

  draw(node, run, background) {
    const rec = run?.nodes.get(node.id) ?? null;
    const state = node.role === 'entry' ? (run?.entry === node.label ? 'done' : 'idle')
      : nodeState(rec, run, node.role);
    const key = `${run?.id ?? '-'}/${node.id}`;
    const header = h('header', { class: 'insp-head' },
      h('h2', { testid: 'inspector-title' }, node.label ?? node.id),
      h('span', { class: `badge state-${state}`, testid: 'inspector-state' }, state),
      h('div', { class: 'muted' }, node.role === 'entry' ? 'entry point' : node.kind,
        node.role === 'context' ? ' · context only' : '',
        node.context && node.role !== 'context' ? ' · feeds context' : ''),
      node.doc ? h('p', { class: 'doc' }, node.doc) : null);
    if (node.role === 'entry') {
      return [header, run ? section(`Run ${run.id.slice(0, 8)}`,
        h('dl', { class: 'kv' }, h('dt', {}, 'entry'), h('dd', {}, run.entry ?? '–'),
          h('dt', {}, 'input'), h('dd', {}, jsonView(run.input, `${key}/input`)))) : null];
    }
    return [header, definition(node, key), this.runPart(rec, run, state, key),
      ledgerPart(run, node.id),
      ...(rec ? [...this.calls(rec, key), this.results(rec, key)] : []),
      background.length ? section('Background (outside runs)', h('ul', { class: 'background' },
        background.slice(-5).map((ev, i) => h('li', {}, h('b', {}, ev.type), ' ',
          jsonView(ev.data, `${key}/bg${i}`))))) : null];
  }

  runPart(rec, run, state, key) {
    if (!run) return section('Run', h('p', { class: 'muted' }, 'No run shown yet: send a message.'));
    const title = ['Run ', h('span', { class: 'run-id', title: run.id }, run.id.slice(0, 8)),
      // the OpenTelemetry trace id, to find the run in an OTLP backend (docs/observability.md)
      run.traceId ? [' · trace ', h('code', { class: 'trace-id', testid: 'inspector-trace-id',
        title: 'OpenTelemetry trace id' }, run.traceId)] : null];
    if (!rec) {
      return section(title, h('p', { class: 'muted', testid: 'inspector-timing' },
        `This node ${NOT_RUN[state] ?? 'has no record in this run'}.`));
    }
    const started = rec.start !== null && run.start ? `started +${ms((rec.start - run.start) * 1000)}` : '';
    const took = rec.duration_ms != null ? `took ${ms(rec.duration_ms)}` : '';
    return section(title, [
      h('div', { testid: 'inspector-timing' },
        [started, took, rec.reason ? `skipped: ${rec.reason}` : ''].filter(Boolean).join(' · ') || state),
      rec.error ? h('div', { class: 'err' }, rec.error) : null,
      rec.status === 'skipped' ? null
        : [h('h4', {}, 'inputs'), values(rec.inputs, `${key}/in`, 'inspector-inputs', 'none')],
    ]);
  }

  results(rec, key) {
    if (rec.status === 'skipped') return null;
    return section('Result', [
      h('h4', {}, 'outputs'), values(rec.outputs, `${key}/out`, 'inspector-outputs',
        rec.status === 'running' ? 'not yet' : 'none (its branches were not taken)'),
      rec.text ? [h('h4', {}, 'streamed to the chat'), h('pre', { class: 'tokens verbatim' }, rec.text)] : null,
      rec.fired.length ? [h('h4', {}, 'sent'), h('ul', { class: 'fired' },
        rec.fired.map((f) => h('li', {}, `→ ${f.to}: `, h('code', { class: 'verbatim' }, show(f.preview)))))] : null,
    ]);
  }

  calls(rec, key) {
    return [
      rec.llm.length ? section(`LLM calls (${rec.llm.length})`,
        rec.llm.map((c) => llmCall(c, `${key}/llm/${c.id}`))) : null,
      rec.tools.length ? section(`Tool calls (${rec.tools.length})`,
        rec.tools.map((c) => toolCall(c, `${key}/tool/${c.id}`))) : null,
    ];
  }
}
