/**
 * Adaptive reordering thresholds for loss detection (RFC 9002 sections
 * 6.1.1 and 6.1.2). Both sections allow an implementation to adapt its
 * thresholds to the reordering it sees; like Linux RACK (RFC 8985 section
 * 6.2, the reordering window grows on each spurious retransmission) and
 * quinn, we raise them each time a packet declared lost is acknowledged
 * after all: the packet was only late, and the path reorders.
 */
import { kPacketThreshold, kTimeThreshold } from "./constants.js";

/** Highest packet threshold we adapt to: beyond it, only the time threshold declares loss. */
export const kMaxPacketThreshold = 1000;
/** Highest time threshold, as an RTT multiple: a lost packet is still found within two RTTs. */
export const kMaxTimeThreshold = 2;
/** How much one spurious loss raises the time threshold (RFC 8985 section 6.2 steps by min_rtt/4; we step by 1/4 RTT). */
export const kTimeThresholdStep = 1 / 4;

/**
 * The packet and time thresholds of one path's loss detection, starting at
 * the RFC 9002 defaults (3 packets, 9/8 RTT) and raised by spurious losses.
 */
export class ReorderingThresholds {
  /** Packets acknowledged after a packet before it is declared lost (RFC 9002 section 6.1.1). */
  packetThreshold: number;
  /** RTT multiple after which an unacknowledged packet is declared lost (RFC 9002 section 6.1.2). */
  timeThreshold: number;
  /** True when spurious losses may raise the thresholds. */
  readonly adaptive: boolean;

  /**
   * @param packetThreshold starting packet threshold (at least 3, RFC 9002 section 6.1.1).
   * @param timeThreshold starting time threshold as an RTT multiple (RFC 9002 section 6.1.2).
   * @param adaptive whether spurious losses raise the thresholds.
   */
  constructor(packetThreshold = kPacketThreshold, timeThreshold = kTimeThreshold, adaptive = true) {
    this.packetThreshold = Math.max(kPacketThreshold, packetThreshold);
    this.timeThreshold = timeThreshold;
    this.adaptive = adaptive;
  }

  /**
   * A packet declared lost was acknowledged. `distance` is how many packet
   * numbers it trailed the largest acknowledged one when it was declared
   * lost, `byTime` whether the time threshold (rather than the packet
   * threshold) declared it. The threshold that misfired is raised so the
   * same reordering no longer counts as loss.
   */
  onSpuriousLoss(distance: number, byTime: boolean): void {
    if (!this.adaptive) return;
    if (byTime) {
      this.timeThreshold = Math.min(kMaxTimeThreshold, this.timeThreshold + kTimeThresholdStep);
    } else if (distance + 1 > this.packetThreshold) {
      this.packetThreshold = Math.min(kMaxPacketThreshold, distance + 1);
    }
  }
}
