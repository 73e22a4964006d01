/**
 * CUBIC congestion control (RFC 9438) on top of QUIC's recovery period,
 * persistent congestion and application-limited rules (RFC 9002 section 7).
 */
import { kMinMaxDatagramSize } from "./constants.js";
import { WindowedController } from "./congestion.js";
import type { RttEstimator } from "./rtt.js";
import type { SentPacket } from "./sent-packet.js";

/** CUBIC's aggressiveness constant C, in segments per second cubed (RFC 9438 section 4.1.1: 0.4). */
export const kCubicC = 0.4;

/** CUBIC's multiplicative decrease factor beta_cubic (RFC 9438 section 4.1.1: 0.7). */
export const kCubicBeta = 0.7;

/** Additive increase of the Reno-friendly estimate, 3 * (1 - beta) / (1 + beta) segments per RTT (RFC 9438 section 4.3). */
export const kCubicAlpha = (3 * (1 - kCubicBeta)) / (1 + kCubicBeta);

/** Options of {@link Cubic}. */
export interface CubicOptions {
  /** Release bandwidth faster to new flows by lowering W_max after a loss below it (RFC 9438 section 4.7). Default true. */
  fastConvergence?: boolean;
}

/**
 * CUBIC (RFC 9438). Window sizes inside the growth function are in segments
 * of max_datagram_size and time in seconds, as in the RFC; the window itself
 * stays in bytes. Slow start is the standard one (RFC 9002 section 7.3.1).
 */
export class Cubic extends WindowedController {
  readonly algorithm = "cubic" as const;
  /** Apply fast convergence (RFC 9438 section 4.7). */
  readonly fastConvergence: boolean;
  /** W_max in bytes: the window just before the last reduction, 0 when unknown (RFC 9438 section 4.1.2). */
  wMax = 0;
  /** K in seconds: when W_cubic reaches W_max again (RFC 9438 section 4.2, Figure 2). */
  k = 0;
  /** t_epoch in ms: start of the current congestion avoidance stage, -Infinity before it starts (RFC 9438 section 4.1.2). */
  epochStart = -Infinity;
  /** W_est in bytes: the window Reno would have (RFC 9438 section 4.3). */
  wEst = 0;
  /** cwnd_prior in bytes: the window when ssthresh was last set (RFC 9438 section 4.1.2). */
  cwndPrior = 0;
  private lastAckTime = -Infinity;

  /** A CUBIC controller counting in `maxDatagramSize` bytes. */
  constructor(maxDatagramSize: number = kMinMaxDatagramSize, options: CubicOptions = {}) {
    super(maxDatagramSize);
    this.fastConvergence = options.fastConvergence ?? true;
  }

  /** W_cubic(t) in bytes for `t` seconds into the epoch (RFC 9438 section 4.2, Figure 1). */
  wCubic(t: number): number {
    const d = t - this.k;
    return (kCubicC * d * d * d + this.wMax / this.maxDatagramSize) * this.maxDatagramSize;
  }

  override onPacketsAcked(packets: ArrayLike<SentPacket<unknown>>, now: number, rtt: RttEstimator): void {
    // Time spent application limited does not count toward t (RFC 9438 section 5.8): slide the epoch forward.
    if (this.appLimited && this.epochStart > -Infinity && this.lastAckTime > -Infinity && now > this.lastAckTime) {
      this.epochStart += now - this.lastAckTime;
    }
    this.lastAckTime = now;
    super.onPacketsAcked(packets, now, rtt);
  }

  protected congestionAvoidance(p: SentPacket<unknown>, now: number, rtt: RttEstimator): void {
    const mss = this.maxDatagramSize;
    if (this.epochStart === -Infinity) this.startEpoch(now);
    const t = (now - this.epochStart) / 1000;
    // Reno-friendly estimate: alpha_cubic segments per RTT, 1 once it passes cwnd_prior (RFC 9438 section 4.3).
    const alpha = this.wEst >= this.cwndPrior ? 1 : kCubicAlpha;
    this.wEst += (alpha * p.size * mss) / this.cwnd;
    if (this.wCubic(t) < this.wEst) {
      // Reno-friendly region: follow W_est (never shrinking the window on an ACK).
      if (this.wEst > this.cwnd) this.cwnd = this.wEst;
      return;
    }
    // Concave and convex regions (RFC 9438 sections 4.4, 4.5): aim at W_cubic one RTT ahead,
    // clamped to [cwnd, 1.5 * cwnd], closing (target - cwnd) / cwnd per segment acknowledged.
    let target = this.wCubic(t + rtt.smoothedRtt / 1000);
    if (target < this.cwnd) target = this.cwnd;
    else if (target > 1.5 * this.cwnd) target = 1.5 * this.cwnd;
    this.cwnd += ((target - this.cwnd) * p.size) / this.cwnd;
  }

  /** Begins a congestion avoidance stage at `now` (RFC 9438 sections 4.2, 4.8). */
  private startEpoch(now: number): void {
    this.epochStart = now;
    this.wEst = this.cwnd;
    if (this.wMax <= this.cwnd) {
      // No reduction to recover from (first stage, or after persistent congestion): start at the plateau.
      this.wMax = this.cwnd;
      this.k = 0;
    } else {
      // K = cubic_root((W_max - cwnd_epoch) / C), in segments (RFC 9438 section 4.2, Figure 2).
      this.k = Math.cbrt((this.wMax - this.cwnd) / this.maxDatagramSize / kCubicC);
    }
  }

  protected reduceWindow(): void {
    const cwnd = this.cwnd;
    // Fast convergence (RFC 9438 section 4.7): a loss below the last W_max means competition; yield more.
    if (this.fastConvergence && cwnd < this.wMax) this.wMax = (cwnd * (1 + kCubicBeta)) / 2;
    else this.wMax = cwnd;
    this.cwndPrior = cwnd;
    // Multiplicative decrease (RFC 9438 section 4.6), never below the minimum window (RFC 9002 section 7.2).
    this.ssthresh = Math.max(Math.floor(cwnd * kCubicBeta), this.minimumWindow);
    this.cwnd = this.ssthresh;
    this.epochStart = -Infinity;
  }

  protected onCollapse(): void {
    // After a timeout the next stage starts with W_max = cwnd and K = 0 (RFC 9438 section 4.8).
    this.wMax = 0;
    this.k = 0;
    this.epochStart = -Infinity;
    this.wEst = 0;
    this.lastAckTime = -Infinity;
    if (this.ssthresh === Infinity) this.cwndPrior = 0;
  }
}
