/**
 * Unreliable datagrams over QUIC (RFC 9221): the send queue and the size
 * rules. DATAGRAM frames are ack-eliciting and congestion controlled but
 * never retransmitted (section 5); what does not fit, or arrives while the
 * queue is full, is dropped rather than buffered without bound.
 */
import { TsquicError } from "../util/errors.js";
import { datagramFrameSize, maxDatagramDataLength, putDatagramFrame } from "./frames/index.js";

/** Counters of a connection's DATAGRAM frames. */
export interface DatagramStats {
  /** DATAGRAM frames put in packets. */
  sent: number;
  /** DATAGRAM frames received and delivered. */
  received: number;
  /** Datagrams dropped before sending: queue full, or too large for the packet size or the peer's limit when their turn came. */
  dropped: number;
  /** Datagrams received but dropped because the application had not taken the earlier ones. */
  droppedOnReceipt: number;
  /** Packets carrying DATAGRAM frames that were declared lost (their datagrams are not sent again). */
  lost: number;
  /** Packets carrying DATAGRAM frames that were acknowledged. */
  acked: number;
}

/** Smallest short header: first byte, a packet number of up to 4 bytes, and the DCID (RFC 9000 section 17.3.1). */
const SHORT_HEADER_OVERHEAD = 1 + 4;
/** AEAD tag after every payload (RFC 9001 section 5.3). */
const AEAD_TAG = 16;

/**
 * The largest DATAGRAM payload a connection can send: within the peer's
 * max_datagram_frame_size (which counts the frame type and length, RFC 9221
 * section 3) and within one 1-RTT packet of `packetSize` bytes. -1 when the
 * peer accepts no DATAGRAM frame at all.
 */
export function maxDatagramPayload(peerMaxFrameSize: number | undefined, packetSize: number, dcidLength: number): number {
  if (!peerMaxFrameSize) return -1;
  const byPeer = maxDatagramDataLength(peerMaxFrameSize);
  const byPacket = maxDatagramDataLength(packetSize - SHORT_HEADER_OVERHEAD - dcidLength - AEAD_TAG);
  return Math.min(byPeer, byPacket);
}

/** The error `sendDatagram` throws when the peer does not accept DATAGRAM frames. */
export function datagramsUnsupportedError(): TsquicError {
  return new TsquicError("ERR_QUIC_DATAGRAM_UNSUPPORTED", "the peer does not accept DATAGRAM frames (it sent no max_datagram_frame_size, RFC 9221 section 3)");
}

/** The error `sendDatagram` throws for a datagram that can never be sent. */
export function datagramTooLargeError(size: number, max: number): TsquicError {
  return new TsquicError("ERR_QUIC_DATAGRAM_TOO_LARGE", `a datagram of ${size} bytes does not fit: at most ${max} bytes can be sent in one DATAGRAM frame on this connection (RFC 9221 section 5)`);
}

/** Datagrams waiting for a packet, oldest first, and received ones waiting for the application: at most `limit` of each. */
export class DatagramQueue {
  /** Counters. */
  readonly stats: DatagramStats = { sent: 0, received: 0, dropped: 0, droppedOnReceipt: 0, lost: 0, acked: 0 };
  private queue: Uint8Array[] = [];
  private head = 0;
  /** Received datagrams not yet taken by the application. */
  private undelivered = 0;

  constructor(private readonly limit: number) {}

  /** True while datagrams wait. */
  get pending(): boolean {
    return this.head < this.queue.length;
  }

  /** Datagrams waiting. */
  get length(): number {
    return this.queue.length - this.head;
  }

  /**
   * A datagram arrived: true when it may be queued for the application,
   * false (counted) when `limit` of them already wait. A peer cannot grow
   * our memory by sending datagrams nobody reads; dropping them is what
   * RFC 9221 section 5 allows for any datagram.
   */
  onReceived(): boolean {
    if (this.undelivered >= this.limit) {
      this.stats.droppedOnReceipt++;
      return false;
    }
    this.undelivered++;
    this.stats.received++;
    return true;
  }

  /** The application took a received datagram. */
  onDelivered(): void {
    this.undelivered--;
  }

  /** Queues `data` (kept by reference); false, and counted as dropped, when the queue is full. */
  push(data: Uint8Array): boolean {
    if (this.length >= this.limit) {
      this.stats.dropped++;
      return false;
    }
    this.queue.push(data);
    return true;
  }

  /**
   * Writes waiting datagrams into `buf[o..end)` as DATAGRAM frames with a
   * Length field, oldest first; one too large to ever go in a packet of
   * this connection (`maxPayload`, -1 when the peer accepts none) is dropped. Returns the offset after the
   * frames written (`o` when none).
   */
  writeFrames(buf: Uint8Array, o: number, end: number, maxPayload: number): number {
    const q = this.queue;
    while (this.head < q.length) {
      const d = q[this.head]!;
      if (d.length > maxPayload) {
        this.stats.dropped++;
        this.head++;
        continue;
      }
      // Wait for a packet with room rather than split: a datagram travels whole (RFC 9221 section 5).
      if (datagramFrameSize(d.length) > end - o) break;
      o = putDatagramFrame(buf, o, d);
      this.stats.sent++;
      this.head++;
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    return o;
  }
}
