/**
 * The QPACK encoder (RFC 9204 section 2.1), single pass, with a simple and
 * safe dynamic table policy:
 *
 * - static table matches first; exact dynamic matches next; then a literal,
 *   with a static or dynamic name reference when there is one;
 * - a field is inserted only when its name is in a set of fields that tend
 *   to repeat (`:authority`, `user-agent`, `content-type`, ...), when it
 *   takes at most half the table, and when the room can be made by evicting
 *   only evictable entries (acknowledged and unreferenced, section 2.1.1);
 * - entries in the oldest quarter of the table are "draining" and get no new
 *   references (section 2.1.1.1), so they become evictable; an exact match
 *   there is duplicated instead;
 * - a reference to an unacknowledged entry is made only if the stream is
 *   already blocking or fewer than SETTINGS_QPACK_BLOCKED_STREAMS streams are
 *   (section 2.1.2), otherwise a literal is sent;
 * - sensitive fields (authorization, short cookies) are never inserted and
 *   carry the N bit (section 7.1.3).
 */
import { H3Error, H3ErrorCode } from "../errors.js";
import { DynamicTable, entrySize, maxEntries, type TableEntry } from "./dynamic-table.js";
import {
  writeFieldSectionPrefix,
  writeIndexedDynamic,
  writeIndexedPostBase,
  writeIndexedStatic,
  writeLiteralName,
  writeLiteralNameRef,
  writeLiteralPostBaseNameRef,
} from "./field-lines.js";
import { type EncoderInstruction, InstructionReader, parseDecoderInstruction, writeEncoderInstruction } from "./instructions.js";
import { type Cursor, type Header, Writer } from "./primitives.js";
import { staticLookup } from "./static-table.js";

/** Our encoder's preferences. */
export interface QpackEncoderOptions {
  /** The largest dynamic table we use, whatever the peer allows; default 4096 bytes. */
  maxTableCapacity?: number;
  /** Huffman-code string literals when that is shorter; default true. */
  huffman?: boolean;
  /** Which fields are worth inserting into the dynamic table; default {@link defaultShouldIndex}. */
  shouldIndex?: (name: string, value: string) => boolean;
  /** Which fields are sensitive: never inserted, sent with the N bit; default {@link defaultIsSensitive}. */
  isSensitive?: (name: string, value: string) => boolean;
}

/** The peer decoder's settings (RFC 9204 section 5), from its SETTINGS frame. */
export interface QpackPeerSettings {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY; 0 when absent. */
  maxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS; 0 when absent. */
  blockedStreams?: number;
}

/** Field names whose values usually repeat across the messages of a connection. */
export const DEFAULT_INDEXED_NAMES: ReadonlySet<string> = new Set([
  ":authority",
  "user-agent",
  "content-type",
  "accept",
  "accept-encoding",
  "accept-language",
  "cache-control",
  "origin",
  "referer",
  "server",
  "content-encoding",
  "vary",
  "access-control-allow-origin",
  "alt-svc",
  "via",
]);

/** The default insertion policy: names in {@link DEFAULT_INDEXED_NAMES}. */
export function defaultShouldIndex(name: string, _value: string): boolean {
  return DEFAULT_INDEXED_NAMES.has(name);
}

/**
 * The default sensitivity rule (RFC 7541 section 7.1.3, which RFC 9204
 * section 7.1.3 follows): credentials always, cookies when short enough to
 * guess.
 */
export function defaultIsSensitive(name: string, value: string): boolean {
  if (name === "authorization" || name === "proxy-authorization") return true;
  if (name === "cookie" || name === "set-cookie") return value.length < 20;
  return false;
}

const NOT_A_BYTE = /[^\u0000-\u00ff]/;

/** At most this many unacknowledged sections are tracked; past it no new dynamic references are made. */
const MAX_TRACKED_SECTIONS = 1000;

interface SentSection {
  requiredInsertCount: number;
  /** Absolute indices referenced, one per reference. */
  refs: number[];
}

/** The encoder's table: lookups by name and by field, kept in step with evictions. */
class EncoderTable extends DynamicTable {
  /** Newest absolute index per name. */
  readonly byName = new Map<string, number>();
  /** Newest absolute index per name and value. */
  readonly byField = new Map<string, Map<string, number>>();

  override insert(name: string, value: string): number {
    const abs = super.insert(name, value);
    this.byName.set(name, abs);
    let values = this.byField.get(name);
    if (!values) {
      values = new Map();
      this.byField.set(name, values);
    }
    values.set(value, abs);
    return abs;
  }

  protected override onEvict(abs: number, e: TableEntry): void {
    if (e.refs !== 0) throw new H3Error(H3ErrorCode.H3_INTERNAL_ERROR, `QPACK encoder evicted referenced entry ${abs}`);
    // Only the newest index per key is recorded; the evicted entry is the
    // oldest, so it is recorded only if it was the last with its key.
    if (this.byName.get(e.name) === abs) this.byName.delete(e.name);
    const values = this.byField.get(e.name);
    if (values && values.get(e.value) === abs) {
      values.delete(e.value);
      if (values.size === 0) this.byField.delete(e.name);
    }
  }
}

/**
 * The encoding half of a QPACK context. Give it the peer's settings with
 * {@link applyPeerSettings}, encode with {@link encodeFieldSection}, send
 * what {@link takeEncoderStreamData} returns on our encoder stream (before
 * or with the field sections that need it), and feed the peer's decoder
 * stream to {@link onDecoderStreamData}. Every method is synchronous and
 * does no I/O.
 */
export class QpackEncoder {
  /** The dynamic table, for inspection. */
  readonly table = new EncoderTable();

  private readonly ourMaxCapacity: number;
  private readonly huffman: boolean;
  private readonly shouldIndex: (name: string, value: string) => boolean;
  private readonly isSensitive: (name: string, value: string) => boolean;

  private peerMaxCapacity = 0;
  private peerMaxEntries = 0;
  private peerBlockedStreams = 0;
  private settingsApplied = false;
  /** The capacity we use: min(ours, peer's). */
  private capacity = 0;
  private capacitySent = false;

  /** Insertions the decoder has acknowledged (RFC 9204 section 2.1.4). */
  private knownReceived = 0;
  private readonly sections = new Map<number, SentSection[]>();
  private trackedSections = 0;

  private readonly out = new Writer(64);
  private readonly body = new Writer(256);
  private readonly prefix = new Writer(32);
  private readonly decoderStream = new InstructionReader(H3ErrorCode.QPACK_DECODER_STREAM_ERROR);
  private readonly handleInstruction = (c: Cursor): void => this.applyDecoderInstruction(c);

  constructor(options: QpackEncoderOptions = {}) {
    this.ourMaxCapacity = options.maxTableCapacity ?? 4096;
    this.huffman = options.huffman ?? true;
    this.shouldIndex = options.shouldIndex ?? defaultShouldIndex;
    this.isSensitive = options.isSensitive ?? defaultIsSensitive;
  }

  /** Known Received Count: insertions the peer has acknowledged. */
  get knownReceivedCount(): number {
    return this.knownReceived;
  }

  /** Number of streams whose unacknowledged sections could be blocked at the peer. */
  get blockingStreams(): number {
    let n = 0;
    for (const list of this.sections.values()) if (this.isBlocking(list)) n++;
    return n;
  }

  /**
   * Applies the peer's SETTINGS (RFC 9204 section 5). The dynamic table is
   * used only once the peer allows a non-zero capacity (section 3.2.3). A
   * later call may not change a capacity already in use (section 3.2.3:
   * QPACK_DECODER_STREAM_ERROR).
   */
  applyPeerSettings(settings: QpackPeerSettings): void {
    const maxCapacity = settings.maxTableCapacity ?? 0;
    if (this.settingsApplied && this.capacitySent && maxCapacity !== this.peerMaxCapacity) {
      throw new H3Error(H3ErrorCode.QPACK_DECODER_STREAM_ERROR, `peer changed SETTINGS_QPACK_MAX_TABLE_CAPACITY from ${this.peerMaxCapacity} to ${maxCapacity}`);
    }
    this.settingsApplied = true;
    this.peerMaxCapacity = maxCapacity;
    this.peerMaxEntries = maxEntries(maxCapacity);
    this.peerBlockedStreams = settings.blockedStreams ?? 0;
    if (!this.capacitySent) this.capacity = Math.min(this.ourMaxCapacity, maxCapacity);
  }

  /**
   * Inserts a field into the dynamic table ahead of its use (a speculative
   * insert, as in RFC 9204 Appendix B.3) if the table is enabled and the room
   * can be made; returns whether it was inserted.
   */
  insert(name: string, value: string): boolean {
    if (this.capacity === 0 || !this.canInsert(entrySize(name, value))) return false;
    this.insertEntry(name, value);
    return true;
  }

  /**
   * Encodes a header or trailer section for `streamId` (RFC 9204 section
   * 4.5). Dynamic table instructions it needs are queued for
   * {@link takeEncoderStreamData}. Names must already be lowercase (RFC 9114
   * section 4.2); names and values are byte strings (a character above 0xff
   * is a TypeError).
   */
  encodeFieldSection(streamId: number, headers: readonly Header[]): Uint8Array {
    const w = this.body;
    w.len = 0;
    const table = this.table;
    const huffman = this.huffman;
    const base = table.insertCount;
    const dynamic = this.capacity > 0;
    // Whether this section may reference unacknowledged entries; decided on first need.
    let canBlock: boolean | undefined;
    let refs: number[] | undefined;
    let ric = 0;

    try {
      for (let i = 0; i < headers.length; i++) {
        const [name, value] = headers[i]!;
        const st = staticLookup(name);
        if (st) {
          const idx = st.values.get(value);
          if (idx !== undefined) {
            writeIndexedStatic(w, idx);
            continue;
          }
        }
        const sensitive = this.isSensitive(name, value);
        if (dynamic && !sensitive && this.trackedSections < MAX_TRACKED_SECTIONS) {
          let abs = table.byField.get(name)?.get(value);
          let usable = false;
          if (abs !== undefined) {
            if (this.referenceable(abs)) {
              usable = abs < this.knownReceived || (canBlock ??= this.canBlock(streamId));
            } else if ((canBlock ??= this.canBlock(streamId)) && this.canInsert(table.entry(abs).size)) {
              // Section 2.1.1.1: refresh a draining entry with Duplicate.
              this.sendCapacity();
              this.emit({ type: "duplicate", index: table.insertCount - 1 - abs });
              abs = table.insert(name, value);
              usable = true;
            }
          } else {
            const size = entrySize(name, value);
            if (size * 2 <= this.capacity && this.shouldIndex(name, value) && this.canInsert(size)) {
              abs = this.insertEntry(name, value);
              usable = canBlock ??= this.canBlock(streamId);
            }
          }
          if (usable && abs !== undefined) {
            if (abs < base) writeIndexedDynamic(w, base - 1 - abs);
            else writeIndexedPostBase(w, abs - base);
            (refs ??= []).push(abs);
            table.entry(abs).refs++;
            if (abs + 1 > ric) ric = abs + 1;
            continue;
          }
        }
        // A literal, with the cheapest name reference available.
        if (st) {
          writeLiteralNameRef(w, true, st.nameIndex, value, sensitive, huffman);
          continue;
        }
        if (dynamic && this.trackedSections < MAX_TRACKED_SECTIONS) {
          const nabs = table.byName.get(name);
          if (nabs !== undefined && this.referenceable(nabs) && (nabs < this.knownReceived || (canBlock ??= this.canBlock(streamId)))) {
            if (nabs < base) writeLiteralNameRef(w, false, base - 1 - nabs, value, sensitive, huffman);
            else writeLiteralPostBaseNameRef(w, nabs - base, value, sensitive, huffman);
            (refs ??= []).push(nabs);
            table.entry(nabs).refs++;
            if (nabs + 1 > ric) ric = nabs + 1;
            continue;
          }
        }
        writeLiteralName(w, name, value, sensitive, huffman);
      }
    } catch (e) {
      // A field that is not a byte string (TypeError): the section is
      // abandoned, so the references it took are released. Entries it
      // inserted stay; their instructions are complete and must be sent.
      if (refs) for (const abs of refs) table.entry(abs).refs--;
      throw e;
    }

    if (refs) {
      let list = this.sections.get(streamId);
      if (!list) {
        list = [];
        this.sections.set(streamId, list);
      }
      list.push({ requiredInsertCount: ric, refs });
      this.trackedSections++;
    }
    const p = this.prefix;
    p.len = 0;
    writeFieldSectionPrefix(p, ric, base, this.peerMaxEntries);
    const out = new Uint8Array(p.len + w.len);
    out.set(p.buf.subarray(0, p.len), 0);
    out.set(w.buf.subarray(0, w.len), p.len);
    return out;
  }

  /** Bytes to send on our encoder stream (possibly empty); each byte is returned once. */
  takeEncoderStreamData(): Uint8Array {
    return this.out.take();
  }

  /**
   * Processes bytes from the peer's decoder stream (RFC 9204 section 4.4),
   * in pieces of any size. A malformed or impossible instruction is an
   * {@link H3Error} with QPACK_DECODER_STREAM_ERROR.
   */
  onDecoderStreamData(bytes: Uint8Array): void {
    this.decoderStream.feed(bytes, this.handleInstruction);
  }

  private applyDecoderInstruction(c: Cursor): void {
    const ins = parseDecoderInstruction(c);
    switch (ins.type) {
      case "sectionAck": {
        // Section 4.4.1: acknowledges the earliest unacknowledged section on the stream.
        const list = this.sections.get(ins.streamId);
        const section = list?.shift();
        if (!list || !section) c.fail(`Section Acknowledgment for stream ${ins.streamId}, which has no unacknowledged section`);
        if (list.length === 0) this.sections.delete(ins.streamId);
        this.trackedSections--;
        // Section 2.1.4: the acknowledgment implies the entries it needed arrived.
        if (section.requiredInsertCount > this.knownReceived) this.knownReceived = section.requiredInsertCount;
        this.release(section);
        return;
      }
      case "streamCancel": {
        // Section 4.4.2: references on that stream are no longer outstanding.
        const list = this.sections.get(ins.streamId);
        if (!list) return;
        this.sections.delete(ins.streamId);
        this.trackedSections -= list.length;
        for (const s of list) this.release(s);
        return;
      }
      case "insertCountIncrement":
        // Section 4.4.3: zero, or beyond what was sent, is an error.
        if (ins.increment === 0) c.fail("Insert Count Increment of 0");
        if (this.knownReceived + ins.increment > this.table.insertCount) {
          c.fail(`Insert Count Increment to ${this.knownReceived + ins.increment}, beyond the ${this.table.insertCount} entries sent`);
        }
        this.knownReceived += ins.increment;
        return;
    }
  }

  private release(section: SentSection): void {
    for (const abs of section.refs) this.table.entry(abs).refs--;
  }

  private isBlocking(list: SentSection[]): boolean {
    for (const s of list) if (s.requiredInsertCount > this.knownReceived) return true;
    return false;
  }

  /** Section 2.1.2: may a section on `streamId` risk blocking? */
  private canBlock(streamId: number): boolean {
    const own = this.sections.get(streamId);
    if (own && this.isBlocking(own)) return true;
    return this.blockingStreams < this.peerBlockedStreams;
  }

  /** Not draining: the entry is among the newest three quarters of the capacity (section 2.1.1.1). */
  private referenceable(abs: number): boolean {
    const table = this.table;
    return table.insertedBytes - table.entry(abs).start <= this.capacity * 0.75;
  }

  /** Whether `size` bytes can be made free by evicting only evictable entries (section 2.1.1). */
  private canInsert(size: number): boolean {
    const table = this.table;
    if (size > this.capacity) return false;
    let free = this.capacity - table.size;
    for (let abs = table.dropped; free < size; abs++) {
      if (abs >= table.insertCount) return false;
      const e = table.entry(abs);
      if (abs >= this.knownReceived || e.refs !== 0) return false;
      free += e.size;
    }
    return true;
  }

  /** Sends Set Dynamic Table Capacity before the first insertion (section 4.3.1). */
  private sendCapacity(): void {
    if (this.capacitySent) return;
    this.capacitySent = true;
    this.table.capacity = this.capacity;
    this.emit({ type: "setCapacity", capacity: this.capacity });
  }

  /** Inserts with the cheapest name reference; the caller checked {@link canInsert}. */
  private insertEntry(name: string, value: string): number {
    // Checked before anything is written: a half-written instruction would
    // desynchronise the encoder stream.
    if (NOT_A_BYTE.test(name) || NOT_A_BYTE.test(value)) throw new TypeError("field names and values must be byte strings (characters up to 0xff)");
    this.sendCapacity();
    const table = this.table;
    const st = staticLookup(name);
    if (st) {
      this.emit({ type: "insertWithNameRef", isStatic: true, nameIndex: st.nameIndex, value });
    } else {
      // References on the encoder stream never block and never pin an entry
      // (section 2.1.1), so any entry with the name will do.
      const nabs = table.byName.get(name);
      if (nabs !== undefined) this.emit({ type: "insertWithNameRef", isStatic: false, nameIndex: table.insertCount - 1 - nabs, value });
      else this.emit({ type: "insertWithLiteralName", name, value });
    }
    return table.insert(name, value);
  }

  private emit(ins: EncoderInstruction): void {
    writeEncoderInstruction(this.out, ins, this.huffman);
  }
}
