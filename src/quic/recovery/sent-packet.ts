/**
 * Sent-packet records and the per-space store that holds them until they are
 * acknowledged, declared lost or discarded (RFC 9002 Appendix A.1).
 */
import { Ecn } from "./constants.js";

/**
 * What recovery remembers about one sent packet (RFC 9002 Appendix A.1.1).
 * `F` is the connection's own record of the frames the packet carried, kept
 * by reference and handed back when the packet is acknowledged or lost so
 * the connection can retransmit by frame (RFC 9000 section 13.3).
 */
export class SentPacket<F = unknown> {
  /** Packet number. */
  readonly pn: number;
  /** When it was sent (ms). */
  readonly timeSent: number;
  /** Bytes sent, QUIC header and AEAD tag included, UDP/IP excluded (RFC 9002 Appendix A.1.1 sent_bytes). */
  readonly size: number;
  /** Contains a frame other than ACK, PADDING or CONNECTION_CLOSE (RFC 9002 section 2). */
  readonly ackEliciting: boolean;
  /** Counts toward bytes in flight: ack-eliciting or PADDING (RFC 9002 section 2). */
  readonly inFlight: boolean;
  /** The connection's record of the frames carried; never read by recovery. */
  frames: F;
  /**
   * Largest Acknowledged of the ACK frame this packet carried, -1 when it
   * carried none; its acknowledgement lets the receiver forget older ranges
   * (RFC 9000 section 13.2.4).
   */
  ackLargest = -1;
  /** ECN codepoint the packet was sent with (RFC 9000 section 13.4). */
  ecn: Ecn = Ecn.NotEct;
  /** A PMTU probe: its loss is no congestion signal (RFC 9000 section 14.4, RFC 8899 section 4.1). */
  mtuProbe = false;
  /** Connection-wide send order across packet number spaces; set by {@link LossDetection}. */
  seq = 0;

  /** A record for packet `pn` sent at `timeSent`. */
  constructor(pn: number, timeSent: number, size: number, ackEliciting: boolean, inFlight: boolean, frames: F) {
    this.pn = pn;
    this.timeSent = timeSent;
    this.size = size;
    this.ackEliciting = ackEliciting;
    this.inFlight = inFlight;
    this.frames = frames;
  }
}

/**
 * Marks a packet number the sender skipped on purpose (RFC 9000 section
 * 21.4): an acknowledgement of it proves an optimistic-ACK attack.
 */
export const SKIPPED: SentPacket<never> = Object.freeze(new SentPacket<never>(-1, 0, 0, false, false, undefined as never)) as SentPacket<never>;

/**
 * The outstanding packets of one packet number space in a ring indexed by
 * packet number offset: O(1) insert at the top, O(1) lookup and removal by
 * packet number, and the head advances past removed slots so the ring spans
 * only the oldest outstanding packet to the newest. Packet numbers must
 * increase (RFC 9000 section 12.3); numbers jumped over are marked
 * {@link SKIPPED}.
 */
export class SentPacketStore<F = unknown> {
  private slots: Array<SentPacket<F> | undefined>;
  private mask: number;
  private headIdx = 0;
  private len = 0;
  /** Packet number of the oldest slot (the next packet number when empty). */
  headPn = 0;
  /** Largest packet number sent in this space, -1 before any. */
  largestSent = -1;
  /** Number of outstanding packets (skipped numbers excluded). */
  count = 0;

  /**
   * An empty store; `capacity` (rounded up to a power of two) grows on
   * demand. Small by default: Initial and Handshake spaces hold a few
   * packets, and an idle connection should not carry a large ring.
   */
  constructor(capacity = 8) {
    let cap = 8;
    while (cap < capacity) cap *= 2;
    this.slots = new Array<SentPacket<F> | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  /** One past the last slot's packet number. */
  get endPn(): number {
    return this.headPn + this.len;
  }

  /** Adds a packet whose number is above every earlier one; the numbers between are marked skipped. */
  push(p: SentPacket<F>): void {
    const pn = p.pn;
    if (pn <= this.largestSent) throw new RangeError(`packet number ${pn} is not above ${this.largestSent}`);
    if (this.len === 0) {
      // Nothing outstanding: restart the ring at this packet, no skipped marks needed below it.
      this.headPn = pn;
      this.headIdx = 0;
    } else {
      for (let gap = this.largestSent + 1; gap < pn; gap++) this.append(SKIPPED as SentPacket<F>);
    }
    this.append(p);
    this.largestSent = pn;
    this.count++;
  }

  /** Puts `p` in the slot after the last one, growing the ring when full. */
  private append(p: SentPacket<F>): void {
    if (this.len === this.slots.length) this.grow();
    this.slots[(this.headIdx + this.len) & this.mask] = p;
    this.len++;
  }

  private grow(): void {
    const old = this.slots;
    const cap = old.length * 2;
    const slots = new Array<SentPacket<F> | undefined>(cap).fill(undefined);
    for (let i = 0; i < this.len; i++) slots[i] = old[(this.headIdx + i) & this.mask];
    this.slots = slots;
    this.mask = cap - 1;
    this.headIdx = 0;
  }

  /** The packet (or {@link SKIPPED}) at `pn`, undefined when not outstanding. */
  get(pn: number): SentPacket<F> | undefined {
    const off = pn - this.headPn;
    if (off < 0 || off >= this.len) return undefined;
    return this.slots[(this.headIdx + off) & this.mask];
  }

  /** Removes the packet at `pn` (which must be outstanding); call {@link advance} after a batch. */
  remove(pn: number): void {
    const i = (this.headIdx + pn - this.headPn) & this.mask;
    if (this.slots[i] !== SKIPPED) this.count--;
    this.slots[i] = undefined;
  }

  /** Moves the head past removed slots so the ring spans only what is still outstanding. */
  advance(): void {
    const slots = this.slots;
    while (this.len > 0 && slots[this.headIdx] === undefined) {
      this.headIdx = (this.headIdx + 1) & this.mask;
      this.headPn++;
      this.len--;
    }
    if (this.len === 0) {
      this.headPn = this.largestSent + 1;
      this.headIdx = 0;
    }
  }

  /** The oldest outstanding packet (not a skipped mark), or undefined. */
  oldest(): SentPacket<F> | undefined {
    for (let i = 0; i < this.len; i++) {
      const p = this.slots[(this.headIdx + i) & this.mask];
      if (p !== undefined && p !== SKIPPED) return p;
    }
    return undefined;
  }

  /** Removes everything; packet numbers keep increasing from {@link largestSent}. */
  clear(): void {
    this.slots.fill(undefined);
    this.len = 0;
    this.headIdx = 0;
    this.headPn = this.largestSent + 1;
    this.count = 0;
  }
}
