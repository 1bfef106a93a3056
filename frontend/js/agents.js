// The Agents dialog: external sessions, i.e. other agents that POST hook-style events to
// /api/hooks/events (Claude Code hook scripts, another cogpipe's forwarder). Lists each
// source_app + session_id; for the picked one shows its tool calls as a timeline (a bar
// per PreToolUse paired with its PostToolUse or PostToolUseFailure) and its event log.
// Polls every 2 s while open. See docs/observability.md ("Hooks") and docs/hud.md.

import { h, show } from './dom.js';

const POLL_MS = 2000;
const ENDS = new Set(['PostToolUse', 'PostToolUseFailure']);

/** When an event happened, in ms: the agent's own timestamp, else when it arrived. */
function when(ev) {
  return ev.timestamp ?? ev.received * 1000;
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString();
}

/** A short line about an event: the tool, the prompt, or the payload. */
function gist(ev) {
  const p = ev.payload ?? {};
  if (p.tool_name) return `${p.tool_name}${p.error ? ` · ${p.error}` : ''}`;
  if (p.prompt) return p.prompt;
  return ev.summary ?? show(p);
}

/**
 * Tool spans from the events: each PreToolUse paired with the PostToolUse(Failure) of the
 * same tool_use_id (or, without ids, the first open call of the same tool_name).
 * Returns [{ name, start, end (null while open), failed }], by start.
 */
export function toolSpans(events) {
  const spans = [];
  const open = [];
  for (const ev of events) {
    const p = ev.payload ?? {};
    if (ev.hook_event_type === 'PreToolUse') {
      const span = { name: p.tool_name ?? '?', id: p.tool_use_id ?? null, start: when(ev), end: null, failed: false };
      spans.push(span);
      open.push(span);
    } else if (ENDS.has(ev.hook_event_type)) {
      const i = open.findIndex((s) => (p.tool_use_id ? s.id === p.tool_use_id : s.name === p.tool_name));
      if (i < 0) continue;
      const [span] = open.splice(i, 1);
      Object.assign(span, { end: when(ev), failed: ev.hook_event_type === 'PostToolUseFailure' });
    }
  }
  return spans;
}

export class AgentsDialog {
  /** listSessions() resolves to the external sessions; listEvents(app, id) to its events. */
  constructor(dialog, { listSessions, listEvents }) {
    Object.assign(this, { dialog, listSessions, listEvents });
    const $ = (id) => dialog.querySelector(`[data-testid="${id}"]`);
    this.list = $('agents-sessions');
    this.detail = $('agents-detail');
    this.picked = null;
    this.timer = null;
    $('agents-close').addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { clearInterval(this.timer); this.timer = null; });
  }

  async open() {
    this.dialog.showModal();
    await this.refresh();
    this.timer ??= setInterval(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    let sessions;
    try {
      sessions = await this.listSessions();
    } catch (err) {
      this.list.replaceChildren(h('li', { class: 'err' }, `Could not list external sessions: ${err.message}`));
      return;
    }
    if (!sessions.length) {
      this.list.replaceChildren(h('li', { class: 'muted' },
        'No other agent has posted events yet: point one at POST /api/hooks/events.'));
      return;
    }
    const key = (s) => `${s.source_app}\u0000${s.session_id}`;
    if (!this.picked || !sessions.some((s) => key(s) === this.picked)) this.picked = key(sessions[0]);
    this.list.replaceChildren(...sessions.map((s) => h('li', {},
      h('button', { type: 'button', testid: 'agents-session', 'aria-pressed': String(key(s) === this.picked),
        data: { app: s.source_app, session: s.session_id },
        onclick: () => { this.picked = key(s); this.refresh(); } },
      h('b', {}, s.source_app), ` · ${s.session_id}`),
      h('span', { class: 'muted' }, ` ${s.events} events · ${s.last_type} · ${clock(s.last * 1000)}` +
        (s.model_name ? ` · ${s.model_name}` : '')))));
    const [app, id] = this.picked.split('\u0000');
    try {
      this.draw(app, id, await this.listEvents(app, id));
    } catch (err) {
      this.detail.replaceChildren(h('p', { class: 'err' }, `Could not read its events: ${err.message}`));
    }
  }

  draw(app, id, events) {
    const spans = toolSpans(events);
    const t0 = events.length ? Math.min(...events.map(when)) : 0;
    const t1 = events.length ? Math.max(...events.map(when), ...spans.map((s) => s.end ?? 0)) : 1;
    const scale = 100 / Math.max(t1 - t0, 1);
    this.detail.replaceChildren(
      h('h3', {}, `${app} · ${id}`),
      h('h4', {}, `Tool calls (${spans.length})`),
      spans.length ? h('ul', { class: 'agents-timeline', testid: 'agents-timeline' }, spans.map((s) =>
        h('li', { testid: 'agents-tool', class: s.end === null ? 'open' : s.failed ? 'failed' : 'done' },
          h('span', { class: 'agents-tool-name' }, s.name),
          h('span', { class: 'agents-track' }, h('span', { class: 'agents-bar',
            style: `left:${(s.start - t0) * scale}%;width:${Math.max(((s.end ?? t1) - s.start) * scale, 0.5)}%` })),
          h('span', { class: 'muted' }, s.end === null ? 'running' : `${Math.round(s.end - s.start)} ms`))))
        : h('p', { class: 'muted' }, 'No tool calls.'),
      h('h4', {}, `Events (${events.length})`),
      h('ol', { class: 'agents-log', testid: 'agents-events' }, events.map((ev) =>
        h('li', { testid: 'agents-event' }, h('span', { class: 'muted' }, clock(when(ev))), ' ',
          h('b', {}, ev.hook_event_type), ' ', h('span', { class: 'verbatim' }, gist(ev))))));
  }
}
