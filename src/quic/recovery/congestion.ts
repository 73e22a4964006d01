/**
 * The congestion controller interface and the window bookkeeping that
 * NewReno (RFC 9002 section 7) and CUBIC (RFC 9438) share: bytes in flight,
 * the recovery period, persistent congestion and application-limited periods.
 */
import { initialWindow, kMinMaxDatagramSize, minimumWindow } from "./constants.js";
import type { RttEstimator } from "./rtt.js";
import type { SentPacket } from "./sent-packet.js";

/** Names of the built-in congestion controllers. */
export type CongestionAlgorithm = "reno" | "cubic";

/**
 * A window-based congestion controller (RFC 9002 section 7). Loss
 * detection calls it; the connection reads {@link window} and
 * {@link bytesInFlight} before sending and reports application-limited
 * periods through {@link appLimited}.
 */
export interface CongestionController {
  /** Which algorithm this is. */
  readonly algorithm: CongestionAlgorithm;
  /** Congestion window in bytes. */
  readonly window: number;
  /** Bytes of in-flight packets sent and not yet acknowledged, lost or discarded (RFC 9002 Appendix B.2). */
  readonly bytesInFlight: number;
  /** Slow start threshold in bytes; Infinity until the first congestion event. */
  readonly ssthresh: number;
  /** Maximum datagram size the window is counted in. */
  readonly maxDatagramSize: number;
  /** Number of congestion events that started a recovery period. */
  readonly congestionEvents: number;
  /** Highest {@link bytesInFlight} ever reached (a statistic). */
  readonly maxBytesInFlight: number;
  /** True while the window is below ssthresh (RFC 9002 section 7.3.1). */
  readonly inSlowStart: boolean;
  /**
   * Set by the connection when it stopped sending with window to spare
   * (no data, flow control): the window then does not grow (RFC 9002
   * section 7.8). Cleared by itself once bytes in flight reach the window.
   */
  appLimited: boolean;
  /** Whether a packet sent at `sentTime` was sent before the current recovery period began (RFC 9002 Appendix B.5). */
  inRecovery(sentTime: number): boolean;
  /** A new maximum datagram size (PMTU), which rescales the initial and minimum windows (RFC 9002 section 7.2). */
  setMaxDatagramSize(size: number): void;
  /** An in-flight packet of `bytes` was sent (RFC 9002 Appendix B.4). */
  onPacketSent(bytes: number, now: number): void;
  /** Newly acknowledged packets, in packet number order; packets not in flight are ignored (RFC 9002 Appendix B.5). */
  onPacketsAcked(packets: ArrayLike<SentPacket<unknown>>, now: number, rtt: RttEstimator): void;
  /** Packets declared lost: removes them from flight and reacts once (RFC 9002 Appendix B.8). */
  onPacketsLost(packets: ArrayLike<SentPacket<unknown>>, now: number): void;
  /**
   * A loss or an ECN-CE increase for a packet sent at `sentTime`: starts a
   * recovery period unless one covers that packet (RFC 9002 section 7.3.2, Appendix B.6).
   */
  onCongestionEvent(sentTime: number, now: number): void;
  /** Persistent congestion: collapse to the minimum window (RFC 9002 section 7.6.2). */
  onPersistentCongestion(now: number): void;
  /** Removes discarded packets' bytes from flight with no congestion signal (RFC 9002 Appendix B.9). */
  removeFromFlight(bytes: number): void;
  /**
   * Back to the initial state (after a Retry, RFC 9002 section 6.3, or on a
   * new path, RFC 9000 section 9.4). Bytes in flight are kept; with `now`,
   * packets sent before it are treated as sent in a recovery period.
   */
  reset(now?: number): void;
}

/**
 * Shared state and rules of window-based controllers. Subclasses say how the
 * window grows in congestion avoidance and how it shrinks on a congestion
 * event.
 */
export abstract class WindowedController implements CongestionController {
  abstract readonly algorithm: CongestionAlgorithm;
  /** The window as a real number; CUBIC grows it by fractions of a byte. */
  protected cwnd: number;
  /** Slow start threshold in bytes (RFC 9002 Appendix B.2). */
  ssthresh = Infinity;
  /** Bytes in flight (RFC 9002 Appendix B.2). */
  bytesInFlight = 0;
  /** Start of the current recovery period, -Infinity when none (RFC 9002 Appendix B.2 congestion_recovery_start_time). */
  protected recoveryStart = -Infinity;
  /** See {@link CongestionController.appLimited}. */
  appLimited = false;
  /** See {@link CongestionController.congestionEvents}. */
  congestionEvents = 0;
  /** See {@link CongestionController.maxBytesInFlight}. */
  maxBytesInFlight = 0;
  private mds: number;

  /** Starts in slow start at the initial window for `maxDatagramSize` (RFC 9002 section 7.2, Appendix B.3). */
  constructor(maxDatagramSize: number = kMinMaxDatagramSize) {
    this.mds = maxDatagramSize;
    this.cwnd = initialWindow(maxDatagramSize);
  }

  /** Congestion window in whole bytes. */
  get window(): number {
    return Math.floor(this.cwnd);
  }

  /** Maximum datagram size in bytes. */
  get maxDatagramSize(): number {
    return this.mds;
  }

  /** Minimum window, 2 * max_datagram_size (RFC 9002 section 7.2). */
  get minimumWindow(): number {
    return minimumWindow(this.mds);
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  inRecovery(sentTime: number): boolean {
    return sentTime <= this.recoveryStart;
  }

  setMaxDatagramSize(size: number): void {
    const old = this.mds;
    this.mds = size;
    // RFC 9002 section 7.2: recalculate the initial window with the new size while it is still in use.
    if (this.congestionEvents === 0 && this.cwnd === initialWindow(old)) this.cwnd = initialWindow(size);
    if (this.cwnd < minimumWindow(size)) this.cwnd = minimumWindow(size);
  }

  onPacketSent(bytes: number, now: number): void {
    void now;
    this.bytesInFlight += bytes;
    if (this.bytesInFlight > this.maxBytesInFlight) this.maxBytesInFlight = this.bytesInFlight;
    // A sender that fills the window is no longer application limited.
    if (this.bytesInFlight >= this.cwnd) this.appLimited = false;
  }

  onPacketsAcked(packets: ArrayLike<SentPacket<unknown>>, now: number, rtt: RttEstimator): void {
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (!p.inFlight) continue;
      this.bytesInFlight -= p.size;
      // RFC 9002 section 7.8: an underused window must not grow.
      if (this.appLimited) continue;
      // RFC 9002 section 7.3.2: no growth for packets sent before recovery began.
      if (p.timeSent <= this.recoveryStart) continue;
      if (this.cwnd < this.ssthresh) {
        this.cwnd += p.size; // slow start: one byte per byte acknowledged (RFC 9002 section 7.3.1)
      } else {
        this.congestionAvoidance(p, now, rtt);
      }
    }
    if (this.bytesInFlight < 0) this.bytesInFlight = 0;
  }

  onPacketsLost(packets: ArrayLike<SentPacket<unknown>>, now: number): void {
    let lastLoss = -Infinity;
    let congestion = false;
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i]!;
      if (!p.inFlight) continue;
      this.bytesInFlight -= p.size;
      // A lost PMTU probe says the packet was too big, not that the path is congested (RFC 9000 section 14.4).
      if (p.mtuProbe) continue;
      congestion = true;
      if (p.timeSent > lastLoss) lastLoss = p.timeSent;
    }
    if (this.bytesInFlight < 0) this.bytesInFlight = 0;
    if (congestion) this.onCongestionEvent(lastLoss, now);
  }

  onCongestionEvent(sentTime: number, now: number): void {
    // One reduction per round trip: losses of packets sent before the recovery period are part of the same event.
    if (sentTime <= this.recoveryStart) return;
    this.recoveryStart = now;
    this.congestionEvents++;
    this.reduceWindow(now);
    if (this.cwnd < this.minimumWindow) this.cwnd = this.minimumWindow;
  }

  onPersistentCongestion(now: number): void {
    // RFC 9002 section 7.6.2 and Appendix B.8: minimum window, recovery over, slow start back up to ssthresh.
    this.cwnd = this.minimumWindow;
    this.recoveryStart = -Infinity;
    this.onCollapse(now);
  }

  removeFromFlight(bytes: number): void {
    this.bytesInFlight -= bytes;
    if (this.bytesInFlight < 0) this.bytesInFlight = 0;
  }

  reset(now = -Infinity): void {
    this.cwnd = initialWindow(this.mds);
    this.ssthresh = Infinity;
    // Packets sent before `now` (on an old path) neither grow nor shrink the new window.
    this.recoveryStart = now;
    this.appLimited = false;
    this.onCollapse(-Infinity);
  }

  /** Window growth for one acknowledged packet in congestion avoidance. */
  protected abstract congestionAvoidance(p: SentPacket<unknown>, now: number, rtt: RttEstimator): void;
  /** Sets ssthresh and the reduced window on a new congestion event. */
  protected abstract reduceWindow(now: number): void;
  /** Resets algorithm state after persistent congestion or a reset. */
  protected abstract onCollapse(now: number): void;
}
