// The header's status: connection state, active model, and notices (lost events, errors).

import { h } from './dom.js';

const CONNECTION_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…' };

export class StatusBar {
  constructor(root) {
    this.connection = root.querySelector('[data-testid="connection"]');
    this.model = root.querySelector('[data-testid="model"]');
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
