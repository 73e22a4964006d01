/**
 * Datagram Packetization Layer Path MTU Discovery (DPLPMTUD, RFC 8899, as
 * QUIC applies it in RFC 9000 section 14.3): start at a size every path
 * carries, send PING+PADDING probes of larger sizes, raise the packet size
 * when a probe is acknowledged, and fall back when large packets stop
 * getting through (a black hole). Pure state: the connection builds the
 * probes and reports their fate.
 */

/** BASE_PLPMTU: every QUIC path carries 1200-byte UDP payloads (RFC 9000 section 14, RFC 8899 section 5.1.2). */
export const BASE_PLPMTU = 1200;
/** MAX_PROBES: unacknowledged probes of one size before that size is judged too large (RFC 8899 section 5.1.2). */
export const MAX_PROBES = 3;
/** PMTU_RAISE_TIMER: after a completed search, look for a larger PMTU again this much later (RFC 8899 section 5.1.1, 600 s). */
export const PMTU_RAISE_TIMER = 600_000;
/** The search stops once the candidate interval is narrower than this many bytes. */
export const PROBE_GRANULARITY = 16;
/**
 * Losses of packets larger than the base size, with none of them
 * acknowledged in between, that count as a black hole (RFC 8899 section
 * 4.3: a path that stopped carrying the PLPMTU).
 */
export const BLACK_HOLE_LOSSES = 4;
/**
 * Probe timeouts in a row, with nothing acknowledged, that count as a black
 * hole: when every packet is large, none is acknowledged and so none is
 * ever declared lost, and only the PTO tells.
 */
export const BLACK_HOLE_PTOS = 2;

/** Search phases (RFC 8899 section 5.2, simplified: BASE is implicit, ERROR cannot happen above 1200). */
export type PmtudPhase = "disabled" | "search" | "complete";

/** Counters of one connection's path MTU discovery. */
export interface PmtudStats {
  /** Probes sent. */
  probesSent: number;
  /** Probes acknowledged. */
  probesAcked: number;
  /** Probes declared lost. */
  probesLost: number;
  /** Times the PLPMTU fell back to the base because large packets vanished. */
  blackHoles: number;
}

/**
 * The search for one path's PLPMTU: binary search between the largest size
 * known to pass and the smallest known (or assumed) to fail, trying the
 * ceiling first since most paths carry it (RFC 8899 section 5.3.2 leaves
 * the search method open).
 */
export class PathMtuDiscovery {
  /** The PLPMTU: the largest UDP payload known to reach the peer. */
  mtu: number;
  /** Current phase. */
  phase: PmtudPhase = "disabled";
  /** Counters. */
  readonly stats: PmtudStats = { probesSent: 0, probesAcked: 0, probesLost: 0, blackHoles: 0 };

  private readonly base: number;
  private ceiling: number;
  /** Largest size confirmed. */
  private low: number;
  /** Largest size not yet judged too large. */
  private high: number;
  /** Size of the probe in flight, 0 when none. */
  private inFlight = 0;
  /** Probes of the current candidate that were lost. */
  private failures = 0;
  private nextProbeAt = 0;
  /** Large packets lost since a large packet was last acknowledged. */
  private largeLosses = 0;
  /** Probe timeouts since any packet was last acknowledged. */
  private ptos = 0;

  /** @param base the size used before and without discovery (at least {@link BASE_PLPMTU}). */
  constructor(base: number = BASE_PLPMTU) {
    this.base = Math.max(BASE_PLPMTU, base);
    this.mtu = this.base;
    this.ceiling = this.base;
    this.low = this.base;
    this.high = this.base;
  }

  /**
   * Starts searching up to `ceiling` (the smaller of our configured maximum
   * and the peer's max_udp_payload_size, RFC 9000 section 14.3) once the
   * handshake is confirmed, so probes travel in 1-RTT packets.
   */
  start(ceiling: number, now: number): void {
    this.ceiling = Math.max(this.base, ceiling);
    this.high = this.ceiling;
    this.phase = this.high - this.low >= PROBE_GRANULARITY ? "search" : "complete";
    this.nextProbeAt = this.phase === "complete" ? now + PMTU_RAISE_TIMER : now;
  }

  /**
   * The connection moved to another path: its PLPMTU is unknown, so fall
   * back to the base and search again if a search had started. Returns
   * true when the PLPMTU changed.
   */
  restart(now: number): boolean {
    const changed = this.mtu !== this.base;
    this.mtu = this.base;
    this.low = this.base;
    this.high = this.ceiling;
    this.failures = 0;
    this.inFlight = 0;
    this.largeLosses = 0;
    this.ptos = 0;
    if (this.phase !== "disabled") {
      this.phase = this.high - this.low >= PROBE_GRANULARITY ? "search" : "complete";
      this.nextProbeAt = now;
    }
    return changed;
  }

  /** The size of a probe to send now, or 0 when none is due. */
  probeSize(now: number): number {
    if (this.inFlight !== 0) return 0;
    if (this.phase === "complete" && this.ceiling > this.mtu && now >= this.nextProbeAt) {
      // PMTU_RAISE_TIMER expired: see whether the path now carries more (RFC 8899 section 5.1.1).
      this.low = this.mtu;
      this.high = this.ceiling;
      this.phase = "search";
    }
    if (this.phase !== "search" || now < this.nextProbeAt) return 0;
    return this.candidate();
  }

  /** The next size to try: the ceiling first, then the middle of the remaining interval. */
  private candidate(): number {
    return this.high === this.ceiling ? this.high : Math.ceil((this.low + this.high) / 2);
  }

  /** A probe of `size` bytes left. */
  onProbeSent(size: number): void {
    this.inFlight = size;
    this.stats.probesSent++;
  }

  /** The probe of `size` was acknowledged: the path carries it. Returns the new PLPMTU. */
  onProbeAcked(size: number, now: number): number {
    this.stats.probesAcked++;
    if (size === this.inFlight) this.inFlight = 0;
    if (size > this.low) this.low = size;
    if (size > this.mtu) this.mtu = size;
    this.failures = 0;
    this.largeLosses = 0;
    this.checkDone(now);
    return this.mtu;
  }

  /** The probe of `size` was declared lost: after {@link MAX_PROBES} losses of one size it is too large. */
  onProbeLost(size: number, now: number): void {
    this.stats.probesLost++;
    if (size === this.inFlight) this.inFlight = 0;
    if (size <= this.low || ++this.failures < MAX_PROBES) return;
    this.high = size - 1;
    this.failures = 0;
    this.checkDone(now);
  }

  private checkDone(now: number): void {
    if (this.high - this.low < PROBE_GRANULARITY) {
      this.phase = "complete";
      this.nextProbeAt = now + PMTU_RAISE_TIMER;
    }
  }

  /** A packet that was not a probe was acknowledged; large ones prove the PLPMTU still holds. */
  onPacketAcked(size: number): void {
    this.ptos = 0;
    if (size > this.base) this.largeLosses = 0;
  }

  /** A probe timeout fired (RFC 9002 section 6.2). Returns true when this makes a black hole (see {@link BLACK_HOLE_PTOS}). */
  onProbeTimeout(now: number): boolean {
    if (this.mtu <= this.base || ++this.ptos < BLACK_HOLE_PTOS) return false;
    return this.fallBack(now);
  }

  /**
   * A packet that was not a probe was declared lost. Returns true when this
   * makes a black hole: too many large packets lost in a row. The PLPMTU
   * then falls back to the base and the search starts again below the size
   * that stopped passing (RFC 8899 section 4.3).
   */
  onPacketLost(size: number, now: number): boolean {
    if (size <= this.base || this.mtu <= this.base) return false;
    if (++this.largeLosses < BLACK_HOLE_LOSSES) return false;
    return this.fallBack(now);
  }

  private fallBack(now: number): boolean {
    this.stats.blackHoles++;
    this.largeLosses = 0;
    this.ptos = 0;
    this.high = Math.max(this.base, this.mtu - 1);
    this.mtu = this.base;
    this.low = this.base;
    this.failures = 0;
    this.inFlight = 0;
    this.phase = this.high - this.low >= PROBE_GRANULARITY ? "search" : "complete";
    this.nextProbeAt = now;
    return true;
  }
}
