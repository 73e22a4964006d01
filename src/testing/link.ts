import { formatAddress, type OutgoingDatagram, type SansIo, type SocketAddress } from "../quic/types.js";
import { Prng } from "./prng.js";

/** Impairments applied to one direction of a simulated link. All rates are probabilities in [0, 1]. */
export interface LinkConditions {
  /** One-way delay in ms. */
  delay?: number;
  /** Extra uniformly random delay in [0, jitter) ms; with it, packets can be reordered. */
  jitter?: number;
  /** Probability that a datagram is dropped. */
  loss?: number;
  /** Largest datagram (UDP payload) the path carries; larger ones are dropped, as a path MTU does. */
  mtu?: number;
  /** Probability that a datagram is delivered twice. */
  duplicate?: number;
  /** Probability that one random bit of a datagram is flipped. */
  corrupt?: number;
  /** Probability that a datagram is held back by an extra `reorderDelay` ms. */
  reorder?: number;
  /** Extra delay for reordered datagrams (default 2 * delay + 1). */
  reorderDelay?: number;
  /** Bottleneck rate in bytes per ms (e.g. 12_500 for 100 Mbit/s); unlimited when absent. */
  bandwidth?: number;
  /** Queue capacity of the bottleneck in bytes; datagrams beyond it are tail-dropped. */
  queueBytes?: number;
  /** Decides per datagram (1-based index in this direction) whether to drop it. */
  drop?: (index: number, datagram: Uint8Array) => boolean;
  /**
   * Rewrites a datagram as it enters the link (1-based index in this
   * direction), before the other impairments: return it unchanged, a
   * modified copy, or null to drop it. For tests that tamper with packets
   * or watch what is sent. Receivers may decrypt in place: copy a datagram
   * that must be kept.
   */
  tamper?: (datagram: Uint8Array, index: number) => Uint8Array | null;
}

/** Counters of one direction. */
export interface LinkStats {
  sent: number;
  sentBytes: number;
  delivered: number;
  deliveredBytes: number;
  dropped: number;
  duplicated: number;
  corrupted: number;
}

/** Heap order of in-flight datagrams: by arrival time, then by send order. */
function before(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

interface InFlight {
  at: number;
  seq: number;
  data: Uint8Array;
  dest: 0 | 1;
  /** Source and destination addresses; undefined: the participants' current ones at delivery. */
  from: SocketAddress | undefined;
  to: SocketAddress | undefined;
}

/**
 * Two sans-IO participants joined by a simulated network with a fake clock:
 * delay, jitter, loss, reordering, duplication, corruption and a bandwidth
 * bottleneck, all deterministic for a given seed. Time only moves when
 * nothing can happen sooner, so a long transfer runs as fast as the CPU allows.
 *
 * This is how the transport is tested (after quiche's `Pipe` and quinn's
 * `Pair`), and applications can use it to test their own protocols over a
 * bad link.
 */
export class SimulatedLink {
  /** The virtual clock in ms. */
  now: number;
  /** Counters per direction: [0] a to b, [1] b to a. Injected datagrams count as delivered, not sent. */
  readonly stats: [LinkStats, LinkStats];
  private readonly nodes: [SansIo, SansIo];
  private readonly addresses: [SocketAddress, SocketAddress];
  private readonly conditions: [LinkConditions, LinkConditions];
  private readonly rng: Prng;
  /** Datagrams in flight: a binary min-heap by {@link before}. */
  private queue: InFlight[] = [];
  private seq = 0;
  /** When each direction's bottleneck is next free. */
  private busyUntil: [number, number] = [0, 0];

  /**
   * @param a first participant (index 0), e.g. the client
   * @param b second participant (index 1), e.g. the server
   * @param options `aToB` and `bToA` impairments, a `seed`, the start time and the two addresses
   */
  constructor(
    a: SansIo,
    b: SansIo,
    options: {
      aToB?: LinkConditions;
      bToA?: LinkConditions;
      seed?: number;
      start?: number;
      addressA?: SocketAddress;
      addressB?: SocketAddress;
    } = {},
  ) {
    this.nodes = [a, b];
    this.addresses = [options.addressA ?? { address: "10.0.0.1", port: 40000 }, options.addressB ?? { address: "10.0.0.2", port: 443 }];
    this.conditions = [options.aToB ?? {}, options.bToA ?? {}];
    this.rng = new Prng(options.seed ?? 1);
    // The core's clock is wall-clock milliseconds (certificates are checked against it).
    this.now = options.start ?? Math.floor(Date.now());
    const zero = (): LinkStats => ({ sent: 0, sentBytes: 0, delivered: 0, deliveredBytes: 0, dropped: 0, duplicated: 0, corrupted: 0 });
    this.stats = [zero(), zero()];
  }

  /** Address of participant `i` as the other side sees it. */
  address(i: 0 | 1): SocketAddress {
    return this.addresses[i];
  }

  /**
   * Changes participant `i`'s address (NAT rebinding): later datagrams come
   * from the new one. Datagrams to the old address still arrive unless it
   * is made {@link unreachable}, as when a NAT forgets the old mapping.
   */
  rebind(i: 0 | 1, to: SocketAddress): void {
    this.gone[i].delete(formatAddress(to));
    this.aliases[i].add(formatAddress(this.addresses[i]));
    this.addresses[i] = to;
  }

  /** Former addresses of each participant, which the NAT now rewrites to its current one. */
  private readonly aliases: [Set<string>, Set<string>] = [new Set(), new Set()];

  /**
   * The source address the other side sees for a datagram of participant
   * `i` sent from `from`: its current address for its main socket (as a
   * NAT rewrites it), `from` itself for another socket it opened.
   */
  private sourceOf(i: 0 | 1, from: SocketAddress | undefined): SocketAddress {
    const current = this.addresses[i];
    if (from === undefined || from === current || (this.aliases[i].size > 0 && this.aliases[i].has(formatAddress(from)))) return current;
    return from;
  }

  /**
   * Makes `address` unreachable for participant `i`: datagrams sent there
   * are dropped, as for an address spoofed by an attacker or a path that
   * does not work.
   */
  unreachable(i: 0 | 1, address: SocketAddress): void {
    this.gone[i].add(formatAddress(address));
  }

  /** Addresses each participant no longer has: datagrams sent there are dropped. */
  private readonly gone: [Set<string>, Set<string>] = [new Set(), new Set()];

  /** Replaces the impairments of direction `from` (0: a to b, 1: b to a). */
  setConditions(from: 0 | 1, c: LinkConditions): void {
    this.conditions[from] = c;
  }

  /** Replaces participant `i` (e.g. a server that restarts and lost its state); queued datagrams go to the new one. */
  replace(i: 0 | 1, node: SansIo): void {
    this.nodes[i] = node;
  }

  /**
   * Delivers `data` to the other participant as if `from` had sent it,
   * `delay` ms from now (default: the direction's one-way delay), with no
   * impairment and without counting it as sent. For injecting crafted or
   * mutated datagrams.
   */
  inject(from: 0 | 1, data: Uint8Array, delay: number = this.conditions[from].delay ?? 0, source?: SocketAddress): void {
    this.push({ at: this.now + delay, seq: this.seq++, data, dest: (1 - from) as 0 | 1, from: source, to: undefined });
  }

  /**
   * Puts a datagram of participant `from` on the link. A datagram naming
   * another source than the participant's address (`d.from`, a second
   * socket) leaves from there, and one naming its destination (`d.to`)
   * arrives there.
   */
  private enqueue(from: 0 | 1, d: OutgoingDatagram): void {
    let data = d.data;
    const c = this.conditions[from];
    const s = this.stats[from];
    s.sent++;
    s.sentBytes += data.length;
    // The source is fixed as the datagram leaves: one sent before a rebinding still carries the old address.
    const source = this.sourceOf(from, d.from);
    const target = d.to;
    if (c.tamper) {
      const t = c.tamper(data, s.sent);
      if (t === null) {
        s.dropped++;
        return;
      }
      data = t;
    }
    if ((c.mtu !== undefined && data.length > c.mtu) || c.drop?.(s.sent, data) || this.rng.chance(c.loss ?? 0)) {
      s.dropped++;
      return;
    }
    let departure = this.now;
    if (c.bandwidth) {
      const start = Math.max(this.now, this.busyUntil[from]);
      const queued = (start - this.now) * c.bandwidth;
      if (c.queueBytes !== undefined && queued + data.length > c.queueBytes) {
        s.dropped++;
        return;
      }
      departure = start + data.length / c.bandwidth;
      this.busyUntil[from] = departure;
    }
    let at = departure + (c.delay ?? 0) + (c.jitter ? this.rng.next() * c.jitter : 0);
    if (this.rng.chance(c.reorder ?? 0)) at += c.reorderDelay ?? 2 * (c.delay ?? 0) + 1;
    let payload = data;
    if (this.rng.chance(c.corrupt ?? 0)) {
      payload = new Uint8Array(data); // a copy: Buffer.slice would share memory
      const bit = this.rng.int(payload.length * 8);
      payload[bit >>> 3]! ^= 1 << (bit & 7);
      s.corrupted++;
    }
    const dest = (1 - from) as 0 | 1;
    this.push({ at, seq: this.seq++, data: payload, dest, from: source, to: target });
    if (this.rng.chance(c.duplicate ?? 0)) {
      s.duplicated++;
      this.push({ at: at + (c.jitter ?? 0) * this.rng.next(), seq: this.seq++, data: new Uint8Array(payload), dest, from: source, to: target }); // receivers decrypt in place: each copy needs its own bytes
    }
  }

  /** Adds a datagram to the in-flight heap, ordered by (arrival time, sequence). */
  private push(p: InFlight): void {
    const q = this.queue;
    let i = q.length;
    q.push(p);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(p, q[parent]!)) break;
      q[i] = q[parent]!;
      i = parent;
    }
    q[i] = p;
  }

  /** Removes and returns the earliest datagram of the heap. */
  private pop(): InFlight {
    const q = this.queue;
    const top = q[0]!;
    const last = q.pop()!;
    if (q.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= q.length) break;
        const r = l + 1;
        const c = r < q.length && before(q[r]!, q[l]!) ? r : l;
        if (!before(q[c]!, last)) break;
        q[i] = q[c]!;
        i = c;
      }
      q[i] = last;
    }
    return top;
  }

  /** Collects every datagram both participants want to send now. Returns the earliest future pacing time, if any. */
  private flush(): number {
    let nextPaced = Infinity;
    for (const i of [0, 1] as const) {
      for (let guard = 0; guard < 100_000; guard++) {
        const d = this.nodes[i].send(this.now);
        if (!d) break;
        if (d.sendAt > this.now) {
          // A paced datagram leaves later; the link applies it at that time.
          this.pendingPaced.push({ at: d.sendAt, from: i, d });
          nextPaced = Math.min(nextPaced, d.sendAt);
          break;
        }
        this.enqueue(i, d);
      }
    }
    return nextPaced;
  }

  private pendingPaced: Array<{ at: number; from: 0 | 1; d: OutgoingDatagram }> = [];
  /** Callbacks of {@link schedule}, sorted by time. */
  private scheduled: Array<{ at: number; seq: number; fn: () => void }> = [];

  /**
   * Calls `fn` when the virtual clock reaches `at` (ms, same clock as
   * {@link now}), during {@link run}: how a test acts at a given moment,
   * e.g. sends a keep-alive, even when no packet or timer would wake the link.
   */
  schedule(at: number, fn: () => void): void {
    const item = { at, seq: this.seq++, fn };
    let i = this.scheduled.length;
    while (i > 0 && this.scheduled[i - 1]!.at > at) i--;
    this.scheduled.splice(i, 0, item);
  }

  /**
   * Runs the simulation until `until()` is true or `maxTime` ms of virtual
   * time pass. Returns true when the condition was met.
   */
  run(until: () => boolean, maxTime = 60_000): boolean {
    const deadline = this.now + maxTime;
    for (;;) {
      if (until()) return true;
      // Release paced datagrams whose time has come.
      if (this.pendingPaced.length) {
        const due = this.pendingPaced.filter((p) => p.at <= this.now);
        if (due.length) {
          this.pendingPaced = this.pendingPaced.filter((p) => p.at > this.now);
          for (const p of due) this.enqueue(p.from, p.d);
        }
      }
      this.flush();
      if (until()) return true;
      let next = Infinity;
      if (this.queue.length) next = this.queue[0]!.at;
      for (const p of this.pendingPaced) next = Math.min(next, p.at);
      if (this.scheduled.length) next = Math.min(next, this.scheduled[0]!.at);
      for (const n of this.nodes) {
        const t = n.timeout();
        if (t !== undefined) next = Math.min(next, t);
      }
      if (next === Infinity) return until();
      if (next > deadline) {
        this.now = deadline;
        return until();
      }
      this.now = Math.max(this.now, next);
      // Deliver everything due now, then fire timers.
      while (this.queue.length && this.queue[0]!.at <= this.now) {
        const p = this.pop();
        const from = (1 - p.dest) as 0 | 1;
        const to = p.to ?? this.addresses[p.dest];
        if (p.to && this.gone[p.dest].size > 0 && this.gone[p.dest].has(formatAddress(to))) {
          // Sent to an address the participant no longer has.
          this.stats[from].dropped++;
          continue;
        }
        this.stats[from].delivered++;
        this.stats[from].deliveredBytes += p.data.length;
        this.nodes[p.dest].recv(p.data, { from: p.from ?? this.addresses[from], to }, this.now);
      }
      while (this.scheduled.length && this.scheduled[0]!.at <= this.now) this.scheduled.shift()!.fn();
      for (const n of this.nodes) {
        const t = n.timeout();
        if (t !== undefined && t <= this.now) n.onTimeout(this.now);
      }
    }
  }
}
