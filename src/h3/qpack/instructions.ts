/**
 * QPACK encoder instructions (RFC 9204 section 4.3) and decoder instructions
 * (section 4.4): their encoders, their parsers, and an incremental reader
 * that feeds instructions out of stream data arriving in arbitrary pieces.
 */
import { H3ErrorCode } from "../errors.js";
import { Cursor, INCOMPLETE, readInt, readString, Writer, writeInt, writeString } from "./primitives.js";

/** An instruction on the encoder stream (RFC 9204 section 4.3). */
export type EncoderInstruction =
  /** Set Dynamic Table Capacity (section 4.3.1): `001` + capacity (5+). */
  | { type: "setCapacity"; capacity: number }
  /**
   * Insert with Name Reference (section 4.3.2): `1` T + name index (6+) +
   * value. T=1: static index; T=0: relative index (0 = newest entry).
   */
  | { type: "insertWithNameRef"; isStatic: boolean; nameIndex: number; value: string }
  /** Insert with Literal Name (section 4.3.3): `01` H + name length (5+) + name + value. */
  | { type: "insertWithLiteralName"; name: string; value: string }
  /** Duplicate (section 4.3.4): `000` + relative index (5+). */
  | { type: "duplicate"; index: number };

/** An instruction on the decoder stream (RFC 9204 section 4.4). */
export type DecoderInstruction =
  /** Section Acknowledgment (section 4.4.1): `1` + stream ID (7+). */
  | { type: "sectionAck"; streamId: number }
  /** Stream Cancellation (section 4.4.2): `01` + stream ID (6+). */
  | { type: "streamCancel"; streamId: number }
  /** Insert Count Increment (section 4.4.3): `00` + increment (6+). */
  | { type: "insertCountIncrement"; increment: number };

/** Appends an encoder instruction to `w`; strings are Huffman-coded when shorter unless `huffman` is false. */
export function writeEncoderInstruction(w: Writer, ins: EncoderInstruction, huffman = true): void {
  switch (ins.type) {
    case "setCapacity":
      writeInt(w, 0x20, 5, ins.capacity);
      return;
    case "insertWithNameRef":
      writeInt(w, ins.isStatic ? 0xc0 : 0x80, 6, ins.nameIndex);
      writeString(w, 0, 7, ins.value, huffman);
      return;
    case "insertWithLiteralName":
      writeString(w, 0x40, 5, ins.name, huffman);
      writeString(w, 0, 7, ins.value, huffman);
      return;
    case "duplicate":
      writeInt(w, 0x00, 5, ins.index);
      return;
  }
}

/** The bytes of one encoder instruction. */
export function encodeEncoderInstruction(ins: EncoderInstruction, huffman = true): Uint8Array {
  const w = new Writer(32);
  writeEncoderInstruction(w, ins, huffman);
  return w.take();
}

/** Appends a decoder instruction to `w`. */
export function writeDecoderInstruction(w: Writer, ins: DecoderInstruction): void {
  switch (ins.type) {
    case "sectionAck":
      writeInt(w, 0x80, 7, ins.streamId);
      return;
    case "streamCancel":
      writeInt(w, 0x40, 6, ins.streamId);
      return;
    case "insertCountIncrement":
      writeInt(w, 0x00, 6, ins.increment);
      return;
  }
}

/** The bytes of one decoder instruction. */
export function encodeDecoderInstruction(ins: DecoderInstruction): Uint8Array {
  const w = new Writer(16);
  writeDecoderInstruction(w, ins);
  return w.take();
}

/**
 * Parses one encoder instruction at `c.pos`. Strings longer than
 * `maxStringLen` bytes (decoded) are rejected as soon as their length is
 * read: no entry can be larger than the table capacity (RFC 9204 section
 * 3.2.2), so this bounds what an incremental reader buffers. Throws
 * {@link INCOMPLETE} when the instruction is not all there yet.
 */
export function parseEncoderInstruction(c: Cursor, maxStringLen: number): EncoderInstruction {
  c.require(1);
  const b = c.buf[c.pos]!;
  const limit = Math.max(0, maxStringLen);
  if (b & 0x80) {
    const isStatic = (b & 0x40) !== 0;
    const nameIndex = readInt(c, 6);
    const value = readString(c, 7, limit);
    return { type: "insertWithNameRef", isStatic, nameIndex, value };
  }
  if (b & 0x40) {
    const name = readString(c, 5, limit);
    const value = readString(c, 7, limit - name.length);
    return { type: "insertWithLiteralName", name, value };
  }
  if (b & 0x20) return { type: "setCapacity", capacity: readInt(c, 5) };
  return { type: "duplicate", index: readInt(c, 5) };
}

/** Parses one decoder instruction at `c.pos`; throws {@link INCOMPLETE} when it is not all there yet. */
export function parseDecoderInstruction(c: Cursor): DecoderInstruction {
  c.require(1);
  const b = c.buf[c.pos]!;
  if (b & 0x80) return { type: "sectionAck", streamId: readInt(c, 7) };
  if (b & 0x40) return { type: "streamCancel", streamId: readInt(c, 6) };
  return { type: "insertCountIncrement", increment: readInt(c, 6) };
}

/**
 * Turns a byte stream into whole instructions. `feed` runs `handle` once per
 * complete instruction (the handler parses it from the cursor, then acts on
 * it); an instruction cut off at the end of the data is kept and completed
 * by the next call. Parsing restarts only once at least as many bytes as the
 * last attempt wanted have arrived, so a large instruction delivered a byte
 * at a time costs linear, not quadratic, work.
 */
export class InstructionReader {
  private pending = new Uint8Array(0);
  private pendingLen = 0;
  private need = 0;
  private readonly cursor: Cursor;

  /** `errorCode` is raised for malformed instructions (QPACK_ENCODER_STREAM_ERROR or QPACK_DECODER_STREAM_ERROR). */
  constructor(errorCode: number = H3ErrorCode.QPACK_ENCODER_STREAM_ERROR) {
    this.cursor = new Cursor(this.pending, 0, 0, errorCode);
  }

  /** Bytes held from an incomplete instruction. */
  get buffered(): number {
    return this.pendingLen;
  }

  /** Parses and handles every complete instruction in `pending + bytes`. */
  feed(bytes: Uint8Array, handle: (c: Cursor) => void): void {
    let buf: Uint8Array;
    let end: number;
    if (this.pendingLen === 0) {
      buf = bytes;
      end = bytes.length;
    } else {
      this.append(bytes);
      if (this.pendingLen < this.need) return;
      buf = this.pending;
      end = this.pendingLen;
    }
    const c = this.cursor;
    c.buf = buf;
    c.pos = 0;
    c.end = end;
    c.need = 0;
    let start = 0;
    try {
      while (c.pos < end) {
        start = c.pos;
        handle(c);
      }
      start = end;
    } catch (e) {
      if (e !== INCOMPLETE) throw e;
    }
    const rest = end - start;
    if (rest === 0) {
      this.pendingLen = 0;
      this.need = 0;
      return;
    }
    if (buf === this.pending) {
      this.pending.copyWithin(0, start, end);
      this.pendingLen = rest;
    } else {
      this.pendingLen = 0;
      this.append(buf.subarray(start, end));
    }
    this.need = c.need - start;
  }

  private append(b: Uint8Array): void {
    const need = this.pendingLen + b.length;
    if (need > this.pending.length) {
      const next = new Uint8Array(Math.max(need, this.pending.length * 2, 64));
      next.set(this.pending.subarray(0, this.pendingLen));
      this.pending = next;
    }
    this.pending.set(b, this.pendingLen);
    this.pendingLen = need;
  }
}
