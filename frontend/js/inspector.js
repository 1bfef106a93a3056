// Details of the clicked node: what it is (kind, params, ports) and what it did in the
// last run (inputs, outputs, timings, LLM calls, tool calls).

import { h, ms, show } from './dom.js';

function section(title, ...content) {
  const body = content.flat().filter(Boolean);
  if (!body.length) return null;
  return h('section', { class: 'insp-section' }, h('h3', {}, title), ...body);
}

function pairs(obj, testid) {
  const entries = Object.entries(obj ?? {});
  if (!entries.length) return null;
  return h('dl', { class: 'kv', testid }, entries.map(([k, v]) => [h('dt', {}, k),
    h('dd', {}, h('code', {}, show(v)))]));
}

function ports(list) {
  if (!list?.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'ports' }, list.map((p) => h('li', {},
    h('b', {}, p.name), ` ${p.type}`, p.required ? '' : h('span', { class: 'muted' }, ' (optional)'))));
}

function llmCall(c) {
  const tokens = c.tokens_in !== undefined ? `${c.tokens_in ?? '?'} → ${c.tokens_out ?? '?'} tokens` : '';
  return h('li', { class: `call ${c.status}`, testid: 'inspector-llm-call' },
    h('div', {}, h('b', {}, c.model ?? '?'), c.purpose ? ` · ${c.purpose}` : '',
      c.attempt > 1 ? ` · attempt ${c.attempt}` : ''),
    h('div', { class: 'muted' }, [tokens, c.latency_ms !== undefined ? `latency ${ms(c.latency_ms)}` : '',
      c.ttft_ms !== undefined ? `first token ${ms(c.ttft_ms)}` : '', c.truncated ? 'cut off at max_tokens' : '',
      c.status === 'pending' ? 'waiting…' : '']
      .filter(Boolean).join(' · ')),
    c.error ? h('div', { class: 'err' }, c.error) : null,
    c.output ? h('pre', {}, show(c.output)) : null);
}

function toolCall(c) {
  const outcome = c.status === 'pending' ? 'running…' : c.error ?? show(c.result);
  return h('li', { class: `call ${c.status}`, testid: 'inspector-tool-call' },
    h('div', {}, h('b', {}, `${c.server ?? '?'}.${c.tool}`), ` ${ms(c.duration_ms)}`,
      ...(c.hints ?? []).map((hint) => h('span', { class: `hint ${hint}` }, ` ${hint}`)),
      c.status === 'failed' ? h('span', { class: 'err' }, ` failed${c.error_kind
        ? ` (${c.error_kind})` : ''}`) : ''),
    h('div', { class: 'muted' }, 'args ', h('code', {}, show(c.arguments))),
    h('pre', { class: c.error ? 'err' : '' }, outcome));
}

/** The inspector panel. */
export class Inspector {
  constructor(root) {
    this.body = root.querySelector('[data-testid="inspector-body"]');
    this.clear();
  }

  clear() {
    this.shown = null;
    this.body.replaceChildren(h('p', { class: 'empty' }, 'Click a node in the graph to inspect it.'));
  }

  /** node: cytoscape data of the node; rec: its record in `run` (or null); background: events. */
  show(node, rec, run, background = []) {
    // Redrawn as events arrive: keep the reader's scroll position on the same node.
    const keep = this.shown === node.id ? this.body.scrollTop : 0;
    this.shown = node.id;
    this.draw(node, rec, run, background);
    this.body.scrollTop = keep;
  }

  draw(node, rec, run, background) {
    const state = rec?.status ?? 'idle';
    const started = rec?.start && run?.start ? `+${ms((rec.start - run.start) * 1000)}` : null;
    const header = h('header', { class: 'insp-head' },
      h('h2', { testid: 'inspector-title' }, node.label ?? node.id),
      h('span', { class: `badge state-${state}`, testid: 'inspector-state' }, state),
      h('div', { class: 'muted' }, node.role === 'entry' ? 'entry point' : node.kind,
        node.role === 'context' ? ' · context only' : '', node.context && node.role !== 'context'
          ? ' · feeds context' : ''),
      node.doc ? h('p', { class: 'doc' }, node.doc) : null);
    if (node.role === 'entry') {
      this.body.replaceChildren(header, section('Last run',
        run ? pairs({ run: run.id, entry: run.entry, input: run.input }) : null));
      return;
    }
    this.body.replaceChildren(header,
      section('Params', pairs(node.params) ?? h('span', { class: 'muted' }, 'defaults'),
        node.timeout_s ? h('div', { class: 'muted' }, `timeout ${node.timeout_s} s`) : null),
      section('Ports', h('div', { class: 'ports-grid' },
        h('div', {}, h('h4', {}, 'inputs'), ports(node.inputs)),
        h('div', {}, h('h4', {}, 'outputs'), ports(node.outputs)))),
      rec ? section(`Last run ${run?.id ? `(${run.id.slice(0, 8)})` : ''}`,
        h('div', { testid: 'inspector-timing' }, [started ? `started ${started}` : '',
          rec.duration_ms != null ? `took ${ms(rec.duration_ms)}` : '',
          rec.reason ? `skipped: ${rec.reason}` : ''].filter(Boolean).join(' · ') || state),
        rec.error ? h('div', { class: 'err' }, rec.error) : null,
        h('h4', {}, 'inputs'), pairs(rec.inputs, 'inspector-inputs') ?? h('span', { class: 'muted' }, '–'),
        h('h4', {}, 'outputs'), pairs(rec.outputs, 'inspector-outputs') ?? h('span', { class: 'muted' }, '–'),
        rec.fired.length ? [h('h4', {}, 'sent'), h('ul', { class: 'fired' },
          rec.fired.map((f) => h('li', {}, `→ ${f.to}: `, h('code', {}, show(f.preview)))))] : null)
        : section('Last run', h('span', { class: 'muted' }, 'not run yet')),
      rec?.llm.length ? section(`LLM calls (${rec.llm.length})`, h('ul', { class: 'calls' },
        rec.llm.map(llmCall))) : null,
      rec?.tools.length ? section(`Tool calls (${rec.tools.length})`, h('ul', { class: 'calls' },
        rec.tools.map(toolCall))) : null,
      background.length ? section('Background', h('ul', { class: 'calls' }, background.slice(-5)
        .map((ev) => h('li', {}, h('b', {}, ev.type), ' ', h('code', {}, show(ev.data)))))) : null);
  }
}
