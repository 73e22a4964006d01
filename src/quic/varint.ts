import { ByteReader, ByteWriter } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";

/**
 * Largest value a QUIC variable-length integer can hold, 2^62-1 (RFC 9000
 * section 16). As a JS number it rounds to 2^62; encoders write it (and
 * only it) as the all-ones 8-byte varint, so "unlimited" parameters such as
 * RFC 9001 A.2's initial_max_data survive a round trip.
 */
export const VARINT_MAX = 2 ** 62 - 1;

/**
 * Encoded length of `v` (RFC 9000 section 16: 1, 2, 4 or 8 bytes for
 * values below 2^6, 2^14, 2^30 and 2^62).
 */
export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x40000000) return 4;
  if (v <= VARINT_MAX) return 8;
  throw new RangeError(`varint value ${v} exceeds 2^62-1`);
}

/**
 * Reads a variable-length integer (RFC 9000 section 16). Values above 2^53
 * lose precision as JS numbers; the protocol limits that matter (stream
 * offsets, packet numbers) stay well below that in practice, and callers that
 * compare against limits treat such values as "too large".
 */
export function readVarint(r: ByteReader): number {
  r.need(1);
  const b = r.bytes;
  const o = r.offset;
  const first = b[o]!;
  const prefix = first >>> 6;
  if (prefix === 0) {
    r.offset = o + 1;
    return first;
  }
  if (prefix === 1) {
    r.need(2);
    r.offset = o + 2;
    return ((first & 0x3f) << 8) | b[o + 1]!;
  }
  if (prefix === 2) {
    r.need(4);
    r.offset = o + 4;
    return ((first & 0x3f) * 0x1000000) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }
  r.need(8);
  r.offset = o + 8;
  const hi = ((first & 0x3f) * 0x1000000) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  const lo = ((b[o + 4]! << 24) >>> 0) + ((b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!);
  return hi * 0x100000000 + lo;
}

/** Writes `v` as a variable-length integer in its shortest form. */
export function writeVarint(w: ByteWriter, v: number): void {
  writeVarintLen(w, v, varintLength(v));
}

/** Writes `v` in exactly `len` bytes (longer forms are legal, e.g. for patched lengths). */
export function writeVarintLen(w: ByteWriter, v: number, len: 1 | 2 | 4 | 8): void {
  if (!Number.isInteger(v) || v < 0 || v > VARINT_MAX) throw new RangeError(`invalid varint value ${v}`);
  switch (len) {
    case 1:
      if (v >= 0x40) throw new RangeError(`${v} does not fit in a 1-byte varint`);
      w.u8(v);
      return;
    case 2:
      if (v >= 0x4000) throw new RangeError(`${v} does not fit in a 2-byte varint`);
      w.u16(0x4000 | v);
      return;
    case 4:
      if (v >= 0x40000000) throw new RangeError(`${v} does not fit in a 4-byte varint`);
      w.u32((0x80000000 | v) >>> 0);
      return;
    case 8: {
      if (v >= VARINT_MAX) {
        w.u32(0xffffffff);
        w.u32(0xffffffff);
        return;
      }
      const hi = Math.floor(v / 0x100000000);
      w.u32((0xc0000000 | hi) >>> 0);
      w.u32(v >>> 0);
      return;
    }
  }
}

/**
 * Writes `v` into `buf` at `offset` in exactly `len` bytes; returns the new
 * offset. The allocation-free form used on the packet hot path.
 */
export function putVarint(buf: Uint8Array, offset: number, v: number, len: 1 | 2 | 4 | 8 = varintLength(v)): number {
  switch (len) {
    case 1:
      buf[offset] = v;
      return offset + 1;
    case 2:
      buf[offset] = 0x40 | (v >>> 8);
      buf[offset + 1] = v;
      return offset + 2;
    case 4:
      buf[offset] = 0x80 | (v >>> 24);
      buf[offset + 1] = v >>> 16;
      buf[offset + 2] = v >>> 8;
      buf[offset + 3] = v;
      return offset + 4;
    case 8: {
      if (v >= VARINT_MAX) {
        buf.fill(0xff, offset, offset + 8);
        return offset + 8;
      }
      const hi = Math.floor(v / 0x100000000);
      const lo = v >>> 0;
      buf[offset] = 0xc0 | (hi >>> 24);
      buf[offset + 1] = hi >>> 16;
      buf[offset + 2] = hi >>> 8;
      buf[offset + 3] = hi;
      buf[offset + 4] = lo >>> 24;
      buf[offset + 5] = lo >>> 16;
      buf[offset + 6] = lo >>> 8;
      buf[offset + 7] = lo;
      return offset + 8;
    }
  }
}

/** Reads a varint and throws {@link DecodeError} if it exceeds `max`. */
export function readVarintMax(r: ByteReader, max: number, what: string): number {
  const v = readVarint(r);
  if (v > max) throw new DecodeError(`${what} ${v} exceeds ${max}`);
  return v;
}
