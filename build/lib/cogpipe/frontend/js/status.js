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

  /** health.llm: {mode: 'offline'|'remote', base_url, models: {alias: name}}. */
  setModel(llm) {
    if (!llm) return;
    const models = [...new Set(Object.values(llm.models ?? {}))].join(', ') || '?';
    this.model.dataset.mode = llm.mode;
    this.model.textContent = `model ${models}${llm.mode === 'offline' ? ' · built-in, offline' : ''}`;
    this.model.title = llm.base_url ? `endpoint ${llm.base_url}` : 'built-in deterministic model';
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
