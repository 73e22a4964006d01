/**
 * ACK frame encoding from the receiver's {@link RangeSet} of packet numbers,
 * size and fit helpers for filling packets exactly, and conversions
 * (RFC 9000 sections 13.2, 19.3).
 */
import { RangeSet } from "../../util/range-set.js";
import { DEFAULT_ACK_DELAY_EXPONENT } from "../transport-params.js";
import { FrameType, type AckFrame, type EcnCounts } from "./types.js";
import { checkSpace, pv, vlen } from "./wire.js";

/**
 * The ACK Delay field for a delay of `micros` microseconds under the
 * sender's `exponent` (RFC 9000 section 19.3: the field is the delay divided
 * by 2^ack_delay_exponent).
 */
export function encodeAckDelay(micros: number, exponent = DEFAULT_ACK_DELAY_EXPONENT): number {
  return Math.floor(Math.max(0, micros) / 2 ** exponent);
}

/** The delay in microseconds that an ACK Delay field `raw` stands for under the peer's `exponent` (RFC 9000 section 19.3). */
export function decodeAckDelay(raw: number, exponent = DEFAULT_ACK_DELAY_EXPONENT): number {
  return raw * 2 ** exponent;
}

/** The packet numbers an ACK frame acknowledges, as a {@link RangeSet} of half-open ranges. */
export function ackFrameToRangeSet(frame: AckFrame): RangeSet {
  const set = new RangeSet();
  const r = frame.ranges;
  // Ranges arrive descending; add ascending so that every insertion takes the append fast path.
  for (let i = r.length - 2; i >= 0; i -= 2) set.add(r[i + 1]!, r[i]! + 1);
  return set;
}

/** Highest `maxRanges` ranges of `set` as an {@link AckFrame} value (for the generic encoder and tests). */
export function ackFrameFromRangeSet(set: RangeSet, ackDelay: number, ecn: EcnCounts | null = null, maxRanges = Infinity): AckFrame {
  if (set.empty) throw new RangeError("cannot build an ACK frame from an empty range set");
  const n = set.size;
  const stop = Math.max(0, n - maxRanges);
  const ranges: number[] = [];
  for (let i = n - 1; i >= stop; i--) ranges.push(set.end(i) - 1, set.start(i));
  return { type: "ack", largest: set.end(n - 1) - 1, ackDelay, ranges, ecn };
}

function ecnSize(ecn: EcnCounts | null): number {
  return ecn === null ? 0 : vlen(ecn.ect0) + vlen(ecn.ect1) + vlen(ecn.ce);
}

/**
 * Writes (or, with `buf` null, measures) an ACK frame for the highest
 * `count` ranges of `set`. Ranges of a RangeSet are disjoint and
 * non-adjacent, so every Gap is at least 0 (RFC 9000 section 19.3.1).
 */
function ackFromSet(buf: Uint8Array | null, o: number, set: RangeSet, ackDelay: number, ecn: EcnCounts | null, count: number): number {
  const n = set.size;
  const top = n - 1;
  const largest = set.end(top) - 1;
  o = pv(buf, o, ecn === null ? FrameType.ACK : FrameType.ACK_ECN);
  o = pv(buf, o, largest);
  o = pv(buf, o, ackDelay);
  o = pv(buf, o, count - 1); // ACK Range Count excludes the First ACK Range
  o = pv(buf, o, largest - set.start(top));
  for (let i = top - 1; i >= n - count; i--) {
    // gap = previous_smallest - largest - 2, with largest = end(i) - 1.
    o = pv(buf, o, set.start(i + 1) - set.end(i) - 1);
    o = pv(buf, o, set.end(i) - 1 - set.start(i));
  }
  if (ecn !== null) {
    o = pv(buf, o, ecn.ect0);
    o = pv(buf, o, ecn.ect1);
    o = pv(buf, o, ecn.ce);
  }
  return o;
}

function rangeCount(set: RangeSet, maxRanges: number): number {
  if (set.empty) throw new RangeError("cannot build an ACK frame from an empty range set");
  if (!(maxRanges >= 1)) throw new RangeError(`maxRanges must be at least 1, got ${maxRanges}`);
  return Math.min(set.size, maxRanges);
}

/**
 * Encoded size of the ACK (or ACK_ECN when `ecn` is given) frame that
 * {@link putAckFrameForRanges} writes for the highest `maxRanges` ranges of
 * `set` with the raw ACK Delay `ackDelay`.
 */
export function ackFrameSizeForRanges(set: RangeSet, ackDelay: number, ecn: EcnCounts | null = null, maxRanges = Infinity): number {
  return ackFromSet(null, 0, set, ackDelay, ecn, rangeCount(set, maxRanges));
}

/**
 * Writes an ACK (or ACK_ECN) frame for the highest `maxRanges` ranges of
 * `set` into `buf` at `offset` without allocating; returns the offset after
 * the frame. RangeError if it does not fit (size it with
 * {@link ackFrameSizeForRanges} or {@link ackRangesThatFit}).
 */
export function putAckFrameForRanges(
  buf: Uint8Array,
  offset: number,
  set: RangeSet,
  ackDelay: number,
  ecn: EcnCounts | null = null,
  maxRanges = Infinity,
): number {
  const count = rangeCount(set, maxRanges);
  checkSpace(buf, offset, ackFromSet(null, 0, set, ackDelay, ecn, count));
  return ackFromSet(buf, offset, set, ackDelay, ecn, count);
}

/**
 * How many of the highest ranges of `set` fit in an ACK frame of at most
 * `space` bytes (0 when not even the First ACK Range fits). Dropping the
 * oldest ranges first is what RFC 9000 section 13.2.4 suggests when an ACK
 * frame would be too large.
 */
export function ackRangesThatFit(set: RangeSet, ackDelay: number, ecn: EcnCounts | null, space: number): number {
  if (set.empty) return 0;
  const n = set.size;
  const top = n - 1;
  const largest = set.end(top) - 1;
  const fixed = 1 + vlen(largest) + vlen(ackDelay) + vlen(largest - set.start(top)) + ecnSize(ecn);
  if (fixed + 1 > space) return 0;
  let body = fixed;
  let count = 1;
  for (let i = top - 1; i >= 0; i--) {
    const add = vlen(set.start(i + 1) - set.end(i) - 1) + vlen(set.end(i) - 1 - set.start(i));
    if (body + add + vlen(count) > space) break;
    body += add;
    count++;
  }
  return count;
}

/**
 * Writes (or measures) an {@link AckFrame} value. Checks that its ranges
 * descend with gaps and stay at or above 0 (RangeError otherwise).
 */
export function ackFromFrame(buf: Uint8Array | null, o: number, f: AckFrame): number {
  const r = f.ranges;
  const n = r.length;
  if (n < 2 || n % 2 !== 0) throw new RangeError("ACK ranges must hold at least one [largest, smallest] pair");
  if (r[0] !== f.largest) throw new RangeError("ACK largest must equal ranges[0]");
  if (r[1]! > r[0]! || r[1]! < 0) throw new RangeError("invalid First ACK Range");
  o = pv(buf, o, f.ecn === null ? FrameType.ACK : FrameType.ACK_ECN);
  o = pv(buf, o, f.largest);
  o = pv(buf, o, f.ackDelay);
  o = pv(buf, o, n / 2 - 1);
  o = pv(buf, o, r[0]! - r[1]!);
  for (let i = 2; i < n; i += 2) {
    const hi = r[i]!;
    const lo = r[i + 1]!;
    const gap = r[i - 1]! - hi - 2;
    if (gap < 0 || lo > hi || lo < 0) throw new RangeError(`ACK range ${i / 2} is not below the previous one with a gap`);
    o = pv(buf, o, gap);
    o = pv(buf, o, hi - lo);
  }
  if (f.ecn !== null) {
    o = pv(buf, o, f.ecn.ect0);
    o = pv(buf, o, f.ecn.ect1);
    o = pv(buf, o, f.ecn.ce);
  }
  return o;
}
