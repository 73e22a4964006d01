import { RangeSet } from "../util/range-set.js";
import { QuicTransportError, TransportErrorCode } from "./errors.js";

/**
 * How far ahead of the contiguous prefix CRYPTO data may arrive before the
 * connection gives up with CRYPTO_BUFFER_EXCEEDED (RFC 9000 section 7.5
 * requires at least 4096 bytes; certificate chains make more useful).
 */
export const CRYPTO_REORDER_LIMIT = 256 * 1024;

/**
 * Most out-of-order CRYPTO fragments held per encryption level. A peer
 * sending many tiny frames with gaps would otherwise fill the reorder
 * window with per-fragment overhead (RFC 9000 sections 7.5 and 21.7); real
 * flights arrive in a few packet-sized pieces.
 */
export const CRYPTO_MAX_FRAGMENTS = 256;

/**
 * Reassembles the CRYPTO stream of one encryption level (RFC 9000 section
 * 19.6): frames may arrive out of order, overlap and repeat; the TLS engine
 * receives the bytes strictly in order, once.
 */
export class CryptoReceiver {
  /** Next offset the TLS engine expects. */
  private delivered = 0;
  private readonly received = new RangeSet();
  private readonly pending = new Map<number, Uint8Array>();
  private pendingBytes = 0;

  /**
   * Accepts one CRYPTO frame and returns the bytes now deliverable in order
   * (possibly none). `data` may be a view into a packet buffer: anything
   * held back is copied.
   */
  onData(offset: number, data: Uint8Array): Uint8Array[] {
    const end = offset + data.length;
    if (end <= this.delivered) return [];
    if (end - this.delivered > CRYPTO_REORDER_LIMIT) {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, `CRYPTO data ${end - this.delivered} bytes ahead of the handshake`, 0x06);
    }
    if (offset <= this.delivered) {
      const out = [data.subarray(this.delivered - offset)];
      this.delivered = end;
      this.received.add(0, end);
      this.drain(out);
      return out;
    }
    if (this.received.covers(offset, end)) return [];
    // A longer frame at an offset already held replaces the shorter copy.
    const held = this.pending.get(offset);
    if (!held && this.pending.size >= CRYPTO_MAX_FRAGMENTS) {
      throw new QuicTransportError(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, `more than ${CRYPTO_MAX_FRAGMENTS} CRYPTO fragments awaiting reassembly`, 0x06);
    }
    this.received.add(offset, end);
    if (held) this.pendingBytes -= held.length;
    this.pending.set(offset, new Uint8Array(data));
    this.pendingBytes += data.length;
    return [];
  }

  /** Moves held-back chunks that now continue the delivered prefix into `out`. */
  private drain(out: Uint8Array[]): void {
    let progress = true;
    while (progress && this.pending.size > 0) {
      progress = false;
      for (const [off, chunk] of this.pending) {
        const end = off + chunk.length;
        if (off > this.delivered) continue;
        this.pending.delete(off);
        this.pendingBytes -= chunk.length;
        if (end > this.delivered) {
          out.push(chunk.subarray(this.delivered - off));
          this.delivered = end;
        }
        progress = true;
      }
    }
  }

  /** True when [offset, offset+length) was all delivered already: the peer is repeating itself. */
  isRepeat(offset: number, length: number): boolean {
    return offset + length <= this.delivered;
  }

  /** Bytes held out of order. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Fragments held out of order. */
  get fragments(): number {
    return this.pending.size;
  }
}

/**
 * The sending side of one level's CRYPTO stream: handshake bytes from the
 * TLS engine, sent once, re-sent when the packets carrying them are lost
 * or when a probe needs data (RFC 9002 section 6.2.4), freed when acknowledged.
 */
export class CryptoSender {
  private chunks: Array<{ offset: number; data: Uint8Array }> = [];
  private length = 0;
  /** Offset up to which data has been sent at least once. */
  private sentOffset = 0;
  /** Ranges that must be sent again, ahead of new data. */
  private readonly retransmit = new RangeSet();
  private readonly acked = new RangeSet();

  /** Appends handshake bytes. */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push({ offset: this.length, data });
    this.length += data.length;
  }

  /** True when there is data to send (new or lost). */
  get hasData(): boolean {
    return !this.retransmit.empty || this.sentOffset < this.length;
  }

  /** True when everything written has been acknowledged. */
  get allAcked(): boolean {
    return this.acked.covers(0, this.length);
  }

  /**
   * The next range to send, at most `max` bytes: lost data first, then new
   * data. Returns null when there is nothing to send.
   */
  next(max: number): { offset: number; data: Uint8Array } | null {
    if (max <= 0) return null;
    let start: number;
    let end: number;
    if (!this.retransmit.empty) {
      start = this.retransmit.start(0);
      end = Math.min(this.retransmit.end(0), start + max);
      this.retransmit.remove(start, end);
    } else if (this.sentOffset < this.length) {
      start = this.sentOffset;
      end = Math.min(this.length, start + max);
      this.sentOffset = end;
    } else {
      return null;
    }
    return { offset: start, data: this.slice(start, end) };
  }

  private slice(start: number, end: number): Uint8Array {
    // Usually one chunk holds the whole range; handshake flights are small.
    for (const c of this.chunks) {
      if (c.offset <= start && c.offset + c.data.length >= end) return c.data.subarray(start - c.offset, end - c.offset);
    }
    const out = new Uint8Array(end - start);
    for (const c of this.chunks) {
      const s = Math.max(start, c.offset);
      const e = Math.min(end, c.offset + c.data.length);
      if (s < e) out.set(c.data.subarray(s - c.offset, e - c.offset), s - start);
    }
    return out;
  }

  /** The range [offset, offset+length) was acknowledged. */
  onAcked(offset: number, length: number): void {
    this.acked.add(offset, offset + length);
    this.retransmit.remove(offset, offset + length);
    // Free chunks wholly acknowledged.
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      if (!this.acked.covers(c.offset, c.offset + c.data.length)) break;
      this.chunks.shift();
    }
  }

  /** The range was lost: send it again unless acknowledged meanwhile. */
  onLost(offset: number, length: number): void {
    const end = offset + length;
    // Only the gaps between acknowledged ranges need sending, found range by range rather than byte by byte.
    let s = offset;
    const acked = this.acked;
    for (let i = 0; i < acked.size && s < end; i++) {
      const a = acked.start(i);
      const b = acked.end(i);
      if (b <= s) continue;
      if (a >= end) break;
      if (a > s) this.retransmit.add(s, a);
      s = Math.max(s, b);
    }
    if (s < end) this.retransmit.add(s, end);
  }

  /** Queues every unacknowledged byte sent so far for sending again (a probe, RFC 9002 section 6.2.4). */
  requeueUnacked(): void {
    if (this.sentOffset === 0) return;
    this.onLost(0, this.sentOffset);
  }
}
