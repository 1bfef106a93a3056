// One session's SSE stream: connection state, resume, and exactly-once delivery by seq.

/**
 * Opens `url` with EventSource and hands every new trace event to `onEvent`, in seq order,
 * each seq once. A first connection asks for `?last_event_id=0`, so the server replays the
 * session's ring before going live (a reloaded page redraws everything still kept). The
 * browser resends Last-Event-ID (which the server prefers to the query) when it reconnects
 * by itself; when it gives up (readyState CLOSED, e.g. the server answered an error while
 * restarting) a new EventSource resumes with `?last_event_id=<last seq seen>`.
 *
 * onState(state): 'connecting' | 'live' | 'reconnecting'.
 * onLost(n): the server dropped n events for this client (`stream.lost`).
 * onRefused(attempts): the server refused the stream `attempts` times in a row (an
 *   unknown session after a restart, a token that stopped working ...).
 */
export class EventStream {
  constructor(url, { onEvent, onState, onLost, onRefused }) {
    this.url = url;
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
  }

  open() {
    this.onState(this.everOpen ? 'reconnecting' : 'connecting');
    const sep = this.url.includes('?') ? '&' : '?';
    const source = new EventSource(`${this.url}${sep}last_event_id=${this.lastSeq}`);
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
      this.onState(this.everOpen ? 'reconnecting' : 'connecting');
      if (source.readyState === EventSource.CLOSED) {
        this.refused += 1;
        this.onRefused?.(this.refused);
        this.timer = setTimeout(() => this.open(), this.retry);
        this.retry = Math.min(this.retry * 2, 10000);
      }
    };
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
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
