/**
 * Pacing of in-flight packets (RFC 9002 section 7.7) as a token bucket that
 * fills at N * cwnd / smoothed_rtt and holds at most a small burst.
 */
import { kDefaultBurstPackets, kGranularity, kMinMaxDatagramSize, kPacingGain } from "./constants.js";

/** The time, in ms, one bucket of tokens lasts at the pacing rate: about two timer ticks. */
export const kPacingInterval = 2;

/** Largest bucket, in packets, whatever the rate. */
export const kMaxBurstPackets = 256;

/**
 * A leaky-bucket pacer (RFC 9002 section 7.7). It does not own the window
 * or the RTT: each call passes the current congestion window and smoothed
 * RTT, so the rate follows them at once. ACK-only packets are not paced
 * (section 7.7) and are not reported to it.
 */
export class Pacer {
  /** Pacing gain N (RFC 9002 section 7.7: 1.25 in the example). */
  readonly gain: number;
  /** Burst allowance in full-sized packets. */
  readonly burstPackets: number;
  /** Maximum datagram size used to size bursts. */
  maxDatagramSize: number;
  /** Tokens in bytes; a packet may leave once the bucket holds its size. */
  private tokens = 0;
  private lastRefill = -Infinity;

  /** A pacer for `maxDatagramSize` packets with a burst of `burstPackets` and gain `gain`. */
  constructor(maxDatagramSize: number = kMinMaxDatagramSize, burstPackets: number = kDefaultBurstPackets, gain: number = kPacingGain) {
    this.maxDatagramSize = maxDatagramSize;
    this.burstPackets = burstPackets;
    this.gain = gain;
  }

  /** Pacing rate in bytes per ms: N * cwnd / smoothed_rtt (RFC 9002 section 7.7). */
  rate(cwnd: number, smoothedRtt: number): number {
    return (this.gain * cwnd) / Math.max(smoothedRtt, kGranularity);
  }

  /**
   * Bucket size in bytes: what the rate delivers in {@link kPacingInterval}
   * ms, at least the burst allowance and at most 256 packets, but never
   * more than the window (bursts are limited to the initial window or
   * less, RFC 9002 section 7.7) and never less than one packet. A timer
   * cannot wake the sender much more often than every millisecond, so a
   * bucket smaller than the rate's 2 ms worth would cap throughput below
   * the pacing rate on fast paths (quinn sizes its bucket the same way).
   */
  capacity(cwnd: number, smoothedRtt = Infinity): number {
    const interval = smoothedRtt === Infinity ? 0 : this.rate(cwnd, smoothedRtt) * kPacingInterval;
    const burst = Math.min(Math.max(this.burstPackets * this.maxDatagramSize, interval), kMaxBurstPackets * this.maxDatagramSize);
    return Math.max(this.maxDatagramSize, Math.min(burst, cwnd));
  }

  private refill(now: number, cwnd: number, smoothedRtt: number): void {
    const cap = this.capacity(cwnd, smoothedRtt);
    if (this.lastRefill === -Infinity) {
      this.tokens = cap; // a fresh sender may send one burst at once
    } else if (now > this.lastRefill) {
      this.tokens = Math.min(cap, this.tokens + (now - this.lastRefill) * this.rate(cwnd, smoothedRtt));
    } else if (this.tokens > cap) {
      this.tokens = cap; // the window shrank
    }
    if (now > this.lastRefill) this.lastRefill = now;
  }

  /**
   * Earliest time a packet of `size` bytes may be sent: `now` when it may go
   * at once, a later time the connection returns as its pacing deadline
   * otherwise.
   */
  nextSendTime(now: number, cwnd: number, smoothedRtt: number, size: number = this.maxDatagramSize): number {
    this.refill(now, cwnd, smoothedRtt);
    // Allow a hundredth of a byte for rounding so a caller waking exactly on time is not sent back to sleep.
    const missing = size - this.tokens;
    if (missing <= 0.01) return now;
    return now + missing / this.rate(cwnd, smoothedRtt);
  }

  /** An in-flight packet of `size` bytes left at `now`: spends its tokens. */
  onPacketSent(now: number, size: number, cwnd: number, smoothedRtt: number): void {
    this.refill(now, cwnd, smoothedRtt);
    // Probes and other packets that bypass pacing empty the bucket but do not borrow from the future.
    this.tokens = Math.max(0, this.tokens - size);
  }

  /** Forgets history: the next call starts with a full burst. */
  reset(): void {
    this.tokens = 0;
    this.lastRefill = -Infinity;
  }
}
