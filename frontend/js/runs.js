// What happened in each run, per node, rebuilt from trace events. The graph, inspector and
// timeline all draw from here, so a live stream, a replayed ring, a replay and a trace
// file all give one picture. A run keeps its own events, so it can be replayed.

const FINAL = { 'node.finished': 'done', 'node.skipped': 'skipped', 'node.failed': 'failed',
  'node.cancelled': 'cancelled' };
const ENDED = new Set(['finished', 'failed', 'cancelled', 'interrupted']);

function newNode(id, kind) {
  return { id, kind, status: 'idle', start: null, end: null, duration_ms: null, inputs: {},
    outputs: {}, fired: [], reason: null, error: null, llm: [], tools: [], text: '' };
}

function newRun(ev) {
  return { id: ev.run_id, session: ev.session_id, graph: ev.graph, entry: null, input: null,
    start: ev.ts, end: null, status: 'running', error: null, failedNode: null, duration_ms: null,
    nodes: new Map(), edges: new Map(), events: [], last: ev.ts, pause: null };
}

/** Whether a run has ended (finished, failed, cancelled or interrupted). */
export function ended(run) {
  return Boolean(run) && ENDED.has(run.status);
}

/**
 * The state a node is drawn in for a run: its record's; `unreached` for a flow node
 * with no record in a run that failed or was cancelled; else `idle`.
 */
export function nodeState(rec, run, role) {
  if (rec) return rec.status;
  if (run && ended(run) && run.status !== 'finished' && role === 'node') return 'unreached';
  return 'idle';
}

/** Runs by id (the newest `limit`), each with per-node records, LLM and tool calls. */
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

  /** Every run kept, oldest first. */
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
      run = newRun(ev);
      this.byId.set(ev.run_id, run);
      this.latest = run;
      while (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value);
    }
    run.events.push(ev);
    run.last = Math.max(run.last, ev.ts);
    applyToRun(run, ev);
    return run;
  }

  remember(ev) {
    const list = this.background.get(ev.node) ?? [];
    list.push(ev);
    if (list.length > 20) list.shift();
    this.background.set(ev.node, list);
  }
}

/** Build a run's record from its events (a replay's position, a run from a trace file). */
export function runOf(events) {
  const runs = new Runs(1);
  for (const ev of events) runs.apply(ev);
  return runs.latest;
}

function applyToRun(run, ev) {
  const d = ev.data ?? {};
  const node = ev.node ? nodeOf(run, ev.node, ev.kind) : null;
  const type = ev.type;
  if (type.startsWith('run.')) return applyRun(run, ev, d);
  if (type in FINAL || type === 'node.started') return applyNode(node, ev, d);
  if (!node) return undefined;
  if (type.startsWith('llm.')) return applyLlm(node, ev, d);
  if (type.startsWith('tool.')) return applyTool(node, ev, d);
  if (type === 'output.delta') {
    const call = d.call_id ? node.llm.find((c) => c.id === d.call_id) : null;
    if (call) call.text += d.text ?? '';
    else node.text += d.text ?? '';
  } else if (type === 'edge.fired') {
    const id = `${d.from} -> ${d.to}`;
    run.edges.set(id, (run.edges.get(id) ?? 0) + 1);
    node.fired.push({ to: d.to, preview: d.preview, ts: ev.ts });
  }
  return undefined;
}

function applyRun(run, ev, d) {
  if (ev.type === 'run.started') {
    Object.assign(run, { entry: d.entry, input: d.input, start: ev.ts });
  } else if (ENDED.has(ev.type.slice(4))) {
    Object.assign(run, { status: ev.type.slice(4), end: ev.ts, duration_ms: ev.duration_ms,
      error: d.error ?? null, failedNode: ev.type === 'run.failed' ? ev.node : null,
      warnings: d.warnings ?? [], pause: null });
    // run.interrupted comes alone (after a restart): it names what the run was asked
    run.entry ??= d.entry ?? null;
    run.input ??= d.input ?? null;
  } else if (ev.type === 'run.paused') {
    Object.assign(run, { status: 'paused', pause: { ...d, node: ev.node } });
  } else if (ev.type === 'run.resumed') {
    Object.assign(run, { status: 'running', pause: null });
  } else {
    run.status = ev.type.slice(4); // a later state (e.g. paused) shows under its own name
  }
}

function applyNode(node, ev, d) {
  if (ev.type === 'node.started') {
    Object.assign(node, { status: 'running', start: ev.ts, inputs: d.inputs ?? {} });
    return;
  }
  Object.assign(node, { status: FINAL[ev.type], end: ev.ts, duration_ms: ev.duration_ms,
    outputs: d.outputs ?? node.outputs, reason: d.reason ?? null, error: d.error ?? null });
  if (node.start === null && ev.type !== 'node.skipped' && ev.duration_ms != null) {
    node.start = ev.ts - ev.duration_ms / 1000;
  }
}

// One LLM call (`ctx.llm.*`) and its attempts. Traces written before calls had ids: a
// first attempt opens a call, later attempts join the newest call of the same purpose.
function llmCall(node, ev, d) {
  let call = d.call_id ? node.llm.find((c) => c.id === d.call_id) : null;
  if (!call && !d.call_id && !(ev.type === 'llm.request' && (d.attempt ?? 1) === 1)) {
    call = node.llm.findLast((c) => c.purpose === d.purpose) ?? null;
  }
  if (!call) {
    call = { id: d.call_id ?? `${ev.node}:${ev.seq}`, call: d.call, model: d.model,
      purpose: d.purpose, start: ev.ts, end: null, status: 'pending', attempts: [], text: '' };
    node.llm.push(call);
  }
  return call;
}

function applyLlm(node, ev, d) {
  if (ev.type === 'llm.mode_changed') return;
  const call = llmCall(node, ev, d);
  if (ev.type === 'llm.delta') {
    call.text += d.text ?? '';
    return;
  }
  if (ev.type === 'llm.request') {
    call.attempts.push({ ...d, start: ev.ts, status: 'pending' });
    call.status = 'pending';
    return;
  }
  const attempt = call.attempts.findLast((a) => a.attempt === d.attempt) ?? { start: ev.ts };
  if (!call.attempts.includes(attempt)) call.attempts.push(attempt);
  const failed = ev.type === 'llm.failed';
  Object.assign(attempt, d, { end: ev.ts, status: failed ? 'failed' : 'done' });
  if (!failed || d.final) Object.assign(call, { end: ev.ts, status: attempt.status, model: d.model ?? call.model });
}

function applyTool(node, ev, d) {
  let call = d.call_id ? node.tools.find((c) => c.id === d.call_id) : null;
  call ??= ev.type !== 'tool.started' && !d.call_id
    ? node.tools.find((c) => c.status === 'pending' && c.tool === d.tool) ?? null : null;
  if (!call) {
    call = { id: d.call_id ?? `${ev.node}:${ev.seq}`, tool: d.tool, server: d.server,
      arguments: d.arguments, hints: d.hints ?? [], start: ev.ts, end: null, status: 'pending' };
    node.tools.push(call);
  }
  if (ev.type === 'tool.started') return;
  const failed = ev.type === 'tool.failed' || d.ok === false;
  Object.assign(call, d, { end: ev.ts, status: failed ? 'failed' : 'done' });
  if (d.duration_ms != null && call.start === ev.ts) call.start = ev.ts - d.duration_ms / 1000;
}

function nodeOf(run, id, kind) {
  let rec = run.nodes.get(id);
  if (!rec) {
    rec = newNode(id, kind);
    run.nodes.set(id, rec);
  }
  return rec;
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
