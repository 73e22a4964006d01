/**
 * Loss detection for one connection (RFC 9002 section 6 and Appendix A):
 * sent-packet bookkeeping per packet number space, ACK processing, packet-
 * and time-threshold loss, the probe timeout, discarding a space, and
 * persistent congestion across spaces (section 7.6). It owns the path's
 * RTT estimator, congestion controller and pacer and drives them.
 */
import type { AckFrame, EcnCounts } from "../frames/types.js";
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { RangeSet } from "../../util/range-set.js";
import type { AckTracker } from "./ack-tracker.js";
import type { CongestionAlgorithm, CongestionController } from "./congestion.js";
import {
  Ecn,
  PacketNumberSpace,
  kDefaultMaxAckDelay,
  kGranularity,
  kMinMaxDatagramSize,
  kPacketThreshold,
  kPersistentCongestionThreshold,
  kTimeThreshold,
  packetNumberSpaceName,
} from "./constants.js";
import { createCongestionController } from "./controllers.js";
import { Pacer } from "./pacer.js";
import { ReorderingThresholds } from "./reordering.js";
import { RttEstimator } from "./rtt.js";
import { SKIPPED, SentPacket, SentPacketStore } from "./sent-packet.js";

/** Lost packets remembered per space to recognise spurious losses. */
const MAX_LOST_REMEMBERED = 256;

/** Frame type of ACK, for errors about ACK frames (RFC 9000 section 19.3). */
const ACK_FRAME_TYPE = 0x02;

/**
 * What the connection implements once to learn the fate of its packets.
 * Called synchronously from {@link LossDetection.onAckReceived},
 * {@link LossDetection.onLossDetectionTimeout} and
 * {@link LossDetection.resetForRetry}; do not call back into the same
 * LossDetection from inside these methods, except {@link LossDetection.onPacketSent}.
 */
export interface LossDetectionHandler<F> {
  /** `packet` was acknowledged for the first time: its frames were delivered. */
  onPacketAcked(space: PacketNumberSpace, packet: SentPacket<F>): void;
  /** `packet` was declared lost: re-queue what its frames carried (RFC 9000 section 13.3). */
  onPacketLost(space: PacketNumberSpace, packet: SentPacket<F>): void;
}

/** Options of a {@link LossDetection}. */
export interface LossDetectionOptions {
  /** Servers never arm the client's anti-deadlock PTO and obey the amplification limit (RFC 9002 section 6.2.2.1). */
  isServer: boolean;
  /** "reno" (default), "cubic", or a controller of one's own. */
  congestionControl?: CongestionAlgorithm | CongestionController;
  /** Maximum datagram size in bytes (default 1200, RFC 9000 section 14). */
  maxDatagramSize?: number;
  /** Initial RTT in ms (default kInitialRtt = 333, RFC 9002 section 6.2.2). */
  initialRtt?: number;
  /** The peer's max_ack_delay in ms until its transport parameters say otherwise (default 25, RFC 9000 section 18.2). */
  peerMaxAckDelay?: number;
  /** Packet reordering threshold (default 3; RFC 9002 section 6.1.1 forbids less). */
  packetThreshold?: number;
  /** Time reordering threshold as an RTT multiple (default 9/8, RFC 9002 section 6.1.2). */
  timeThreshold?: number;
  /** Raise both thresholds when a packet declared lost is acknowledged after all (default true; see {@link ReorderingThresholds}). */
  adaptiveReordering?: boolean;
  /** Probe packets to send when a PTO fires: 1 or 2 (default 2, RFC 9002 section 6.2.4). */
  ptoProbes?: 1 | 2;
  /** Pacer burst allowance in packets (default 10, RFC 9002 section 7.7). */
  burstPackets?: number;
}

/** What {@link LossDetection.onLossDetectionTimeout} did. */
export const TimeoutAction = {
  /** The timer had not expired; nothing happened. */
  None: 0,
  /** Time-threshold losses were declared and reported to the handler (RFC 9002 section 6.1.2). */
  LossDetected: 1,
  /**
   * A probe timeout: send {@link LossDetection.probesPending} ack-eliciting
   * packets in each space, ignoring the congestion window and pacing
   * (RFC 9002 sections 6.2.4, 7.5). {@link LossDetection.ptoSpace} names
   * the space whose timer fired.
   */
  Probe: 2,
} as const;

/** One of {@link TimeoutAction}. */
export type TimeoutAction = (typeof TimeoutAction)[keyof typeof TimeoutAction];

/** Counters of a connection's recovery, updated in place. */
export class RecoveryStats {
  /** Packets sent (every packet recorded, ACK-only ones included). */
  packetsSent = 0;
  /** Bytes of those packets. */
  bytesSent = 0;
  /** Packets newly acknowledged. */
  packetsAcked = 0;
  /** Packets declared lost. */
  packetsLost = 0;
  /** Bytes of the packets declared lost. */
  bytesLost = 0;
  /** Packets declared lost and later acknowledged (RFC 9002 section 6.1). */
  spuriousLosses = 0;
  /** PTO expirations (RFC 9002 section 6.2). */
  ptoCount = 0;
  /** Persistent congestion declarations (RFC 9002 section 7.6). */
  persistentCongestions = 0;
  /** Increases of the peer-reported ECN-CE count that were treated as congestion (RFC 9002 section 7.1). */
  ecnCeEvents = 0;
}

/** A copy of everything the connection reports about recovery at one moment. */
export interface RecoveryStatsSnapshot {
  /** Latest RTT sample in ms (RFC 9002 section 5.1). */
  latestRtt: number;
  /** Minimum RTT in ms (section 5.2). */
  minRtt: number;
  /** Smoothed RTT in ms (section 5.3). */
  smoothedRtt: number;
  /** RTT variation in ms (section 5.3). */
  rttVar: number;
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow start threshold in bytes (Infinity before the first congestion event). */
  ssthresh: number;
  /** Bytes in flight. */
  bytesInFlight: number;
  /** Congestion control algorithm. */
  congestionControl: CongestionAlgorithm;
  /** Congestion events that reduced the window. */
  congestionEvents: number;
  /** Current PTO backoff exponent (pto_count of RFC 9002 Appendix A.3). */
  ptoBackoff: number;
  /** Packets sent. */
  packetsSent: number;
  /** Bytes sent. */
  bytesSent: number;
  /** Packets acknowledged. */
  packetsAcked: number;
  /** Packets declared lost. */
  packetsLost: number;
  /** Bytes declared lost. */
  bytesLost: number;
  /** Losses later found to be spurious. */
  spuriousLosses: number;
  /** PTO expirations. */
  ptoCount: number;
  /** Persistent congestion declarations. */
  persistentCongestions: number;
  /** ECN-CE congestion events. */
  ecnCeEvents: number;
}

/** Per packet number space state (RFC 9002 Appendix A.3). */
class SpaceState<F> {
  readonly store = new SentPacketStore<F>();
  /** largest_acked_packet, -1 before any ACK. */
  largestAcked = -1;
  /** loss_time: when the earliest packet can be declared lost by time, Infinity when none. */
  lossTime = Infinity;
  /** time_of_last_ack_eliciting_packet. */
  timeOfLastAckEliciting = -Infinity;
  /** Ack-eliciting packets in flight. */
  ackElicitingInFlight = 0;
  /** Probe packets still owed after a PTO. */
  probes = 0;
  /** Keys discarded: nothing more is sent or acknowledged here (RFC 9002 section 6.4). */
  discarded = false;
  /**
   * Packets recently declared lost, to spot spurious losses: packet number
   * to how far it trailed the largest acknowledged, negated minus one when
   * the time threshold declared it. At most {@link MAX_LOST_REMEMBERED}.
   */
  readonly lostPns = new Map<number, number>();
  /** Packets sent with ECT(0) and ECT(1) (RFC 9000 section 13.4.2.1). */
  sentEct0 = 0;
  sentEct1 = 0;
  /** ECN counts of the last ACK frame processed. */
  peerEct0 = 0;
  peerEct1 = 0;
  peerCe = 0;
  /** The receive-side tracker told about acknowledged ACK frames (RFC 9000 section 13.2.4). */
  ackTracker: AckTracker | undefined = undefined;
}

/**
 * Loss detection and congestion control for one connection path
 * (RFC 9002). The connection:
 *
 * - records every packet it sends with {@link onPacketSent};
 * - passes every ACK frame to {@link onAckReceived} (or {@link onAckFrame});
 * - keeps {@link lossDetectionDeadline} in its timer table and calls
 *   {@link onLossDetectionTimeout} when it passes, then sends
 *   {@link probesPending} probe packets per space;
 * - asks {@link congestionAllowance} and {@link pacingDeadline} before
 *   sending in-flight packets;
 * - reports key discards ({@link discardSpace}), handshake progress
 *   ({@link onHandshakeKeysAvailable}, {@link onHandshakeConfirmed}), the
 *   server's amplification limit ({@link setAmplificationLimited}) and
 *   application-limited periods ({@link setAppLimited}).
 *
 * Acknowledged and lost packets reach the {@link LossDetectionHandler}.
 * Never reads a clock: every method takes `now` in ms.
 */
export class LossDetection<F = unknown> {
  /** The path's RTT estimator (RFC 9002 section 5). */
  readonly rtt: RttEstimator;
  /** The path's congestion controller (RFC 9002 section 7). */
  readonly cc: CongestionController;
  /** The path's pacer (RFC 9002 section 7.7). */
  readonly pacer: Pacer;
  /** Counters. */
  readonly stats = new RecoveryStats();
  /** Whether this endpoint is the server. */
  readonly isServer: boolean;
  /** The peer's max_ack_delay in ms (RFC 9000 section 18.2); set from its transport parameters. */
  peerMaxAckDelay: number;
  /** ECN validation failed: stop marking packets ECT (RFC 9000 section 13.4.2.2). */
  ecnFailed = false;

  private readonly handler: LossDetectionHandler<F>;
  /** Packet and time thresholds, adapted to the path's reordering (RFC 9002 sections 6.1.1 and 6.1.2). */
  readonly reordering: ReorderingThresholds;
  private readonly ptoProbes: number;
  private readonly spaces: [SpaceState<F>, SpaceState<F>, SpaceState<F>];
  /** pto_count: the PTO backoff exponent (RFC 9002 Appendix A.3). */
  private ptoBackoff = 0;
  private timer = Infinity;
  /** Space of the last PTO that fired. */
  private lastPtoSpace: PacketNumberSpace = PacketNumberSpace.Initial;
  /** Space of the PTO currently armed, from {@link ptoTimeAndSpace}. */
  private armedPtoSpace: PacketNumberSpace = PacketNumberSpace.Initial;
  private handshakeConfirmed = false;
  private handshakeKeys = false;
  private handshakeAckReceived = false;
  private amplificationLimited = false;
  /** Next connection-wide send sequence number. */
  private nextSeq = 0;
  /** Send sequence numbers of acknowledged packets, for persistent congestion across spaces. */
  private readonly ackedSeqs = new RangeSet();
  /** Reused buffers so ACK processing allocates nothing. */
  private readonly ackedBuf: SentPacket<F>[] = [];
  private readonly lostBuf: SentPacket<F>[] = [];

  /** Loss detection reporting to `handler`; the congestion controller is chosen by `options.congestionControl`. */
  constructor(handler: LossDetectionHandler<F>, options: LossDetectionOptions) {
    this.handler = handler;
    this.isServer = options.isServer;
    const mds = options.maxDatagramSize ?? kMinMaxDatagramSize;
    const cc = options.congestionControl ?? "reno";
    this.cc = typeof cc === "string" ? createCongestionController(cc, mds) : cc;
    this.rtt = new RttEstimator(options.initialRtt);
    this.pacer = new Pacer(mds, options.burstPackets);
    this.peerMaxAckDelay = options.peerMaxAckDelay ?? kDefaultMaxAckDelay;
    this.reordering = new ReorderingThresholds(options.packetThreshold ?? kPacketThreshold, options.timeThreshold ?? kTimeThreshold, options.adaptiveReordering ?? true);
    this.ptoProbes = options.ptoProbes ?? 2;
    this.spaces = [new SpaceState<F>(), new SpaceState<F>(), new SpaceState<F>()];
  }

  // ---------------------------------------------------------------- inputs

  /**
   * Records a sent packet (RFC 9002 Appendix A.5). Every packet is
   * recorded, ACK-only ones too, so that their acknowledgement is valid and
   * {@link SentPacket.ackLargest} works. Packet numbers must increase within
   * a space; numbers jumped over count as deliberately skipped, and an
   * acknowledgement of one is a PROTOCOL_VIOLATION (RFC 9000 section 21.4).
   */
  onPacketSent(space: PacketNumberSpace, packet: SentPacket<F>): void {
    const st = this.spaces[space];
    if (st.discarded) throw new RangeError(`${packetNumberSpaceName(space)} packet number space was discarded`);
    packet.seq = this.nextSeq++;
    st.store.push(packet);
    this.stats.packetsSent++;
    this.stats.bytesSent += packet.size;
    if (packet.ecn === Ecn.Ect0) st.sentEct0++;
    else if (packet.ecn === Ecn.Ect1) st.sentEct1++;
    if (!packet.inFlight) return;
    const now = packet.timeSent;
    if (packet.ackEliciting) {
      st.timeOfLastAckEliciting = now;
      st.ackElicitingInFlight++;
      if (st.probes > 0) st.probes--;
    }
    this.cc.onPacketSent(packet.size, now);
    this.pacer.onPacketSent(now, packet.size, this.cc.window, this.rtt.smoothedRtt);
    this.setTimer(now);
  }

  /**
   * Processes an ACK frame of `space` (RFC 9002 Appendix A.7). `ranges` are
   * flat inclusive `[largest, smallest]` pairs in descending order, as the
   * frame codec decodes them; `ackDelay` is the decoded ACK Delay in ms
   * (field * 2^peer_ack_delay_exponent / 1000); `ecn` the ECN counts of an
   * ACK_ECN frame. Newly acknowledged and newly lost packets go to the
   * handler (lost first, as the congestion controller sees them). Returns
   * the number of newly acknowledged packets.
   *
   * Throws a {@link QuicTransportError}: PROTOCOL_VIOLATION for an
   * acknowledgement of a packet never sent (RFC 9000 section 13.1),
   * FRAME_ENCODING_ERROR for malformed ranges (RFC 9000 section 19.3.1).
   */
  onAckReceived(space: PacketNumberSpace, ranges: ArrayLike<number>, ackDelay: number, ecn: EcnCounts | null, now: number): number {
    const st = this.spaces[space];
    if (st.discarded) return 0;
    const n = ranges.length;
    if (n < 2 || (n & 1) !== 0) {
      throw new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, "ACK frame without a range", ACK_FRAME_TYPE);
    }
    const store = st.store;
    const largest = ranges[0]!;
    if (largest > store.largestSent) {
      throw new QuicTransportError(
        TransportErrorCode.PROTOCOL_VIOLATION,
        `ACK of ${packetNumberSpaceName(space)} packet ${largest}, which was never sent`,
        ACK_FRAME_TYPE,
      );
    }
    // A Handshake ACK proves the server validated our address (RFC 9002 Appendix A.8 PeerCompletedAddressValidation).
    if (space === PacketNumberSpace.Handshake) this.handshakeAckReceived = true;
    let largestIncreased = false;
    if (largest > st.largestAcked) {
      st.largestAcked = largest;
      largestIncreased = true;
    }
    if (st.lostPns.size > 0) this.countSpuriousLosses(st, ranges);

    // DetectAndRemoveAckedPackets: walk ranges from the lowest so packets come out in packet number order.
    // Slots below the store's head are already resolved, so the walk costs O(newly acked + ranges).
    const acked = this.ackedBuf;
    acked.length = 0;
    for (let i = n - 2; i >= 0; i -= 2) {
      const hi = ranges[i]!;
      const lo = ranges[i + 1]!;
      if (lo < 0 || lo > hi || (i > 0 && hi + 1 >= ranges[i - 1]!)) {
        throw new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, "ACK ranges overlap or are out of order", ACK_FRAME_TYPE);
      }
      for (let pn = lo > store.headPn ? lo : store.headPn; pn <= hi; pn++) {
        const p = store.get(pn);
        if (p === undefined) continue;
        if (p === SKIPPED) {
          throw new QuicTransportError(
            TransportErrorCode.PROTOCOL_VIOLATION,
            `ACK of skipped ${packetNumberSpaceName(space)} packet number ${pn}`,
            ACK_FRAME_TYPE,
          );
        }
        store.remove(pn);
        acked.push(p);
      }
    }
    store.advance();
    const count = acked.length;
    if (count === 0) return 0;

    const largestNewly = acked[count - 1]!;
    let ackEliciting = false;
    let ackLargest = -1;
    let ect0 = 0;
    let ect1 = 0;
    for (let i = 0; i < count; i++) {
      const p = acked[i]!;
      if (p.ackEliciting) {
        ackEliciting = true;
        if (p.inFlight) st.ackElicitingInFlight--;
      }
      if (p.ackLargest > ackLargest) ackLargest = p.ackLargest;
      if (p.ecn === Ecn.Ect0) ect0++;
      else if (p.ecn === Ecn.Ect1) ect1++;
    }
    this.stats.packetsAcked += count;

    // RTT sample only when the largest is newly acknowledged and something ack-eliciting was (RFC 9002 section 5.1).
    if (largestNewly.pn === largest && ackEliciting) {
      // Initial ACKs are never delayed on purpose, so their ACK Delay may be ignored (RFC 9002 section 5.3).
      const delay = space === PacketNumberSpace.Initial ? 0 : ackDelay;
      this.rtt.update(now - largestNewly.timeSent, delay, now, this.handshakeConfirmed, this.peerMaxAckDelay);
    }
    this.recordAcked(acked);
    if (ecn !== null || ect0 + ect1 > 0) this.processEcn(st, ecn, ect0, ect1, largestIncreased, largestNewly, now);
    // The acknowledgement a PTO probe was meant to elicit has arrived.
    st.probes = 0;

    const lost = this.detectLostPackets(st, now);
    if (lost.length > 0) this.onPacketsLost(space, lost, now);
    this.cc.onPacketsAcked(acked, now, this.rtt);
    for (let i = 0; i < count; i++) this.handler.onPacketAcked(space, acked[i]!);
    if (ackLargest >= 0 && st.ackTracker !== undefined) st.ackTracker.onAckOfAckReceived(ackLargest);

    // Reset the backoff unless a client is unsure the server validated its address (RFC 9002 section 6.2.1).
    if (this.peerCompletedAddressValidation()) this.ptoBackoff = 0;
    this.setTimer(now);
    acked.length = 0;
    return count;
  }

  /**
   * {@link onAckReceived} for a decoded {@link AckFrame}; `peerAckDelayExponent`
   * is the peer's ack_delay_exponent (RFC 9000 section 18.2).
   */
  onAckFrame(space: PacketNumberSpace, frame: AckFrame, peerAckDelayExponent: number, now: number): number {
    const delay = (frame.ackDelay * 2 ** peerAckDelayExponent) / 1000;
    return this.onAckReceived(space, frame.ranges, delay, frame.ecn, now);
  }

  /**
   * Runs the loss detection timer (RFC 9002 Appendix A.9). Returns
   * {@link TimeoutAction.None} if it has not expired at `now`,
   * {@link TimeoutAction.LossDetected} after declaring time-threshold
   * losses (reported to the handler), or {@link TimeoutAction.Probe} when a
   * PTO fired: the connection then sends {@link probesPending} ack-eliciting
   * packets per space (new data, else retransmitted data, else PING),
   * unblocked by congestion control and pacing. When the client's
   * anti-deadlock timer fires (nothing in flight, address not yet validated,
   * RFC 9002 section 6.2.2.1), the probe is one Handshake packet, or one
   * Initial packet padded to 1200 bytes without Handshake keys.
   */
  onLossDetectionTimeout(now: number): TimeoutAction {
    if (now < this.timer) return TimeoutAction.None;
    let lossSpace = -1;
    let lossTime = Infinity;
    for (let s = 0; s < 3; s++) {
      if (this.spaces[s]!.lossTime < lossTime) {
        lossTime = this.spaces[s]!.lossTime;
        lossSpace = s;
      }
    }
    if (lossSpace >= 0) {
      const lost = this.detectLostPackets(this.spaces[lossSpace]!, now);
      if (lost.length > 0) this.onPacketsLost(lossSpace as PacketNumberSpace, lost, now);
      this.setTimer(now);
      return TimeoutAction.LossDetected;
    }
    if (this.probeableInFlight() === 0) {
      // Anti-deadlock probe (RFC 9002 section 6.2.2.1): a Handshake packet proves address ownership,
      // a padded Initial earns amplification credit.
      const space = this.handshakeKeys ? PacketNumberSpace.Handshake : PacketNumberSpace.Initial;
      this.lastPtoSpace = space;
      this.spaces[space].probes = 1;
    } else {
      this.ptoTimeAndSpace(now);
      const space = this.armedPtoSpace;
      this.lastPtoSpace = space;
      this.spaces[space].probes = this.ptoProbes;
      // Also probe other spaces with data in flight: the peer may only have keys for one of them (RFC 9002 section 6.2.4).
      for (let s = 0; s < 3; s++) {
        const st = this.spaces[s]!;
        if (s === space || st.ackElicitingInFlight === 0) continue;
        if (s === PacketNumberSpace.Application && !this.handshakeConfirmed) continue;
        if (st.probes < 1) st.probes = 1;
      }
    }
    this.ptoBackoff++;
    this.stats.ptoCount++;
    this.setTimer(now);
    return TimeoutAction.Probe;
  }

  /**
   * The keys of `space` were discarded (RFC 9002 section 6.4 and Appendix
   * A.11): its packets leave bytes in flight, its timers stop and the PTO
   * backoff resets. The space's {@link AckTracker} is the connection's to
   * discard.
   */
  discardSpace(space: PacketNumberSpace, now: number): void {
    const st = this.spaces[space];
    if (st.discarded) return;
    const store = st.store;
    let bytes = 0;
    for (let pn = store.headPn, end = store.endPn; pn < end; pn++) {
      const p = store.get(pn);
      if (p !== undefined && p !== SKIPPED && p.inFlight) bytes += p.size;
    }
    this.cc.removeFromFlight(bytes);
    store.clear();
    st.lostPns.clear();
    st.lossTime = Infinity;
    st.timeOfLastAckEliciting = -Infinity;
    st.ackElicitingInFlight = 0;
    st.probes = 0;
    st.discarded = true;
    this.ptoBackoff = 0;
    this.setTimer(now);
  }

  /**
   * Forgets the outstanding packets of `space` for which `filter` returns
   * true, with no loss or congestion signal: e.g. 0-RTT packets when 0-RTT
   * is rejected (RFC 9002 section 6.4). The filter may re-queue their frames.
   * Returns how many were dropped. Not for the hot path.
   */
  discardPackets(space: PacketNumberSpace, filter: (packet: SentPacket<F>) => boolean, now: number): number {
    const st = this.spaces[space];
    const store = st.store;
    let bytes = 0;
    let dropped = 0;
    for (let pn = store.headPn, end = store.endPn; pn < end; pn++) {
      const p = store.get(pn);
      if (p === undefined || p === SKIPPED || !filter(p)) continue;
      store.remove(pn);
      dropped++;
      if (p.inFlight) bytes += p.size;
      if (p.ackEliciting && p.inFlight) st.ackElicitingInFlight--;
    }
    store.advance();
    this.cc.removeFromFlight(bytes);
    this.setTimer(now);
    return dropped;
  }

  /**
   * A Retry arrived: congestion control and loss recovery start over
   * (RFC 9002 section 6.3). Every outstanding packet goes to
   * {@link LossDetectionHandler.onPacketLost} so its frames are sent again,
   * without counting as loss. `rttSample` (first Initial sent to Retry
   * received) may become the initial RTT. Packet numbers keep increasing
   * (RFC 9000 section 17.2.5.3).
   */
  resetForRetry(now: number, rttSample?: number): void {
    const returned: Array<[PacketNumberSpace, SentPacket<F>]> = [];
    for (let s = 0; s < 3; s++) {
      const st = this.spaces[s]!;
      const store = st.store;
      let bytes = 0;
      for (let pn = store.headPn, end = store.endPn; pn < end; pn++) {
        const p = store.get(pn);
        if (p === undefined || p === SKIPPED) continue;
        if (p.inFlight) bytes += p.size;
        returned.push([s as PacketNumberSpace, p]);
      }
      store.clear();
      this.cc.removeFromFlight(bytes);
      st.lossTime = Infinity;
      st.timeOfLastAckEliciting = -Infinity;
      st.ackElicitingInFlight = 0;
      st.probes = 0;
    }
    this.cc.reset();
    this.rtt.reset(rttSample !== undefined && rttSample > 0 ? rttSample : undefined);
    this.pacer.reset();
    this.ptoBackoff = 0;
    this.setTimer(now);
    // Hand the packets back only once the state is clean, so the handler may send at once.
    for (const [space, p] of returned) this.handler.onPacketLost(space, p);
  }

  /**
   * The connection moved to a new network path (RFC 9000 section 9.4):
   * the congestion controller and the RTT estimator start over, and
   * packets still outstanding from the old path no longer count as
   * congestion signals. `rttSample` (a PATH_CHALLENGE round trip) may
   * seed the new estimate.
   */
  onPathChange(now: number, rttSample?: number): void {
    this.cc.reset(now);
    this.rtt.reset(rttSample !== undefined && rttSample > 0 ? rttSample : undefined);
    this.pacer.reset();
    this.ptoBackoff = 0;
    this.setTimer(now);
  }

  /** The client installed Handshake keys: its anti-deadlock probe becomes a Handshake packet (RFC 9002 section 6.2.2.1). */
  onHandshakeKeysAvailable(now: number): void {
    this.handshakeKeys = true;
    this.setTimer(now);
  }

  /**
   * The handshake is confirmed (RFC 9001 section 4.1.2): ack delays are now
   * capped by max_ack_delay (RFC 9002 section 5.3) and the Application
   * space's PTO may be armed (section 6.2.1).
   */
  onHandshakeConfirmed(now: number): void {
    this.handshakeConfirmed = true;
    this.setTimer(now);
  }

  /**
   * The server reached (true) or left (false) the anti-amplification limit
   * (RFC 9000 section 8.1). While limited its PTO is not armed (RFC 9002
   * section 6.2.2.1); once a datagram lifts the limit the timer is re-armed,
   * and if that puts the deadline in the past the connection should run
   * {@link onLossDetectionTimeout} at once (Appendix A.6).
   */
  setAmplificationLimited(limited: boolean, now: number): void {
    if (limited === this.amplificationLimited) return;
    this.amplificationLimited = limited;
    this.setTimer(now);
  }

  /**
   * Pass true when the connection stopped sending with window to spare (no
   * data, or blocked by flow control): the window must not grow from the
   * acknowledgements of this period (RFC 9002 section 7.8). Pass false when
   * it stops because of the congestion window or pacing (a paced sender
   * that would have filled the window is not application limited). Filling
   * the window also clears it.
   */
  setAppLimited(limited: boolean): void {
    this.cc.appLimited = limited;
  }

  /** The peer's max_ack_delay transport parameter in ms (RFC 9000 section 18.2). */
  setPeerMaxAckDelay(ms: number): void {
    this.peerMaxAckDelay = ms;
  }

  /** A new maximum datagram size from path MTU discovery (RFC 9002 section 7.2). */
  setMaxDatagramSize(size: number): void {
    this.cc.setMaxDatagramSize(size);
    this.pacer.maxDatagramSize = size;
  }

  /** Tells `tracker` when the peer acknowledges our ACK frames in `space` (RFC 9000 section 13.2.4). */
  attachAckTracker(space: PacketNumberSpace, tracker: AckTracker): void {
    this.spaces[space].ackTracker = tracker;
  }

  // --------------------------------------------------------------- outputs

  /** When {@link onLossDetectionTimeout} must run, Infinity when the timer is not armed. */
  get lossDetectionDeadline(): number {
    return this.timer;
  }

  /** The space whose PTO fired last (meaningful after {@link TimeoutAction.Probe}). */
  get ptoSpace(): PacketNumberSpace {
    return this.lastPtoSpace;
  }

  /** The oldest ack-eliciting packet of `space` still awaiting acknowledgement, if any: what a probe should carry again. */
  oldestUnacked(space: PacketNumberSpace): SentPacket<F> | undefined {
    const store = this.spaces[space].store;
    for (let pn = store.headPn, end = store.endPn; pn < end; pn++) {
      const p = store.get(pn);
      if (p !== undefined && p !== SKIPPED && p.ackEliciting && !p.mtuProbe) return p;
    }
    return undefined;
  }

  /**
   * Asks for `count` probe packets in `space`, which the congestion window
   * does not hold back: after a PTO, for a space holding lost data the peer
   * needs first (RFC 9002 section 6.2.4 has probes carry what the peer most
   * likely lacks), or for an early retransmission of the handshake flight
   * (section 6.2.3).
   */
  requestProbe(space: PacketNumberSpace, count: 1 | 2 = 1): void {
    const st = this.spaces[space];
    if (!st.discarded && st.probes < count) st.probes = count;
  }

  /** Probe packets still owed in `space` after a PTO; each ack-eliciting packet sent there counts one. */
  probesPending(space: PacketNumberSpace): number {
    return this.spaces[space].probes;
  }

  /** The PTO backoff exponent (pto_count, RFC 9002 Appendix A.3). */
  get ptoBackoffExponent(): number {
    return this.ptoBackoff;
  }

  /**
   * One PTO period with max_ack_delay and without backoff (RFC 9002 section
   * 6.2.1): the unit of the idle-timeout floor, closing and draining periods
   * (RFC 9000 sections 10.1, 10.2) and key-update timing (RFC 9001 section 6.5).
   */
  ptoPeriod(): number {
    return this.rtt.pto(this.peerMaxAckDelay);
  }

  /** Congestion window in bytes. */
  get congestionWindow(): number {
    return this.cc.window;
  }

  /** Bytes in flight. */
  get bytesInFlight(): number {
    return this.cc.bytesInFlight;
  }

  /**
   * Bytes that may still be put in flight: cwnd - bytes_in_flight, at least
   * 0 (RFC 9002 section 7). Probe packets ignore it (section 7.5).
   */
  get congestionAllowance(): number {
    const room = this.cc.window - this.cc.bytesInFlight;
    return room > 0 ? room : 0;
  }

  /**
   * Earliest time the next in-flight packet of `size` bytes may be sent
   * (RFC 9002 section 7.7); `now` when it may go at once. ACK-only packets
   * are not paced.
   */
  pacingDeadline(now: number, size: number = this.cc.maxDatagramSize): number {
    return this.pacer.nextSendTime(now, this.cc.window, this.rtt.smoothedRtt, size);
  }

  /** Ack-eliciting packets in flight in `space`. */
  ackElicitingInFlight(space: PacketNumberSpace): number {
    return this.spaces[space].ackElicitingInFlight;
  }

  /** Largest packet number acknowledged in `space`, -1 before any (needed to encode packet numbers, RFC 9000 section 17.1). */
  largestAcked(space: PacketNumberSpace): number {
    return this.spaces[space].largestAcked;
  }

  /** Largest packet number sent in `space`, -1 before any. */
  largestSent(space: PacketNumberSpace): number {
    return this.spaces[space].store.largestSent;
  }

  /** The outstanding packet `pn` of `space`, or undefined. */
  sentPacket(space: PacketNumberSpace, pn: number): SentPacket<F> | undefined {
    const p = this.spaces[space].store.get(pn);
    return p === SKIPPED ? undefined : p;
  }

  /**
   * True when `space` holds only non-ack-eliciting packets (ACK-only ones)
   * and the oldest was sent over a smoothed RTT ago: the connection should
   * make its next packet there ack-eliciting (add a PING) so the peer
   * acknowledges, which lets it forget old ACK ranges (RFC 9000 section
   * 13.2.4) and lets this side clear those records. Without it an endpoint
   * that only receives data keeps every ACK-only packet it sent.
   */
  shouldElicitAck(space: PacketNumberSpace, now: number): boolean {
    const st = this.spaces[space];
    if (st.ackElicitingInFlight > 0 || st.store.count === 0) return false;
    const oldest = st.store.oldest();
    return oldest !== undefined && oldest.timeSent + this.rtt.smoothedRtt <= now;
  }

  /** Outstanding (unacknowledged, not lost) packets in `space`. */
  outstanding(space: PacketNumberSpace): number {
    return this.spaces[space].store.count;
  }

  /** Whether `space` was discarded. */
  isDiscarded(space: PacketNumberSpace): boolean {
    return this.spaces[space].discarded;
  }

  /** A snapshot of RTT, window and counters. Allocates; not for the hot path. */
  getStats(): RecoveryStatsSnapshot {
    const s = this.stats;
    return {
      latestRtt: this.rtt.latestRtt,
      minRtt: this.rtt.minRtt,
      smoothedRtt: this.rtt.smoothedRtt,
      rttVar: this.rtt.rttVar,
      cwnd: this.cc.window,
      ssthresh: this.cc.ssthresh,
      bytesInFlight: this.cc.bytesInFlight,
      congestionControl: this.cc.algorithm,
      congestionEvents: this.cc.congestionEvents,
      ptoBackoff: this.ptoBackoff,
      packetsSent: s.packetsSent,
      bytesSent: s.bytesSent,
      packetsAcked: s.packetsAcked,
      packetsLost: s.packetsLost,
      bytesLost: s.bytesLost,
      spuriousLosses: s.spuriousLosses,
      ptoCount: s.ptoCount,
      persistentCongestions: s.persistentCongestions,
      ecnCeEvents: s.ecnCeEvents,
    };
  }

  // -------------------------------------------------------------- internals

  /** PeerCompletedAddressValidation (RFC 9002 Appendix A.8): servers assume it; clients know after a Handshake ACK or confirmation. */
  private peerCompletedAddressValidation(): boolean {
    return this.isServer || this.handshakeAckReceived || this.handshakeConfirmed;
  }

  /**
   * Ack-eliciting packets in flight that a PTO may probe for: the
   * Application space counts only once the handshake is confirmed. Using
   * this (rather than all spaces, as Appendix A.8 does) for the client's
   * anti-deadlock check keeps a client whose only packets in flight are
   * 0-RTT from going without a timer.
   */
  private probeableInFlight(): number {
    const sp = this.spaces;
    let n = sp[0].ackElicitingInFlight + sp[1].ackElicitingInFlight;
    if (this.handshakeConfirmed) n += sp[2].ackElicitingInFlight;
    return n;
  }

  /** SetLossDetectionTimer (RFC 9002 Appendix A.8). */
  private setTimer(now: number): void {
    const sp = this.spaces;
    const lossTime = Math.min(sp[0].lossTime, sp[1].lossTime, sp[2].lossTime);
    if (lossTime !== Infinity) {
      this.timer = lossTime; // time-threshold loss detection takes precedence over the PTO (section 6.2.1)
      return;
    }
    if (this.isServer && this.amplificationLimited) {
      this.timer = Infinity; // nothing could be sent on expiry (section 6.2.2.1)
      return;
    }
    const inFlight = sp[0].ackElicitingInFlight + sp[1].ackElicitingInFlight + sp[2].ackElicitingInFlight;
    if (inFlight === 0 && this.peerCompletedAddressValidation()) {
      this.timer = Infinity;
      return;
    }
    this.timer = this.ptoTimeAndSpace(now);
  }

  /** GetPtoTimeAndSpace (RFC 9002 Appendix A.8); leaves the space in {@link armedPtoSpace}. */
  private ptoTimeAndSpace(now: number): number {
    const backoff = 2 ** this.ptoBackoff;
    let duration = (this.rtt.smoothedRtt + Math.max(4 * this.rtt.rttVar, kGranularity)) * backoff;
    if (this.probeableInFlight() === 0) {
      // The client's anti-deadlock PTO counts from now (section 6.2.2.1).
      if (this.peerCompletedAddressValidation()) return Infinity;
      this.armedPtoSpace = this.handshakeKeys ? PacketNumberSpace.Handshake : PacketNumberSpace.Initial;
      return now + duration;
    }
    let timeout = Infinity;
    for (let s = 0; s < 3; s++) {
      const st = this.spaces[s]!;
      if (st.ackElicitingInFlight === 0) continue;
      if (s === PacketNumberSpace.Application) {
        // Never before confirmation (section 6.2.1); max_ack_delay joins the period, backed off too.
        if (!this.handshakeConfirmed) break;
        duration += this.peerMaxAckDelay * backoff;
      }
      const t = st.timeOfLastAckEliciting + duration;
      if (t < timeout) {
        timeout = t;
        this.armedPtoSpace = s as PacketNumberSpace;
      }
    }
    return timeout;
  }

  /**
   * DetectAndRemoveLostPackets (RFC 9002 Appendix A.10) into the reused
   * lost buffer. Only slots between the store's head and the largest
   * acknowledged are visited; after the call none of them is older than the
   * packet threshold, so the walk stays short.
   */
  private detectLostPackets(st: SpaceState<F>, now: number): SentPacket<F>[] {
    const lost = this.lostBuf;
    lost.length = 0;
    st.lossTime = Infinity;
    const largestAcked = st.largestAcked;
    if (largestAcked < 0) return lost;
    const lossDelay = this.rtt.lossDelay(this.reordering.timeThreshold);
    const threshold = this.reordering.packetThreshold;
    const store = st.store;
    for (let pn = store.headPn; pn <= largestAcked; pn++) {
      const p = store.get(pn);
      if (p === undefined) continue;
      const byCount = largestAcked >= pn + threshold;
      if (p === SKIPPED) {
        // A skip the peer has clearly not acknowledged by now need not be remembered.
        if (byCount) store.remove(pn);
        continue;
      }
      // The deadline is compared as computed (time_sent + loss_delay) so a timer firing exactly on it always finds the loss.
      const deadline = p.timeSent + lossDelay;
      if (byCount || deadline <= now) {
        store.remove(pn);
        lost.push(p);
        st.lostPns.set(pn, byCount ? largestAcked - pn : -1 - (largestAcked - pn));
      } else if (deadline < st.lossTime) {
        st.lossTime = deadline;
      }
    }
    store.advance();
    return lost;
  }

  /** OnPacketsLost (RFC 9002 Appendix B.8) plus the handler, then clears the buffer. */
  private onPacketsLost(space: PacketNumberSpace, lost: SentPacket<F>[], now: number): void {
    const st = this.spaces[space];
    const stats = this.stats;
    for (let i = 0; i < lost.length; i++) {
      const p = lost[i]!;
      stats.packetsLost++;
      stats.bytesLost += p.size;
      if (p.ackEliciting && p.inFlight) st.ackElicitingInFlight--;
    }
    if (st.lostPns.size > MAX_LOST_REMEMBERED) {
      // Maps iterate in insertion order: forget the oldest losses.
      let excess = st.lostPns.size - MAX_LOST_REMEMBERED;
      for (const pn of st.lostPns.keys()) {
        if (excess-- <= 0) break;
        st.lostPns.delete(pn);
      }
    }
    this.cc.onPacketsLost(lost, now);
    if (this.inPersistentCongestion(lost)) {
      this.cc.onPersistentCongestion(now);
      this.rtt.onPersistentCongestion();
      stats.persistentCongestions++;
    }
    for (let i = 0; i < lost.length; i++) this.handler.onPacketLost(space, lost[i]!);
    lost.length = 0;
  }

  /**
   * Persistent congestion (RFC 9002 section 7.6.2): two ack-eliciting lost
   * packets, both sent after the first RTT sample, further apart than the
   * persistent congestion duration, with no packet of any space sent
   * between them acknowledged. `lost` is in packet number order.
   */
  private inPersistentCongestion(lost: SentPacket<F>[]): boolean {
    if (!this.rtt.hasSample) return false;
    const firstSample = this.rtt.firstSampleTime;
    // Section 7.6.1: includes max_ack_delay whatever the space.
    const duration = this.rtt.pto(this.peerMaxAckDelay) * kPersistentCongestionThreshold;
    let start: SentPacket<F> | undefined;
    let prev: SentPacket<F> | undefined;
    for (let i = 0; i < lost.length; i++) {
      const p = lost[i]!;
      if (!p.ackEliciting || p.timeSent <= firstSample) continue;
      if (start === undefined || this.ackedBetween(prev!.seq, p.seq)) {
        start = p;
      } else if (p.timeSent - start.timeSent > duration) {
        return true;
      }
      prev = p;
    }
    return false;
  }

  /** Whether a packet sent strictly between send sequence numbers `a` and `b` was acknowledged. */
  private ackedBetween(a: number, b: number): boolean {
    const set = this.ackedSeqs;
    const lo = a + 1;
    if (lo >= b) return false;
    let l = 0;
    let h = set.size;
    while (l < h) {
      const mid = (l + h) >>> 1;
      if (set.end(mid) <= lo) l = mid + 1;
      else h = mid;
    }
    return l < set.size && set.start(l) < b;
  }

  /** Adds acknowledged packets' send sequence numbers, run by run, and forgets those no loss can span any more. */
  private recordAcked(acked: SentPacket<F>[]): void {
    const set = this.ackedSeqs;
    let runStart = -1;
    let runEnd = -1;
    for (let i = 0; i < acked.length; i++) {
      const seq = acked[i]!.seq;
      if (seq === runEnd) {
        runEnd++;
        continue;
      }
      if (runStart >= 0) set.add(runStart, runEnd);
      runStart = seq;
      runEnd = seq + 1;
    }
    if (runStart >= 0) set.add(runStart, runEnd);
    if (set.size > 32) {
      // Packets declared lost later are all outstanding now: nothing acknowledged below the oldest matters.
      let floor = this.nextSeq;
      for (let s = 0; s < 3; s++) {
        const oldest = this.spaces[s]!.store.oldest();
        if (oldest !== undefined && oldest.seq < floor) floor = oldest.seq;
      }
      set.removeBelow(floor);
      if (set.size > 4096) set.trimTo(2048); // hard bound if an ancient packet stays outstanding
    }
  }

  /**
   * Counts acknowledgements of packets already declared lost (RFC 9002
   * section 6.1), adapts the reordering thresholds to them and forgets them.
   * `ranges` are the ACK frame's descending [largest, smallest] pairs.
   */
  private countSpuriousLosses(st: SpaceState<F>, ranges: ArrayLike<number>): void {
    const lowest = ranges[ranges.length - 1]!;
    for (const [pn, info] of st.lostPns) {
      // Below the frame's lowest range the peer no longer reports; a late acknowledgement there is unlikely.
      if (pn < lowest) {
        st.lostPns.delete(pn);
        continue;
      }
      if (!rangesCover(ranges, pn)) continue;
      st.lostPns.delete(pn);
      this.stats.spuriousLosses++;
      this.reordering.onSpuriousLoss(info >= 0 ? info : -1 - info, info < 0);
    }
  }

  /**
   * ECN validation (RFC 9000 section 13.4.2.1) and the reaction to a higher
   * ECN-CE count (RFC 9002 section 7.1, Appendix B.7). `ect0`/`ect1` count
   * newly acknowledged packets sent with those marks.
   */
  private processEcn(
    st: SpaceState<F>,
    ecn: EcnCounts | null,
    ect0: number,
    ect1: number,
    largestIncreased: boolean,
    largestNewly: SentPacket<F>,
    now: number,
  ): void {
    if (this.ecnFailed) return;
    // Reordered ACK frames must not fail validation (RFC 9000 section 13.4.2.1).
    if (largestIncreased) {
      if (ecn === null) {
        if (ect0 + ect1 > 0) this.ecnFailed = true; // marks were stripped or not reported
        return;
      }
      const d0 = ecn.ect0 - st.peerEct0;
      const d1 = ecn.ect1 - st.peerEct1;
      const dce = ecn.ce - st.peerCe;
      if (
        d0 < 0 || d1 < 0 || dce < 0 ||
        d0 + dce < ect0 || d1 + dce < ect1 ||
        ecn.ect0 > st.sentEct0 || ecn.ect1 > st.sentEct1
      ) {
        this.ecnFailed = true;
        return;
      }
    }
    if (ecn === null) return;
    if (ecn.ect0 > st.peerEct0) st.peerEct0 = ecn.ect0;
    if (ecn.ect1 > st.peerEct1) st.peerEct1 = ecn.ect1;
    if (ecn.ce > st.peerCe) {
      st.peerCe = ecn.ce;
      this.stats.ecnCeEvents++;
      this.cc.onCongestionEvent(largestNewly.timeSent, now);
    }
  }
}

/** Whether descending [largest, smallest] pairs include `pn` (binary search). */
function rangesCover(ranges: ArrayLike<number>, pn: number): boolean {
  let lo = 0;
  let hi = ranges.length >> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[2 * mid + 1]! > pn) lo = mid + 1; // the pair lies wholly above pn
    else hi = mid;
  }
  return lo < ranges.length >> 1 && ranges[2 * lo]! >= pn;
}
