// The UI node's controls (nodes/types.py Controls): buttons, labels, tables, state machines.

import { h, show } from './dom.js';

/**
 * The controls panel. onAction(UIAction) posts a click; onShown(version, ids) reports what
 * is on screen after each render (PUT /dashboard).
 */
export class ControlsPanel {
  constructor(root, { onAction, onShown }) {
    this.body = root.querySelector('[data-testid="controls"]');
    this.versionEl = root.querySelector('[data-testid="controls-version"]');
    this.onAction = onAction;
    this.onShown = onShown;
    this.version = -1;
    new ResizeObserver(() => this.fitTables()).observe(this.body);
    this.render({ controls: [], version: 0 }, false);
  }

  /** Show a Controls set unless a newer version is already shown. The same version is
   * drawn (and reported) again: the UI node resends it when the reported dashboard differs. */
  apply(controls) {
    if (!controls || typeof controls.version !== 'number') return;
    if (controls.version < this.version) return;
    this.render(controls, true);
  }

  render(controls, report) {
    this.version = controls.version;
    const items = controls.controls ?? [];
    this.body.replaceChildren(...items.map((c) => this.control(c)));
    if (!items.length) {
      this.body.append(h('p', { class: 'empty' }, 'No controls yet: the UI node adds them as you chat.'));
    }
    this.versionEl.textContent = items.length ? `v${controls.version}` : '';
    requestAnimationFrame(() => this.fitTables());
    if (report) this.onShown(controls.version, items.map((c) => c.id));
  }

  /** A table wider than the panel shows each row as a card (column: value lines)
   * instead of scrolling sideways; a wider panel shows it as a table again. */
  fitTables() {
    for (const figure of this.body.querySelectorAll('.ctl-table')) {
      figure.classList.remove('stacked');
      const table = figure.querySelector('table');
      if (table.scrollWidth > figure.clientWidth + 1) figure.classList.add('stacked');
    }
  }

  control(c) {
    switch (c.type) {
      case 'button':
        return this.button(c.label || c.id, c.id,
          { action: c.action ?? c.id, control: c.id, payload: c.payload ?? {} }, 'control-button');
      case 'label':
        return h('div', { class: 'ctl ctl-label', testid: 'control-label', data: { control: c.id } },
          h('span', { class: 'ctl-name' }, c.label || c.id),
          h('span', { class: 'ctl-value', testid: 'control-value' }, show(c.value)));
      case 'table':
        return this.table(c);
      case 'machine':
        return this.machine(c);
      default:
        return h('div', { class: 'ctl unknown' }, `${c.id}: unknown control type ${c.type}`);
    }
  }

  button(text, id, action, testid) {
    const btn = h('button', { type: 'button', class: 'ctl ctl-button', testid, data: { control: id } },
      text);
    btn.addEventListener('click', async () => {
      btn.classList.add('busy');
      try {
        await this.onAction(action);
      } finally {
        btn.classList.remove('busy');
      }
    });
    return btn;
  }

  table(c) {
    const columns = c.columns ?? [];
    const head = h('tr', {}, columns.map((col) => h('th', { scope: 'col' }, col)));
    const rows = (c.rows ?? []).map((row) => h('tr', {}, row.map((cell, i) =>
      h('td', { data: { col: columns[i] ?? '' } }, show(cell)))));
    return h('figure', { class: 'ctl ctl-table', testid: 'control-table', data: { control: c.id } },
      c.label ? h('figcaption', {}, c.label) : null,
      h('div', { class: 'table-scroll' },
        h('table', {}, h('thead', {}, head), h('tbody', {}, rows))),
      h('div', { class: 'table-count' }, `${rows.length} row${rows.length === 1 ? '' : 's'}`));
  }

  machine(c) {
    const states = c.states ?? {};
    const current = states[c.state] ?? {};
    const go = Object.entries(current.go ?? {});
    return h('div', { class: 'ctl ctl-machine', testid: 'control-machine', data: { control: c.id } },
      h('div', { class: 'ctl-name' }, c.label || c.id),
      h('div', { class: 'machine-state', testid: 'machine-state', data: { state: c.state ?? '' } },
        current.label || c.state || '–'),
      h('div', { class: 'machine-go' }, go.map(([text, target]) => this.button(text, c.id,
        { action: 'go', control: c.id, payload: { to: target } }, 'machine-transition'))),
      h('div', { class: 'machine-states' }, Object.keys(states).map((name) =>
        h('span', { class: name === c.state ? 'on' : '' }, name))));
  }
}
