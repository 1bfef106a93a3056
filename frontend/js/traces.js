// JSONL trace files (a server's, through GET /api/traces, or one picked from disk): one
// trace event per line, as written by the server's JSONL sink and printed by
// `cogpipe trace show --json`. Read into runs the HUD can show and replay.

import { runOf } from './runs.js';

/**
 * Parse a trace file's text.
 *
 * @returns {{runs: Array<object>, skipped: number}} the runs in it, newest first (each a
 *   runs.js record with its `events` and `source`), and how many lines were not events.
 */
export function parseTrace(text, source) {
  const byRun = new Map();
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (!ev || typeof ev !== 'object' || typeof ev.type !== 'string' || typeof ev.seq !== 'number') {
      skipped++;
      continue;
    }
    if (!ev.run_id) continue;
    // A run id is unique, but a file may hold a session's events twice (a rotated copy
    // and the current file concatenated): keep each seq once.
    const events = byRun.get(ev.run_id) ?? new Map();
    events.set(ev.seq, ev);
    byRun.set(ev.run_id, events);
  }
  const runs = [...byRun.values()].map((events) => {
    const run = runOf([...events.values()].sort((a, b) => a.seq - b.seq));
    run.source = source;
    return run;
  });
  runs.sort((a, b) => b.start - a.start);
  return { runs, skipped };
}

/**
 * The cytoscape elements of a graph seen only through a run's events (a trace from a
 * graph this server does not have): every node that ran, edges from `edge.fired`, and
 * the run's entry. Ports come from the edges; kinds from the events.
 */
export function elementsFromRun(run) {
  const nodes = new Map();
  const edges = new Map();
  const node = (id, kind) => {
    if (!nodes.has(id)) nodes.set(id, { data: { id, label: id, kind: kind ?? '?', role: 'node', inputs: [], outputs: [] } });
  };
  for (const rec of run.nodes.values()) node(rec.id, rec.kind);
  for (const ev of run.events) {
    if (ev.type !== 'edge.fired') continue;
    const [src, srcPort] = split(ev.data?.from);
    const [dst, dstPort] = split(ev.data?.to);
    node(src);
    node(dst);
    const id = `${ev.data.from} -> ${ev.data.to}`;
    edges.set(id, { data: { id, source: src, target: dst, source_port: srcPort, target_port: dstPort,
      label: srcPort === dstPort ? srcPort : `${srcPort}→${dstPort}` } });
  }
  const elements = { nodes: [...nodes.values()], edges: [...edges.values()] };
  if (run.entry) {
    elements.nodes.unshift({ data: { id: `entry:${run.entry}`, label: run.entry, kind: 'entry', role: 'entry' } });
    const first = [...run.nodes.values()].sort((a, b) => (a.start ?? Infinity) - (b.start ?? Infinity))
      .filter((n) => n.start !== null && !edgesInto(elements.edges, n.id)).map((n) => n.id);
    for (const target of first) {
      elements.edges.push({ data: { id: `entry:${run.entry}->${target}`, source: `entry:${run.entry}`,
        target, source_port: run.entry, target_port: 'in', label: 'in' } });
    }
  }
  return elements;
}

function split(ref) {
  const text = String(ref ?? '?.?');
  const dot = text.lastIndexOf('.');
  return dot < 0 ? [text, 'out'] : [text.slice(0, dot), text.slice(dot + 1)];
}

function edgesInto(edges, id) {
  return edges.some((e) => e.data.target === id);
}
