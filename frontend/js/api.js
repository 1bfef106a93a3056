// The REST side of docs/api.md: one function per endpoint the HUD uses, with the token.

const TOKEN_KEY = 'cogpipe.token';

/** An API answer that was not 2xx; `message` is the server's one-sentence `error`. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let token = localStorage.getItem(TOKEN_KEY);
let askToken = null;
let asking = null;

/** Install the function that asks the person for a token: (reason) => Promise<string|null>. */
export function onTokenNeeded(fn) {
  askToken = fn;
}

// Concurrent 401s share one question: the person is asked once, not once per request.
async function newToken(hadToken) {
  if (!askToken) return null;
  asking ??= askToken(hadToken ? 'The saved token was refused.' : 'This server needs an access token.')
    .finally(() => { asking = null; });
  const answer = await asking;
  token = answer || null;
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  return token;
}

async function request(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const sent = token;
    const headers = { Accept: 'application/json' };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && attempt === 0) {
      // another request may already have got a new token while this one was in flight
      if ((token && token !== sent) || await newToken(Boolean(sent))) continue;
    }
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const text = data?.error ?? `${method} ${path} answered ${res.status} ${res.statusText}`;
      throw new ApiError(res.status, text, data);
    }
    return data;
  }
}

const enc = encodeURIComponent;

export const api = {
  health: () => request('GET', '/api/health'),
  graphs: () => request('GET', '/api/graphs'),
  graph: (name) => request('GET', `/api/graphs/${enc(name)}`),
  createSession: (graph) => request('POST', '/api/sessions', graph ? { graph } : {}),
  session: (id) => request('GET', `/api/sessions/${enc(id)}`),
  switchGraph: (id, graph) => request('PUT', `/api/sessions/${enc(id)}/graph`, { graph }),
  sendMessage: (id, text) => request('POST', `/api/sessions/${enc(id)}/messages`, { text }),
  sendAction: (id, action) => request('POST', `/api/sessions/${enc(id)}/actions`, action),
  reportDashboard: (id, version, controls) =>
    request('PUT', `/api/sessions/${enc(id)}/dashboard`, { version, controls }),
  run: (runId) => request('GET', `/api/runs/${enc(runId)}`),
  resume: (runId, action, inputs) => request('POST', `/api/runs/${enc(runId)}/resume`,
    inputs === undefined ? { action } : { action, inputs }),
  breakpoints: (id) => request('GET', `/api/sessions/${enc(id)}/breakpoints`),
  setBreakpoints: (id, points) => request('PUT', `/api/sessions/${enc(id)}/breakpoints`, points),
  // EventSource cannot send the token: a one-time ticket opens one stream instead.
  streamTicket: () => request('POST', '/api/stream-tickets').then((t) => t.ticket),
  traces: () => request('GET', '/api/traces'),
  traceText: (name) => getText(`/api/traces/${enc(name)}`),
};

/** GET a text body (a JSONL trace file) with the token; ApiError when not 2xx. */
async function getText(path) {
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new ApiError(res.status, `GET ${path} answered ${res.status} ${res.statusText}`, null);
  return res.text();
}
