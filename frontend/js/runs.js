// What happened in each run, per node, rebuilt from trace events. The graph, inspector
// and timeline all read from here, so a replayed ring and a live stream give one picture.

const FINAL = { 'node.finished': 'done', 'node.skipped': 'skipped', 'node.failed': 'failed',
  'node.cancelled': 'cancelled' };

function newNode(id, kind) {
  return { id, kind, status: 'idle', start: null, end: null, duration_ms: null, inputs: {},
    outputs: {}, fired: [], reason: null, error: null, llm: [], tools: [] };
}

/** The runs of one session (the newest `limit`), each with per-node records. */
export class Runs {
  constructor(limit = 25) {
    this.limit = limit;
    this.byId = new Map();
    this.latest = null;
    this.background = new Map(); // node id -> recent events outside any run (sensor ticks)
  }

  get(runId) {
    return this.byId.get(runId) ?? null;
  }

  list() {
    return [...this.byId.values()];
  }

  /** Record one event; return the run it belongs to (or null). */
  apply(ev) {
    if (!ev.run_id) {
      if (ev.node) this.remember(ev);
      return null;
    }
    let run = this.byId.get(ev.run_id);
    if (!run) {
      run = { id: ev.run_id, graph: ev.graph, entry: null, input: null, start: ev.ts, end: null,
        status: 'running', error: null, failedNode: null, duration_ms: null, nodes: new Map(),
        edges: new Map(), seqs: [] };
      this.byId.set(ev.run_id, run);
      this.latest = run;
      while (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value);
    }
    run.seqs.push(ev.seq);
    this.applyToRun(run, ev);
    return run;
  }

  applyToRun(run, ev) {
    const d = ev.data ?? {};
    const node = ev.node ? this.node(run, ev.node, ev.kind) : null;
    switch (ev.type) {
      case 'run.started':
        Object.assign(run, { entry: d.entry, input: d.input, start: ev.ts });
        break;
      case 'run.finished':
      case 'run.failed':
      case 'run.cancelled':
        run.status = ev.type.slice(4);
        run.end = ev.ts;
        run.duration_ms = ev.duration_ms;
        run.error = d.error ?? null;
        run.failedNode = ev.type === 'run.failed' ? ev.node : null;
        break;
      case 'node.started':
        Object.assign(node, { status: 'running', start: ev.ts, inputs: d.inputs ?? {} });
        break;
      case 'node.finished':
      case 'node.skipped':
      case 'node.failed':
      case 'node.cancelled':
        Object.assign(node, { status: FINAL[ev.type], end: ev.ts, duration_ms: ev.duration_ms,
          outputs: d.outputs ?? node.outputs, reason: d.reason ?? null, error: d.error ?? null });
        break;
      case 'edge.fired': {
        const id = `${d.from} -> ${d.to}`;
        run.edges.set(id, (run.edges.get(id) ?? 0) + 1);
        node?.fired.push({ to: d.to, preview: d.preview, ts: ev.ts });
        break;
      }
      case 'llm.request':
        node?.llm.push({ call: d.call, model: d.model, purpose: d.purpose, prompt: d.prompt,
          attempt: d.attempt, start: ev.ts, status: 'pending' });
        break;
      case 'llm.response':
      case 'llm.failed': {
        const call = node && pending(node.llm, (c) => c.purpose === d.purpose && c.call === d.call);
        const entry = call ?? { start: ev.ts };
        Object.assign(entry, d, { status: ev.type === 'llm.failed' ? 'failed' : 'done' });
        if (!call) node?.llm.push(entry);
        break;
      }
      case 'tool.started':
        node?.tools.push({ server: d.server, tool: d.tool, arguments: d.arguments,
          hints: d.hints ?? [], start: ev.ts, status: 'pending' });
        break;
      case 'tool.finished':
      case 'tool.failed': {
        const call = node && pending(node.tools, (c) => c.tool === d.tool);
        const entry = call ?? { start: ev.ts, arguments: d.arguments };
        Object.assign(entry, d, { status: ev.type === 'tool.failed' || d.ok === false
          ? 'failed' : 'done' });
        if (!call) node?.tools.push(entry);
        break;
      }
      default:
        break;
    }
  }

  node(run, id, kind) {
    let rec = run.nodes.get(id);
    if (!rec) {
      rec = newNode(id, kind);
      run.nodes.set(id, rec);
    }
    return rec;
  }

  remember(ev) {
    const list = this.background.get(ev.node) ?? [];
    list.push(ev);
    if (list.length > 20) list.shift();
    this.background.set(ev.node, list);
  }
}

// The oldest call still waiting for its answer that matches.
function pending(calls, match) {
  return calls.find((c) => c.status === 'pending' && match(c)) ?? null;
}

/** A short title for a run: the message, or the action and its control. */
export function runTitle(run) {
  let input = run.input;
  if (run.entry !== 'message' && typeof input === 'string') {
    try {
      input = JSON.parse(input);
    } catch {
      // a preview cut short is not JSON: show it as it is
    }
  }
  if (input && typeof input === 'object') {
    return `${input.action ?? '?'}${input.control ? ` on ${input.control}` : ''}`;
  }
  return String(input ?? '');
}
