// Wires the HUD together: session, graph, stream, and the views that draw each event.

import { ApiError, api, onTokenNeeded } from './api.js';
import { Chat, answerText } from './chat.js';
import { ControlsPanel } from './controls.js';
import { GraphView } from './graph.js';
import { Inspector } from './inspector.js';
import { EventLog } from './log.js';
import { Runs } from './runs.js';
import { StatusBar } from './status.js';
import { EventStream } from './stream.js';
import { GraphSwitcher } from './switcher.js';
import { Timeline } from './timeline.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const NODE_STATE = { 'node.started': 'running', 'node.finished': 'done', 'node.skipped': 'skipped',
  'node.failed': 'failed', 'node.cancelled': 'cancelled' };

let sessionId = null;
let selected = null; // the node id shown in the inspector
const seqs = [];
const runs = new Runs();

const status = new StatusBar($('topbar'));
const graph = new GraphView($('graph'), { onSelect: (data) => select(data?.id ?? null) });
const inspector = new Inspector($('inspector'));
const timeline = new Timeline($('timeline'));
const log = new EventLog($('log'));
const switcher = new GraphSwitcher($('graph-switcher'), { onSwitch: switchGraph });
const chat = new Chat($('chat-panel'), {
  onSend: async (text) => (await api.sendMessage(sessionId, text)).run_id,
  fetchAnswer: async (runId) => answerText((await api.run(runId)).outputs),
});
const controls = new ControlsPanel($('controls-panel'), {
  onAction: (action) => api.sendAction(sessionId, action)
    .catch((err) => chat.error(`The action '${action.action}' was not sent: ${err.message}`)),
  onShown: reportDashboard,
});
// The side panel's tabs: a click on a node brings the inspector to the front.
function showTab(name) {
  for (const tab of document.querySelectorAll('[data-tab]')) {
    tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  }
  for (const pane of document.querySelectorAll('[data-pane]')) pane.hidden = pane.dataset.pane !== name;
  if (name === 'log') log.reveal();
}
for (const tab of document.querySelectorAll('[data-tab]')) {
  tab.addEventListener('click', () => showTab(tab.dataset.tab));
}

timeline.onPick = () => { drawTimeline(); drawInspector(); };
$('timeline-body').addEventListener('click', (e) => {
  const row = e.target.closest('.tl-row[data-node]');
  if (row) select(row.dataset.node);
});

// Debug hook for tests and the browser console (read-only views of what the page holds):
//   __hud.seqs()      every event seq this page has handled, in order (no gaps or repeats
//                     unless the server reported stream.lost)
//   __hud.node(id)    what the graph shows for a node: {state, background, border, ...}
//   __hud.edgeCount(id)  payloads counted on an edge in the current run
//   __hud.graph()     the name of the graph drawn; __hud.session() the session id
window.__hud = {
  seqs: () => [...seqs],
  node: (id) => graph.describe(id),
  edgeCount: (id) => graph.edgeCount(id),
  graph: () => graph.name,
  session: () => sessionId,
};

function handle(ev) {
  seqs.push(ev.seq);
  // Events replayed from the ring are history: draw their end state, skip the flashes.
  const live = Date.now() / 1000 - ev.ts < 3;
  runs.apply(ev);
  const d = ev.data ?? {};
  if (NODE_STATE[ev.type] && ev.node) graph.setState(ev.node, NODE_STATE[ev.type]);
  switch (ev.type) {
    case 'run.started':
      graph.resetStates();
      graph.enter(d.entry, live);
      break;
    case 'run.failed':
      if (ev.node) graph.setState(ev.node, 'failed');
      break;
    case 'edge.fired':
      graph.fire(`${d.from} -> ${d.to}`, live);
      break;
    case 'ui.controls':
      controls.apply(d);
      break;
    case 'graph.switched':
      showGraph(d.to, d.elements);
      break;
    default:
      break;
  }
  chat.apply(ev);
  log.add(ev);
  // output.delta changes nothing the inspector shows; skipping it keeps the panel still.
  if (ev.type !== 'output.delta' && (ev.node === selected || ev.type.startsWith('run.'))) {
    dirty.inspector = true;
  }
  dirty.timeline = true;
  frame ??= requestAnimationFrame(redraw);
}

// Timeline and inspector redraw at most once per frame, however many events arrived.
const dirty = { timeline: false, inspector: false };
let frame = null;
function redraw() {
  frame = null;
  if (dirty.timeline) drawTimeline();
  if (dirty.inspector) drawInspector();
  dirty.timeline = dirty.inspector = false;
}

function drawTimeline() {
  timeline.render(runs);
}

function drawInspector() {
  if (!selected) return;
  const data = graph.data(selected);
  if (!data) {
    select(null);
    return;
  }
  const run = timeline.choose(runs);
  inspector.show(data, run?.nodes.get(selected) ?? null, run, runs.background.get(selected) ?? []);
}

function select(id) {
  selected = id;
  if (id) {
    graph.select(id);
    showTab('inspector');
    drawInspector();
  } else {
    inspector.clear();
  }
}

// A running run's bars grow with the clock, not only when events arrive.
setInterval(() => {
  if (timeline.choose(runs)?.status === 'running') drawTimeline();
}, 200);

function showGraph(name, elements) {
  graph.render(name, elements);
  switcher.show(name);
  log.knowNodes(graph.nodeIds());
  if (selected && !graph.data(selected)) select(null);
}

async function switchGraph(name) {
  try {
    await api.switchGraph(sessionId, name);
    // the view changes when graph.switched arrives on the stream, as for any other client
  } catch (err) {
    status.notify(`Could not switch to ${name}: ${err.message}`, 'error');
    switcher.show(graph.name);
  }
}

let dashboardTimer = null;
function reportDashboard(version, ids) {
  // A replayed ring renders many versions in a burst; report only the one left on screen.
  clearTimeout(dashboardTimer);
  dashboardTimer = setTimeout(() => {
    api.reportDashboard(sessionId, version, ids).catch((err) =>
      console.warn('dashboard report failed', err));
  }, 150);
}

// The stream keeps retrying by itself; after a few refusals, find out why and say so once.
let refusalExplained = false;
async function explainRefusal(attempts) {
  if (attempts < 3 || refusalExplained) return;
  refusalExplained = true;
  try {
    await api.session(sessionId);
    refusalExplained = false; // the session exists: a passing outage, keep retrying quietly
  } catch (err) {
    const why = err instanceof ApiError && err.status === 404
      ? `The server no longer knows session ${sessionId} (it restarted without keeping ` +
        'sessions). Reload the page to start a new one.'
      : `The event stream is refused: ${err.message}`;
    status.notify(why, 'error', 'stream-refused');
  }
}

function askToken(reason) {
  const dialog = $('token-dialog');
  dialog.querySelector('.reason').textContent = reason;
  const input = $('token-input');
  input.value = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? input.value.trim() || null : null);
    }, { once: true });
  });
}

/** The session named in the URL, or a new one; the URL then names it, so reload resumes. */
async function openSession() {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('session');
  let session = null;
  if (wanted) {
    try {
      session = await api.session(wanted);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
      status.notify(`Session ${wanted} no longer exists; this is a new one.`);
    }
  }
  session ??= await api.createSession(params.get('graph') || undefined);
  params.set('session', session.id);
  params.delete('graph');
  history.replaceState(null, '', `${location.pathname}?${params}`);
  return session;
}

async function boot() {
  onTokenNeeded(askToken);
  status.setConnection('connecting');
  const health = await api.health();
  status.setModel(health.llm);
  const session = await openSession();
  sessionId = session.id;
  status.setSession(sessionId);
  api.graphs().then((graphs) => switcher.fill(graphs))
    .catch((err) => status.notify(`Could not list graphs: ${err.message}`, 'error'));
  const spec = await api.graph(session.graph);
  showGraph(session.graph, spec.elements);
  chat.loadHistory(session.history);
  controls.apply(session.controls);
  drawTimeline();
  // The first connection asks for last_event_id=0: the server replays the session's ring,
  // so a reload mid-run redraws the run so far and then continues live; EventStream drops
  // repeated seqs.
  new EventStream(`/api/sessions/${encodeURIComponent(sessionId)}/events`, {
    ticket: api.streamTicket,
    onEvent: handle,
    onState: (state) => status.setConnection(state),
    onLost: (n) => {
      chat.noteLoss();
      status.notify(`${n} events were dropped because this page fell behind; the view may ` +
        'be incomplete (reload to redraw it).', 'warn', 'stream-lost');
    },
    onRefused: explainRefusal,
  }).open();
  document.body.dataset.ready = 'true';
}

boot().catch((err) => {
  status.setConnection('offline');
  status.notify(`The HUD could not start: ${err.message}`, 'error', 'boot-error');
  console.error(err);
});
