/**
 * Internal write primitives shared by the frame encoders. Each takes a
 * destination that may be `null`: with `null` nothing is written and only the
 * offset advances, so one routine serves both for measuring a frame and for
 * writing it, and the two can never disagree.
 */
import { putVarint, VARINT_MAX } from "../varint.js";

/** Length of a stateless reset token (RFC 9000 sections 10.3 and 19.15). */
export const STATELESS_RESET_TOKEN_LENGTH = 16;
/** Largest stream count a MAX_STREAMS or STREAMS_BLOCKED frame may carry, 2^60 (RFC 9000 sections 19.11, 19.14). */
export const MAX_STREAMS_LIMIT = 2 ** 60;

/** Varint length of `v`; RangeError unless `v` is an integer in 0..2^62-1 (RFC 9000 section 16). */
export function vlen(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40 && v >= 0 && Number.isInteger(v)) return 1;
  // VARINT_MAX (2^62-1) is not a double: it rounds to 2^62, which therefore stands for 2^62-1 here.
  if (!Number.isInteger(v) || v < 0 || v > VARINT_MAX) throw new RangeError(`invalid varint value ${v}`);
  return v < 0x4000 ? 2 : v < 0x40000000 ? 4 : 8;
}

/**
 * Writes `v` at `o` in `n` bytes. A decoded 2^62-1 reads back as the double
 * 2^62 (see {@link vlen}); it is written as the largest varint instead of
 * overflowing into the length bits.
 */
export function putV(buf: Uint8Array, o: number, v: number, n: 1 | 2 | 4 | 8): number {
  if (v >= 2 ** 62) {
    buf.fill(0xff, o, o + 8);
    return o + 8;
  }
  return putVarint(buf, o, v, n);
}

/** Writes (or measures) a varint at `o`; returns the offset after it. */
export function pv(buf: Uint8Array | null, o: number, v: number): number {
  const n = vlen(v);
  if (buf !== null) putV(buf, o, v, n);
  return o + n;
}

/** Writes (or measures) raw bytes at `o`; returns the offset after them. */
export function pb(buf: Uint8Array | null, o: number, bytes: Uint8Array): number {
  if (buf !== null) buf.set(bytes, o);
  return o + bytes.length;
}

/** Writes (or measures) one byte at `o`; returns the offset after it. */
export function p8(buf: Uint8Array | null, o: number, b: number): number {
  if (buf !== null) buf[o] = b;
  return o + 1;
}

/** Throws unless `size` bytes fit in `buf` at `o`: a typed array drops writes past its end silently. */
export function checkSpace(buf: Uint8Array, o: number, size: number): void {
  if (o < 0 || o + size > buf.length) {
    throw new RangeError(`frame of ${size} bytes does not fit at offset ${o} of a ${buf.length}-byte buffer`);
  }
}

/**
 * Exact value of the varint encoded at `pos` of `bytes`, as a bigint. Used
 * only on the rare path where a decoded number reached 2^53 and a limit
 * check (2^60 streams, 2^62-1 offsets) must not be fooled by rounding.
 * The caller has already read the varint, so its bytes are present.
 */
export function varintBigAt(bytes: Uint8Array, pos: number): bigint {
  const first = bytes[pos]!;
  const len = 1 << (first >>> 6);
  let v = BigInt(first & 0x3f);
  for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(bytes[pos + i]!);
  return v;
}

/**
 * True when `offset + length` exceeds 2^62-1 (RFC 9000 sections 19.6,
 * 19.8), computed without the rounding of `2^62 - 1` as a double. An
 * offset of 2^62 stands for a decoded 2^62-1 (see {@link vlen}).
 */
export function endsPastMax(offset: number, length: number): boolean {
  if (offset >= 2 ** 62) return length > 0;
  return length > 2 ** 62 - offset - 1;
}

/** The most bytes that can follow `offset` without passing 2^62-1. */
export function roomBelowMax(offset: number): number {
  return offset >= 2 ** 62 ? 0 : 2 ** 62 - offset - 1;
}
