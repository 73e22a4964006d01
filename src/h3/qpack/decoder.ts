/**
 * The QPACK decoder (RFC 9204 section 2.2): decodes field sections against
 * the static and dynamic tables, applies the peer encoder's instructions,
 * holds sections that reference entries not yet received (blocked streams,
 * section 2.2.1), and produces the decoder-stream instructions that keep the
 * peer's encoder in step (section 2.2.2).
 */
import { FieldSectionTooLargeError, H3Error, H3ErrorCode } from "../errors.js";
import { DynamicTable, entrySize, ENTRY_OVERHEAD, maxEntries } from "./dynamic-table.js";
import { FieldLineKind, newFieldLine, readFieldLine, readFieldSectionPrefix } from "./field-lines.js";
import { InstructionReader, parseEncoderInstruction, writeDecoderInstruction } from "./instructions.js";
import { Cursor, INCOMPLETE, type Header, Writer } from "./primitives.js";
import { STATIC_TABLE } from "./static-table.js";

/** Settings of our decoder, which we advertise to the peer in SETTINGS. */
export interface QpackDecoderOptions {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 section 5); default 0, no dynamic table. */
  maxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 section 5); default 0. */
  maxBlockedStreams?: number;
  /**
   * SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 section 4.2.2): the largest
   * decoded section, counted as names + values + 32 per field, that we
   * accept; default 64 KiB. This also bounds the memory a small section of
   * dynamic references could otherwise expand to.
   */
  maxFieldSectionSize?: number;
}

/** Result of {@link QpackDecoder.decodeFieldSection}. */
export type FieldSectionResult = { blocked: false; headers: Header[] } | { blocked: true };

/**
 * A section that was blocked and has now been decoded, with its headers, or
 * the error it failed with (a {@link FieldSectionTooLargeError} concerns only
 * that stream; any other error is a connection error).
 */
export type UnblockedSection = { streamId: number; headers: Header[]; error?: undefined } | { streamId: number; headers?: undefined; error: H3Error };

interface BlockedSection {
  requiredInsertCount: number;
  base: number;
  /** A copy of the field lines after the prefix. */
  lines: Uint8Array;
}

const DECOMPRESSION_FAILED = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;

/** Default SETTINGS_MAX_FIELD_SECTION_SIZE the decoder enforces. */
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 64 * 1024;

/**
 * The decoding half of a QPACK context. Feed it the peer's encoder stream
 * with {@link onEncoderStreamData}, field sections with
 * {@link decodeFieldSection}, stream abandonments with {@link cancelStream},
 * and send what {@link takeDecoderStreamData} returns on our decoder stream.
 * Every method is synchronous and does no I/O.
 */
export class QpackDecoder {
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY. */
  readonly maxTableCapacity: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS. */
  readonly maxBlockedStreams: number;
  /** Our SETTINGS_MAX_FIELD_SECTION_SIZE. */
  readonly maxFieldSectionSize: number;
  /** The dynamic table, for inspection; only encoder instructions change it. */
  readonly table = new DynamicTable();

  private readonly maxEntries: number;
  /** Inserts the peer's encoder knows we have (acknowledged or incremented), RFC 9204 section 2.1.4. */
  private knownReceivedCount = 0;
  private readonly blocked = new Map<number, BlockedSection>();
  private minBlockedRic = Infinity;
  private readonly out = new Writer(64);
  private readonly encoderStream = new InstructionReader(H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  private readonly line = newFieldLine();
  private readonly cursor = new Cursor(new Uint8Array(0), 0, 0, DECOMPRESSION_FAILED);
  private unblocked: UnblockedSection[] = [];
  private readonly handleInstruction = (c: Cursor): void => this.applyEncoderInstruction(c);

  constructor(options: QpackDecoderOptions = {}) {
    this.maxTableCapacity = options.maxTableCapacity ?? 0;
    this.maxBlockedStreams = options.maxBlockedStreams ?? 0;
    this.maxFieldSectionSize = options.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    this.maxEntries = maxEntries(this.maxTableCapacity);
  }

  /** Number of streams currently blocked on dynamic table updates. */
  get blockedStreams(): number {
    return this.blocked.size;
  }

  /**
   * Decodes the encoded field section `bytes` (a HEADERS or PUSH_PROMISE
   * payload) received on `streamId`. If it references entries not yet
   * received, it is kept (copied) and `{ blocked: true }` returned; it comes
   * out of a later {@link onEncoderStreamData}. Malformed input is an
   * {@link H3Error} with QPACK_DECOMPRESSION_FAILED (a connection error),
   * more blocked streams than SETTINGS_QPACK_BLOCKED_STREAMS too (RFC 9204
   * section 2.1.2); a section over the size limit is a
   * {@link FieldSectionTooLargeError}, which concerns that stream only.
   */
  decodeFieldSection(streamId: number, bytes: Uint8Array): FieldSectionResult {
    if (this.blocked.has(streamId)) throw new H3Error(H3ErrorCode.H3_INTERNAL_ERROR, `stream ${streamId} already has a blocked field section`);
    const c = this.cursor;
    c.buf = bytes;
    c.pos = 0;
    c.end = bytes.length;
    let ric: number;
    let base: number;
    try {
      ({ requiredInsertCount: ric, base } = readFieldSectionPrefix(c, this.maxEntries, this.table.insertCount));
    } catch (e) {
      throw e === INCOMPLETE ? new H3Error(DECOMPRESSION_FAILED, "truncated field section prefix") : e;
    }
    if (ric > this.table.insertCount) {
      // RFC 9204 section 2.2.1: blocked until the Insert Count reaches ric.
      if (this.blocked.size >= this.maxBlockedStreams) {
        throw new H3Error(DECOMPRESSION_FAILED, `more than ${this.maxBlockedStreams} blocked streams`);
      }
      // The prefix is kept decoded: decoding it again after more inserts could
      // give another value (RFC 9204 section 4.5.1.1 wraps modulo 2*MaxEntries).
      this.blocked.set(streamId, { requiredInsertCount: ric, base, lines: new Uint8Array(bytes.subarray(c.pos)) });
      if (ric < this.minBlockedRic) this.minBlockedRic = ric;
      return { blocked: true };
    }
    return { blocked: false, headers: this.decodeLines(streamId, bytes, c.pos, ric, base) };
  }

  /**
   * Processes bytes from the peer's encoder stream (RFC 9204 section 4.3),
   * in pieces of any size. Returns the blocked sections this made
   * decodable. A malformed or illegal instruction is an {@link H3Error} with
   * QPACK_ENCODER_STREAM_ERROR.
   */
  onEncoderStreamData(bytes: Uint8Array): UnblockedSection[] {
    this.unblocked = [];
    this.encoderStream.feed(bytes, this.handleInstruction);
    // RFC 9204 section 2.2.2.3: tell the encoder about new entries that no
    // Section Acknowledgment covered.
    const increment = this.table.insertCount - this.knownReceivedCount;
    if (increment > 0) {
      writeDecoderInstruction(this.out, { type: "insertCountIncrement", increment });
      this.knownReceivedCount = this.table.insertCount;
    }
    const result = this.unblocked;
    this.unblocked = [];
    return result;
  }

  /**
   * The peer reset `streamId` or we stopped reading it: forgets its blocked
   * section, if any, and emits a Stream Cancellation (RFC 9204 section
   * 2.2.2.2), omitted when our maximum table capacity is 0.
   */
  cancelStream(streamId: number): void {
    if (this.blocked.delete(streamId)) this.recomputeMinBlocked();
    if (this.maxTableCapacity > 0) writeDecoderInstruction(this.out, { type: "streamCancel", streamId });
  }

  /** Bytes to send on our decoder stream (possibly empty); each byte is returned once. */
  takeDecoderStreamData(): Uint8Array {
    return this.out.take();
  }

  private applyEncoderInstruction(c: Cursor): void {
    const table = this.table;
    const ins = parseEncoderInstruction(c, table.capacity - ENTRY_OVERHEAD);
    switch (ins.type) {
      case "setCapacity":
        // RFC 9204 section 4.3.1: at most our SETTINGS_QPACK_MAX_TABLE_CAPACITY.
        if (ins.capacity > this.maxTableCapacity) c.fail(`table capacity ${ins.capacity} exceeds the maximum ${this.maxTableCapacity}`);
        table.capacity = ins.capacity;
        table.evictTo(ins.capacity);
        return;
      case "insertWithNameRef": {
        let name: string;
        if (ins.isStatic) {
          const e = STATIC_TABLE[ins.nameIndex];
          if (!e) c.fail(`static table index ${ins.nameIndex} out of range`);
          name = e[0];
        } else {
          // RFC 9204 section 3.2.5: relative to the newest entry on the encoder stream.
          const abs = table.insertCount - 1 - ins.nameIndex;
          if (!table.has(abs)) c.fail(`dynamic table relative index ${ins.nameIndex} does not exist`);
          name = table.name(abs);
        }
        this.insert(c, name, ins.value);
        return;
      }
      case "insertWithLiteralName":
        this.insert(c, ins.name, ins.value);
        return;
      case "duplicate": {
        const abs = table.insertCount - 1 - ins.index;
        if (!table.has(abs)) c.fail(`duplicate of relative index ${ins.index}, which does not exist`);
        this.insert(c, table.name(abs), table.value(abs));
        return;
      }
    }
  }

  private insert(c: Cursor, name: string, value: string): void {
    // RFC 9204 section 3.2.2: an entry larger than the capacity is an error.
    if (entrySize(name, value) > this.table.capacity) c.fail(`entry of ${entrySize(name, value)} bytes exceeds the table capacity ${this.table.capacity}`);
    this.table.insert(name, value);
    if (this.table.insertCount >= this.minBlockedRic) this.unblock();
  }

  /** Decodes the blocked sections whose Required Insert Count has been reached. */
  private unblock(): void {
    const count = this.table.insertCount;
    for (const [streamId, section] of this.blocked) {
      if (section.requiredInsertCount > count) continue;
      this.blocked.delete(streamId);
      try {
        const headers = this.decodeLines(streamId, section.lines, 0, section.requiredInsertCount, section.base);
        this.unblocked.push({ streamId, headers });
      } catch (e) {
        if (!(e instanceof H3Error)) throw e;
        this.unblocked.push({ streamId, error: e });
      }
    }
    this.recomputeMinBlocked();
  }

  private recomputeMinBlocked(): void {
    let min = Infinity;
    for (const s of this.blocked.values()) if (s.requiredInsertCount < min) min = s.requiredInsertCount;
    this.minBlockedRic = min;
  }

  /**
   * Decodes the field lines of a section whose dynamic state is available.
   * Past the size limit the remaining lines are still parsed (without
   * decoding their strings) so that the section is acknowledged normally and
   * QPACK state stays in step; the limit error comes at the end.
   */
  private decodeLines(streamId: number, bytes: Uint8Array, pos: number, ric: number, base: number): Header[] {
    const c = this.cursor;
    c.buf = bytes;
    c.pos = pos;
    c.end = bytes.length;
    const table = this.table;
    const line = this.line;
    const limit = this.maxFieldSectionSize;
    const headers: Header[] = [];
    let total = 0;
    let over = false;
    try {
      while (c.pos < c.end) {
        readFieldLine(c, line, Number.MAX_SAFE_INTEGER, over);
        let name: string;
        let value: string;
        switch (line.kind) {
          case FieldLineKind.INDEXED:
          case FieldLineKind.LITERAL_NAME_REF: {
            if (line.isStatic) {
              const e = STATIC_TABLE[line.index];
              if (!e) c.fail(`static table index ${line.index} out of range`);
              name = e[0];
              value = line.kind === FieldLineKind.INDEXED ? e[1] : line.value;
            } else {
              // RFC 9204 section 3.2.5: relative index 0 is Base - 1.
              const abs = base - 1 - line.index;
              if (abs < 0 || abs >= ric || !table.has(abs)) c.fail(`invalid dynamic table reference: relative index ${line.index}, Base ${base}`);
              name = table.name(abs);
              value = line.kind === FieldLineKind.INDEXED ? table.value(abs) : line.value;
            }
            break;
          }
          case FieldLineKind.INDEXED_POST_BASE:
          case FieldLineKind.LITERAL_POST_BASE_NAME_REF: {
            // RFC 9204 section 3.2.6: post-base index 0 is Base.
            const abs = base + line.index;
            if (abs >= ric || !table.has(abs)) c.fail(`invalid dynamic table reference: post-base index ${line.index}, Base ${base}`);
            name = table.name(abs);
            value = line.kind === FieldLineKind.INDEXED_POST_BASE ? table.value(abs) : line.value;
            break;
          }
          default:
            name = line.name;
            value = line.value;
        }
        if (over) continue;
        total += name.length + value.length + ENTRY_OVERHEAD;
        if (total > limit) {
          over = true;
          headers.length = 0;
          continue;
        }
        headers.push([name, value]);
      }
    } catch (e) {
      throw e === INCOMPLETE ? new H3Error(DECOMPRESSION_FAILED, "truncated field line") : e;
    }
    // RFC 9204 section 2.2.2.1: acknowledge sections with dynamic references.
    if (ric > 0) {
      writeDecoderInstruction(this.out, { type: "sectionAck", streamId });
      if (ric > this.knownReceivedCount) this.knownReceivedCount = ric;
    }
    if (over) throw new FieldSectionTooLargeError(limit);
    return headers;
  }
}
