// The graph menu: every graph the server knows; choosing one switches this session.

import { h } from './dom.js';

export class GraphSwitcher {
  constructor(select, { onSwitch }) {
    this.select = select;
    this.current = null;
    select.addEventListener('change', () => {
      const name = select.value;
      if (name && name !== this.current) onSwitch(name);
    });
  }

  /** graphs: GET /api/graphs; invalid ones are listed but cannot be chosen. */
  fill(graphs) {
    this.select.replaceChildren(...graphs.map((g) => h('option', {
      value: g.name, disabled: !g.valid,
      title: g.valid ? g.description ?? '' : (g.problems ?? []).join('\n'),
    }, g.valid ? `${g.name} (${g.nodes} nodes)` : `${g.name} (invalid)`)));
    this.show(this.current);
  }

  show(name) {
    this.current = name;
    if (name && ![...this.select.options].some((o) => o.value === name)) {
      this.select.append(h('option', { value: name }, name));
    }
    this.select.value = name ?? '';
  }
}
