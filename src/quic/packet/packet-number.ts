/** Largest packet number, 2^62-1 (RFC 9000 section 12.3). */
export const MAX_PACKET_NUMBER = 2 ** 62 - 1;

/**
 * Number of bytes (1..4) needed to send `fullPn` so that the peer decodes it
 * correctly, given the largest packet number it acknowledged in this space
 * (RFC 9000 section 17.1 and Appendix A.2). Pass -1 for `largestAcked` when
 * nothing has been acknowledged yet. The encoding must cover more than twice
 * the number of unacknowledged packets, including this one.
 */
export function packetNumberLength(fullPn: number, largestAcked: number): 1 | 2 | 3 | 4 {
  // RFC 9000 Appendix A.2: num_unacked is full_pn + 1 before any ACK.
  const numUnacked = largestAcked < 0 ? fullPn + 1 : fullPn - largestAcked;
  // min_bits = log2(num_unacked) + 1, i.e. 2^(8 * bytes) >= 2 * num_unacked.
  const range = 2 * numUnacked;
  if (range <= 0x100) return 1;
  if (range <= 0x10000) return 2;
  if (range <= 0x1000000) return 3;
  // More than 2^31 packets in flight cannot be represented; 4 bytes is the most QUIC allows.
  return 4;
}

/** The `pnLength` least-significant bytes of `fullPn` as an integer (RFC 9000 section 17.1). */
export function truncatePacketNumber(fullPn: number, pnLength: 1 | 2 | 3 | 4): number {
  // `% 2^32` keeps precision for packet numbers above 2^32, where bit operators would not.
  const low32 = fullPn % 0x100000000;
  return pnLength === 4 ? low32 : low32 % (1 << (8 * pnLength));
}

/**
 * Writes the truncated packet number `fullPn` in `pnLength` bytes, big-endian,
 * at `offset`; returns the offset after it (RFC 9000 section 17.1).
 */
export function writePacketNumber(buf: Uint8Array, offset: number, fullPn: number, pnLength: 1 | 2 | 3 | 4): number {
  let v = fullPn % 0x100000000;
  for (let i = pnLength - 1; i >= 0; i--) {
    buf[offset + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return offset + pnLength;
}

/**
 * Recovers a full packet number from its truncated form (RFC 9000 section
 * 17.1 and Appendix A.3): the value closest to `largestPn + 1` whose low
 * `pnBits` bits equal `truncatedPn`. `largestPn` is the largest packet number
 * successfully processed in this space, or -1 when there is none.
 */
export function decodePacketNumber(largestPn: number, truncatedPn: number, pnBits: 8 | 16 | 24 | 32): number {
  const expected = largestPn + 1;
  const win = 2 ** pnBits;
  const hwin = win / 2;
  // Arithmetic instead of bit operators: packet numbers exceed 32 bits.
  const candidate = expected - (expected % win) + truncatedPn;
  // The extra bounds keep the result inside 0..2^62-1 (RFC 9000 Appendix A.3).
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
