/**
 * NewReno congestion control as QUIC specifies it (RFC 9002 section 7 and
 * Appendix B): slow start, recovery period, congestion avoidance.
 */
import { kLossReductionFactor, kMinMaxDatagramSize } from "./constants.js";
import { WindowedController } from "./congestion.js";
import type { SentPacket } from "./sent-packet.js";

/**
 * The default congestion controller (RFC 9002 section 7). Congestion
 * avoidance counts acknowledged bytes (RFC 3465 section 2.1, as RFC 9002
 * Appendix B.5 suggests) and adds one max_datagram_size per window acknowledged.
 */
export class NewReno extends WindowedController {
  readonly algorithm = "reno" as const;
  /** Bytes acknowledged in congestion avoidance since the window last grew. */
  private bytesAcked = 0;

  /** A NewReno controller counting in `maxDatagramSize` bytes. */
  constructor(maxDatagramSize: number = kMinMaxDatagramSize) {
    super(maxDatagramSize);
  }

  protected congestionAvoidance(p: SentPacket<unknown>): void {
    // RFC 9002 section 7.3.3: at most one max_datagram_size per congestion window acknowledged.
    this.bytesAcked += p.size;
    if (this.bytesAcked >= this.cwnd) {
      this.bytesAcked -= this.cwnd;
      this.cwnd += this.maxDatagramSize;
    }
  }

  protected reduceWindow(): void {
    // RFC 9002 section 7.3.2 and Appendix B.6: halve, never below the minimum window.
    this.ssthresh = Math.floor(this.cwnd * kLossReductionFactor);
    this.cwnd = Math.max(this.ssthresh, this.minimumWindow);
    this.bytesAcked = 0;
  }

  protected onCollapse(): void {
    this.bytesAcked = 0;
  }
}
