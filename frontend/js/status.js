// The header's status: connection state, active model, and notices (lost events, errors).

import { h, ms } from './dom.js';

const CONNECTION_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };

export class StatusBar {
  constructor(root) {
    this.connection = root.querySelector('[data-testid="connection"]');
    this.model = root.querySelector('[data-testid="model"]');
    this.figures = root.querySelector('[data-testid="figures"]');
    this.session = root.querySelector('[data-testid="session-id"]');
    this.notices = document.querySelector('[data-testid="notices"]');
  }

  setConnection(state) {
    this.connection.dataset.state = state;
    this.connection.textContent = CONNECTION_TEXT[state] ?? state;
  }

  /**
   * health.llm: {mode: 'offline'|'remote', base_url, models: {alias: name}, probe:
   * {reachable, detail, checked, latency_ms}}. The pill names the model and says whether
   * its endpoint answered the server's last look (GET {base_url}/models).
   */
  setModel(llm) {
    if (!llm) return;
    const models = [...new Set(Object.values(llm.models ?? {}))].join(', ') || '?';
    const probe = llm.probe ?? {};
    const reach = llm.mode === 'offline' ? 'up' : probe.reachable === true ? 'up'
      : probe.reachable === false ? 'down' : 'unknown';
    this.model.dataset.mode = llm.mode;
    this.model.dataset.reach = reach;
    this.model.textContent = `model ${models}${llm.mode === 'offline' ? ' · built-in, offline'
      : reach === 'down' ? ' · unreachable' : ''}`;
    const where = llm.base_url ? `endpoint ${llm.base_url}` : 'built-in deterministic model (no endpoint)';
    const said = llm.mode === 'offline' ? 'always answers'
      : reach === 'up' ? `answered${probe.latency_ms != null ? ` in ${probe.latency_ms} ms` : ''}`
        : reach === 'down' ? 'does not answer' : 'not checked yet';
    const when = probe.checked ? ` (checked ${new Date(probe.checked * 1000).toLocaleTimeString()})` : '';
    this.model.title = [`${where}: ${said}${when}`, probe.detail].filter(Boolean).join('\n');
  }

  /** The session's figures (GET /api/metrics/sessions/{id}) as a pill; details on hover. */
  setFigures(f) {
    const n = (x) => (x ?? 0).toLocaleString('en');
    const p = (spread) => (spread?.p50 == null ? '–' : `${ms(spread.p50)} / ${ms(spread.p95)}`);
    this.figures.hidden = false;
    this.figures.textContent = `${n(f.turns)} turns · ${n(f.llm_calls)} LLM · ` +
      `${n(f.tokens_in + f.tokens_out)} tok · ${n(f.tool_calls)} tools`;
    this.figures.title = [
      `turns ${n(f.turns)} (${Object.entries(f.turns_by_status).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})`,
      `LLM attempts ${n(f.llm_calls)} (${n(f.llm_failures)} failed); tokens in ${n(f.tokens_in)}, out ${n(f.tokens_out)}`,
      `cost ${f.cost.toFixed(4)}${f.unpriced_tokens ? ` (+${n(f.unpriced_tokens)} tokens without a price)` : ''}`,
      `tool calls ${n(f.tool_calls)} (${n(f.tool_failures)} not ok)`,
      `turn latency p50 / p95: ${p(f.latency_ms)}`, `time to first token p50 / p95: ${p(f.ttft_ms)}`,
    ].join('\n');
  }

  setSession(id) {
    this.session.textContent = `session ${id}`;
    this.session.title = id;
  }

  /** A dismissable notice; kind 'warn' or 'error'. */
  notify(text, kind = 'warn', testid = 'notice') {
    const note = h('div', { class: `notice ${kind}`, testid, role: 'status' }, h('span', {}, text),
      h('button', { type: 'button', class: 'close', 'aria-label': 'dismiss',
        onclick: () => note.remove() }, '×'));
    this.notices.append(note);
    return note;
  }
}
