/**
 * The sending part of a stream (RFC 9000 sections 2.2, 3.1 and 4).
 *
 * Application data is queued as the caller's Uint8Array chunks, never copied
 * on write and never concatenated: a STREAM frame's payload is a view into
 * one chunk, and only a frame that spans chunk boundaries gets a fresh
 * buffer, bounded by the packet size. Bytes are released as soon as they and
 * everything before them are acknowledged.
 */
import { RangeSet } from "../../util/range-set.js";
import { TsquicError } from "../../util/errors.js";

/** Sending-part states (RFC 9000 section 3.1, Figure 2). */
export const SendState = {
  /** Created; nothing sent yet. */
  Ready: "Ready",
  /** At least one STREAM or STREAM_DATA_BLOCKED frame sent. */
  Send: "Send",
  /** FIN sent; waiting for acknowledgements. */
  DataSent: "DataSent",
  /** Everything, FIN included, acknowledged. Terminal. */
  DataRecvd: "DataRecvd",
  /** RESET_STREAM sent. */
  ResetSent: "ResetSent",
  /** RESET_STREAM acknowledged. Terminal. */
  ResetRecvd: "ResetRecvd",
} as const;
/** A {@link SendState} value. */
export type SendState = (typeof SendState)[keyof typeof SendState];

/** One STREAM frame's worth of data chosen by {@link SendStream.nextChunk}. */
export interface SendChunk {
  /** Stream offset of the first byte. */
  offset: number;
  /** The bytes: a view into the queued chunk when it lies within one chunk. */
  data: Uint8Array;
  /** True when this frame carries the FIN bit. */
  fin: boolean;
}

/** Raised when the application misuses a stream (write after finish or reset, ...). */
export class StreamUsageError extends TsquicError {
  /** The stream concerned. */
  readonly streamId: number;
  constructor(streamId: number, message: string) {
    super("ERR_QUIC_STREAM_STATE", `stream ${streamId}: ${message}`);
    this.streamId = streamId;
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * The sending part of one stream. Pure state: the {@link StreamManager} ties
 * it to connection-level credit, packet building and events.
 */
export class SendStream {
  /** The stream ID. */
  readonly id: number;
  /** Current state (RFC 9000 section 3.1). */
  state: SendState = SendState.Ready;
  /** Buffered bytes at or above which {@link write} reports backpressure. */
  readonly highWaterMark: number;
  /** Peer's MAX_STREAM_DATA for this stream (RFC 9000 section 4.1). */
  maxStreamData: number;

  /** Queued chunks, in order; `chunkOffsets[i]` is the stream offset of `chunks[i]`. */
  private chunks: Uint8Array[] = [];
  private chunkOffsets: number[] = [];
  /** Index of the first live chunk (consumed chunks are dropped lazily to keep removal O(1)). */
  private head = 0;
  /** Everything below this offset is acknowledged and released. */
  private ackedBase = 0;
  /** End of the data written by the application. */
  private writeOffset = 0;
  /** Next offset never sent before; also the highest offset sent (RFC 9000 section 4.5). */
  private cursor = 0;
  /** Acknowledged ranges (from 0; merges into one range in the common case). */
  private readonly acked = new RangeSet();
  /** Sent ranges declared lost and not acknowledged since; sent before new data. */
  private readonly lost = new RangeSet();
  /** Stream length once the application has finished; undefined before. */
  private finalOffset: number | undefined;
  private finSent = false;
  private finAcked = false;
  private finLost = false;
  /** MAX_STREAM_DATA at which STREAM_DATA_BLOCKED was last sent, -1 when never (RFC 9000 section 19.13). */
  private blockedReportedAt = -1;
  /** Error code of the RESET_STREAM we sent. */
  resetErrorCode: number | undefined;
  /** Final size carried by our RESET_STREAM: bytes sent so far (RFC 9000 section 4.5). */
  resetFinalSize: number | undefined;
  /** Set by {@link write} returning false; cleared by {@link takeWritable}. */
  private writeBlocked = false;

  /**
   * @param id stream ID.
   * @param maxStreamData the peer's initial limit for this stream.
   * @param highWaterMark buffered-byte count at which writes report backpressure.
   */
  constructor(id: number, maxStreamData: number, highWaterMark: number) {
    this.id = id;
    this.maxStreamData = maxStreamData;
    this.highWaterMark = highWaterMark;
  }

  /** Bytes held in memory: written and not yet released by acknowledgement. */
  get bufferedBytes(): number {
    return this.writeOffset - this.ackedBase;
  }

  /** Total bytes the application has written. */
  get writtenBytes(): number {
    return this.writeOffset;
  }

  /** Highest offset sent so far (new data is sent in order, so this is the send cursor). */
  get sentOffset(): number {
    return this.cursor;
  }

  /** Offset below which everything is acknowledged. */
  get ackedOffset(): number {
    return this.ackedBase;
  }

  /** True once the application called finish (or wrote with `fin`). */
  get finished(): boolean {
    return this.finalOffset !== undefined;
  }

  /** True while the application may still write. */
  get writable(): boolean {
    return this.finalOffset === undefined && (this.state === SendState.Ready || this.state === SendState.Send);
  }

  /** True in a state where STREAM frames may still go out (RFC 9000 section 3.3). */
  private get sending(): boolean {
    return this.state === SendState.Ready || this.state === SendState.Send || this.state === SendState.DataSent;
  }

  /** True in a terminal state (Data Recvd or Reset Recvd). */
  get terminal(): boolean {
    return this.state === SendState.DataRecvd || this.state === SendState.ResetRecvd;
  }

  /**
   * Queues `data` (kept by reference: the caller must not modify it
   * afterwards) and, with `fin`, ends the stream. Returns false when the
   * buffered bytes reach the high-water mark: the caller should wait for the
   * writable signal ({@link takeWritable}) before writing more.
   */
  write(data: Uint8Array, fin = false): boolean {
    if (!this.writable) {
      throw new StreamUsageError(this.id, this.finalOffset !== undefined ? "write after finish" : `write in state ${this.state}`);
    }
    if (data.length > 0) {
      this.chunks.push(data);
      this.chunkOffsets.push(this.writeOffset);
      this.writeOffset += data.length;
    }
    if (fin) this.finalOffset = this.writeOffset;
    const below = this.bufferedBytes < this.highWaterMark;
    if (!below && !fin) this.writeBlocked = true;
    return below;
  }

  /** Ends the stream after the data written so far (the FIN bit, RFC 9000 section 19.8). */
  finish(): void {
    this.write(EMPTY, true);
  }

  /**
   * Returns true once when a write was refused by backpressure and the
   * buffered bytes have since dropped to half the high-water mark or less.
   */
  takeWritable(): boolean {
    if (!this.writeBlocked || !this.writable) return false;
    if (this.bufferedBytes > this.highWaterMark / 2) return false;
    this.writeBlocked = false;
    return true;
  }

  /** True when a write was refused by backpressure and no writable signal was given since. */
  get waitingForWritable(): boolean {
    return this.writeBlocked && this.writable;
  }

  /** Applies the peer's MAX_STREAM_DATA; smaller values are ignored (RFC 9000 section 19.10). Returns true when the limit rose. */
  setMaxStreamData(maximum: number): boolean {
    if (maximum <= this.maxStreamData) return false;
    this.maxStreamData = maximum;
    return true;
  }

  /** True when lost data or a lost or unsent FIN waits: work that needs no flow-control credit. */
  get hasRetransmit(): boolean {
    if (!this.sending) return false;
    return !this.lost.empty || this.finLost || this.finOnlyDue;
  }

  /** FIN not yet sent and every byte before it sent: the next frame is an empty FIN frame. */
  private get finOnlyDue(): boolean {
    return this.finalOffset !== undefined && !this.finSent && this.cursor === this.finalOffset;
  }

  /** Bytes written but never sent. */
  get unsentBytes(): number {
    return this.sending ? this.writeOffset - this.cursor : 0;
  }

  /** True when never-sent data waits and the stream limit allows some of it. */
  get hasNewData(): boolean {
    return this.unsentBytes > 0 && this.cursor < this.maxStreamData;
  }

  /**
   * The limit to carry in a STREAM_DATA_BLOCKED frame when unsent data is
   * held back by the peer's MAX_STREAM_DATA and no frame was sent for that
   * limit yet (RFC 9000 section 19.13); undefined otherwise.
   */
  get blockedLimit(): number | undefined {
    if (this.state !== SendState.Ready && this.state !== SendState.Send) return undefined;
    if (this.unsentBytes === 0 || this.cursor < this.maxStreamData) return undefined;
    return this.blockedReportedAt === this.maxStreamData ? undefined : this.maxStreamData;
  }

  /** True while the stream is still held back at `limit` (to resend a lost STREAM_DATA_BLOCKED). */
  isBlockedAt(limit: number): boolean {
    return (this.state === SendState.Ready || this.state === SendState.Send) && this.unsentBytes > 0 && this.maxStreamData === limit && this.cursor >= limit;
  }

  /** Records that STREAM_DATA_BLOCKED was sent for `limit` (Ready moves to Send, RFC 9000 section 3.1). */
  onBlockedSent(limit: number): void {
    this.blockedReportedAt = limit;
    if (this.state === SendState.Ready) this.state = SendState.Send;
  }

  /** Stream offset of the frame {@link nextChunk} would produce next (for sizing the frame header). */
  peekOffset(): number {
    return this.lost.empty ? (this.finLost && this.finalOffset !== undefined ? this.finalOffset : this.cursor) : this.lost.start(0);
  }

  /**
   * Chooses the next STREAM frame's data: lost ranges first (they need no
   * new credit), then a lost FIN, then new data limited by `maxBytes`, the
   * peer's MAX_STREAM_DATA and `connectionCredit` (RFC 9000 section 4.1).
   * Returns null when nothing can be sent. New data is sent in order, so
   * the caller charges `sentOffset` growth to the connection.
   */
  nextChunk(maxBytes: number, connectionCredit: number): SendChunk | null {
    if (!this.sending) return null;
    maxBytes = Math.max(0, Math.floor(maxBytes));
    if (!this.lost.empty) {
      if (maxBytes === 0) return null;
      const start = this.lost.start(0);
      const end = Math.min(this.lost.end(0), start + maxBytes);
      this.lost.remove(start, end);
      let fin = false;
      if (this.finLost && end === this.finalOffset) {
        fin = true;
        this.finLost = false;
      }
      return { offset: start, data: this.slice(start, end), fin };
    }
    if (this.finLost && this.finalOffset !== undefined) {
      this.finLost = false;
      return { offset: this.finalOffset, data: EMPTY, fin: true };
    }
    const n = Math.min(maxBytes, this.writeOffset - this.cursor, this.maxStreamData - this.cursor, Math.max(0, connectionCredit));
    if (n > 0) {
      const start = this.cursor;
      this.cursor += n;
      const fin = this.cursor === this.finalOffset;
      this.markSent(fin);
      return { offset: start, data: this.slice(start, this.cursor), fin };
    }
    if (this.finOnlyDue) {
      this.markSent(true);
      return { offset: this.cursor, data: EMPTY, fin: true };
    }
    return null;
  }

  /** State changes for a frame of new data (RFC 9000 section 3.1). */
  private markSent(fin: boolean): void {
    if (this.state === SendState.Ready) this.state = SendState.Send;
    if (fin) {
      this.finSent = true;
      this.state = SendState.DataSent;
    }
  }

  /** Bytes [start, end): a view when one chunk holds them, else a copy (at most one frame's worth). */
  private slice(start: number, end: number): Uint8Array {
    let i = this.findChunk(start);
    const first = this.chunks[i]!;
    const firstOff = this.chunkOffsets[i]!;
    if (end <= firstOff + first.length) return first.subarray(start - firstOff, end - firstOff);
    const out = new Uint8Array(end - start);
    let pos = 0;
    let at = start;
    while (at < end) {
      const c = this.chunks[i]!;
      const off = this.chunkOffsets[i]!;
      const from = at - off;
      const to = Math.min(c.length, end - off);
      out.set(c.subarray(from, to), pos);
      pos += to - from;
      at += to - from;
      i++;
    }
    return out;
  }

  /** Index of the chunk holding `offset` (binary search over the live chunks). */
  private findChunk(offset: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.chunkOffsets[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Records the acknowledgement of a STREAM frame (RFC 9000 section 13.2).
   * Releases every chunk below the first unacknowledged byte; the sending
   * part reaches Data Recvd once all data and the FIN are acknowledged.
   * Returns the number of bytes released from memory.
   */
  onAcked(offset: number, length: number, fin: boolean): number {
    if (!this.sending) return 0;
    const before = this.bufferedBytes;
    const end = offset + length;
    if (length > 0) {
      this.acked.add(offset, end);
      this.lost.remove(offset, end);
    }
    if (fin) {
      this.finAcked = true;
      this.finLost = false;
    }
    const base = this.acked.size > 0 && this.acked.start(0) === 0 ? this.acked.end(0) : 0;
    if (base > this.ackedBase) this.release(base);
    if (this.finAcked && this.finalOffset !== undefined && this.ackedBase >= this.finalOffset) {
      this.state = SendState.DataRecvd;
      this.dropAll();
    }
    return before - this.bufferedBytes;
  }

  /** Drops chunks wholly below `base` and trims the first remaining one. */
  private release(base: number): void {
    this.ackedBase = base;
    const n = this.chunks.length;
    while (this.head < n && this.chunkOffsets[this.head]! + this.chunks[this.head]!.length <= base) {
      this.chunks[this.head] = EMPTY; // drop the reference now so the bytes can be collected
      this.head++;
    }
    if (this.head < n && this.chunkOffsets[this.head]! < base) {
      const cut = base - this.chunkOffsets[this.head]!;
      this.chunks[this.head] = this.chunks[this.head]!.subarray(cut);
      this.chunkOffsets[this.head] = base;
    }
    // Compact once the dead prefix dominates, keeping removal amortised O(1).
    if (this.head > 32 && this.head * 2 >= n) {
      this.chunks.splice(0, this.head);
      this.chunkOffsets.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Releases all buffered data (after Data Recvd or a reset). */
  private dropAll(): void {
    this.chunks = [];
    this.chunkOffsets = [];
    this.head = 0;
    this.ackedBase = this.writeOffset;
    this.lost.clear();
    this.acked.clear();
  }

  /**
   * Records the loss of a STREAM frame: its bytes not acknowledged since go
   * back in the queue ahead of new data, and a lost FIN is sent again
   * (RFC 9000 section 13.3). Ignored once the stream is reset or complete.
   */
  onLost(offset: number, length: number, fin: boolean): void {
    if (!this.sending) return;
    const end = offset + length;
    const start = Math.max(offset, this.ackedBase);
    if (start < end) {
      this.lost.add(start, end);
      // Bytes acknowledged by another copy need no retransmission.
      for (let i = 0; i < this.acked.size; i++) {
        const s = this.acked.start(i);
        if (s >= end) break;
        const e = this.acked.end(i);
        if (e > start) this.lost.remove(Math.max(s, start), Math.min(e, end));
      }
    }
    if (fin && !this.finAcked) this.finLost = true;
  }

  /**
   * Abandons the stream (RFC 9000 section 3.1, Reset Sent): discards all
   * buffered data and fixes the final size at the bytes sent so far
   * (RFC 9000 section 4.5). Returns false when the stream is already
   * reset or fully acknowledged, in which case nothing changes.
   */
  reset(errorCode: number): boolean {
    if (!this.sending) return false;
    this.state = SendState.ResetSent;
    this.resetErrorCode = errorCode;
    this.resetFinalSize = this.cursor;
    this.writeBlocked = false;
    this.dropAll();
    return true;
  }

  /** Records the acknowledgement of our RESET_STREAM (Reset Recvd, RFC 9000 section 3.1). */
  onResetAcked(): void {
    if (this.state === SendState.ResetSent) this.state = SendState.ResetRecvd;
  }

  /** The RESET_STREAM frame to (re)send while in Reset Sent, else undefined. */
  get resetFrame(): { errorCode: number; finalSize: number } | undefined {
    if (this.state !== SendState.ResetSent) return undefined;
    return { errorCode: this.resetErrorCode!, finalSize: this.resetFinalSize! };
  }
}
