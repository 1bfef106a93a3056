// Wires the HUD together: session, stream, the run every panel shows, and the views.
//
// One rule keeps the panels in step: the graph, timeline, inspector and run bar are all
// painted in one animation frame from one run's record (runs.js). Which run: the newest
// (live), a past one picked in the run bar (time travel), a run read from a trace file,
// or a replay's run as far as it got.

import { ApiError, api, onTokenNeeded } from './api.js';
import { Chat, answerText } from './chat.js';
import { ControlsPanel } from './controls.js';
import { GraphView } from './graph.js';
import { Inspector } from './inspector.js';
import { BreakpointToggles, PausePanel, diffBanner, withDiff } from './pause.js';
import { resizable } from './layout.js';
import { EventLog } from './log.js';
import { Replay } from './replay.js';
import { RunBar } from './runbar.js';
import { Runs, ended } from './runs.js';
import { StatusBar } from './status.js';
import { EventStream } from './stream.js';
import { GraphSwitcher } from './switcher.js';
import { Timeline } from './timeline.js';
import { TraceDialog } from './tracedialog.js';
import { elementsFromRun } from './traces.js';

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

let sessionId = null;
let sessionGraph = null; // the graph the session runs from its next turn on
let selected = null; // the node id shown in the inspector
let pinned = null; // the run picked in the run bar; null: follow the newest
let replay = null;
let speed = 1;
const seqs = [];
const runs = new Runs();
const loaded = new Map(); // run id -> a run read from a trace file
const elements = new Map(); // graph name -> cytoscape elements
const flashes = new Set(); // edge ids to flash at the next paint
let banner = null; // a reloaded graph file: {graph, diff, old, merged} or {graph, problems}

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
const runbar = new RunBar($('runbar'), {
  onPick: (id) => { stopReplay(); pinned = id; schedule(); },
  onPlayPause: () => {
    if (!replay) startReplay(shownRun());
    else if (replay.playing) replay.pause();
    else replay.play();
    schedule();
  },
  onSpeed: (x) => { speed = x; replay?.setSpeed(x); },
  onSeek: (index) => { replay?.pause(); replay?.seek(index); schedule(); },
  onStop: () => { stopReplay(); schedule(); },
  onTrace: () => traces.open(),
});
const traces = new TraceDialog($('trace-dialog'), {
  listFiles: api.traces,
  readFile: api.traceText,
  onRuns: (list) => { for (const run of list) loaded.set(run.id, run); schedule(); },
  onShow: (run) => { stopReplay(); pinned = run.id; schedule(); },
  onReplay: (run) => startReplay(run),
});
const pausePanel = new PausePanel($('pause-panel'), {
  onResume: (runId, action, inputs) => api.resume(runId, action, inputs),
});
const breakpoints = new BreakpointToggles($('breakpoints'), {
  onChange: (points) => api.setBreakpoints(sessionId, points),
});
resizable($('layout'));
timeline.onZoom = () => timeline.render(shownRun(), clock());

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
$('timeline-body').addEventListener('click', (e) => {
  const row = e.target.closest('.tl-row[data-node]');
  if (row) select(row.dataset.node);
});

/** The run every panel shows (see the top of this file), or null. */
function shownRun() {
  if (replay) return replay.run;
  if (pinned) return runs.get(pinned) ?? loaded.get(pinned) ?? null;
  const latest = runs.latest;
  // after a graph switch, an old graph's last run is history: show the new graph idle
  if (latest && latest.graph !== sessionGraph && ended(latest)) return null;
  return latest;
}

function noteFlashes(ev) {
  const d = ev.data ?? {};
  if (ev.type === 'edge.fired') flashes.add(`${d.from} -> ${d.to}`);
  else if (ev.type === 'run.started') for (const id of graph.entryEdges(d.entry)) flashes.add(id);
}

function handle(ev) {
  seqs.push(ev.seq);
  const run = runs.apply(ev);
  const d = ev.data ?? {};
  if (ev.type === 'ui.controls') controls.apply(d);
  if (ev.type === 'graph.switched') {
    elements.set(d.to, d.elements);
    sessionGraph = d.to;
    switcher.show(d.to);
    showBanner(null);
  }
  if (ev.type === 'graph.updated') {
    const old = elements.get(d.graph);
    elements.set(d.graph, d.elements);
    showBanner(d.diff ? { graph: d.graph, diff: d.diff, old,
      merged: withDiff(d.elements, old, d.diff) } : null);
  } else if (ev.type === 'graph.invalid') {
    showBanner({ graph: d.graph, problems: d.problems, path: d.path });
  }
  chat.apply(ev);
  log.add(ev);
  if (!replay && (run === null ? ev.node === selected : run === shownRun())) {
    // Events replayed from the ring are history: draw their end state, skip the flashes.
    if (Date.now() / 1000 - ev.ts < 3) noteFlashes(ev);
    schedule();
  } else {
    schedule(false);
  }
}

// Painting: at most once per animation frame, however many events arrived, and every
// panel from the same run. `views` false repaints only the run bar (a run that is not
// shown changed, e.g. its status in the run menu).
const dirty = { views: false, bar: false };
let frame = null;
let painting = false;
function schedule(views = true) {
  dirty.views ||= views;
  dirty.bar = true;
  if (frame === null && !painting) frame = requestAnimationFrame(paint);
}

async function paint() {
  frame = null;
  painting = true;
  try {
    const views = dirty.views;
    dirty.views = dirty.bar = false;
    let run = shownRun();
    if (views) {
      const name = run?.graph ?? replay?.graph ?? sessionGraph;
      if (name) {
        await graph.render(name, await elementsOf(name, run));
        log.knowNodes(graph.nodeIds());
        const other = name !== sessionGraph;
        $('graph-name').textContent = other ? `graph ${name} (this run's; the session now runs ${sessionGraph})` : '';
      }
      run = shownRun(); // the layout may have taken a while: draw what is current now
      graph.paint(run);
      graph.flash(flashes);
      flashes.clear();
      timeline.render(run, clock());
      drawInspector(run);
    }
    pausePanel.show(runs.latest); // a live run waits for a decision, whatever is shown
    runbar.render({ runs: runs.list(), loaded: [...loaded.values()], shown: run, pinned, replay,
      sessionGraph });
  } catch (err) {
    console.error('paint failed', err);
  } finally {
    painting = false;
    if (dirty.views || dirty.bar) schedule(dirty.views);
  }
}

/** Now, for bars still running: the replay's clock (trace time) or the wall clock. */
function clock() {
  return replay ? replay.clock() : Date.now() / 1000;
}

/** The elements of graph `name`: the server's, or (a trace from elsewhere) the run's own. */
async function elementsOf(name, run) {
  if (banner?.merged && banner.graph === name) return banner.merged;
  if (!elements.has(name)) {
    const spec = await api.graph(name).catch(() => null);
    elements.set(name, spec?.valid ? spec.elements : null);
  }
  const known = elements.get(name);
  const ids = new Set((known?.nodes ?? []).map((n) => n.data.id));
  if (!run || (known && [...run.nodes.keys()].every((id) => ids.has(id)))) {
    return known ?? { nodes: [], edges: [] };
  }
  run.elements ??= elementsFromRun(run); // not this server's graph of that name
  return run.elements;
}

function drawInspector(run) {
  if (!selected) return;
  const data = graph.data(selected);
  if (!data) {
    select(null);
    return;
  }
  inspector.show(data, run, runs.background.get(selected) ?? []);
}

/** Show what a reload of the graph files did (null: nothing) until it is dismissed. */
function showBanner(next) {
  banner = next;
  // the graph menu's node counts and validity change with the files
  if (next) api.graphs().then((list) => switcher.fill(list)).catch(() => {});
  $('graph-banners').replaceChildren(...(banner ? [diffBanner(banner, () => showBanner(null))] : []));
  schedule();
}

function select(id) {
  selected = id;
  graph.select(id);
  breakpoints.show(id);
  if (id) {
    showTab('inspector');
    drawInspector(shownRun());
  } else {
    inspector.clear();
  }
}

function startReplay(run) {
  if (!run) return;
  stopReplay();
  pinned = run.id;
  replay = new Replay(run.events, {
    speed,
    onStep: (batch) => { batch.forEach(noteFlashes); schedule(); },
    onEnd: () => schedule(),
  });
  replay.play();
  schedule();
}

function stopReplay() {
  replay?.stop();
  replay = null;
}

// A running run's bars grow with the clock, not only when events arrive.
setInterval(() => {
  const run = shownRun();
  if (run?.status === 'running' && (!replay || replay.playing)) timeline.render(run, clock());
}, 200);

// Whether the LLM endpoint answers can change: look again now and then.
setInterval(() => api.health().then((health) => status.setModel(health.llm)).catch(() => {}), 30_000);

async function switchGraph(name) {
  try {
    await api.switchGraph(sessionId, name);
    // the view changes when graph.switched arrives on the stream, as for any other client
  } catch (err) {
    status.notify(`Could not switch to ${name}: ${err.message}`, 'error');
    switcher.show(sessionGraph);
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

// Debug hook for tests and the browser console (read-only views of what the page holds):
//   __hud.seqs()        every event seq this page has handled, in order (no gaps or repeats
//                       unless the server reported stream.lost)
//   __hud.node(id)      what the graph shows for a node: {state, background, border, ...}
//   __hud.edgeCount(id) payloads counted on an edge in the run shown
//   __hud.geometry()    rendered node boxes and edge polylines (pixels in the graph panel)
//   __hud.zoom()        the graph's zoom (1: model pixels are screen pixels)
//   __hud.shown()       {id, status, graph} of the run shown, or null
//   __hud.replay()      the replay's {index, total, playing, log: [{seq, type, node}]}, or null
//   __hud.graph()       the name of the graph drawn; __hud.session() the session id
window.__hud = {
  seqs: () => [...seqs],
  node: (id) => graph.describe(id),
  edgeCount: (id) => graph.edgeCount(id),
  geometry: () => graph.geometry(),
  zoom: () => graph.cy.zoom(),
  shown: () => {
    const run = shownRun();
    return run && { id: run.id, status: run.status, graph: run.graph };
  },
  replay: () => replay && { index: replay.index, total: replay.total, playing: replay.playing,
    log: [...replay.log] },
  graph: () => graph.name,
  session: () => sessionId,
};

async function boot() {
  onTokenNeeded(askToken);
  status.setConnection('connecting');
  const health = await api.health();
  status.setModel(health.llm);
  const session = await openSession();
  sessionId = session.id;
  sessionGraph = session.graph;
  status.setSession(sessionId);
  api.graphs().then((list) => switcher.fill(list))
    .catch((err) => status.notify(`Could not list graphs: ${err.message}`, 'error'));
  switcher.show(session.graph);
  elements.set(session.graph, (await api.graph(session.graph)).elements);
  chat.loadHistory(session.history);
  breakpoints.set(await api.breakpoints(sessionId));
  controls.apply(session.controls);
  await paint();
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
