/**
 * QPACK wire primitives: prefixed integers (RFC 7541 section 5.1, used
 * unmodified by RFC 9204 section 4.1.1), string literals with the H bit
 * (RFC 7541 section 5.2, RFC 9204 section 4.1.2), a read cursor that tells
 * "need more bytes" apart from "malformed", and a growable writer.
 *
 * Field names and values are JS strings holding one byte per character
 * (latin1, the WHATWG "ByteString"): every byte sequence round-trips, and
 * the byte length is the string length, which is what table sizes count.
 */
import { H3Error } from "../errors.js";
import { huffmanDecodeString, huffmanEncodedLength, huffmanEncodeInto } from "./huffman.js";
import { bytesToLatin1, notAByte } from "./latin1.js";

/** A field line: lowercase name and value, one byte per character. */
export type Header = [name: string, value: string];

/** Largest integer QPACK must decode: 62 bits (RFC 9204 section 4.1.1). */
export const QPACK_INT_MAX = 2 ** 62 - 1;

/**
 * Thrown (as this one object, never with a stack) when a read runs past the
 * bytes available. Instruction streams catch it and wait for more data; a
 * complete field section turns it into QPACK_DECOMPRESSION_FAILED.
 */
export const INCOMPLETE: { readonly incomplete: true } = Object.freeze({ incomplete: true as const });

/**
 * A read position over `buf[pos, end)`. `errorCode` is the QPACK error code
 * malformed input raises in this context (decompression failure on request
 * streams, encoder or decoder stream error on the instruction streams).
 * `need` records the furthest position a read wanted, so that an incremental
 * reader can wait until that much has arrived before parsing again.
 */
export class Cursor {
  buf: Uint8Array;
  pos: number;
  end: number;
  need = 0;
  readonly errorCode: number;

  constructor(buf: Uint8Array, pos: number, end: number, errorCode: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.errorCode = errorCode;
  }

  /** Throws {@link INCOMPLETE} unless `n` more bytes are available. */
  require(n: number): void {
    if (this.end - this.pos < n) {
      this.need = this.pos + n;
      throw INCOMPLETE;
    }
  }

  /** Raises this context's protocol error. */
  fail(reason: string): never {
    throw new H3Error(this.errorCode, reason);
  }
}

/**
 * Reads a prefixed integer whose first byte is at `c.pos`, using its low
 * `prefixBits` bits (RFC 7541 section 5.1). Values above 2^62-1 and
 * encodings longer than needed for 62 bits are rejected, which bounds the
 * work per integer to 11 bytes.
 */
export function readInt(c: Cursor, prefixBits: number): number {
  const buf = c.buf;
  let pos = c.pos;
  if (pos >= c.end) {
    c.need = pos + 1;
    throw INCOMPLETE;
  }
  const max = (1 << prefixBits) - 1;
  let value = buf[pos++]! & max;
  if (value < max) {
    c.pos = pos;
    return value;
  }
  // Continuation bytes: 7 bits each, least significant group first.
  let mul = 1;
  for (let i = 0; ; i++) {
    // 9 groups of 7 bits hold 63 bits; a tenth byte can only be padding.
    if (i >= 9) c.fail("prefixed integer is too long");
    if (pos >= c.end) {
      c.need = pos + 1;
      throw INCOMPLETE;
    }
    const b = buf[pos++]!;
    value += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) break;
  }
  if (value > QPACK_INT_MAX) c.fail("prefixed integer exceeds 2^62-1");
  c.pos = pos;
  return value;
}

/**
 * Reads a string literal whose H bit is bit `prefixBits` of the first byte
 * and whose length is a `(prefixBits)`-bit prefixed integer below it
 * (RFC 9204 section 4.1.2: an "N-bit prefix string literal" has N-1 length
 * bits). Strings longer than `maxLen` bytes once decoded are rejected
 * before their bytes are even awaited. With `skip`, the bytes are passed
 * over and "" is returned (used after a size limit was hit).
 */
export function readString(c: Cursor, prefixBits: number, maxLen: number, skip = false): string {
  c.require(1);
  const huffman = (c.buf[c.pos]! >> prefixBits) & 1;
  const len = readInt(c, prefixBits);
  // A Huffman code is at least 5 bits a symbol, so `len` encoded bytes
  // decode to at least (8*len - 7) / 30 symbols: reject early what must
  // exceed the limit.
  if (huffman ? len > Math.ceil((maxLen * 30 + 7) / 8) : len > maxLen) c.fail(`string literal of ${len} bytes exceeds the limit of ${maxLen}`);
  c.require(len);
  const start = c.pos;
  c.pos = start + len;
  if (skip) return "";
  if (huffman) return huffmanDecodeString(c.buf, start, start + len, maxLen, c.errorCode);
  return bytesToLatin1(c.buf, start, start + len);
}

/** A growable output buffer with public fields, for the encoders' inner loops. */
export class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(capacity = 128) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A copy of what was written, and the writer emptied. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/**
 * Writes `value` as a prefixed integer in the low `prefixBits` bits of a
 * byte whose high bits are `flags` (RFC 7541 section 5.1).
 */
export function writeInt(w: Writer, flags: number, prefixBits: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > QPACK_INT_MAX) throw new RangeError(`invalid QPACK integer ${value}`);
  w.ensure(11);
  const buf = w.buf;
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    buf[w.len++] = flags | value;
    return;
  }
  buf[w.len++] = flags | max;
  let rest = value - max;
  while (rest >= 128) {
    buf[w.len++] = 0x80 | (rest % 128);
    rest = Math.floor(rest / 128);
  }
  buf[w.len++] = rest;
}

// Field values repeat (user agents, content types, hosts), and Huffman coding
// is most of the cost of encoding a field section without the dynamic
// table: the codes of short strings are cached, in a map emptied when full.
const CACHE_MAX_LENGTH = 128;
const CACHE_MAX_ENTRIES = 512;
const huffmanCache = new Map<string, Uint8Array | undefined>();

/** The Huffman code of `s` when it is shorter than `s`, undefined when it is not. */
function cachedHuffman(s: string): Uint8Array | undefined {
  const hit = huffmanCache.get(s);
  if (hit !== undefined || huffmanCache.has(s)) return hit;
  const hlen = huffmanEncodedLength(s);
  let code: Uint8Array | undefined;
  if (hlen < s.length) {
    code = new Uint8Array(hlen);
    huffmanEncodeInto(s, code, 0);
  }
  if (huffmanCache.size >= CACHE_MAX_ENTRIES) huffmanCache.clear();
  huffmanCache.set(s, code);
  return code;
}

/**
 * Writes a string literal with an H bit at bit `prefixBits` of the first
 * byte and a `prefixBits`-bit length below it; Huffman coding is used when
 * it is strictly shorter (RFC 7541 section 5.2) unless `huffman` is false.
 */
export function writeString(w: Writer, flags: number, prefixBits: number, s: string, huffman = true): void {
  const n = s.length;
  if (huffman && n > 1) {
    const code = n <= CACHE_MAX_LENGTH ? cachedHuffman(s) : null;
    if (code) {
      writeInt(w, flags | (1 << prefixBits), prefixBits, code.length);
      w.bytes(code);
      return;
    }
    const hlen = code === null ? huffmanEncodedLength(s) : n;
    if (hlen < n) {
      writeInt(w, flags | (1 << prefixBits), prefixBits, hlen);
      w.ensure(hlen);
      w.len = huffmanEncodeInto(s, w.buf, w.len);
      return;
    }
  }
  writeInt(w, flags, prefixBits, n);
  w.ensure(n);
  const buf = w.buf;
  let o = w.len;
  for (let i = 0; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch > 0xff) throw notAByte(i);
    buf[o++] = ch;
  }
  w.len = o;
}
