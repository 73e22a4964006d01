/**
 * Round-trip time estimation (RFC 9002 section 5). One estimator per path.
 */
import { kGranularity, kInitialRtt, kTimeThreshold } from "./constants.js";

/**
 * Keeps latest_rtt, min_rtt, smoothed_rtt and rttvar for one path
 * (RFC 9002 sections 5.1-5.3). Times are milliseconds.
 */
export class RttEstimator {
  /** Most recent RTT sample, 0 before the first (RFC 9002 section 5.1). */
  latestRtt = 0;
  /** Minimum RTT seen, never adjusted for ack delay; 0 before the first sample (RFC 9002 section 5.2). */
  minRtt = 0;
  /** Exponentially weighted moving average of adjusted samples (RFC 9002 section 5.3). */
  smoothedRtt: number;
  /** Mean deviation of the samples (RFC 9002 section 5.3). */
  rttVar: number;
  /** `now` of the first sample, -Infinity before it (RFC 9002 Appendix A.3 first_rtt_sample). */
  firstSampleTime = -Infinity;
  /** Number of samples taken since the last reset. */
  samples = 0;
  private initialRtt: number;

  /** `initialRtt` replaces kInitialRtt, e.g. with a previous connection's smoothed RTT (RFC 9002 section 6.2.2). */
  constructor(initialRtt: number = kInitialRtt) {
    this.initialRtt = initialRtt;
    // RFC 9002 section 5.3: smoothed_rtt = kInitialRtt, rttvar = kInitialRtt / 2.
    this.smoothedRtt = initialRtt;
    this.rttVar = initialRtt / 2;
  }

  /** {@link rttVar} under its RFC 9002 name. */
  get rttvar(): number {
    return this.rttVar;
  }

  /** True once a sample has been taken. */
  get hasSample(): boolean {
    return this.samples > 0;
  }

  /**
   * Takes one sample (RFC 9002 section 5.3 and Appendix A.7 UpdateRtt).
   * `latestRtt` is ack time minus send time of the largest newly acknowledged
   * packet; `ackDelay` is the peer's decoded ACK Delay in ms. Before
   * handshake confirmation the delay is not capped by `maxAckDelay`, since
   * handshake delays can legitimately exceed it.
   */
  update(latestRtt: number, ackDelay: number, now: number, handshakeConfirmed: boolean, maxAckDelay: number): void {
    this.latestRtt = latestRtt;
    this.samples++;
    if (this.samples === 1) {
      // The first sample resets the estimator so no history of the initial RTT remains.
      this.minRtt = latestRtt;
      this.smoothedRtt = latestRtt;
      this.rttVar = latestRtt / 2;
      this.firstSampleTime = now;
      return;
    }
    // min_rtt ignores ack delay so it bounds smoothed_rtt from below on local evidence alone (section 5.2).
    if (latestRtt < this.minRtt) this.minRtt = latestRtt;
    if (handshakeConfirmed && ackDelay > maxAckDelay) ackDelay = maxAckDelay;
    // Subtract the delay only when plausible: never below min_rtt (section 5.3).
    const adjusted = latestRtt >= this.minRtt + ackDelay ? latestRtt - ackDelay : latestRtt;
    // rttvar uses the previous smoothed_rtt, as in Appendix A.7 and RFC 6298 section 2.3.
    this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.smoothedRtt - adjusted);
    this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * adjusted;
  }

  /**
   * One PTO period without backoff (RFC 9002 section 6.2.1):
   * smoothed_rtt + max(4 * rttvar, kGranularity) + maxAckDelay.
   * Pass 0 for Initial and Handshake. Also the base of the idle, draining
   * and closing timers (RFC 9000 sections 10.1, 10.2).
   */
  pto(maxAckDelay: number): number {
    return this.smoothedRtt + Math.max(4 * this.rttVar, kGranularity) + maxAckDelay;
  }

  /**
   * Time-threshold loss delay (RFC 9002 section 6.1.2):
   * max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity).
   */
  lossDelay(timeThreshold: number = kTimeThreshold): number {
    const rtt = this.latestRtt > this.smoothedRtt ? this.latestRtt : this.smoothedRtt;
    return Math.max(timeThreshold * rtt, kGranularity);
  }

  /**
   * After persistent congestion, min_rtt restarts from the newest sample so a
   * longer path does not trigger it again and again (RFC 9002 section 5.2).
   */
  onPersistentCongestion(): void {
    if (this.samples > 0) this.minRtt = this.latestRtt;
  }

  /**
   * Back to the initial state, e.g. on a new path (RFC 9000 section 9.4) or
   * after a Retry (RFC 9002 section 6.3). `initialRtt` optionally replaces the
   * initial value (a Retry round trip, a PATH_CHALLENGE round trip).
   */
  reset(initialRtt: number = this.initialRtt): void {
    this.initialRtt = initialRtt;
    this.latestRtt = 0;
    this.minRtt = 0;
    this.smoothedRtt = initialRtt;
    this.rttVar = initialRtt / 2;
    this.firstSampleTime = -Infinity;
    this.samples = 0;
  }
}
