// Debugging a run by stopping it: the pause panel (a paused run's pending node, its
// inputs in a JSON editor, continue / step / reject), the breakpoint toggles of the
// selected node, and the banner of a graph file changed while the server runs (its
// structural diff, or its problems). The engine does the pausing (docs/graphs.md).

import { h } from './dom.js';

const WHAT = { tool: 'Tool call arguments', after: 'Outputs (read only: the node ran)' };

/** Where a paused run waits, and the three ways on. onResume(runId, action, inputs?). */
export class PausePanel {
  constructor(el, { onResume }) {
    this.el = el;
    this.onResume = onResume;
    this.key = null;
  }

  /** Show `run`'s pending pause, or hide the panel when it has none. */
  show(run) {
    const pause = run?.status === 'paused' ? run.pause : null;
    if (!pause) {
      this.el.hidden = true;
      this.key = null;
      return;
    }
    const key = `${run.id}:${pause.since}`;
    this.el.hidden = false;
    if (key === this.key) return; // keep what the person typed
    this.key = key;
    const value = pause.where === 'tool' ? pause.arguments
      : pause.where === 'after' ? pause.outputs : pause.inputs;
    const original = JSON.stringify(value ?? {}, null, 2);
    const editor = h('textarea', { testid: 'pause-inputs', spellcheck: 'false',
      'aria-label': 'pending inputs as JSON', readonly: !pause.editable });
    editor.rows = Math.min(6, Math.max(2, original.split('\n').length));
    editor.value = original;
    const error = h('div', { class: 'pause-error', testid: 'pause-error', role: 'alert' });
    const send = async (action) => {
      error.replaceChildren();
      let inputs;
      if (pause.editable && action !== 'reject' && editor.value.trim() !== original.trim()) {
        try {
          inputs = JSON.parse(editor.value);
        } catch (err) {
          error.textContent = `Not JSON: ${err.message}`;
          return;
        }
      }
      try {
        await this.onResume(run.id, action, inputs);
      } catch (err) {
        error.append(h('p', {}, err.message));
        const problems = err.body?.problems ?? [];
        if (problems.length) {
          error.append(h('ul', {}, problems.map((p) => h('li', {},
            typeof p === 'string' ? p : `${(p.loc ?? []).join('.') || '(inputs)'}: ${p.msg}`))));
        }
      }
    };
    this.el.replaceChildren(
      h('h2', {}, 'Paused ', h('small', { testid: 'pause-node' }, `at ${pause.node} (${pause.where})`)),
      h('p', { class: 'pause-reason', testid: 'pause-reason' }, pause.reason),
      h('label', { class: 'pause-label' }, WHAT[pause.where] ?? 'Inputs (JSON; edit to replace them)'),
      editor,
      error,
      h('div', { class: 'pause-actions' },
        h('button', { type: 'button', class: 'primary', testid: 'pause-continue',
          title: 'go on (with the edited inputs, if you changed them)',
          onclick: () => send('continue') }, '▶ Continue'),
        h('button', { type: 'button', testid: 'pause-step',
          title: 'go on and pause again before the next node',
          onclick: () => send('step') }, '⏭ Step'),
        h('button', { type: 'button', testid: 'pause-reject',
          title: pause.where === 'tool' ? 'refuse this tool call'
            : pause.where === 'after' ? 'drop this node\'s outputs' : 'skip this node',
          onclick: () => send('reject') }, '✕ Reject'),
        h('span', { class: 'muted pause-deadline' },
          `fails at ${new Date(pause.deadline * 1000).toLocaleTimeString()} without a decision`)),
    );
  }
}

/** The selected node's breakpoints. onChange({before, after}) saves them (a promise). */
export class BreakpointToggles {
  constructor(el, { onChange }) {
    this.el = el;
    this.onChange = onChange;
    this.points = { before: [], after: [] };
    this.node = null;
  }

  set(points) {
    this.points = { before: [...(points?.before ?? [])], after: [...(points?.after ?? [])] };
    this.render();
  }

  /** Show the toggles of node `id` (null hides them; entries have none). */
  show(id) {
    this.node = id && !id.startsWith('entry:') ? id : null;
    this.render();
  }

  has(id) {
    return this.points.before.includes(id) || this.points.after.includes(id);
  }

  render() {
    this.el.hidden = !this.node;
    if (!this.node) return;
    const id = this.node;
    const toggle = (side) => {
      const box = h('input', { type: 'checkbox', testid: `bp-${side}`,
        checked: this.points[side].includes(id) });
      box.addEventListener('change', async () => {
        const next = { ...this.points,
          [side]: box.checked ? [...this.points[side], id] : this.points[side].filter((n) => n !== id) };
        try {
          this.set(await this.onChange(next));
        } catch (err) {
          box.checked = !box.checked;
          this.el.querySelector('.bp-error').textContent = err.message;
        }
      });
      return h('label', {}, box, ` pause ${side}`);
    };
    this.el.replaceChildren(h('strong', {}, 'Breakpoints '), toggle('before'), toggle('after'),
      h('span', { class: 'bp-error', role: 'alert' }));
  }
}

/**
 * The elements to draw while a diff is shown: the new version's, plus the removed nodes
 * and edges as ghosts; each element's data says `diff`: added, removed or changed.
 */
export function withDiff(elements, old, diff) {
  if (!diff) return elements;
  const mark = (list, ids, tag) => list.map((el) => (ids.has(el.data.id)
    ? { ...el, data: { ...el.data, diff: tag } } : el));
  const changed = new Set(diff.nodes.changed.map((c) => c.id));
  let nodes = mark(mark(elements.nodes, new Set(diff.nodes.added), 'added'), changed, 'changed');
  let edges = mark(elements.edges, new Set(diff.edges.added), 'added');
  const removed = new Set(diff.nodes.removed);
  const ghosts = (old?.nodes ?? []).filter((n) => removed.has(n.data.id));
  nodes = [...nodes, ...ghosts.map((n) => ({ ...n, data: { ...n.data, diff: 'removed' } }))];
  const ids = new Set(nodes.map((n) => n.data.id));
  const gone = new Set(diff.edges.removed);
  edges = [...edges, ...(old?.edges ?? [])
    .filter((e) => gone.has(e.data.id) && ids.has(e.data.source) && ids.has(e.data.target))
    .map((e) => ({ ...e, data: { ...e.data, diff: 'removed' } }))];
  return { nodes, edges };
}

/** The banner over the graph: what a reload changed, or why the edit was refused. */
export function diffBanner({ graph, diff, problems, path }, onDismiss) {
  const dismiss = h('button', { type: 'button', testid: 'diff-dismiss', onclick: onDismiss,
    title: 'stop showing this' }, 'Dismiss');
  if (problems) {
    return h('div', { class: 'graph-banner invalid', testid: 'graph-problems', role: 'alert' },
      h('strong', {}, `${path ?? graph} was edited and is invalid; the last valid version of ${graph} keeps running.`),
      h('ul', {}, problems.map((p) => h('li', {}, h('pre', {}, p)))), dismiss);
  }
  const parts = [];
  const list = (label, items) => items.length && parts.push(`${label}: ${items.join(', ')}`);
  list('nodes added', diff.nodes.added);
  list('removed', diff.nodes.removed);
  list('changed', diff.nodes.changed.map((c) => `${c.id} (${Object.keys(c.changes).join(', ')})`));
  list('edges added', diff.edges.added);
  list('edges removed', diff.edges.removed);
  return h('div', { class: 'graph-banner', testid: 'graph-diff' },
    h('strong', {}, `${graph} was edited; it runs from the next turn. `),
    h('span', { testid: 'graph-diff-summary' }, parts.join(' · ') || 'no structural change'),
    h('span', { class: 'diff-key' }, h('i', { class: 'k-added' }), 'added ',
      h('i', { class: 'k-removed' }), 'removed ', h('i', { class: 'k-changed' }), 'changed '),
    dismiss);
}
