/**
 * Encoded field sections (RFC 9204 section 4.5): the prefix with the
 * Required Insert Count and Base (section 4.5.1) and the five field line
 * representations (sections 4.5.2 to 4.5.6).
 */
import { H3ErrorCode } from "../errors.js";
import { Cursor, readInt, readString, Writer, writeInt, writeString } from "./primitives.js";

/**
 * Encodes the Required Insert Count for the wire (RFC 9204 section
 * 4.5.1.1): 0 stays 0, otherwise (ReqInsertCount mod 2*MaxEntries) + 1.
 */
export function encodeRequiredInsertCount(requiredInsertCount: number, maxEntries: number): number {
  if (requiredInsertCount === 0) return 0;
  return (requiredInsertCount % (2 * maxEntries)) + 1;
}

/**
 * Reconstructs the Required Insert Count from its wire form (RFC 9204
 * section 4.5.1.1), given MaxEntries and the decoder's total number of
 * inserts; a value no conformant encoder could produce is
 * QPACK_DECOMPRESSION_FAILED (raised through `c`).
 */
export function decodeRequiredInsertCount(c: Cursor, encoded: number, maxEntries: number, totalInserts: number): number {
  if (encoded === 0) return 0;
  const fullRange = 2 * maxEntries;
  if (encoded > fullRange) c.fail(`encoded Required Insert Count ${encoded} exceeds 2 * MaxEntries = ${fullRange}`);
  const maxValue = totalInserts + maxEntries;
  const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
  let ric = maxWrapped + encoded - 1;
  // If ReqInsertCount exceeds MaxValue, the encoder's value wrapped one fewer time.
  if (ric > maxValue) {
    if (ric <= fullRange) c.fail(`encoded Required Insert Count ${encoded} is impossible with ${totalInserts} inserts`);
    ric -= fullRange;
  }
  // A Required Insert Count of 0 must be encoded as 0.
  if (ric === 0) c.fail("Required Insert Count of 0 encoded as non-zero");
  return ric;
}

/**
 * Writes the field section prefix (RFC 9204 section 4.5.1): the encoded
 * Required Insert Count (8+), then the sign bit and Delta Base (7+)
 * (section 4.5.1.2). With no dynamic references both are 0.
 */
export function writeFieldSectionPrefix(w: Writer, requiredInsertCount: number, base: number, maxEntries: number): void {
  if (requiredInsertCount === 0) {
    writeInt(w, 0, 8, 0);
    writeInt(w, 0, 7, 0);
    return;
  }
  writeInt(w, 0, 8, encodeRequiredInsertCount(requiredInsertCount, maxEntries));
  if (base >= requiredInsertCount) writeInt(w, 0x00, 7, base - requiredInsertCount);
  else writeInt(w, 0x80, 7, requiredInsertCount - base - 1);
}

/** The decoded field section prefix. */
export interface FieldSectionPrefix {
  requiredInsertCount: number;
  base: number;
}

/**
 * Reads the field section prefix (RFC 9204 section 4.5.1). A Base that would
 * be negative (sign bit 1 with Delta Base >= Required Insert Count) is
 * invalid (section 4.5.1.2).
 */
export function readFieldSectionPrefix(c: Cursor, maxEntries: number, totalInserts: number): FieldSectionPrefix {
  const encoded = readInt(c, 8);
  const requiredInsertCount = decodeRequiredInsertCount(c, encoded, maxEntries, totalInserts);
  c.require(1);
  const sign = c.buf[c.pos]! & 0x80;
  const delta = readInt(c, 7);
  let base: number;
  if (sign === 0) {
    base = requiredInsertCount + delta;
  } else {
    if (requiredInsertCount <= delta) c.fail(`negative Base: Required Insert Count ${requiredInsertCount}, Delta Base ${delta}`);
    base = requiredInsertCount - delta - 1;
  }
  return { requiredInsertCount, base };
}

/** Field line representation kinds (RFC 9204 sections 4.5.2 to 4.5.6). */
export const FieldLineKind = {
  /** Indexed Field Line (section 4.5.2): `1` T + index (6+); static or relative index. */
  INDEXED: 0,
  /** Indexed Field Line with Post-Base Index (section 4.5.3): `0001` + index (4+). */
  INDEXED_POST_BASE: 1,
  /** Literal Field Line with Name Reference (section 4.5.4): `01` N T + index (4+) + value. */
  LITERAL_NAME_REF: 2,
  /** Literal Field Line with Post-Base Name Reference (section 4.5.5): `0000` N + index (3+) + value. */
  LITERAL_POST_BASE_NAME_REF: 3,
  /** Literal Field Line with Literal Name (section 4.5.6): `001` N H + name length (3+) + name + value. */
  LITERAL_NAME: 4,
} as const;

/** One of the {@link FieldLineKind} values. */
export type FieldLineKindValue = (typeof FieldLineKind)[keyof typeof FieldLineKind];

/**
 * A parsed field line representation, before table lookup. `index` is a
 * static index, a relative index or a post-base index depending on `kind`
 * and `isStatic`; `name` is set for literal names only, `value` for literals.
 * `neverIndex` is the N bit (section 4.5.4): intermediaries must keep the
 * line literal.
 */
export interface FieldLine {
  kind: FieldLineKindValue;
  isStatic: boolean;
  index: number;
  name: string;
  value: string;
  neverIndex: boolean;
}

/** A blank {@link FieldLine} to parse into. */
export function newFieldLine(): FieldLine {
  return { kind: FieldLineKind.INDEXED, isStatic: false, index: 0, name: "", value: "", neverIndex: false };
}

/**
 * Parses one field line representation at `c.pos` into `out` (reused so
 * that decoding allocates nothing per line beyond the strings). With
 * `skipStrings`, literal strings are passed over and left empty. Strings
 * are bounded by `maxStringLen` decoded bytes.
 */
export function readFieldLine(c: Cursor, out: FieldLine, maxStringLen: number, skipStrings = false): void {
  c.require(1);
  const b = c.buf[c.pos]!;
  out.name = "";
  out.value = "";
  out.neverIndex = false;
  out.isStatic = false;
  if (b & 0x80) {
    out.kind = FieldLineKind.INDEXED;
    out.isStatic = (b & 0x40) !== 0;
    out.index = readInt(c, 6);
  } else if (b & 0x40) {
    out.kind = FieldLineKind.LITERAL_NAME_REF;
    out.neverIndex = (b & 0x20) !== 0;
    out.isStatic = (b & 0x10) !== 0;
    out.index = readInt(c, 4);
    out.value = readString(c, 7, maxStringLen, skipStrings);
  } else if (b & 0x20) {
    out.kind = FieldLineKind.LITERAL_NAME;
    out.neverIndex = (b & 0x10) !== 0;
    out.index = 0;
    out.name = readString(c, 3, maxStringLen, skipStrings);
    out.value = readString(c, 7, maxStringLen, skipStrings);
  } else if (b & 0x10) {
    out.kind = FieldLineKind.INDEXED_POST_BASE;
    out.index = readInt(c, 4);
  } else {
    out.kind = FieldLineKind.LITERAL_POST_BASE_NAME_REF;
    out.neverIndex = (b & 0x08) !== 0;
    out.index = readInt(c, 3);
    out.value = readString(c, 7, maxStringLen, skipStrings);
  }
}

/** Indexed Field Line referring to static entry `index` (section 4.5.2, T=1). */
export function writeIndexedStatic(w: Writer, index: number): void {
  writeInt(w, 0xc0, 6, index);
}

/** Indexed Field Line referring to the dynamic entry at relative index `index` (section 4.5.2, T=0). */
export function writeIndexedDynamic(w: Writer, index: number): void {
  writeInt(w, 0x80, 6, index);
}

/** Indexed Field Line with Post-Base Index (section 4.5.3). */
export function writeIndexedPostBase(w: Writer, index: number): void {
  writeInt(w, 0x10, 4, index);
}

/** Literal Field Line with Name Reference (section 4.5.4): static or relative name index. */
export function writeLiteralNameRef(w: Writer, isStatic: boolean, index: number, value: string, neverIndex: boolean, huffman = true): void {
  writeInt(w, 0x40 | (neverIndex ? 0x20 : 0) | (isStatic ? 0x10 : 0), 4, index);
  writeString(w, 0, 7, value, huffman);
}

/** Literal Field Line with Post-Base Name Reference (section 4.5.5). */
export function writeLiteralPostBaseNameRef(w: Writer, index: number, value: string, neverIndex: boolean, huffman = true): void {
  writeInt(w, neverIndex ? 0x08 : 0x00, 3, index);
  writeString(w, 0, 7, value, huffman);
}

/** Literal Field Line with Literal Name (section 4.5.6). */
export function writeLiteralName(w: Writer, name: string, value: string, neverIndex: boolean, huffman = true): void {
  writeString(w, 0x20 | (neverIndex ? 0x10 : 0), 3, name, huffman);
  writeString(w, 0, 7, value, huffman);
}

/** Writes any parsed {@link FieldLine} back (the inverse of {@link readFieldLine}). */
export function writeFieldLine(w: Writer, line: FieldLine, huffman = true): void {
  switch (line.kind) {
    case FieldLineKind.INDEXED:
      if (line.isStatic) writeIndexedStatic(w, line.index);
      else writeIndexedDynamic(w, line.index);
      return;
    case FieldLineKind.INDEXED_POST_BASE:
      writeIndexedPostBase(w, line.index);
      return;
    case FieldLineKind.LITERAL_NAME_REF:
      writeLiteralNameRef(w, line.isStatic, line.index, line.value, line.neverIndex, huffman);
      return;
    case FieldLineKind.LITERAL_POST_BASE_NAME_REF:
      writeLiteralPostBaseNameRef(w, line.index, line.value, line.neverIndex, huffman);
      return;
    case FieldLineKind.LITERAL_NAME:
      writeLiteralName(w, line.name, line.value, line.neverIndex, huffman);
      return;
  }
}

/** The error code malformed field sections raise (RFC 9204 section 6). */
export const FIELD_SECTION_ERROR = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
