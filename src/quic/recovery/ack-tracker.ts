/**
 * Receive-side acknowledgement state for one packet number space
 * (RFC 9000 sections 13.2 and 13.4.1): which packet numbers arrived, when an
 * ACK frame is due, and what goes in it.
 */
import type { AckFrame, EcnCounts } from "../frames/types.js";
import { RangeSet } from "../../util/range-set.js";
import {
  Ecn,
  PacketNumberSpace,
  kDefaultAckDelayExponent,
  kDefaultAckElicitingThreshold,
  kDefaultMaxAckDelay,
} from "./constants.js";

/** Options of an {@link AckTracker}. */
export interface AckTrackerOptions {
  /** Our max_ack_delay transport parameter in ms (RFC 9000 section 18.2). Default 25. */
  maxAckDelay?: number;
  /** Our ack_delay_exponent transport parameter (RFC 9000 section 18.2). Default 3. */
  ackDelayExponent?: number;
  /**
   * Send an ACK once this many ack-eliciting packets are unacknowledged
   * (RFC 9000 section 13.2.2 recommends 2). The ack-frequency extension
   * changes it with {@link AckTracker.setAckFrequency}.
   */
  ackElicitingThreshold?: number;
  /** Most ranges an ACK frame reports; older ranges are left out (RFC 9000 section 13.2.3). Default 64. */
  maxAckRanges?: number;
  /**
   * Most ranges remembered for duplicate detection. Past it the oldest are
   * dropped and everything below the oldest kept range counts as a
   * duplicate (RFC 9000 section 12.3). Default 1024.
   */
  maxTrackedRanges?: number;
}

/**
 * Tracks received packet numbers of one packet number space and decides when
 * to acknowledge them (RFC 9000 section 13.2).
 *
 * The connection calls {@link isDuplicate} after removing packet protection,
 * {@link onPacketReceived} once the packet's frames are processed, checks
 * {@link ackDeadline} (part of its timer table), writes an ACK frame from
 * {@link ranges} / {@link ackRangeCount} / {@link ackDelayField} /
 * {@link ecnCounts} (or {@link buildAck}), then calls {@link onAckSent}.
 */
export class AckTracker {
  /** The packet number space this tracker serves. */
  readonly space: PacketNumberSpace;
  /** Our max_ack_delay in ms (RFC 9000 section 13.2.1). */
  maxAckDelay: number;
  /** Our ack_delay_exponent (RFC 9000 section 18.2). */
  ackDelayExponent: number;
  /** Number of unacknowledged ack-eliciting packets that triggers an ACK. */
  ackElicitingThreshold: number;
  /** Whether reordering or a gap triggers an immediate ACK (RFC 9000 section 13.2.1; the ack-frequency extension may disable it). */
  immediateAckOnReorder = true;
  /** Most ranges reported per ACK frame. */
  maxAckRanges: number;
  private readonly maxTrackedRanges: number;

  /** Every processed packet number at or above {@link dupFloor}. Also the source of ACK ranges. */
  private readonly seen = new RangeSet();
  /** Packet numbers below this are treated as duplicates (RFC 9000 section 12.3). */
  private dupFloor = 0;
  /** Packet numbers below this need no more acknowledging: the peer has our ACK for them (RFC 9000 section 13.2.4). */
  private ackFloor = 0;
  private largest = -1;
  private largestTime = -Infinity;
  private largestAckEliciting = -1;
  private unackedAckEliciting = 0;
  private deadline = Infinity;
  private newSinceAck = false;
  private readonly ecn: EcnCounts = { ect0: 0, ect1: 0, ce: 0 };
  private ecnSeen = false;

  /** A tracker for `space`. Initial and Handshake packets are always acknowledged at once (RFC 9000 section 13.2.1). */
  constructor(space: PacketNumberSpace, options: AckTrackerOptions = {}) {
    this.space = space;
    this.maxAckDelay = options.maxAckDelay ?? kDefaultMaxAckDelay;
    this.ackDelayExponent = options.ackDelayExponent ?? kDefaultAckDelayExponent;
    this.ackElicitingThreshold = options.ackElicitingThreshold ?? kDefaultAckElicitingThreshold;
    this.maxAckRanges = options.maxAckRanges ?? 64;
    this.maxTrackedRanges = Math.max(2, options.maxTrackedRanges ?? 1024);
  }

  /** Largest packet number processed, -1 before any (needed to decode packet numbers, RFC 9000 section 17.1). */
  get largestReceived(): number {
    return this.largest;
  }

  /** When the largest packet number was received, -Infinity before any. */
  get largestReceivedTime(): number {
    return this.largestTime;
  }

  /**
   * True when `pn` must be dropped because it was processed before, or is
   * below the floor under which state was discarded (RFC 9000 section 12.3).
   * Call after removing packet protection (RFC 9001 section 9.5).
   */
  isDuplicate(pn: number): boolean {
    return pn < this.dupFloor || this.seen.has(pn);
  }

  /**
   * Records a packet whose frames have been processed (RFC 9000 section
   * 13.1) and updates when an ACK is due. `ecn` is the codepoint of the IP
   * header it arrived in. Returns false (and changes nothing) for a
   * duplicate.
   */
  onPacketReceived(pn: number, ackEliciting: boolean, now: number, ecn: Ecn = Ecn.NotEct): boolean {
    if (this.isDuplicate(pn)) return false;
    // Gap and reordering checks look at the state before this packet (RFC 9000 section 13.2.1).
    let immediate = false;
    if (ackEliciting && this.immediateAckOnReorder) {
      if (pn < this.largestAckEliciting) immediate = true;
      else if (!this.seen.covers(Math.max(this.largestAckEliciting + 1, this.dupFloor), pn)) immediate = true;
    }
    this.seen.add(pn, pn + 1);
    if (this.seen.size > this.maxTrackedRanges) {
      // Forget the oldest half at once so trimming stays rare.
      this.seen.trimTo(this.maxTrackedRanges >> 1);
      this.dupFloor = this.seen.min;
    }
    // A late packet below the ack floor still needs acknowledging.
    if (pn < this.ackFloor) this.ackFloor = pn;
    if (pn > this.largest) {
      this.largest = pn;
      this.largestTime = now;
    }
    this.newSinceAck = true;
    if (ecn !== Ecn.NotEct) {
      this.ecnSeen = true;
      if (ecn === Ecn.Ect0) this.ecn.ect0++;
      else if (ecn === Ecn.Ect1) this.ecn.ect1++;
      else {
        this.ecn.ce++;
        // CE-marked packets are acknowledged at once to speed the sender's reaction (RFC 9000 section 13.2.1).
        if (ackEliciting) immediate = true;
      }
    }
    if (!ackEliciting) return true; // never elicit an ACK for a non-ack-eliciting packet (RFC 9000 section 13.2.1)
    if (pn > this.largestAckEliciting) this.largestAckEliciting = pn;
    this.unackedAckEliciting++;
    if (this.space !== PacketNumberSpace.Application) immediate = true; // RFC 9000 section 13.2.1
    else if (this.unackedAckEliciting >= this.ackElicitingThreshold) immediate = true; // section 13.2.2
    const due = immediate ? now : now + this.maxAckDelay;
    if (due < this.deadline) this.deadline = due;
    return true;
  }

  /**
   * Asks for an ACK at once, e.g. on an IMMEDIATE_ACK frame
   * (draft-ietf-quic-ack-frequency section 5).
   */
  requestImmediateAck(now: number): void {
    if (now < this.deadline) this.deadline = now;
  }

  /**
   * Applies an ACK_FREQUENCY frame's values (draft-ietf-quic-ack-frequency
   * section 4): the draft's Ack-Eliciting Threshold T means "acknowledge
   * after more than T", so an ACK is due once T + 1 are pending; a
   * Reordering Threshold of 0 turns off immediate ACKs on gaps.
   * `maxAckDelay` is in ms.
   */
  setAckFrequency(ackElicitingThreshold: number, maxAckDelay: number, reorderingThreshold: number): void {
    this.ackElicitingThreshold = ackElicitingThreshold + 1;
    this.maxAckDelay = maxAckDelay;
    this.immediateAckOnReorder = reorderingThreshold !== 0;
  }

  /**
   * Time by which an ACK frame must be sent: `now` of arrival when one is
   * due at once, arrival + max_ack_delay otherwise, Infinity when no
   * ack-eliciting packet awaits acknowledgement.
   */
  get ackDeadline(): number {
    return this.deadline;
  }

  /** True when an ACK frame is due at `now` (the deadline has passed). */
  ackDue(now: number): boolean {
    return this.deadline <= now;
  }

  /** True when ack-eliciting packets await acknowledgement. */
  get ackElicitingPending(): boolean {
    return this.unackedAckEliciting > 0;
  }

  /**
   * True when packets arrived since the last ACK was sent, so an ACK frame
   * would tell the peer something new; used to piggyback ACKs on packets
   * sent for other reasons (RFC 9000 section 13.2).
   */
  get hasNewAcks(): boolean {
    return this.newSinceAck && this.ackRangeCount > 0;
  }

  /**
   * The received packet numbers. ACK frames report the highest
   * {@link ackRangeCount} ranges of it (the frame codec writes straight
   * from this set). Do not modify.
   */
  get ranges(): RangeSet {
    return this.seen;
  }

  /**
   * How many of the highest ranges of {@link ranges} an ACK frame reports:
   * those not yet known to be acknowledged by the peer (RFC 9000 section
   * 13.2.4), at most {@link maxAckRanges}. 0 when there is nothing to acknowledge.
   */
  get ackRangeCount(): number {
    const set = this.seen;
    const floor = this.ackFloor;
    let n = 0;
    for (let i = set.size - 1; i >= 0 && n < this.maxAckRanges && set.end(i) > floor; i--) n++;
    return n;
  }

  /**
   * The ACK Delay field for an ACK sent at `now`: time since the largest
   * packet arrived, in microseconds scaled down by 2^ack_delay_exponent
   * (RFC 9000 sections 13.2.5 and 19.3). Initial and Handshake ACKs report
   * 0: they are never delayed on purpose, and the peer may not know our
   * exponent yet.
   */
  ackDelayField(now: number): number {
    if (this.space !== PacketNumberSpace.Application || this.largest < 0) return 0;
    const micros = Math.max(0, now - this.largestTime) * 1000;
    return Math.floor(micros / 2 ** this.ackDelayExponent);
  }

  /** Cumulative ECN counts to report (RFC 9000 section 13.4.1), or null when no ECN-marked packet arrived. The object is reused. */
  get ecnCounts(): EcnCounts | null {
    return this.ecnSeen ? this.ecn : null;
  }

  /**
   * The ACK frame to send at `now`, ranges newest first, or null when there
   * is nothing to acknowledge. Allocates; the connection's send path can
   * write from {@link ranges} instead.
   */
  buildAck(now: number, maxRanges: number = this.maxAckRanges): AckFrame | null {
    const count = Math.min(this.ackRangeCount, maxRanges);
    if (count === 0) return null;
    const set = this.seen;
    const ranges: number[] = [];
    for (let i = set.size - 1, n = 0; n < count; i--, n++) ranges.push(set.end(i) - 1, set.start(i));
    const ecn = this.ecnSeen ? { ect0: this.ecn.ect0, ect1: this.ecn.ect1, ce: this.ecn.ce } : null;
    return { type: "ack", largest: ranges[0]!, ackDelay: this.ackDelayField(now), ranges, ecn };
  }

  /**
   * An ACK frame built from the current state went into a packet: nothing
   * is pending until more ack-eliciting packets arrive. Store
   * {@link largestReceived} in that packet's record ({@link SentPacket.ackLargest})
   * so its acknowledgement can call {@link onAckOfAckReceived}.
   */
  onAckSent(): void {
    this.unackedAckEliciting = 0;
    this.deadline = Infinity;
    this.newSinceAck = false;
  }

  /**
   * The peer acknowledged a packet that carried our ACK frame whose Largest
   * Acknowledged was `largestAcked`: packets up to it need not be
   * acknowledged again (RFC 9000 section 13.2.4). They stay remembered for
   * duplicate detection.
   */
  onAckOfAckReceived(largestAcked: number): void {
    if (largestAcked + 1 > this.ackFloor) this.ackFloor = largestAcked + 1;
  }

  /** Drops all state when the space's keys are discarded (RFC 9001 section 4.9). */
  discard(): void {
    this.seen.clear();
    this.dupFloor = Number.MAX_SAFE_INTEGER; // nothing more is accepted in a discarded space
    this.ackFloor = 0;
    this.unackedAckEliciting = 0;
    this.deadline = Infinity;
    this.newSinceAck = false;
  }
}
