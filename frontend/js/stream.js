// One session's SSE stream: connection state, resume, and exactly-once delivery by seq.

/**
 * Opens `url` with EventSource and hands every new trace event to `onEvent`, in seq order,
 * each seq once. Every connection carries a fresh one-time ticket (`ticket()`, from
 * POST /api/stream-tickets: EventSource cannot send the token, and a token in a URL ends
 * up in logs) and `?last_event_id=<last seq seen>`, so the first connection replays the
 * session's ring (a reloaded page redraws everything still kept) and a reconnection
 * resumes where it stopped. A ticket opens one stream, so the browser's own reconnect
 * (which would reuse it) is not used: on any error the stream closes and opens again
 * itself, 0.5 s later, doubling up to 10 s while it keeps failing.
 *
 * onState(state): 'connecting' | 'live' | 'reconnecting'.
 * onLost(n): the server dropped n events for this client (`stream.lost`).
 * onRefused(attempts): the server refused the stream `attempts` times in a row (an
 *   unknown session after a restart, a token that stopped working ...).
 */
export class EventStream {
  constructor(url, { ticket, onEvent, onState, onLost, onRefused }) {
    this.url = url;
    this.ticket = ticket;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onLost = onLost;
    this.onRefused = onRefused;
    this.refused = 0;
    this.lastSeq = 0;
    this.source = null;
    this.retry = 500;
    this.timer = null;
    this.everOpen = false;
    this.closed = false;
  }

  async open() {
    this.onState(this.everOpen ? 'reconnecting' : 'connecting');
    let ticket;
    try {
      ticket = await this.ticket();
    } catch (err) {
      // a server that answered (401 ...) refused; one that did not is still away
      if (err?.status) this.refuse();
      this.again();
      return;
    }
    if (this.closed) return;
    const params = new URLSearchParams({ last_event_id: String(this.lastSeq), ticket });
    const source = new EventSource(`${this.url}?${params}`);
    this.source = source;
    source.onopen = () => {
      this.everOpen = true;
      this.retry = 500;
      this.refused = 0;
      this.onState('live');
    };
    source.onmessage = (message) => this.receive(message.data);
    source.onerror = () => {
      if (this.source !== source) return;
      // CLOSED: the server answered with an error; CONNECTING: the connection dropped
      if (source.readyState === EventSource.CLOSED) this.refuse();
      source.close();
      this.source = null;
      this.onState(this.everOpen ? 'reconnecting' : 'connecting');
      this.again();
    };
  }

  refuse() {
    this.refused += 1;
    this.onRefused?.(this.refused);
  }

  again() {
    if (this.closed) return;
    this.timer = setTimeout(() => this.open(), this.retry);
    this.retry = Math.min(this.retry * 2, 10000);
  }

  receive(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (event.type === 'stream.lost') {
      this.onLost(event.data?.lost ?? 0, event);
      return;
    }
    // Replays after a reconnect may overlap what was already seen: seq is monotonic per
    // session, so anything at or below the last delivered seq is a duplicate.
    if (typeof event.seq !== 'number' || event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    this.onEvent(event);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
