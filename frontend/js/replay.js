// Replay: a past run's stored events applied again, in order, at their recorded pace times
// a speed (0.25x to 4x), so the graph, timeline and inspector animate as they did live.
// The events come from the session's stream or from a JSONL trace file; either way they
// are trace events (docs/api.md), the same ones `cogpipe trace show` prints.

import { Runs } from './runs.js';

export const SPEEDS = [0.25, 0.5, 1, 2, 4];
const MAX_GAP_S = 3; // a longer pause between two events is shortened to this (at 1x)

/**
 * One replay. `onStep(batch)` is called with the events just applied (in order);
 * `onEnd()` once the last event is applied.
 */
export class Replay {
  constructor(events, { speed = 1, onStep, onEnd }) {
    this.events = [...events].sort((a, b) => a.seq - b.seq);
    this.speed = speed;
    this.onStep = onStep;
    this.onEnd = onEnd;
    this.log = []; // {seq, type, node} of every event applied, for tests and the console
    this.timer = null;
    this.playing = false;
    this.seek(0);
  }

  get total() {
    return this.events.length;
  }

  /** The graph the run ran on (drawn before its first event is replayed too). */
  get graph() {
    return this.events[0]?.graph ?? null;
  }

  /** The replayed run as far as it got (a runs.js record). */
  get run() {
    return this.runs.latest;
  }

  get done() {
    return this.index >= this.total;
  }

  play() {
    if (this.done) this.seek(0);
    this.playing = true;
    this.anchor();
    this.tick();
  }

  pause() {
    this.playing = false;
    clearTimeout(this.timer);
  }

  stop() {
    this.pause();
    this.onStep = this.onEnd = () => {};
  }

  setSpeed(speed) {
    const now = this.clock();
    this.speed = speed;
    this.t0 = now; // go on from where the replay is, at the new speed
    this.wall = performance.now();
  }

  /** Jump to just after the first `index` events (0: before the run started). */
  seek(index) {
    this.runs = new Runs(1);
    this.index = 0;
    const batch = this.apply(Math.max(0, Math.min(index, this.total)));
    this.anchor();
    if (this.playing) {
      clearTimeout(this.timer);
      this.tick();
    }
    return batch;
  }

  // The replay clock: trace time `t0` is now; it advances `speed` times as fast.
  anchor() {
    this.t0 = this.index > 0 ? this.events[this.index - 1].ts : this.events[0]?.ts ?? 0;
    this.wall = performance.now();
  }

  /** The replay's time (trace time, Unix seconds): where it is now, or where it paused. */
  clock() {
    if (!this.playing) return this.index > 0 ? this.events[this.index - 1].ts : this.t0;
    return this.t0 + ((performance.now() - this.wall) / 1000) * this.speed;
  }

  apply(upTo) {
    const batch = this.events.slice(this.index, upTo);
    for (const ev of batch) {
      this.runs.apply(ev);
      this.log.push({ seq: ev.seq, type: ev.type, node: ev.node ?? null });
    }
    this.index = upTo;
    return batch;
  }

  tick() {
    if (!this.playing) return;
    let now = this.clock();
    const next = this.events[this.index];
    if (next && next.ts - now > MAX_GAP_S) { // skip dead air
      this.t0 += next.ts - now - MAX_GAP_S;
      now = this.clock();
    }
    let upTo = this.index;
    while (upTo < this.total && this.events[upTo].ts <= now) upTo++;
    if (upTo > this.index) this.onStep(this.apply(upTo));
    if (this.done) {
      this.playing = false;
      this.onEnd();
      return;
    }
    const wait = ((this.events[this.index].ts - this.clock()) / this.speed) * 1000;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(wait, 250)));
  }
}
