import { DecodeError } from "./errors.js";

/**
 * A bounds-checked cursor over a byte array. Every read checks the remaining
 * length first and throws {@link DecodeError} instead of reading past the end,
 * so decoders built on it never index outside their input and never allocate
 * a buffer sized by an unchecked length.
 */
export class ByteReader {
  /** Current read position, relative to the start of `bytes`. */
  offset: number;
  /** End of the readable window (exclusive). */
  end: number;

  /** The input, as a plain Uint8Array view (see {@link plainBytes}). */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = plainBytes(bytes);
    this.offset = start;
    this.end = end;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.offset;
  }

  /** True when every byte has been consumed. */
  get done(): boolean {
    return this.offset >= this.end;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.offset || n < 0) {
      throw new DecodeError(`truncated input: need ${n} bytes, ${this.end - this.offset} left`);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 2;
    return (b[o]! << 8) | b[o + 1]!;
  }

  u24(): number {
    this.need(3);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 3;
    return (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!;
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const o = this.offset;
    this.offset = o + 4;
    return ((b[o]! << 24) >>> 0) + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytesView(n: number): Uint8Array {
    this.need(n);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A copy of the next `n` bytes, for values that outlive the input buffer. */
  bytesCopy(n: number): Uint8Array {
    return this.bytesView(n).slice();
  }

  /** Skips `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  /** Reads a u8 length prefix and returns a view of that many bytes. */
  vec8(): Uint8Array {
    return this.bytesView(this.u8());
  }

  /** Reads a u16 length prefix and returns a view of that many bytes. */
  vec16(): Uint8Array {
    return this.bytesView(this.u16());
  }

  /** Reads a u24 length prefix and returns a view of that many bytes. */
  vec24(): Uint8Array {
    return this.bytesView(this.u24());
  }

  /**
   * Reads a length prefix of `prefixBytes` (1, 2 or 3) and returns a reader
   * confined to that many bytes; the outer reader moves past them.
   */
  sub(prefixBytes: 1 | 2 | 3): ByteReader {
    const n = prefixBytes === 1 ? this.u8() : prefixBytes === 2 ? this.u16() : this.u24();
    this.need(n);
    const r = new ByteReader(this.bytes, this.offset, this.offset + n);
    this.offset += n;
    return r;
  }

  /** Throws unless the reader is exhausted (trailing bytes are malformed input). */
  expectEnd(what = "message"): void {
    if (this.offset !== this.end) {
      throw new DecodeError(`${this.end - this.offset} trailing bytes after ${what}`);
    }
  }
}

/**
 * A growable byte buffer for encoders. Length-prefixed sections are written
 * with {@link ByteWriter.beginVec} / {@link ByteWriter.endVec}, which patch
 * the prefix once the body is known.
 */
export class ByteWriter {
  private buf: Uint8Array;
  /** Number of bytes written so far. */
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
  }

  private ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.length++] = v >>> 8;
    this.buf[this.length++] = v;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.length++] = v >>> 16;
    this.buf[this.length++] = v >>> 8;
    this.buf[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf[this.length++] = v >>> 24;
    this.buf[this.length++] = v >>> 16;
    this.buf[this.length++] = v >>> 8;
    this.buf[this.length++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** Writes a length prefix of `prefixBytes` and then `b`. */
  vec(prefixBytes: 1 | 2 | 3, b: Uint8Array): this {
    const max = prefixBytes === 1 ? 0xff : prefixBytes === 2 ? 0xffff : 0xffffff;
    if (b.length > max) throw new RangeError(`vector of ${b.length} bytes exceeds a ${prefixBytes}-byte length prefix`);
    if (prefixBytes === 1) this.u8(b.length);
    else if (prefixBytes === 2) this.u16(b.length);
    else this.u24(b.length);
    return this.bytes(b);
  }

  /** Reserves a length prefix; returns a mark to pass to {@link endVec}. */
  beginVec(prefixBytes: 1 | 2 | 3): number {
    this.ensure(prefixBytes);
    const mark = this.length;
    this.length += prefixBytes;
    return mark * 4 + prefixBytes;
  }

  /** Patches the prefix reserved by {@link beginVec} with the body's length. */
  endVec(mark: number): this {
    const prefixBytes = mark & 3;
    const at = mark >>> 2;
    const n = this.length - at - prefixBytes;
    const max = prefixBytes === 1 ? 0xff : prefixBytes === 2 ? 0xffff : 0xffffff;
    if (n > max) throw new RangeError(`vector of ${n} bytes exceeds a ${prefixBytes}-byte length prefix`);
    for (let i = prefixBytes - 1, v = n; i >= 0; i--, v >>>= 8) this.buf[at + i] = v & 0xff;
    return this;
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  /** A view of the bytes written (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * The same memory as a plain Uint8Array. Node's Buffer overrides `slice` to
 * return a view instead of a copy, so code that copies with `.slice()` must
 * never hold a Buffer: every entry point that accepts bytes from outside
 * (datagrams, application writes kept for later) normalises with this.
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time equality for secrets and MACs. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Lower-case hex of `b`. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Bytes of a hex string; whitespace is ignored (handy for RFC test vectors). */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new TypeError("not a hex string");
  return new Uint8Array(Buffer.from(clean, "hex"));
}
