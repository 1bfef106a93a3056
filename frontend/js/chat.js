// The conversation: the person's messages, answers streaming in token by token, errors.

import { h, keepBottom, show } from './dom.js';
import { runTitle } from './runs.js';

const INTERRUPTED = 'This turn was interrupted: the server stopped before it ended. Send it again.';

/**
 * The answer text in a run's outputs ({name: value or its JSON preview}), or ''.
 * An answer is a value with a `text` (output_v1's Response) or a plain string under
 * `response`/`answer`/`text`; other outputs (controls...) are not answers.
 */
export function answerText(outputs) {
  if (!outputs || typeof outputs !== 'object') return '';
  for (const [name, value] of Object.entries(outputs)) {
    const text = textOf(value, ANSWER_NAMES.includes(name));
    if (text) return text;
  }
  return '';
}

const ANSWER_NAMES = ['response', 'answer', 'text'];

/** Whether the answer among the outputs is a preview cut short (ends with an ellipsis). */
function answerCut(outputs) {
  return Object.entries(outputs ?? {}).some(([name, value]) => typeof value === 'string'
    && value.endsWith('…') && (ANSWER_NAMES.includes(name) || value.startsWith('{"text"')));
}

function textOf(value, plainOk) {
  if (typeof value === 'string') {
    if (/^\s*[[{]/.test(value)) {
      try {
        return textOf(JSON.parse(value), false);
      } catch {
        return ''; // a JSON preview cut short: not an answer
      }
    }
    return plainOk ? value : '';
  }
  if (value && typeof value === 'object' && typeof value.text === 'string') return value.text;
  return '';
}

/**
 * The chat panel. onSend(text) posts a message and resolves to its run id.
 * fetchAnswer(runId) resolves to the full answer text when only a preview was streamed.
 */
export class Chat {
  constructor(root, { onSend, fetchAnswer }) {
    this.list = root.querySelector('[data-testid="chat-messages"]');
    this.form = root.querySelector('[data-testid="chat-form"]');
    this.input = root.querySelector('[data-testid="chat-input"]');
    this.onSend = onSend;
    this.fetchAnswer = fetchAnswer;
    this.answers = new Map(); // run id -> answer bubble
    this.asked = new Map(); // run id -> user bubble
    this.closed = new Set(); // runs already complete (from history), whose events are ignored
    this.streamed = new Set(); // runs whose answer arrived as output.delta
    this.lossy = false;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = '';
    const bubble = this.bubble('user', text);
    bubble.classList.add('pending');
    try {
      const runId = await this.onSend(text);
      this.bind(bubble, runId);
    } catch (err) {
      bubble.classList.replace('pending', 'unsent');
      bubble.title = 'not sent';
      if (!this.input.value) this.input.value = text; // give the words back to edit
      this.error(`Not sent: ${err.message}`);
    }
  }

  bind(bubble, runId) {
    const known = this.asked.get(runId);
    if (known && known !== bubble) {
      // run.started arrived before the POST answered and already drew the message
      known.remove();
    }
    bubble.classList.remove('pending');
    bubble.dataset.run = runId;
    this.asked.set(runId, bubble);
  }

  /** Draw finished turns from the session's history ({run_id, entry, input, outputs, status}). */
  loadHistory(turns) {
    for (const turn of turns ?? []) {
      this.closed.add(turn.run_id);
      if (turn.entry === 'message') this.asked.set(turn.run_id, this.bubble('user', show(turn.input)));
      else this.note(`action ${describeAction(turn.input)}`);
      const text = answerText(turn.outputs);
      if (text) this.answer(turn.run_id, text).classList.add('final');
      else if (turn.status === 'failed') this.error('This turn failed.');
      else if (turn.status === 'interrupted') this.error(INTERRUPTED);
    }
  }

  apply(ev) {
    if (this.closed.has(ev.run_id)) return;
    const d = ev.data ?? {};
    switch (ev.type) {
      case 'run.started':
        if (d.entry === 'message') {
          this.userTurn(ev.run_id, d.input);
          this.answer(ev.run_id).classList.add('streaming'); // a cursor until the answer comes
        } else {
          this.note(`action ${describeAction(d.input)}`, ev.run_id);
        }
        break;
      case 'output.delta': {
        const bubble = this.answer(ev.run_id);
        this.streamed.add(ev.run_id);
        bubble.classList.add('streaming');
        keepBottom(this.list, () => { bubble.textContent += d.text ?? ''; });
        break;
      }
      case 'run.finished':
        this.finish(ev.run_id, d.outputs);
        for (const warning of d.warnings ?? []) this.note(`after the answer: ${warning}`, ev.run_id);
        break;
      case 'run.failed':
        this.settle(ev.run_id);
        this.error(`The run failed${ev.node ? ` in ${ev.node}` : ''}: ${d.error ?? 'unknown error'}`);
        break;
      case 'run.cancelled':
        this.settle(ev.run_id);
        this.note('The run was cancelled.', ev.run_id);
        break;
      case 'run.interrupted': // the server stopped mid-run (a crash); said after its restart
        this.settle(ev.run_id);
        this.error(INTERRUPTED);
        break;
      case 'answer.checked':
        if (d.ok === false) this.corrected(ev.run_id, d);
        break;
      case 'ui.ignored':
        this.note(`click ignored: ${d.reason ?? 'no reason given'}`, ev.run_id);
        break;
      case 'graph.switched':
        this.note(`graph switched from ${d.from} to ${d.to} (from the next turn on)`);
        break;
      default:
        break;
    }
  }

  userTurn(runId, input) {
    if (this.asked.has(runId)) return;
    const text = show(input);
    // A message this page sent whose POST has not answered yet: adopt it, not draw it twice.
    const pending = [...this.list.querySelectorAll('.msg.user.pending')]
      .find((b) => sameText(b.textContent, text));
    if (pending) {
      this.asked.set(runId, pending);
      pending.dataset.run = runId;
      return;
    }
    this.asked.set(runId, this.bubble('user', text));
  }

  /** The server dropped events for this page: streamed answers may have holes. */
  noteLoss() {
    this.lossy = true;
  }

  /**
   * The run's outputs are the final word on the answer. They come as previews of at most
   * 200 characters: a complete one replaces what streamed; a preview cut short is
   * completed from GET /api/runs/{id} when nothing streamed or events were lost.
   */
  finish(runId, outputs) {
    const text = answerText(outputs);
    const cut = answerCut(outputs);
    if (!text && !cut) {
      this.settle(runId); // e.g. an action that only changed controls
      return;
    }
    const bubble = this.answer(runId);
    bubble.classList.remove('streaming');
    bubble.classList.add('final');
    if (text && !cut) bubble.textContent = text;
    else if (!bubble.textContent) bubble.textContent = text;
    if (cut && (this.lossy || !this.streamed.has(runId))) {
      this.fetchAnswer(runId).then((full) => {
        if (full) bubble.textContent = full;
        else if (!bubble.textContent) bubble.remove();
      }).catch(() => {});
    }
  }

  /**
   * output_v1's check of the answer the user read failed (answer.checked): numbers or
   * names that no tool result, context line or word of the user holds, or a repeat of
   * the prompt. Say so, and show the answer the turn keeps instead when there is one.
   */
  corrected(runId, d) {
    const why = d.reason === 'repeats the prompt'
      ? 'The answer repeated the instructions'
      : `Not in any tool result or your words: ${(d.unsupported ?? []).join(', ') || 'something'}`;
    if (typeof d.text === 'string') {
      const bubble = this.answer(runId);
      bubble.textContent = d.text;
      bubble.classList.add('corrected');
    }
    const how = d.replaced_with ? `replaced by the ${d.replaced_with}`
      : (typeof d.text === 'string' ? 'dropped' : 'left as it is, unchecked');
    this.note(`${why}; the answer was ${how}.`, runId);
  }

  /** A run ended without (more) answer: stop its cursor, drop its bubble if empty. */
  settle(runId) {
    const bubble = this.answers.get(runId);
    if (!bubble) return;
    bubble.classList.remove('streaming');
    if (!bubble.textContent) {
      bubble.remove();
      this.answers.delete(runId);
    }
  }

  answer(runId, text = '') {
    let bubble = this.answers.get(runId);
    if (!bubble) {
      bubble = this.bubble('assistant', text);
      bubble.dataset.run = runId;
      this.answers.set(runId, bubble);
    }
    return bubble;
  }

  bubble(who, text) {
    const el = h('div', { class: `msg ${who}`, testid: `chat-${who}` }, text);
    keepBottom(this.list, () => this.list.append(el));
    return el;
  }

  note(text, runId) {
    const el = h('div', { class: 'msg note', testid: 'chat-note', data: runId ? { run: runId } : {} },
      text);
    keepBottom(this.list, () => this.list.append(el));
  }

  error(text) {
    const el = h('div', { class: 'msg error', testid: 'chat-error', role: 'alert' }, text);
    keepBottom(this.list, () => this.list.append(el));
  }
}

function describeAction(input) {
  return runTitle({ entry: 'action', input });
}

// run.started carries a preview: at most 200 characters, cut with an ellipsis.
function sameText(full, preview) {
  if (full === preview) return true;
  return preview.endsWith('…') && full.startsWith(preview.slice(0, -1));
}
