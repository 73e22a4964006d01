/**
 * Constants of loss detection and congestion control (RFC 9002 Appendix A.2
 * and B.1), with the section that sets each one. Times are milliseconds.
 */

/** Packet-reordering threshold before a packet is declared lost (RFC 9002 section 6.1.1: 3, and never less). */
export const kPacketThreshold = 3;

/** Time-reordering threshold as a multiple of the RTT (RFC 9002 section 6.1.2: 9/8). */
export const kTimeThreshold = 9 / 8;

/** Timer granularity in ms (RFC 9002 section 6.1.2: 1 ms). */
export const kGranularity = 1;

/** RTT assumed before the first sample, in ms (RFC 9002 section 6.2.2: 333 ms, a first PTO of about 1 s). */
export const kInitialRtt = 333;

/** Persistent congestion lasts this many PTO periods (RFC 9002 section 7.6.1: 3). */
export const kPersistentCongestionThreshold = 3;

/** NewReno multiplicative decrease on a congestion event (RFC 9002 section 7.3.2 and B.1: 0.5). */
export const kLossReductionFactor = 0.5;

/** The smallest maximum datagram size QUIC allows (RFC 9000 section 14: 1200 bytes). */
export const kMinMaxDatagramSize = 1200;

/** max_ack_delay when the transport parameter is absent, ms (RFC 9000 section 18.2: 25 ms). */
export const kDefaultMaxAckDelay = 25;

/** ack_delay_exponent when the transport parameter is absent (RFC 9000 section 18.2: 3). */
export const kDefaultAckDelayExponent = 3;

/** Send an ACK after this many ack-eliciting packets (RFC 9000 section 13.2.2: "at least two"). */
export const kDefaultAckElicitingThreshold = 2;

/** Pacing gain N: rate = N * cwnd / smoothed_rtt (RFC 9002 section 7.7: "for example, 1.25"). */
export const kPacingGain = 1.25;

/** Default pacer burst allowance, in full-sized packets (RFC 9002 section 7.7 limits bursts to the initial window, 10 packets). */
export const kDefaultBurstPackets = 10;

/**
 * Initial congestion window (RFC 9002 section 7.2):
 * min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).
 */
export function initialWindow(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize));
}

/** Minimum congestion window (RFC 9002 section 7.2: 2 * max_datagram_size). */
export function minimumWindow(maxDatagramSize: number): number {
  return 2 * maxDatagramSize;
}

/**
 * The three packet number spaces (RFC 9000 section 12.3), numbered in the
 * order of RFC 9002 Appendix A.2's kPacketNumberSpace so they index arrays.
 */
export const PacketNumberSpace = {
  Initial: 0,
  Handshake: 1,
  /** 0-RTT and 1-RTT packets share this space. */
  Application: 2,
} as const;

/** One of {@link PacketNumberSpace}. */
export type PacketNumberSpace = (typeof PacketNumberSpace)[keyof typeof PacketNumberSpace];

/** Name of a packet number space for messages. */
export function packetNumberSpaceName(space: PacketNumberSpace): string {
  return space === 0 ? "Initial" : space === 1 ? "Handshake" : "Application";
}

/**
 * ECN codepoints as the two ECN bits of the IP header (RFC 3168 section 5):
 * what a packet was sent with, or arrived with.
 */
export const Ecn = {
  NotEct: 0b00,
  Ect1: 0b01,
  Ect0: 0b10,
  Ce: 0b11,
} as const;

/** One of {@link Ecn}. */
export type Ecn = (typeof Ecn)[keyof typeof Ecn];
