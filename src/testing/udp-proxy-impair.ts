import { Prng } from "./prng.js";

/** Gilbert-Elliott burst loss: a two-state Markov chain stepped once per datagram. */
export interface BurstLoss {
  /** Probability of moving from the good state to the bad state. */
  pGoodToBad: number;
  /** Probability of moving from the bad state back to the good state. */
  pBadToGood: number;
  /** Loss probability while in the bad state (default 1). */
  lossInBad?: number;
  /** Loss probability while in the good state (default 0). */
  lossInGood?: number;
}

/**
 * Periodic blackhole windows, measured from proxy start: every window starts at
 * `startMs + k * everyMs` (k = 0, 1, ...) and lasts `durationMs`.
 */
export interface Blackhole {
  /** Period of the windows in ms. */
  everyMs: number;
  /** Length of each window in ms. */
  durationMs: number;
  /** Start of the first window in ms after proxy start (default `everyMs`, so traffic flows at first). */
  startMs?: number;
}

/** Impairments of one direction of the proxy. Probabilities are in [0, 1]; absent fields mean "off". */
export interface ProxyConditions {
  /** Independent loss probability per datagram. */
  loss?: number;
  /** Burst loss on top of `loss`. */
  burst?: BurstLoss;
  /** Fixed one-way delay in ms. */
  delay?: number;
  /** Extra uniformly random delay in [0, jitter) ms; it can reorder datagrams by itself. */
  jitter?: number;
  /** Probability that a datagram is held back by an extra `reorderDelay`. */
  reorder?: number;
  /** Extra delay of held-back datagrams in ms (default max(10, 2 * delay + jitter)). */
  reorderDelay?: number;
  /** Probability that a datagram is forwarded twice. */
  duplicate?: number;
  /** Probability that one random bit of the payload is flipped. */
  corrupt?: number;
  /** Bottleneck rate in bytes per second; unlimited when absent or 0. */
  bandwidth?: number;
  /** Bottleneck queue in bytes; arrivals that do not fit are tail-dropped (default max(3000, bandwidth / 10)). */
  queueBytes?: number;
  /** Blackhole windows: everything arriving inside one is dropped. */
  blackhole?: Blackhole | readonly Blackhole[];
  /** Datagrams to drop by 1-based index in this direction: single indices or inclusive `[from, to]` ranges. */
  dropIndices?: ReadonlyArray<number | readonly [number, number]>;
  /** Drops the datagram when it returns true (1-based index in this direction). */
  drop?: (index: number, payload: Uint8Array) => boolean;
}

/** Why a datagram was dropped. */
export type DropReason =
  | "loss"
  | "burst"
  | "blackhole"
  | "index"
  | "predicate"
  | "queue"
  /** A reply reached an upstream socket replaced by a rebinding. */
  | "stale"
  /** Still delayed inside the proxy when it closed. */
  | "closed"
  /** The socket refused to send it. */
  | "error";

/** Every drop reason, in a stable order (for printing and zeroed counters). */
export const DROP_REASONS: readonly DropReason[] = ["loss", "burst", "blackhole", "index", "predicate", "queue", "stale", "closed", "error"];

/** Counters of one direction. Duplicates count once in `duplicated` and again in `forwarded` when sent. */
export interface DirectionStats {
  received: number;
  receivedBytes: number;
  forwarded: number;
  forwardedBytes: number;
  dropped: number;
  droppedBytes: number;
  droppedBy: Record<DropReason, number>;
  duplicated: number;
  corrupted: number;
  /** Datagrams given the extra reorder delay. */
  reordered: number;
}

/** Fresh zeroed counters. */
export function emptyDirectionStats(): DirectionStats {
  const droppedBy = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) droppedBy[r] = 0;
  return {
    received: 0,
    receivedBytes: 0,
    forwarded: 0,
    forwardedBytes: 0,
    dropped: 0,
    droppedBytes: 0,
    droppedBy,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
  };
}

/** A deep copy, so callers can keep snapshots. */
export function copyDirectionStats(s: DirectionStats): DirectionStats {
  return { ...s, droppedBy: { ...s.droppedBy } };
}

/** One copy of a datagram to emit at `due` (ms since proxy start). */
export interface Emission {
  due: number;
  payload: Uint8Array;
}

function checkProbability(name: string, p: number | undefined): void {
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
}

function checkNonNegative(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && Number.isFinite(v))) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
}

/** Throws a RangeError when `c` holds an out-of-range value. */
export function validateConditions(c: ProxyConditions): void {
  checkProbability("loss", c.loss);
  checkProbability("reorder", c.reorder);
  checkProbability("duplicate", c.duplicate);
  checkProbability("corrupt", c.corrupt);
  if (c.burst) {
    checkProbability("burst.pGoodToBad", c.burst.pGoodToBad);
    checkProbability("burst.pBadToGood", c.burst.pBadToGood);
    checkProbability("burst.lossInBad", c.burst.lossInBad);
    checkProbability("burst.lossInGood", c.burst.lossInGood);
  }
  checkNonNegative("delay", c.delay);
  checkNonNegative("jitter", c.jitter);
  checkNonNegative("reorderDelay", c.reorderDelay);
  checkNonNegative("bandwidth", c.bandwidth);
  checkNonNegative("queueBytes", c.queueBytes);
  for (const b of blackholes(c)) {
    if (!(b.everyMs > 0) || !(b.durationMs >= 0)) throw new RangeError("blackhole needs everyMs > 0 and durationMs >= 0");
    checkNonNegative("blackhole.startMs", b.startMs);
  }
  for (const d of c.dropIndices ?? []) {
    const ok = typeof d === "number" ? Number.isInteger(d) : Number.isInteger(d[0]) && Number.isInteger(d[1]);
    if (!ok) throw new RangeError("dropIndices holds integers or [from, to] pairs of integers");
  }
}

function blackholes(c: ProxyConditions): readonly Blackhole[] {
  if (!c.blackhole) return [];
  return Array.isArray(c.blackhole) ? c.blackhole : [c.blackhole as Blackhole];
}

/** True when time `t` (ms since proxy start) falls inside one of the windows. */
export function inBlackhole(c: ProxyConditions, t: number): boolean {
  for (const b of blackholes(c)) {
    const start = b.startMs ?? b.everyMs;
    if (t < start) continue;
    if ((t - start) % b.everyMs < b.durationMs) return true;
  }
  return false;
}

function indexListed(c: ProxyConditions, index: number): boolean {
  for (const d of c.dropIndices ?? []) {
    if (typeof d === "number" ? d === index : index >= d[0] && index <= d[1]) return true;
  }
  return false;
}

/** How many PRNG draws each datagram consumes, whatever its fate. */
const DRAWS_PER_DATAGRAM = 8;

/**
 * The fate of the datagrams of one direction: drops, corruption, duplication,
 * delay and the bottleneck queue. Pure apart from its own state; the clock is
 * passed in, so it is testable without sockets.
 *
 * Every datagram consumes the same number of PRNG draws, so with a given seed
 * the random fate of the n-th datagram does not depend on what happened to the
 * earlier ones (a blackhole or a changed condition does not shift later losses).
 */
export class DirectionImpairment {
  /** Counters of this direction. */
  readonly stats: DirectionStats = emptyDirectionStats();
  private conditions: ProxyConditions = {};
  private readonly rng: Prng;
  private index = 0;
  /** Gilbert-Elliott state: true while in the bad state. */
  private bad = false;
  /** When the bottleneck finishes sending what is queued (ms since proxy start). */
  private busyUntil = 0;

  /**
   * @param seed seed of this direction's PRNG
   * @param conditions initial impairments
   */
  constructor(seed: number, conditions: ProxyConditions = {}) {
    this.rng = new Prng(seed);
    this.set(conditions);
  }

  /** Replaces the impairments; the datagram index, burst state and queue carry on. */
  set(conditions: ProxyConditions): void {
    validateConditions(conditions);
    this.conditions = { ...conditions };
  }

  /** The current impairments. */
  get(): ProxyConditions {
    return { ...this.conditions };
  }

  /** Counts a datagram dropped outside this pipeline (e.g. a stale reply or a send error). */
  countDrop(reason: DropReason, bytes: number): void {
    this.stats.dropped++;
    this.stats.droppedBytes += bytes;
    this.stats.droppedBy[reason]++;
  }

  /** Counts a datagram put on the wire. */
  countForward(bytes: number): void {
    this.stats.forwarded++;
    this.stats.forwardedBytes += bytes;
  }

  /** Counts a received datagram that never enters the pipeline (it is dropped at once). */
  countReceived(bytes: number): void {
    this.stats.received++;
    this.stats.receivedBytes += bytes;
  }

  /**
   * Decides the fate of a datagram that arrived at `now` (ms since proxy start).
   * Returns the copies to emit (none when dropped), each with its due time.
   */
  admit(payload: Uint8Array, now: number): Emission[] {
    const c = this.conditions;
    const s = this.stats;
    this.countReceived(payload.length);
    const index = ++this.index;
    const draw: number[] = [];
    for (let i = 0; i < DRAWS_PER_DATAGRAM; i++) draw.push(this.rng.next());
    const [dLoss, dTransition, dBurst, dDup, dCorrupt, dBit, dJitter, dReorder] = draw as [number, number, number, number, number, number, number, number];

    let burstLoss = false;
    if (c.burst) {
      const b = c.burst;
      this.bad = this.bad ? dTransition >= b.pBadToGood : dTransition < b.pGoodToBad;
      burstLoss = dBurst < (this.bad ? (b.lossInBad ?? 1) : (b.lossInGood ?? 0));
    }
    let reason: DropReason | undefined;
    if (inBlackhole(c, now)) reason = "blackhole";
    else if (indexListed(c, index)) reason = "index";
    else if (c.drop?.(index, payload)) reason = "predicate";
    else if (burstLoss) reason = "burst";
    else if (dLoss < (c.loss ?? 0)) reason = "loss";
    if (reason) {
      this.countDrop(reason, payload.length);
      return [];
    }

    let data = payload;
    if (dCorrupt < (c.corrupt ?? 0) && data.length > 0) {
      // A copy: the caller's buffer may be shared with a duplicate or a log.
      data = Uint8Array.from(data);
      const bit = Math.floor(dBit * data.length * 8);
      data[bit >>> 3]! ^= 1 << (bit & 7);
      s.corrupted++;
    }
    const copies = dDup < (c.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) s.duplicated++;

    const delay = c.delay ?? 0;
    const jitter = c.jitter ?? 0;
    let extra = delay + dJitter * jitter;
    if (dReorder < (c.reorder ?? 0)) {
      extra += c.reorderDelay ?? Math.max(10, 2 * delay + jitter);
      s.reordered++;
    }

    const out: Emission[] = [];
    for (let i = 0; i < copies; i++) {
      let departure = now;
      const rate = c.bandwidth ?? 0;
      if (rate > 0) {
        // Fluid model of the bottleneck: what is still queued is the time until it is free times the rate.
        const backlog = (Math.max(0, this.busyUntil - now) * rate) / 1000;
        const limit = c.queueBytes ?? Math.max(3000, rate / 10);
        if (backlog + data.length > limit) {
          this.countDrop("queue", data.length);
          continue;
        }
        this.busyUntil = Math.max(this.busyUntil, now) + (data.length * 1000) / rate;
        departure = this.busyUntil;
      }
      out.push({ due: departure + extra, payload: i === 0 ? data : Uint8Array.from(data) });
    }
    return out;
  }
}
