// One LLM call or tool call as the inspector shows it: what was asked, what came back
// (an LLM call's tokens as they stream), how long it took. Reads the call records of
// runs.js; see docs/api.md for the events they come from.

import { h, ms, show } from './dom.js';
import { jsonView } from './json.js';

const STATUS = { pending: 'running…', done: 'done', failed: 'failed' };

function facts(...parts) {
  return parts.filter((p) => p !== '' && p !== null && p !== undefined && p !== false).join(' · ');
}

function tokens(a) {
  if (a?.tokens_in === undefined && a?.tokens_out === undefined) return '';
  return `${a.tokens_in ?? '?'} → ${a.tokens_out ?? '?'} tokens`;
}

function message(m, key, i) {
  const text = show(m.content);
  const head = text.split('\n', 1)[0];
  return h('details', { class: 'msg-part', data: { key: `${key}/m${i}` } },
    h('summary', {}, h('b', { class: `role role-${m.role}` }, m.role),
      m.name ? ` ${m.name}` : '', ` ${head.slice(0, 90)}${head.length > 90 || text.length > head.length ? '…' : ''}`),
    text ? h('pre', { class: 'verbatim' }, text) : null,
    m.tool_calls ? h('pre', { class: 'muted verbatim' }, `tool calls: ${m.tool_calls}`) : null,
    m.chars ? h('div', { class: 'muted small' }, `cut: the message had ${m.chars} characters`) : null);
}

function request(a, key) {
  const req = a?.request;
  if (!req) {
    return a?.prompt ? h('div', {}, h('h5', {}, 'last message (preview)'), h('pre', { class: 'verbatim' }, a.prompt)) : null;
  }
  const tools = req.tools ?? [];
  return h('div', { class: 'llm-request', testid: 'inspector-llm-request' },
    h('h5', {}, `messages (${a.messages ?? req.messages.length})`),
    req.omitted ? h('div', { class: 'muted small' }, `${req.omitted} earlier messages not shown`) : null,
    req.messages.map((m, i) => message(m, key, i)),
    req.schema ? [h('h5', {}, 'schema asked for'), jsonView(req.schema, `${key}/schema`)] : null,
    tools.length ? [h('h5', {}, `tools offered (${tools.length + (req.tools_omitted ?? 0)})`),
      tools.map((t, i) => h('details', { class: 'msg-part', data: { key: `${key}/t${i}` } },
        h('summary', {}, h('b', {}, t.name), t.description ? ` ${t.description}` : ''),
        t.parameters ? jsonView(t.parameters, `${key}/t${i}/p`) : null))] : null);
}

function attempts(call) {
  if (call.attempts.length < 2) return null;
  return h('div', {}, h('h5', {}, `attempts (${call.attempts.length})`),
    h('ol', { class: 'attempts' }, call.attempts.map((a) => h('li', { class: a.status },
      facts(STATUS[a.status] ?? a.status, a.after ? `after ${a.after}` : '', a.mode ? `mode ${a.mode}` : '',
        a.error_kind, a.latency_ms !== undefined ? ms(a.latency_ms) : '',
        a.retry_in_ms !== undefined ? `retry in ${ms(a.retry_in_ms)}` : '')))));
}

/** An LLM call: summary line, then request, streamed tokens, answer and attempts. */
export function llmCall(call, key) {
  const last = call.attempts.at(-1) ?? {};
  const answered = call.attempts.findLast((a) => a.status === 'done');
  const failed = call.attempts.findLast((a) => a.status === 'failed');
  const live = call.status === 'pending';
  return h('details', { class: `call ${call.status}`, testid: 'inspector-llm-call', open: true,
    data: { key, call: call.id, status: call.status } },
  h('summary', {}, h('b', {}, answered?.model ?? call.model ?? 'model'), ` ${call.purpose ?? ''}`,
    h('span', { class: 'muted' }, ` ${facts(call.call, STATUS[call.status] ?? call.status,
      tokens(answered), answered?.ttft_ms !== undefined ? `first token ${ms(answered.ttft_ms)}` : '',
      answered?.latency_ms !== undefined ? `latency ${ms(answered.latency_ms)}` : '',
      answered?.truncated ? 'cut off at max_tokens' : '')}`)),
  request(last, key),
  call.text || live ? [h('h5', {}, live ? 'tokens so far' : 'streamed'),
    h('pre', { class: `tokens verbatim${live ? ' live' : ''}`, testid: 'inspector-llm-tokens' }, call.text)] : null,
  answered?.output && !call.text ? [h('h5', {}, 'answer'), jsonView(answered.output, `${key}/out`)] : null,
  answered?.tool_calls?.length ? h('div', {}, h('h5', {}, 'tool calls asked for'),
    answered.tool_calls.join(', ')) : null,
  failed && call.status === 'failed' ? h('div', { class: 'err' }, failed.error ?? 'failed') : null,
  attempts(call));
}

/** A tool call: server.tool, hints, duration; arguments and result as JSON. */
export function toolCall(call, key) {
  const failed = call.status === 'failed';
  return h('details', { class: `call tool ${call.status}`, testid: 'inspector-tool-call', open: true,
    data: { key, call: call.id, status: call.status } },
  h('summary', {}, h('b', {}, `${call.server ?? '?'}.${call.tool}`),
    h('span', { class: 'muted' }, ` ${facts(STATUS[call.status], call.duration_ms !== undefined
      ? ms(call.duration_ms) : '')}`),
    ...(call.hints ?? []).map((hint) => h('span', { class: `hint ${hint}` }, hint)),
    failed && call.error_kind ? h('span', { class: 'err' }, ` (${call.error_kind})`) : ''),
  h('h5', {}, 'arguments'), jsonView(call.arguments ?? {}, `${key}/args`),
  call.status === 'pending' ? null : [h('h5', {}, failed ? 'error' : 'result'),
    call.error ? h('pre', { class: 'err verbatim' }, call.error) : jsonView(call.result, `${key}/res`)]);
}
