/**
 * A minimal ASN.1 DER encoder and a bounds-checked DER reader (ITU-T X.690),
 * covering just the types X.509 certificates use (RFC 5280).
 *
 * Encoders return the complete TLV (tag, length, value) as bytes, so
 * structures are built by nesting calls: `sequence(integer(2n), oid("1.2.3"))`.
 * The reader never reads past its input and reports malformed encodings with
 * {@link DecodeError}.
 */
import { ByteReader } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";

/** Universal-class tag bytes (X.690 section 8; constructed bit set for SEQUENCE and SET). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Tag class bits (X.690 section 8.1.2.2). */
const CONTEXT_SPECIFIC = 0x80;
const CONSTRUCTED = 0x20;
/** Tag numbers 31 and above need the multi-byte form, which X.509 never uses. */
const MAX_LOW_TAG_NUMBER = 30;

// ---------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------

/** The DER length octets for `n` (X.690 section 8.1.3; DER requires the shortest form, 10.1). */
export function encodeLength(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`invalid DER length ${n}`);
  if (n < 0x80) return Uint8Array.of(n);
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/** A complete element: tag byte, length, then `content`. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = encodeLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

function concat(items: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const i of items) n += i.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const i of items) {
    out.set(i, o);
    o += i.length;
  }
  return out;
}

/** SEQUENCE of already-encoded elements, in the given order. */
export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, concat(items));
}

/**
 * SET OF already-encoded elements. DER orders the elements by their
 * encodings, shorter ones padded with zero octets (X.690 section 11.6).
 */
export function setOf(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort(compareForSetOf);
  return tlv(Tag.SET, concat(sorted));
}

function compareForSetOf(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * INTEGER (X.690 section 8.3). A number or bigint is encoded in minimal
 * two's complement; a Uint8Array is taken as an unsigned big-endian
 * magnitude (how certificate serial numbers are usually held), so a leading
 * 0x00 is added when its top bit is set to keep it positive.
 */
export function integer(value: number | bigint | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) return tlv(Tag.INTEGER, unsignedContent(value));
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return tlv(Tag.INTEGER, twosComplement(BigInt(value)));
}

function unsignedContent(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const body = magnitude.subarray(start);
  if (body.length === 0) return Uint8Array.of(0);
  if (body[0]! & 0x80) {
    const out = new Uint8Array(body.length + 1);
    out.set(body, 1);
    return out;
  }
  return body.slice();
}

function twosComplement(v: bigint): Uint8Array {
  const octets: number[] = [];
  // Emit low octets until the remaining value is just the sign extension of the last one.
  for (;;) {
    const low = Number(v & 0xffn);
    octets.unshift(low);
    v >>= 8n;
    if ((v === 0n && (low & 0x80) === 0) || (v === -1n && (low & 0x80) !== 0)) break;
  }
  return Uint8Array.from(octets);
}

/** OBJECT IDENTIFIER from dotted form, e.g. "2.5.4.3" (X.690 section 8.19). */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => {
    if (!/^\d+$/.test(s)) throw new TypeError(`invalid OID ${JSON.stringify(dotted)}`);
    return BigInt(s);
  });
  const [first, second] = arcs;
  // X.690 8.19.4: the first two arcs share one subidentifier, X*40+Y, with X in 0..2 and Y < 40 unless X is 2.
  if (first === undefined || second === undefined || first > 2n || (first < 2n && second >= 40n)) {
    throw new TypeError(`invalid OID ${JSON.stringify(dotted)}`);
  }
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...arcs.slice(2)]) {
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(Tag.OID, Uint8Array.from(out));
}

/** BIT STRING holding whole octets, or with `unusedBits` (0..7) unused low bits in the last one (X.690 section 8.6). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`invalid unused bit count ${unusedBits}`);
  }
  const content = new Uint8Array(bytes.length + 1);
  content[0] = unusedBits;
  content.set(bytes, 1);
  if (bytes.length > 0) content[bytes.length] &= 0xff << unusedBits; // DER: unused bits are zero (X.690 11.2.1)
  return tlv(Tag.BIT_STRING, content);
}

/**
 * BIT STRING for a named-bit list such as KeyUsage, with bit 0 the most
 * significant bit of the first octet. DER drops trailing zero bits
 * (X.690 section 11.2.2), so the encoding is as short as the highest set bit.
 */
export function namedBitString(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0) throw new RangeError(`invalid bit number ${b}`);
    bytes[b >> 3] |= 0x80 >> (b & 7);
  }
  return bitString(bytes, 7 - (highest & 7));
}

/** OCTET STRING (X.690 section 8.7). */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.OCTET_STRING, bytes);
}

/** UTF8String (X.690 section 8.23; the RFC 5280 section 4.1.2.6 choice for new names). */
export function utf8String(s: string): Uint8Array {
  return tlv(Tag.UTF8String, new TextEncoder().encode(s));
}

/** PrintableString: letters, digits, space and `'()+,-./:=?` only (X.680 section 41.4). */
export function printableString(s: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new TypeError(`not a PrintableString: ${JSON.stringify(s)}`);
  return tlv(Tag.PrintableString, new TextEncoder().encode(s));
}

/** IA5String: 7-bit ASCII only (used for dNSName, RFC 5280 section 4.2.1.6). */
export function ia5String(s: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new TypeError(`not an IA5String (ASCII): ${JSON.stringify(s)}`);
  return tlv(Tag.IA5String, new TextEncoder().encode(s));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function checkedTime(date: Date): Date {
  if (Number.isNaN(date.getTime())) throw new RangeError("invalid date");
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`year ${y} cannot be encoded`);
  return date;
}

/** UTCTime `YYMMDDHHMMSSZ`, for years 1950 through 2049 (RFC 5280 section 4.1.2.5.1). Fractions of a second are dropped. */
export function utcTime(date: Date): Uint8Array {
  const y = checkedTime(date).getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime covers 1950-2049, not ${y}`);
  const s =
    pad(y % 100, 2) + pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) + pad(date.getUTCMinutes(), 2) + pad(date.getUTCSeconds(), 2) + "Z";
  return tlv(Tag.UTCTime, new TextEncoder().encode(s));
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ`, no fractional seconds (RFC 5280 section 4.1.2.5.2). */
export function generalizedTime(date: Date): Uint8Array {
  const y = checkedTime(date).getUTCFullYear();
  const s =
    pad(y, 4) + pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) + pad(date.getUTCMinutes(), 2) + pad(date.getUTCSeconds(), 2) + "Z";
  return tlv(Tag.GeneralizedTime, new TextEncoder().encode(s));
}

/**
 * A certificate Time: UTCTime through 2049 and GeneralizedTime from 2050 on,
 * as RFC 5280 section 4.1.2.5 requires (also GeneralizedTime before 1950).
 */
export function time(date: Date): Uint8Array {
  const y = checkedTime(date).getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(date) : generalizedTime(date);
}

/** BOOLEAN; DER encodes TRUE as 0xFF (X.690 section 11.1). */
export function boolean(v: boolean): Uint8Array {
  return tlv(Tag.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));
}

/** NULL (X.690 section 8.8). */
export function nullValue(): Uint8Array {
  return tlv(Tag.NULL, new Uint8Array(0));
}

function checkTagNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_LOW_TAG_NUMBER) throw new RangeError(`unsupported tag number ${n}`);
}

/** `[n] EXPLICIT`: a constructed context-specific wrapper around an encoded element (X.690 section 8.14). */
export function explicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  checkTagNumber(tagNumber);
  return tlv(CONTEXT_SPECIFIC | CONSTRUCTED | tagNumber, inner);
}

/**
 * `[n] IMPLICIT`: `content` (the value octets of the underlying type) under
 * a context-specific tag. Pass `constructed` when the underlying type is
 * constructed (a SEQUENCE, for example).
 */
export function implicit(tagNumber: number, content: Uint8Array, constructed = false): Uint8Array {
  checkTagNumber(tagNumber);
  return tlv(CONTEXT_SPECIFIC | (constructed ? CONSTRUCTED : 0) | tagNumber, content);
}

/** The tag byte of a context-specific `[n]` element. */
export function contextTag(tagNumber: number, constructed: boolean): number {
  checkTagNumber(tagNumber);
  return CONTEXT_SPECIFIC | (constructed ? CONSTRUCTED : 0) | tagNumber;
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/** One decoded element. `content` and `encoded` are views into the input. */
export interface DerElement {
  /** The tag byte (class, constructed bit and tag number together). */
  readonly tag: number;
  /** The value octets. */
  readonly content: Uint8Array;
  /** The whole element, tag and length included. */
  readonly encoded: Uint8Array;
}

/** Largest length accepted: 4 length octets are far more than any certificate needs. */
const MAX_LENGTH_OCTETS = 4;

/**
 * Reads consecutive DER elements from a byte range. Only definite, minimal
 * lengths and single-byte tags are accepted (X.690 section 10.1), which is
 * all DER-encoded certificates use.
 */
export class DerReader {
  private readonly r: ByteReader;

  constructor(bytes: Uint8Array) {
    this.r = new ByteReader(bytes);
  }

  /** True when every element has been read. */
  get done(): boolean {
    return this.r.done;
  }

  /** The tag byte of the next element, or undefined at the end. */
  peekTag(): number | undefined {
    return this.r.done ? undefined : this.r.bytes[this.r.offset];
  }

  /** Reads the next element, whatever its tag. */
  next(what = "element"): DerElement {
    const start = this.r.offset;
    if (this.r.done) throw new DecodeError(`DER: missing ${what}`);
    const tag = this.r.u8();
    if ((tag & 0x1f) === 0x1f) throw new DecodeError(`DER: multi-byte tag in ${what}`);
    const length = this.readLength(what);
    const content = this.r.bytesView(length);
    return { tag, content, encoded: this.r.bytes.subarray(start, this.r.offset) };
  }

  private readLength(what: string): number {
    const first = this.r.u8();
    if (first < 0x80) return first;
    const n = first & 0x7f;
    // X.690 10.1: DER forbids the indefinite form (0x80) and long forms that a shorter form could carry.
    if (n === 0) throw new DecodeError(`DER: indefinite length in ${what}`);
    if (n > MAX_LENGTH_OCTETS) throw new DecodeError(`DER: length of ${what} too large`);
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + this.r.u8();
    if (len < 0x80 || len < 2 ** (8 * (n - 1))) throw new DecodeError(`DER: non-minimal length in ${what}`);
    return len;
  }

  /** Reads the next element and checks its tag. */
  expect(tag: number, what: string): DerElement {
    const el = this.next(what);
    if (el.tag !== tag) throw new DecodeError(`DER: expected ${what} (tag 0x${hex2(tag)}), found tag 0x${hex2(el.tag)}`);
    return el;
  }

  /** Reads the next element only if it carries `tag`. */
  optional(tag: number, what: string): DerElement | undefined {
    return this.peekTag() === tag ? this.expect(tag, what) : undefined;
  }

  /** Reads a SEQUENCE and returns a reader over its contents. */
  sequence(what: string): DerReader {
    return new DerReader(this.expect(Tag.SEQUENCE, what).content);
  }

  /** Throws unless every element has been read. */
  end(what: string): void {
    if (!this.r.done) throw new DecodeError(`DER: unexpected data after ${what}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Decodes `bytes` as exactly one element with `tag`, and nothing after it. */
export function readElement(bytes: Uint8Array, tag: number, what: string): DerElement {
  const r = new DerReader(bytes);
  const el = r.expect(tag, what);
  r.end(what);
  return el;
}

/** INTEGER value octets as a bigint (X.690 section 8.3; DER forbids redundant leading octets). */
export function decodeInteger(content: Uint8Array): bigint {
  if (content.length === 0) throw new DecodeError("DER: empty INTEGER");
  if (content.length > 1 && ((content[0] === 0 && !(content[1]! & 0x80)) || (content[0] === 0xff && content[1]! & 0x80))) {
    throw new DecodeError("DER: non-minimal INTEGER");
  }
  // Via hex, which is linear in the length (shifting a growing bigint octet by octet is not).
  const magnitude = BigInt("0x" + Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString("hex"));
  return content[0]! & 0x80 ? magnitude - (1n << BigInt(8 * content.length)) : magnitude;
}

/** Longest subidentifier accepted: 2.25 UUID arcs (128 bits) need 19 octets. */
const MAX_OID_ARC_OCTETS = 24;

/** OBJECT IDENTIFIER value octets in dotted form (X.690 section 8.19). */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw new DecodeError("DER: empty OBJECT IDENTIFIER");
  if (content[content.length - 1]! & 0x80) throw new DecodeError("DER: truncated OBJECT IDENTIFIER");
  const arcs: string[] = [];
  let v = 0n;
  let fresh = true;
  let arcOctets = 0;
  for (const b of content) {
    // X.690 8.19.2: a subidentifier must not start with the padding octet 0x80.
    if (fresh && b === 0x80) throw new DecodeError("DER: non-minimal OBJECT IDENTIFIER");
    // Bounds the bigint work per arc, so a long crafted OID stays cheap.
    arcOctets = fresh ? 1 : arcOctets + 1;
    if (arcOctets > MAX_OID_ARC_OCTETS) throw new DecodeError("DER: OBJECT IDENTIFIER arc too large");
    v = (v << 7n) | BigInt(b & 0x7f);
    fresh = (b & 0x80) === 0;
    if (!fresh) continue;
    if (arcs.length === 0) {
      const x = v < 40n ? 0n : v < 80n ? 1n : 2n;
      arcs.push(String(x), String(v - 40n * x));
    } else {
      arcs.push(String(v));
    }
    v = 0n;
  }
  return arcs.join(".");
}

/** BIT STRING value octets: the unused-bit count and the bit octets (X.690 section 8.6). */
export function decodeBitString(content: Uint8Array): { unusedBits: number; bytes: Uint8Array } {
  if (content.length === 0) throw new DecodeError("DER: empty BIT STRING");
  const unusedBits = content[0]!;
  if (unusedBits > 7 || (content.length === 1 && unusedBits !== 0)) throw new DecodeError("DER: invalid BIT STRING");
  return { unusedBits, bytes: content.subarray(1) };
}

/** BOOLEAN value octets; DER allows only 0x00 and 0xFF (X.690 section 11.1). */
export function decodeBoolean(content: Uint8Array): boolean {
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff)) throw new DecodeError("DER: invalid BOOLEAN");
  return content[0] === 0xff;
}

/**
 * A certificate Time element as milliseconds since the epoch. RFC 5280
 * section 4.1.2.5 fixes the forms: UTCTime `YYMMDDHHMMSSZ` (YY below 50 is
 * 20YY, otherwise 19YY) and GeneralizedTime `YYYYMMDDHHMMSSZ`, both in UTC
 * with seconds and without fractions.
 */
export function decodeTime(el: DerElement): number {
  // Checked before decoding so a huge element is never spread into a string.
  if (el.content.length !== 13 && el.content.length !== 15) throw new DecodeError("DER: invalid certificate time");
  const text = String.fromCharCode(...el.content);
  let year: number;
  let rest: string;
  if (el.tag === Tag.UTCTime && /^\d{12}Z$/.test(text)) {
    const yy = Number(text.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    rest = text.slice(2);
  } else if (el.tag === Tag.GeneralizedTime && /^\d{14}Z$/.test(text)) {
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
  } else {
    throw new DecodeError("DER: invalid certificate time");
  }
  const [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map((i) => Number(rest.slice(i, i + 2))) as [number, number, number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  // Out-of-range fields (month 13, 31 February, hour 24) roll over in Date; catch them by comparing back.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || second > 59) {
    throw new DecodeError("DER: invalid certificate time");
  }
  return d.getTime();
}
