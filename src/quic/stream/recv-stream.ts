/**
 * The receiving part of a stream (RFC 9000 sections 2.2, 3.2, 4.1 and 4.5):
 * out-of-order reassembly, final-size and flow-control checks, in-order
 * reads, reset, and the receive window with its MAX_STREAM_DATA updates.
 *
 * Reassembly keeps a sorted array of non-overlapping chunks above the read
 * offset. Each new frame fills only the gaps between chunks (data already
 * received is dropped, as RFC 9000 section 2.2 allows). Large frames are
 * kept as views of the packet buffer; small ones are copied (and coalesced
 * when contiguous), so that a peer cannot pin whole packet buffers with
 * one-byte frames. Memory stays below the advertised window, and the
 * number of chunks is capped (RFC 9000 section 21.7).
 */
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { ReceiveWindow } from "./flow-control.js";
import { StreamFrameType } from "./frames.js";

/** Receiving-part states (RFC 9000 section 3.2, Figure 3). */
export const RecvState = {
  /** Receiving; final size unknown. */
  Recv: "Recv",
  /** FIN received; some data still missing. */
  SizeKnown: "SizeKnown",
  /** All data up to the final size received. */
  DataRecvd: "DataRecvd",
  /** The application has read everything, FIN included. Terminal. */
  DataRead: "DataRead",
  /** RESET_STREAM received; buffered data discarded. */
  ResetRecvd: "ResetRecvd",
  /** The reset has been delivered to the application. Terminal. */
  ResetRead: "ResetRead",
} as const;
/** A {@link RecvState} value. */
export type RecvState = (typeof RecvState)[keyof typeof RecvState];

/** What {@link RecvStream.read} returns. */
export interface ReadResult {
  /** Contiguous bytes starting at the previous read position (a view; may be empty when only the FIN is delivered). */
  data: Uint8Array;
  /** True when this read reaches the end of the stream. */
  fin: boolean;
}

/** Frames below this size are copied rather than kept as views of their packet buffer. */
export const RECV_COPY_THRESHOLD = 512;
/** Capacity cap of the buffers that coalesce small contiguous frames. */
export const RECV_COALESCE_CAPACITY = 4096;
/** Minimum capacity allocated when coalescing starts. */
const RECV_COALESCE_MIN = 64;
/** Lower bound of the per-stream chunk cap; the cap grows with the window (one chunk per 1 KiB). */
export const RECV_MIN_CHUNK_LIMIT = 1024;

/**
 * Stream offsets must stay below 2^62 (RFC 9000 section 19.8). Compared with
 * `>=` because 2^62-1 is not exactly representable as a double.
 */
const OFFSET_BOUND = 2 ** 62;

interface Chunk {
  offset: number;
  data: Uint8Array;
  /** True when `data` lives in a buffer we allocated and may extend in place. */
  owned: boolean;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * The receiving part of one stream. Pure state: the {@link StreamManager}
 * ties it to connection-level flow control, control frames and events.
 * Methods that see a peer's protocol violation throw {@link QuicTransportError}.
 */
export class RecvStream {
  /** The stream ID. */
  readonly id: number;
  /** Current state (RFC 9000 section 3.2). */
  state: RecvState = RecvState.Recv;
  /** Our receive window and the MAX_STREAM_DATA we advertised. */
  readonly credit: ReceiveWindow;

  private chunks: Chunk[] = [];
  /** Cap on `chunks.length` after defragmenting (RFC 9000 section 21.7). */
  private readonly chunkLimit: number;
  /** Bytes held in `chunks`. */
  private buffered = 0;
  /** Next offset the application reads. */
  private readOffset = 0;
  /** Highest offset received (end of the furthest frame); counts toward flow control (RFC 9000 section 4.1). */
  private highest = 0;
  /** Final size once known (RFC 9000 section 4.5). */
  private finalOffset: number | undefined;
  /** Set when the application stopped reading: data is counted and discarded. */
  private stopped = false;
  /** Error code of the peer's RESET_STREAM. */
  resetErrorCode: number | undefined;
  /** Error code of our STOP_SENDING, when the application stopped reading. */
  stopErrorCode: number | undefined;

  /**
   * @param id stream ID.
   * @param initialWindow the initial MAX_STREAM_DATA we advertised for this stream.
   * @param maxWindow auto-tuning ceiling for the window.
   * @param maxFragments cap on the chunks awaiting reassembly; default one per KiB of `maxWindow`, at least {@link RECV_MIN_CHUNK_LIMIT}.
   */
  constructor(id: number, initialWindow: number, maxWindow: number, maxFragments?: number) {
    this.id = id;
    this.credit = new ReceiveWindow(initialWindow, maxWindow);
    this.chunkLimit = maxFragments ?? Math.max(RECV_MIN_CHUNK_LIMIT, Math.ceil(maxWindow / 1024));
  }

  /** Highest received offset (or the final size after a reset). */
  get highestOffset(): number {
    return this.highest;
  }

  /**
   * Offset up to which flow-control credit is consumed: the read offset, or
   * everything received once the data is discarded (reset or stopped), so
   * that discarded bytes give the connection its credit back
   * (RFC 9000 sections 3.5 and 4.5).
   */
  get consumedOffset(): number {
    return this.discarding ? this.highest : this.readOffset;
  }

  /** Bytes the application has read. */
  get readBytes(): number {
    return this.readOffset;
  }

  /** Bytes held in memory awaiting the application. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Number of chunks held (for the fragmentation limit and memory tests). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /**
   * Bytes of memory the held chunks keep alive: each distinct backing
   * buffer counted once (views pin their whole packet buffer). O(chunks);
   * for diagnostics and tests.
   */
  retainedBytes(): number {
    const seen = new Set<ArrayBufferLike>();
    let total = 0;
    for (const c of this.chunks) {
      if (seen.has(c.data.buffer)) continue;
      seen.add(c.data.buffer);
      total += c.data.buffer.byteLength;
    }
    return total;
  }

  /** Final size, when known. */
  get finalSize(): number | undefined {
    return this.finalOffset;
  }

  /** True once the application has stopped reading. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** True in a terminal state (Data Read or Reset Read). */
  get terminal(): boolean {
    return this.state === RecvState.DataRead || this.state === RecvState.ResetRead;
  }

  /** True when incoming bytes are not kept for the application. */
  private get discarding(): boolean {
    return this.stopped || this.state === RecvState.ResetRecvd || this.state === RecvState.ResetRead;
  }


  /** True when {@link read} would return something (data at the read offset, or the FIN). */
  get readable(): boolean {
    if (this.state === RecvState.DataRead || this.discarding) return false;
    if (this.chunks.length > 0 && this.chunks[0]!.offset === this.readOffset) return true;
    return this.finalOffset === this.readOffset;
  }

  /**
   * Processes a STREAM frame (RFC 9000 section 19.8). Throws
   * FINAL_SIZE_ERROR when the frame contradicts the final size
   * (RFC 9000 section 4.5) and FLOW_CONTROL_ERROR when it goes beyond the
   * advertised limit (RFC 9000 section 4.1). Data already received is
   * dropped; data in a reset or stopped stream is only accounted.
   */
  onData(offset: number, data: Uint8Array, fin: boolean, frameType: number = StreamFrameType.STREAM): void {
    const end = offset + data.length;
    if (end >= OFFSET_BOUND) {
      // RFC 9000 section 19.8: beyond 2^62-1 no credit can cover it.
      throw new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, `stream ${this.id}: offset ${end} exceeds 2^62-1`, frameType);
    }
    if (this.finalOffset !== undefined) {
      if (end > this.finalOffset || (fin && end !== this.finalOffset)) {
        throw new QuicTransportError(
          TransportErrorCode.FINAL_SIZE_ERROR,
          `stream ${this.id}: data to ${end}${fin ? " with FIN" : ""} contradicts final size ${this.finalOffset}`,
          frameType,
        );
      }
    } else if (fin && end < this.highest) {
      throw new QuicTransportError(
        TransportErrorCode.FINAL_SIZE_ERROR,
        `stream ${this.id}: final size ${end} below data already received up to ${this.highest}`,
        frameType,
      );
    }
    if (end > this.credit.limit) {
      throw new QuicTransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        `stream ${this.id}: data to ${end} exceeds MAX_STREAM_DATA ${this.credit.limit}`,
        frameType,
      );
    }
    if (end > this.highest) this.highest = end;
    if (fin && this.finalOffset === undefined) {
      this.finalOffset = end;
      if (this.state === RecvState.Recv) this.state = RecvState.SizeKnown;
    }
    if (this.discarding || this.state === RecvState.DataRecvd || this.state === RecvState.DataRead) {
      this.checkStoppedDone();
      return;
    }
    if (data.length > 0 && end > this.readOffset) {
      this.insert(offset, data);
      if (this.chunks.length > this.chunkLimit) this.defragment(frameType);
    }
    if (this.finalOffset !== undefined && this.readOffset + this.buffered === this.finalOffset) {
      // No gaps remain below the final size (RFC 9000 section 3.2, Data Recvd).
      this.state = RecvState.DataRecvd;
    }
  }

  /** When stopped, reaching Data Recvd means nothing is left to wait for. */
  private checkStoppedDone(): void {
    if (this.stopped && this.finalOffset !== undefined && this.highest === this.finalOffset && this.state === RecvState.SizeKnown) {
      this.state = RecvState.DataRead;
    }
  }

  /** Stores the parts of [offset, offset+len) not yet held, above the read offset. */
  private insert(offset: number, data: Uint8Array): void {
    if (offset < this.readOffset) {
      data = data.subarray(this.readOffset - offset);
      offset = this.readOffset;
    }
    const end = offset + data.length;
    const chunks = this.chunks;
    const n = chunks.length;
    // Fast path: in-order arrival past everything held.
    if (n === 0 || offset >= chunkEnd(chunks[n - 1]!)) {
      this.place(n, offset, data);
      return;
    }
    // First chunk ending after `offset`.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (chunkEnd(chunks[mid]!) <= offset) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let at = offset;
    while (at < end) {
      if (i < chunks.length && chunks[i]!.offset <= at) {
        at = Math.max(at, chunkEnd(chunks[i]!));
        i++;
        continue;
      }
      const gapEnd = i < chunks.length ? Math.min(end, chunks[i]!.offset) : end;
      const before = chunks.length;
      this.place(i, at, data.subarray(at - offset, gapEnd - offset));
      i += chunks.length - before; // 1 when a chunk was inserted, 0 when appended to the previous one
      at = gapEnd;
    }
  }

  /** Puts `data` (known not to overlap anything held) at index `i`, copying or coalescing small pieces. */
  private place(i: number, offset: number, data: Uint8Array): void {
    const len = data.length;
    const chunks = this.chunks;
    this.buffered += len;
    const prev = i > 0 ? chunks[i - 1]! : undefined;
    const contiguous = prev !== undefined && chunkEnd(prev) === offset;
    const keepView = len >= RECV_COPY_THRESHOLD && len * 2 >= data.buffer.byteLength;
    if (!keepView && contiguous && prev.owned) {
      const p = prev.data;
      if (p.byteOffset + p.length + len <= p.buffer.byteLength) {
        // Room left in the previous owned buffer: extend it in place.
        const grown = new Uint8Array(p.buffer, p.byteOffset, p.length + len);
        grown.set(data, p.length);
        prev.data = grown;
        return;
      }
      if (p.length + len <= RECV_COALESCE_CAPACITY) {
        // Grow geometrically so a run of tiny frames costs amortised O(1) per byte.
        const cap = Math.min(RECV_COALESCE_CAPACITY, Math.max(RECV_COALESCE_MIN, 2 * (p.length + len)));
        const grown = new Uint8Array(new ArrayBuffer(cap), 0, p.length + len);
        grown.set(p, 0);
        grown.set(data, p.length);
        prev.data = grown;
        return;
      }
    }
    const chunk: Chunk = keepView ? { offset, data, owned: false } : { offset, data: new Uint8Array(data), owned: true };
    if (i === chunks.length) chunks.push(chunk);
    else chunks.splice(i, 0, chunk);
  }

  /**
   * Bounds the reassembly structure (RFC 9000 section 21.7): merges runs of
   * contiguous small chunks into single buffers, then, if the chunks still
   * exceed the cap, the peer is leaving too many gaps and the connection
   * is closed with PROTOCOL_VIOLATION. Large chunks are never copied.
   */
  private defragment(frameType: number): void {
    const src = this.chunks;
    const out: Chunk[] = [];
    let runStart = 0;
    let runBytes = 0;
    const flush = (end: number): void => {
      if (end - runStart === 1) out.push(src[runStart]!);
      else if (end > runStart) {
        const buf = new Uint8Array(runBytes);
        let pos = 0;
        for (let k = runStart; k < end; k++) {
          buf.set(src[k]!.data, pos);
          pos += src[k]!.data.length;
        }
        out.push({ offset: src[runStart]!.offset, data: buf, owned: true });
      }
      runStart = end;
      runBytes = 0;
    };
    for (let k = 0; k < src.length; k++) {
      const c = src[k]!;
      const small = c.data.length < RECV_COPY_THRESHOLD;
      const joins = k > runStart && small && chunkEnd(src[k - 1]!) === c.offset && runBytes + c.data.length <= RECV_COALESCE_CAPACITY;
      if (!joins) flush(k);
      runBytes += c.data.length;
      if (!small) flush(k + 1); // a large chunk stands alone
    }
    flush(src.length);
    this.chunks = out;
    if (out.length > this.chunkLimit) {
      throw new QuicTransportError(
        TransportErrorCode.PROTOCOL_VIOLATION,
        `stream ${this.id}: more than ${this.chunkLimit} gaps awaiting reassembly`,
        frameType,
      );
    }
  }

  /**
   * Returns up to `max` contiguous bytes at the read position (a view of one
   * held chunk) and whether the stream ends there; null when nothing is
   * readable. The read moves Data Recvd to Data Read once the FIN is
   * delivered (RFC 9000 section 3.2).
   */
  read(max = Infinity): ReadResult | null {
    if (!this.readable) return null;
    let data: Uint8Array = EMPTY;
    const first = this.chunks[0];
    if (first !== undefined && first.offset === this.readOffset && max > 0) {
      const n = Math.min(max, first.data.length);
      if (n === first.data.length) {
        data = first.data;
        this.chunks.shift();
      } else {
        data = first.data.subarray(0, n);
        first.data = first.data.subarray(n);
        first.offset += n;
      }
      this.readOffset += n;
      this.buffered -= n;
    }
    const fin = this.finalOffset === this.readOffset;
    if (data.length === 0 && !fin) return null;
    if (fin) this.state = RecvState.DataRead;
    return { data, fin };
  }

  /**
   * Processes RESET_STREAM (RFC 9000 sections 3.2, 4.5 and 19.4): checks the
   * final size against what is known and the advertised limit, then
   * discards buffered data. Returns true when the stream moved to Reset
   * Recvd; false when it was already complete or reset (the frame is then
   * only checked). A reset arriving in Data Recvd is ignored: all data is
   * there and is delivered (RFC 9000 section 3.2 leaves this open).
   */
  onReset(errorCode: number, finalSize: number, frameType: number = StreamFrameType.RESET_STREAM): boolean {
    if (this.finalOffset !== undefined && finalSize !== this.finalOffset) {
      throw new QuicTransportError(
        TransportErrorCode.FINAL_SIZE_ERROR,
        `stream ${this.id}: RESET_STREAM final size ${finalSize} differs from ${this.finalOffset}`,
        frameType,
      );
    }
    if (finalSize < this.highest) {
      throw new QuicTransportError(
        TransportErrorCode.FINAL_SIZE_ERROR,
        `stream ${this.id}: RESET_STREAM final size ${finalSize} below data received up to ${this.highest}`,
        frameType,
      );
    }
    if (finalSize > this.credit.limit) {
      throw new QuicTransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        `stream ${this.id}: RESET_STREAM final size ${finalSize} exceeds MAX_STREAM_DATA ${this.credit.limit}`,
        frameType,
      );
    }
    this.finalOffset = finalSize;
    // The final size counts toward connection flow control (RFC 9000 section 4.5).
    this.highest = finalSize;
    if (this.state !== RecvState.Recv && this.state !== RecvState.SizeKnown) return false;
    this.state = RecvState.ResetRecvd;
    this.resetErrorCode = errorCode;
    this.discard();
    return true;
  }

  /** Marks the reset as delivered to the application (Reset Read, RFC 9000 section 3.2). */
  onResetDelivered(): void {
    if (this.state === RecvState.ResetRecvd) this.state = RecvState.ResetRead;
  }

  /**
   * The application stops reading (RFC 9000 section 3.5): buffered data is
   * discarded and later data is only counted. Returns true when a
   * STOP_SENDING frame should be sent (the stream is in Recv or Size Known).
   */
  stopReading(errorCode: number): boolean {
    if (this.stopped || this.terminal || this.state === RecvState.ResetRecvd) return false;
    this.stopped = true;
    this.stopErrorCode = errorCode;
    this.discard();
    if (this.state === RecvState.DataRecvd) {
      // Everything already arrived: nothing to ask the peer, and nothing left to read.
      this.state = RecvState.DataRead;
      return false;
    }
    this.checkStoppedDone();
    return this.state === RecvState.Recv || this.state === RecvState.SizeKnown;
  }

  /** True while a STOP_SENDING is still useful: stopped and in Recv or Size Known (RFC 9000 section 3.5). */
  get stopSendingNeeded(): boolean {
    return this.stopped && (this.state === RecvState.Recv || this.state === RecvState.SizeKnown);
  }

  private discard(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  /**
   * True when a MAX_STREAM_DATA update is due: only in Recv, since the final
   * size makes more credit useless (RFC 9000 section 3.3), and not once the
   * application stopped reading.
   */
  needsCreditUpdate(): boolean {
    return this.state === RecvState.Recv && !this.stopped && this.credit.needsUpdate(this.readOffset);
  }

  /** True while MAX_STREAM_DATA frames are still useful (Recv state, still read). */
  get wantsCredit(): boolean {
    return this.state === RecvState.Recv && !this.stopped;
  }
}

function chunkEnd(c: Chunk): number {
  return c.offset + c.data.length;
}
