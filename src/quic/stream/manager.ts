/**
 * The stream layer of one connection (RFC 9000 sections 2, 3, 4 and
 * 19.4-19.14): the stream map and stream-ID rules, stream and connection
 * flow control, the frames that affect streams, the choice of stream data
 * and control frames for outgoing packets, and the events the API layer
 * drains.
 *
 * Sans-IO: no timers and no clock. The connection calls the `on*` frame
 * handlers (which throw {@link QuicTransportError} for a peer's protocol
 * violation, to be turned into CONNECTION_CLOSE), pulls frames with
 * {@link StreamManager.nextControlFrame} and
 * {@link StreamManager.nextStreamFrame} while filling a packet, and reports
 * each frame's fate with the `on*Acked` / `on*Lost` methods.
 */
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { TsquicError } from "../../util/errors.js";
import { varintLength } from "../varint.js";
import { CONNECTION_WINDOW_FACTOR, ConnectionFlowControl } from "./flow-control.js";
import { controlFrameSize, StreamFrameType, streamFrameOverhead, type StreamControlFrame } from "./frames.js";
import { RecvStream, type ReadResult } from "./recv-stream.js";
import { SendState, SendStream, StreamUsageError } from "./send-stream.js";
import { isBidirectional, isLocallyInitiated, makeStreamId, MAX_STREAMS_LIMIT, streamIndex } from "./stream-id.js";

/**
 * Stream-related transport parameters (RFC 9000 section 18.2). Used both
 * for our own limits (what we let the peer do) and for the peer's.
 */
export interface StreamLimits {
  /** initial_max_data: connection-level limit. */
  initialMaxData: number;
  /** initial_max_stream_data_bidi_local: limit on bidirectional streams opened by the sender of the parameter. */
  initialMaxStreamDataBidiLocal: number;
  /** initial_max_stream_data_bidi_remote: limit on bidirectional streams opened by the receiver of the parameter. */
  initialMaxStreamDataBidiRemote: number;
  /** initial_max_stream_data_uni: limit on unidirectional streams opened by the receiver of the parameter. */
  initialMaxStreamDataUni: number;
  /** initial_max_streams_bidi: bidirectional streams the receiver of the parameter may open. */
  initialMaxStreamsBidi: number;
  /** initial_max_streams_uni: unidirectional streams the receiver of the parameter may open. */
  initialMaxStreamsUni: number;
}

/** Configuration of a {@link StreamManager}. */
export interface StreamManagerOptions {
  /** Our role: decides the stream-ID bit 0x1 of the streams we open (RFC 9000 section 2.1). */
  isClient: boolean;
  /** Our transport parameters: what the peer may send and open. */
  local: StreamLimits;
  /** Auto-tuning ceiling of a stream's receive window. Default 16 MiB. */
  maxStreamWindow?: number;
  /** Auto-tuning ceiling of the connection's receive window. Default 24 MiB. */
  maxConnectionWindow?: number;
  /** Per-stream send buffer high-water mark (backpressure). Default 1 MiB. */
  streamHighWaterMark?: number;
  /**
   * Hard cap on the bytes buffered for sending over all streams; a write
   * beyond it throws. Writes report backpressure from half of it. Default 32 MiB.
   */
  maxSendBuffer?: number;
  /** Cap on the fragments awaiting reassembly per stream (see {@link RecvStream}); default derived from the window. */
  maxRecvFragments?: number;
}

/** Defaults of {@link StreamManagerOptions}. */
export const STREAM_DEFAULTS = {
  maxStreamWindow: 16 * 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
  streamHighWaterMark: 1024 * 1024,
  maxSendBuffer: 32 * 1024 * 1024,
} as const;

/** Events for the API layer, queued and drained with {@link StreamManager.pollEvent}. */
export type StreamEvent =
  /** The peer opened a stream (explicitly or implicitly, RFC 9000 section 3.2). */
  | { type: "opened"; streamId: number; bidi: boolean }
  /** Data (or the FIN) can be read. Signalled again only after the next read. */
  | { type: "readable"; streamId: number }
  /** A write that reported backpressure may be followed by more writes. */
  | { type: "writable"; streamId: number }
  /** Everything we sent, FIN included, was acknowledged (Data Recvd). */
  | { type: "finished"; streamId: number }
  /** The peer reset its sending part (RESET_STREAM); unread data was discarded. */
  | { type: "reset"; streamId: number; errorCode: number; finalSize: number }
  /** The peer asked us to stop sending (STOP_SENDING); we reset the stream with its code. */
  | { type: "stop_sending"; streamId: number; errorCode: number }
  /** Both parts reached a terminal state; the stream left the map. */
  | { type: "closed"; streamId: number }
  /** The peer raised MAX_STREAMS after {@link StreamManager.openStream} had failed. */
  | { type: "streams_available"; bidi: boolean };

/**
 * A STREAM frame chosen by {@link StreamManager.nextStreamFrame}; the same
 * shape as the frame codec's `stream` frame.
 */
export interface StreamFrameData {
  type: "stream";
  streamId: number;
  offset: number;
  /** A view into the send buffer where possible; do not modify. */
  data: Uint8Array;
  fin: boolean;
}

/** Raised by {@link StreamManager.write} when the connection's send buffer cap would be exceeded. */
export class SendBufferFullError extends TsquicError {
  constructor(buffered: number, adding: number, cap: number) {
    super("ERR_QUIC_SEND_BUFFER_FULL", `send buffer full: ${buffered} + ${adding} bytes exceeds ${cap}`);
  }
}

// Per-stream pending control frames (bit flags on Stream.pending).
const CTL_RESET = 1;
const CTL_STOP = 2;
const CTL_MAX_STREAM_DATA = 4;
const CTL_BLOCKED = 8;

/** Index of per-direction arrays: 0 bidirectional, 1 unidirectional. */
function dirOf(bidi: boolean): 0 | 1 {
  return bidi ? 0 : 1;
}

/**
 * One stream of the connection: its sending part, receiving part, or both
 * (RFC 9000 section 2.1). Application operations go through the manager
 * so that connection-level accounting stays right.
 */
export class Stream {
  /** The stream ID. */
  readonly id: number;
  /** True for a bidirectional stream. */
  readonly bidi: boolean;
  /** True when we opened the stream. */
  readonly local: boolean;
  /** The sending part; absent on a peer's unidirectional stream. */
  readonly send: SendStream | undefined;
  /** The receiving part; absent on our unidirectional stream. */
  readonly recv: RecvStream | undefined;
  /** @internal pending control frames, CTL_* bits. */
  pending = 0;
  /** @internal a readable event was queued and no read happened since. */
  readableNotified = false;
  private readonly manager: StreamManager;

  /** @internal created by the manager only. */
  constructor(manager: StreamManager, id: number, local: boolean, send: SendStream | undefined, recv: RecvStream | undefined) {
    this.manager = manager;
    this.id = id;
    this.bidi = isBidirectional(id);
    this.local = local;
    this.send = send;
    this.recv = recv;
  }

  /** Queues data; see {@link StreamManager.write}. */
  write(data: Uint8Array, fin = false): boolean {
    return this.manager.write(this, data, fin);
  }

  /** Ends the sending part after the data written so far. */
  finish(): void {
    this.manager.write(this, new Uint8Array(0), true);
  }

  /** Reads in-order data; see {@link StreamManager.read}. */
  read(max?: number): ReadResult | null {
    return this.manager.read(this, max);
  }

  /** Abandons the sending part with RESET_STREAM; see {@link StreamManager.resetStream}. */
  reset(errorCode: number): void {
    this.manager.resetStream(this, errorCode);
  }

  /** Stops reading and asks the peer to stop with STOP_SENDING; see {@link StreamManager.stopSending}. */
  stopSending(errorCode: number): void {
    this.manager.stopSending(this, errorCode);
  }
}

/**
 * All streams of one connection and the connection-level flow control.
 * See the module comment for how the connection drives it.
 */
export class StreamManager {
  /** Our role. */
  readonly isClient: boolean;
  /** Connection-level flow control (RFC 9000 section 4.1). */
  readonly conn: ConnectionFlowControl;

  private readonly local: StreamLimits;
  private peer: StreamLimits = {
    initialMaxData: 0,
    initialMaxStreamDataBidiLocal: 0,
    initialMaxStreamDataBidiRemote: 0,
    initialMaxStreamDataUni: 0,
    initialMaxStreamsBidi: 0,
    initialMaxStreamsUni: 0,
  };
  private readonly maxStreamWindow: number;
  private readonly streamHighWaterMark: number;
  private readonly maxSendBuffer: number;
  private readonly maxRecvFragments: number | undefined;

  private readonly streams = new Map<number, Stream>();
  /** Streams that can send now, in round-robin order (Set keeps insertion order). */
  private readonly sendQueue = new Set<Stream>();
  /** Streams whose only work is new data held back by the peer's MAX_DATA. */
  private readonly connBlocked = new Set<Stream>();
  /** Streams with pending control frames (Stream.pending != 0). */
  private readonly controlQueue = new Set<Stream>();
  /** Streams whose last write reported backpressure. */
  private readonly writeWaiters = new Set<Stream>();
  /** Set when a write was refused by the connection-wide limit: the next drop below it wakes every waiter. */
  private connWriteBlocked = false;

  private events: StreamEvent[] = [];
  private eventHead = 0;

  // Streams we open, per direction [bidi, uni].
  private readonly localOpened = [0, 0];
  /** Peer's MAX_STREAMS for us (RFC 9000 section 4.6). */
  private readonly localMax = [0, 0];
  /** An openStream failed since the last increase of the peer's MAX_STREAMS. */
  private readonly localWanted = [false, false];
  private readonly streamsBlockedPending = [false, false];
  /** MAX_STREAMS value at which STREAMS_BLOCKED was last sent, -1 when never. */
  private readonly streamsBlockedAt = [-1, -1];

  // Streams the peer opens, per direction.
  private readonly remoteOpened = [0, 0];
  /** MAX_STREAMS we advertised. */
  private readonly remoteMax: number[];
  private readonly remoteInitial: number[];
  private readonly remoteClosed = [0, 0];
  private readonly maxStreamsPending = [false, false];

  private maxDataPending = false;
  private dataBlockedPending = false;

  private sendBuffered = 0;
  private recvBuffered = 0;

  /** Creates the stream layer for one connection. */
  constructor(options: StreamManagerOptions) {
    this.isClient = options.isClient;
    this.local = { ...options.local };
    this.maxStreamWindow = options.maxStreamWindow ?? STREAM_DEFAULTS.maxStreamWindow;
    this.streamHighWaterMark = options.streamHighWaterMark ?? STREAM_DEFAULTS.streamHighWaterMark;
    this.maxSendBuffer = options.maxSendBuffer ?? STREAM_DEFAULTS.maxSendBuffer;
    this.maxRecvFragments = options.maxRecvFragments;
    this.conn = new ConnectionFlowControl(this.local.initialMaxData, options.maxConnectionWindow ?? STREAM_DEFAULTS.maxConnectionWindow);
    this.remoteMax = [this.local.initialMaxStreamsBidi, this.local.initialMaxStreamsUni];
    this.remoteInitial = [this.local.initialMaxStreamsBidi, this.local.initialMaxStreamsUni];
  }

  // ---------------------------------------------------------------- queries

  /** The open stream with this ID, if any. */
  getStream(id: number): Stream | undefined {
    return this.streams.get(id);
  }

  /** Number of streams in the map (open in at least one direction). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes buffered for sending over all streams (unacknowledged or unsent). */
  get sendBufferedBytes(): number {
    return this.sendBuffered;
  }

  /** Bytes received and not yet read over all streams. */
  get recvBufferedBytes(): number {
    return this.recvBuffered;
  }

  /** Most fragments any one stream holds awaiting reassembly. O(streams); for limits tests and diagnostics. */
  maxRecvFragmentCount(): number {
    let most = 0;
    for (const s of this.streams.values()) if (s.recv && s.recv.chunkCount > most) most = s.recv.chunkCount;
    return most;
  }

  /** Control frames waiting to be sent: MAX_DATA, DATA_BLOCKED, MAX_STREAMS and STREAMS_BLOCKED flags plus streams with pending frames. */
  get queuedControlFrames(): number {
    let n = this.controlQueue.size;
    for (const flag of [this.maxDataPending, this.dataBlockedPending, ...this.maxStreamsPending, ...this.streamsBlockedPending]) if (flag) n++;
    return n;
  }

  /** Streams of the given direction we may still open under the peer's MAX_STREAMS. */
  availableStreams(bidi: boolean): number {
    const d = dirOf(bidi);
    return Math.max(0, this.localMax[d]! - this.localOpened[d]!);
  }

  /** True when some stream has data or a FIN it can send now. */
  hasStreamData(): boolean {
    return this.sendQueue.size > 0;
  }

  /** True when control frames may be pending (they are re-checked when polled). */
  hasPendingControl(): boolean {
    return (
      this.maxDataPending ||
      this.dataBlockedPending ||
      this.maxStreamsPending[0]! ||
      this.maxStreamsPending[1]! ||
      this.streamsBlockedPending[0]! ||
      this.streamsBlockedPending[1]! ||
      this.controlQueue.size > 0
    );
  }

  /** Next queued event, or undefined when the queue is empty. */
  pollEvent(): StreamEvent | undefined {
    if (this.eventHead >= this.events.length) return undefined;
    const e = this.events[this.eventHead++]!;
    if (this.eventHead === this.events.length) {
      this.events = [];
      this.eventHead = 0;
    }
    return e;
  }

  private emit(e: StreamEvent): void {
    this.events.push(e);
  }

  // ------------------------------------------------------- peer parameters

  /**
   * Applies the peer's transport parameters (RFC 9000 section 18.2), or
   * remembered ones for 0-RTT (section 7.4.1). Limits only ever grow.
   */
  setPeerLimits(p: StreamLimits): void {
    // RFC 9000 section 4.6: a count above 2^60 would allow unencodable stream IDs.
    if (p.initialMaxStreamsBidi > MAX_STREAMS_LIMIT || p.initialMaxStreamsUni > MAX_STREAMS_LIMIT) {
      throw new QuicTransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, "initial_max_streams above 2^60");
    }
    const prev = this.peer;
    this.peer = {
      initialMaxData: Math.max(prev.initialMaxData, p.initialMaxData),
      initialMaxStreamDataBidiLocal: Math.max(prev.initialMaxStreamDataBidiLocal, p.initialMaxStreamDataBidiLocal),
      initialMaxStreamDataBidiRemote: Math.max(prev.initialMaxStreamDataBidiRemote, p.initialMaxStreamDataBidiRemote),
      initialMaxStreamDataUni: Math.max(prev.initialMaxStreamDataUni, p.initialMaxStreamDataUni),
      initialMaxStreamsBidi: Math.max(prev.initialMaxStreamsBidi, p.initialMaxStreamsBidi),
      initialMaxStreamsUni: Math.max(prev.initialMaxStreamsUni, p.initialMaxStreamsUni),
    };
    this.raiseLocalMax(0, this.peer.initialMaxStreamsBidi);
    this.raiseLocalMax(1, this.peer.initialMaxStreamsUni);
    this.onMaxData(this.peer.initialMaxData);
    for (const s of this.streams.values()) {
      if (s.send && s.send.setMaxStreamData(this.peerSendLimit(s.id))) this.refreshSend(s);
    }
  }

  /**
   * Replaces remembered limits with the peer's new ones, even lower, after
   * the peer rejected 0-RTT (RFC 9001 section 4.6.2: nothing assumed from
   * the old connection holds). Returns false, changing nothing, when what
   * we already sent (streams opened, stream and connection offsets) does
   * not fit under them: it could not be sent again in 1-RTT.
   */
  replacePeerLimits(p: StreamLimits): boolean {
    const peerSendLimit = (id: number): number => (isBidirectional(id) ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataUni);
    if (this.localOpened[0]! > p.initialMaxStreamsBidi || this.localOpened[1]! > p.initialMaxStreamsUni || this.conn.sent > p.initialMaxData) return false;
    for (const s of this.streams.values()) if (s.local && s.send && s.send.sentOffset > peerSendLimit(s.id)) return false;
    this.peer = { ...p };
    this.localMax[0] = p.initialMaxStreamsBidi;
    this.localMax[1] = p.initialMaxStreamsUni;
    this.conn.peerMaxData = p.initialMaxData;
    for (const s of this.streams.values()) if (s.local && s.send) s.send.maxStreamData = peerSendLimit(s.id);
    return true;
  }

  /** The peer's initial limit for our sending part of stream `id`. */
  private peerSendLimit(id: number): number {
    if (!isBidirectional(id)) return this.peer.initialMaxStreamDataUni;
    // The peer's "local" limit applies to streams the peer opened.
    return isLocallyInitiated(id, this.isClient) ? this.peer.initialMaxStreamDataBidiRemote : this.peer.initialMaxStreamDataBidiLocal;
  }

  /** Our initial window for the receiving part of stream `id`. */
  private localRecvWindow(id: number): number {
    if (!isBidirectional(id)) return this.local.initialMaxStreamDataUni;
    return isLocallyInitiated(id, this.isClient) ? this.local.initialMaxStreamDataBidiLocal : this.local.initialMaxStreamDataBidiRemote;
  }

  private createStream(id: number): Stream {
    const local = isLocallyInitiated(id, this.isClient);
    const bidi = isBidirectional(id);
    const send = bidi || local ? new SendStream(id, this.peerSendLimit(id), this.streamHighWaterMark) : undefined;
    const recv = bidi || !local ? new RecvStream(id, this.localRecvWindow(id), this.maxStreamWindow, this.maxRecvFragments) : undefined;
    const s = new Stream(this, id, local, send, recv);
    this.streams.set(id, s);
    return s;
  }

  // ---------------------------------------------------- local operations

  /**
   * Opens the next stream of our own (RFC 9000 section 2.1: client 0, 4,
   * 8, ... / server 1, 5, 9, ... for bidirectional, +2 for
   * unidirectional). Returns null when the peer's MAX_STREAMS forbids it,
   * after queueing STREAMS_BLOCKED (RFC 9000 section 4.6); a
   * `streams_available` event follows when the peer raises the limit.
   */
  openStream(bidi: boolean): Stream | null {
    const d = dirOf(bidi);
    if (this.localOpened[d]! >= this.localMax[d]!) {
      this.localWanted[d] = true;
      if (this.streamsBlockedAt[d] !== this.localMax[d]) this.streamsBlockedPending[d] = true;
      return null;
    }
    const id = makeStreamId(this.localOpened[d]!, this.isClient, bidi);
    this.localOpened[d]!++;
    return this.createStream(id);
  }

  /**
   * Queues `data` on the stream (kept by reference: do not modify it
   * afterwards) and, with `fin`, ends the sending part. Returns false when
   * the stream's or the connection's buffer is past its high-water mark:
   * wait for a `writable` event. Throws {@link StreamUsageError} on a
   * receive-only, finished or reset stream and {@link SendBufferFullError}
   * past the connection's hard cap.
   */
  write(s: Stream, data: Uint8Array, fin = false): boolean {
    const snd = s.send;
    if (!snd) throw new StreamUsageError(s.id, "write on a receive-only stream");
    if (this.sendBuffered + data.length > this.maxSendBuffer) {
      throw new SendBufferFullError(this.sendBuffered, data.length, this.maxSendBuffer);
    }
    const before = snd.bufferedBytes;
    const streamOk = snd.write(data, fin);
    this.sendBuffered += snd.bufferedBytes - before;
    this.refreshSend(s);
    const connOk = this.sendBuffered < this.maxSendBuffer / 2;
    if (!connOk) this.connWriteBlocked = true;
    const ok = streamOk && connOk;
    if (!ok && !fin) this.writeWaiters.add(s);
    return ok;
  }

  /**
   * Reads up to `max` in-order bytes (a view of the receive buffer) and the
   * FIN; null when nothing is readable. Reading returns flow-control credit:
   * MAX_STREAM_DATA and MAX_DATA are queued once half a window is consumed.
   */
  read(s: Stream, max?: number): ReadResult | null {
    const r = s.recv;
    if (!r) throw new StreamUsageError(s.id, "read on a send-only stream");
    const c0 = r.consumedOffset;
    const b0 = r.bufferedBytes;
    const res = r.read(max);
    s.readableNotified = false;
    this.conn.onConsumed(r.consumedOffset - c0);
    this.recvBuffered += r.bufferedBytes - b0;
    if (r.needsCreditUpdate()) this.setPending(s, CTL_MAX_STREAM_DATA);
    if (this.conn.needsMaxData()) this.maxDataPending = true;
    if (res?.fin) this.maybeClose(s);
    return res;
  }

  /**
   * Abandons the sending part (RFC 9000 section 3.1): queues RESET_STREAM
   * with `errorCode` and the bytes sent so far as final size, and frees the
   * send buffer. No effect once reset or fully acknowledged.
   */
  resetStream(s: Stream, errorCode: number): void {
    const snd = s.send;
    if (!snd) throw new StreamUsageError(s.id, "reset on a receive-only stream");
    const before = snd.bufferedBytes;
    if (!snd.reset(errorCode)) return;
    this.afterSendReset(s, before);
  }

  private afterSendReset(s: Stream, bufferedBefore: number): void {
    this.sendBuffered -= bufferedBefore - s.send!.bufferedBytes;
    this.sendQueue.delete(s);
    this.connBlocked.delete(s);
    this.writeWaiters.delete(s);
    this.setPending(s, CTL_RESET);
  }

  /**
   * Stops reading (RFC 9000 section 3.5): discards buffered data, returns
   * its credit, and queues STOP_SENDING with `errorCode` when the peer may
   * still send (Recv or Size Known).
   */
  stopSending(s: Stream, errorCode: number): void {
    const r = s.recv;
    if (!r) throw new StreamUsageError(s.id, "stopSending on a send-only stream");
    const c0 = r.consumedOffset;
    const b0 = r.bufferedBytes;
    const send = r.stopReading(errorCode);
    this.conn.onConsumed(r.consumedOffset - c0);
    this.recvBuffered += r.bufferedBytes - b0;
    if (this.conn.needsMaxData()) this.maxDataPending = true;
    if (send) this.setPending(s, CTL_STOP);
    this.maybeClose(s);
  }

  // ------------------------------------------------------ incoming frames

  /** STREAM (RFC 9000 section 19.8). */
  onStreamFrame(id: number, offset: number, data: Uint8Array, fin: boolean, frameType?: number): void {
    const ft = frameType ?? StreamFrameType.STREAM | (offset > 0 ? 0x04 : 0) | 0x02 | (fin ? 0x01 : 0);
    this.requireRecvPart(id, ft);
    const s = this.lookup(id, ft);
    if (!s) return;
    const r = s.recv!;
    const h0 = r.highestOffset;
    const c0 = r.consumedOffset;
    const b0 = r.bufferedBytes;
    r.onData(offset, data, fin, ft);
    this.recvAccount(s, h0, c0, b0, ft);
    if (r.readable && !s.readableNotified) {
      s.readableNotified = true;
      this.emit({ type: "readable", streamId: id });
    }
    this.maybeClose(s);
  }

  /** RESET_STREAM (RFC 9000 section 19.4). */
  onResetStream(id: number, errorCode: number, finalSize: number): void {
    const ft = StreamFrameType.RESET_STREAM;
    this.requireRecvPart(id, ft);
    const s = this.lookup(id, ft);
    if (!s) return;
    const r = s.recv!;
    const h0 = r.highestOffset;
    const c0 = r.consumedOffset;
    const b0 = r.bufferedBytes;
    const changed = r.onReset(errorCode, finalSize, ft);
    this.recvAccount(s, h0, c0, b0, ft);
    if (changed) {
      this.emit({ type: "reset", streamId: id, errorCode, finalSize });
      // The event delivers the reset to the application (Reset Read).
      r.onResetDelivered();
      this.maybeClose(s);
    }
  }

  /**
   * STOP_SENDING (RFC 9000 section 19.5): the sending part must be reset
   * (RFC 9000 section 3.5); we copy the peer's error code and reset at
   * once, also in Data Sent.
   */
  onStopSending(id: number, errorCode: number): void {
    const ft = StreamFrameType.STOP_SENDING;
    this.requireSendPart(id, ft);
    const s = this.lookup(id, ft);
    if (!s) return;
    const snd = s.send!;
    const before = snd.bufferedBytes;
    if (!snd.reset(errorCode)) return;
    this.afterSendReset(s, before);
    this.emit({ type: "stop_sending", streamId: id, errorCode });
  }

  /** MAX_STREAM_DATA (RFC 9000 section 19.10). */
  onMaxStreamData(id: number, maximum: number): void {
    const ft = StreamFrameType.MAX_STREAM_DATA;
    this.requireSendPart(id, ft);
    const s = this.lookup(id, ft);
    if (!s) return;
    if (s.send!.setMaxStreamData(maximum)) this.refreshSend(s);
  }

  /** STREAM_DATA_BLOCKED (RFC 9000 section 19.13): opens the stream if needed; otherwise informational. */
  onStreamDataBlocked(id: number, _limit: number): void {
    const ft = StreamFrameType.STREAM_DATA_BLOCKED;
    this.requireRecvPart(id, ft);
    this.lookup(id, ft);
  }

  /** MAX_STREAMS (RFC 9000 section 19.11). */
  onMaxStreams(bidi: boolean, maximum: number): void {
    if (maximum > MAX_STREAMS_LIMIT) {
      throw new QuicTransportError(
        TransportErrorCode.FRAME_ENCODING_ERROR,
        `MAX_STREAMS ${maximum} above 2^60`,
        bidi ? StreamFrameType.MAX_STREAMS_BIDI : StreamFrameType.MAX_STREAMS_UNI,
      );
    }
    this.raiseLocalMax(dirOf(bidi), maximum);
  }

  private raiseLocalMax(d: 0 | 1, maximum: number): void {
    // MAX_STREAMS frames that do not increase the limit are ignored (RFC 9000 section 4.6).
    if (maximum <= this.localMax[d]!) return;
    this.localMax[d] = maximum;
    if (this.localWanted[d]) {
      this.localWanted[d] = false;
      this.emit({ type: "streams_available", bidi: d === 0 });
    }
  }

  /**
   * STREAMS_BLOCKED (RFC 9000 section 19.14): the peer wants more streams;
   * send any credit freed by closed streams at once.
   */
  onStreamsBlocked(bidi: boolean, limit: number): void {
    if (limit > MAX_STREAMS_LIMIT) {
      throw new QuicTransportError(
        TransportErrorCode.FRAME_ENCODING_ERROR,
        `STREAMS_BLOCKED ${limit} above 2^60`,
        bidi ? StreamFrameType.STREAMS_BLOCKED_BIDI : StreamFrameType.STREAMS_BLOCKED_UNI,
      );
    }
    const d = dirOf(bidi);
    if (this.desiredRemoteMax(d) > this.remoteMax[d]!) this.maxStreamsPending[d] = true;
  }

  /** MAX_DATA (RFC 9000 section 19.9). */
  onMaxData(maximum: number): void {
    if (!this.conn.onMaxData(maximum)) return;
    for (const s of this.connBlocked) this.refreshSend(s);
  }

  /** DATA_BLOCKED (RFC 9000 section 19.12): informational; our MAX_DATA updates do not wait for it. */
  onDataBlocked(_limit: number): void {}

  // --------------------------------------------- stream-ID rules (2.1, 3.2)

  /** STREAM, RESET_STREAM and STREAM_DATA_BLOCKED need a receiving part: not our unidirectional stream (RFC 9000 sections 19.4, 19.8, 19.13). */
  private requireRecvPart(id: number, frameType: number): void {
    if (!isBidirectional(id) && isLocallyInitiated(id, this.isClient)) {
      throw new QuicTransportError(TransportErrorCode.STREAM_STATE_ERROR, `stream ${id} is send-only`, frameType);
    }
  }

  /** MAX_STREAM_DATA and STOP_SENDING need a sending part: not the peer's unidirectional stream (RFC 9000 sections 19.5, 19.10). */
  private requireSendPart(id: number, frameType: number): void {
    if (!isBidirectional(id) && !isLocallyInitiated(id, this.isClient)) {
      throw new QuicTransportError(TransportErrorCode.STREAM_STATE_ERROR, `stream ${id} is receive-only`, frameType);
    }
  }

  /**
   * The stream a frame refers to, creating peer streams as needed; null for
   * a stream already closed (its late frames are ignored). Throws
   * STREAM_STATE_ERROR for our stream not yet opened (RFC 9000 sections
   * 19.5, 19.8, 19.10) and STREAM_LIMIT_ERROR past our MAX_STREAMS
   * (RFC 9000 section 4.6).
   */
  private lookup(id: number, frameType: number): Stream | null {
    const existing = this.streams.get(id);
    if (existing) return existing;
    const d = dirOf(isBidirectional(id));
    const index = streamIndex(id);
    if (isLocallyInitiated(id, this.isClient)) {
      if (index >= this.localOpened[d]!) {
        throw new QuicTransportError(TransportErrorCode.STREAM_STATE_ERROR, `stream ${id} not yet opened`, frameType);
      }
      return null;
    }
    if (index < this.remoteOpened[d]!) return null;
    if (index >= this.remoteMax[d]!) {
      throw new QuicTransportError(
        TransportErrorCode.STREAM_LIMIT_ERROR,
        `stream ${id} exceeds the limit of ${this.remoteMax[d]} ${d === 0 ? "bidirectional" : "unidirectional"} streams`,
        frameType,
      );
    }
    // Opening a stream opens every lower-numbered stream of its type (RFC 9000 section 3.2).
    const bidi = d === 0;
    for (let i = this.remoteOpened[d]!; i <= index; i++) {
      const sid = makeStreamId(i, !this.isClient, bidi);
      this.createStream(sid);
      this.emit({ type: "opened", streamId: sid, bidi });
    }
    this.remoteOpened[d] = index + 1;
    this.checkMaxStreams(d);
    return this.streams.get(id)!;
  }

  /** Charges a receive-side change to the connection (RFC 9000 sections 4.1 and 4.5). */
  private recvAccount(s: Stream, h0: number, c0: number, b0: number, frameType: number): void {
    const r = s.recv!;
    this.conn.onReceived(r.highestOffset - h0, frameType);
    this.conn.onConsumed(r.consumedOffset - c0);
    this.recvBuffered += r.bufferedBytes - b0;
    if (this.conn.needsMaxData()) this.maxDataPending = true;
  }

  // ----------------------------------------------------- closing streams

  /** Removes a stream whose parts are all terminal, and returns stream credit to the peer. */
  private maybeClose(s: Stream): void {
    if (s.send && !s.send.terminal) return;
    if (s.recv && !s.recv.terminal) return;
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.sendQueue.delete(s);
    this.connBlocked.delete(s);
    this.controlQueue.delete(s);
    this.writeWaiters.delete(s);
    s.pending = 0;
    this.emit({ type: "closed", streamId: s.id });
    if (!s.local) {
      const d = dirOf(s.bidi);
      this.remoteClosed[d]!++;
      this.checkMaxStreams(d);
    }
  }

  /**
   * Queues MAX_STREAMS when closed streams allow more and the peer has less
   * than half its initial allowance left (RFC 9000 section 4.6 leaves the
   * policy open). Checked as peer streams open and close.
   */
  private checkMaxStreams(d: 0 | 1): void {
    const remaining = this.remoteMax[d]! - this.remoteOpened[d]!;
    if (this.desiredRemoteMax(d) > this.remoteMax[d]! && remaining < this.remoteInitial[d]! / 2) this.maxStreamsPending[d] = true;
  }

  /** Keeps the peer's concurrency at its initial allowance: closed streams plus the initial limit. */
  private desiredRemoteMax(d: 0 | 1): number {
    return Math.min(MAX_STREAMS_LIMIT, this.remoteClosed[d]! + this.remoteInitial[d]!);
  }

  // ------------------------------------------------------ sending: data

  /** Puts the stream in the send queue, the MAX_DATA wait set, or neither. */
  private refreshSend(s: Stream): void {
    const snd = s.send;
    if (!snd) return;
    if (snd.hasRetransmit || (snd.hasNewData && this.conn.sendCredit > 0)) {
      this.sendQueue.add(s);
      this.connBlocked.delete(s);
    } else if (snd.hasNewData) {
      this.sendQueue.delete(s);
      this.connBlocked.add(s);
      this.noteDataBlocked();
    } else {
      this.sendQueue.delete(s);
      this.connBlocked.delete(s);
    }
    if (snd.blockedLimit !== undefined) this.setPending(s, CTL_BLOCKED);
  }

  /** Queues DATA_BLOCKED once per peer limit (RFC 9000 section 19.12). */
  private noteDataBlocked(): void {
    if (this.conn.blockedReportedAt !== this.conn.peerMaxData) this.dataBlockedPending = true;
  }

  /**
   * The next STREAM frame for a packet with `maxFrameBytes` left, header
   * included, in round-robin order over the streams that can send; null when
   * none can. Lost data goes first within a stream; new data is charged to
   * the connection credit.
   */
  nextStreamFrame(maxFrameBytes: number): StreamFrameData | null {
    for (const s of this.sendQueue) {
      const snd = s.send!;
      const room = maxFrameBytes - streamFrameOverhead(s.id, snd.peekOffset(), maxFrameBytes);
      if (room < 0) continue;
      const before = snd.sentOffset;
      const chunk = snd.nextChunk(room, this.conn.sendCredit);
      if (chunk === null) {
        if (room > 0) this.refreshSend(s); // nothing left to send after all
        continue;
      }
      const fresh = snd.sentOffset - before;
      this.conn.onSent(fresh);
      // Round robin: the stream goes to the back of the queue.
      this.sendQueue.delete(s);
      this.refreshSend(s);
      if (fresh > 0 && this.conn.sendCredit === 0) this.onConnectionCreditExhausted();
      return { type: "stream", streamId: s.id, offset: chunk.offset, data: chunk.data, fin: chunk.fin };
    }
    return null;
  }

  /** Moves streams with only new data out of the send queue until MAX_DATA grows. */
  private onConnectionCreditExhausted(): void {
    for (const s of this.sendQueue) {
      if (!s.send!.hasRetransmit) this.refreshSend(s);
    }
  }

  /** The STREAM frame sent with these fields was acknowledged. */
  onStreamFrameAcked(streamId: number, offset: number, length: number, fin: boolean): void {
    const s = this.streams.get(streamId);
    const snd = s?.send;
    if (!s || !snd) return;
    const wasComplete = snd.state === SendState.DataRecvd;
    const released = snd.onAcked(offset, length, fin);
    this.sendBuffered -= released;
    if (released > 0) this.checkWritable(s);
    if (!wasComplete && snd.state === SendState.DataRecvd) {
      this.emit({ type: "finished", streamId });
      this.maybeClose(s);
    }
  }

  /** The STREAM frame sent with these fields was declared lost: its data is queued again. */
  onStreamFrameLost(streamId: number, offset: number, length: number, fin: boolean): void {
    const s = this.streams.get(streamId);
    if (!s?.send) return;
    s.send.onLost(offset, length, fin);
    this.refreshSend(s);
  }

  /** Emits `writable` for waiters now below half their high-water marks. */
  private checkWritable(s: Stream): void {
    if (this.writeWaiters.size === 0 || this.sendBuffered > this.maxSendBuffer / 4) return;
    if (this.connWriteBlocked) {
      this.connWriteBlocked = false;
      for (const w of this.writeWaiters) this.wakeWriter(w);
    } else if (this.writeWaiters.has(s)) {
      this.wakeWriter(s);
    }
  }

  private wakeWriter(s: Stream): void {
    const snd = s.send!;
    if (!snd.writable) {
      this.writeWaiters.delete(s);
      return;
    }
    if (snd.bufferedBytes <= snd.highWaterMark / 2) {
      this.writeWaiters.delete(s);
      this.emit({ type: "writable", streamId: s.id });
    }
  }

  // --------------------------------------------------- sending: control

  private setPending(s: Stream, bit: number): void {
    s.pending |= bit;
    this.controlQueue.add(s);
  }

  /**
   * The next control frame that fits in `maxBytes`, or null. Values are
   * computed now: a due MAX_STREAM_DATA or MAX_DATA moves the limit to
   * consumed + window, after auto-tuning the window with `now` and `rtt`
   * (milliseconds). The frame counts as sent; report its fate with
   * {@link onControlFrameAcked} / {@link onControlFrameLost}.
   */
  nextControlFrame(maxBytes: number, now: number, rtt: number): StreamControlFrame | null {
    if (this.maxDataPending) {
      const w = this.conn.recv;
      // Size with the largest value the update could produce.
      if (1 + varintLength(Math.max(w.limit, this.conn.consumed + w.maxWindow)) <= maxBytes) {
        this.maxDataPending = false;
        const maximum = this.conn.needsMaxData() ? w.update(this.conn.consumed, now, rtt) : w.limit;
        return { type: "max_data", maximum };
      }
    }
    for (const d of [0, 1] as const) {
      if (!this.maxStreamsPending[d]) continue;
      const maximum = Math.max(this.remoteMax[d]!, this.desiredRemoteMax(d));
      const f: StreamControlFrame = { type: "max_streams", bidi: d === 0, maximum };
      if (controlFrameSize(f) > maxBytes) continue;
      this.maxStreamsPending[d] = false;
      this.remoteMax[d] = maximum;
      return f;
    }
    if (this.dataBlockedPending) {
      if (this.conn.sendCredit > 0 || this.connBlocked.size === 0) {
        this.dataBlockedPending = false; // no longer blocked
      } else {
        const f: StreamControlFrame = { type: "data_blocked", limit: this.conn.peerMaxData };
        if (controlFrameSize(f) <= maxBytes) {
          this.dataBlockedPending = false;
          this.conn.blockedReportedAt = f.limit;
          return f;
        }
      }
    }
    for (const d of [0, 1] as const) {
      if (!this.streamsBlockedPending[d]) continue;
      if (!this.localWanted[d] || this.localOpened[d]! < this.localMax[d]!) {
        this.streamsBlockedPending[d] = false;
        continue;
      }
      const f: StreamControlFrame = { type: "streams_blocked", bidi: d === 0, limit: this.localMax[d]! };
      if (controlFrameSize(f) > maxBytes) continue;
      this.streamsBlockedPending[d] = false;
      this.streamsBlockedAt[d] = f.limit;
      return f;
    }
    for (const s of this.controlQueue) {
      const f = this.streamControlFrame(s, maxBytes, now, rtt);
      if (s.pending === 0) this.controlQueue.delete(s);
      if (f) return f;
    }
    return null;
  }

  /** Takes one pending frame of `s` that fits, dropping pending bits that no longer apply. */
  private streamControlFrame(s: Stream, maxBytes: number, now: number, rtt: number): StreamControlFrame | null {
    if (s.pending & CTL_RESET) {
      const rf = s.send?.resetFrame;
      if (!rf) s.pending &= ~CTL_RESET;
      else {
        const f: StreamControlFrame = { type: "reset_stream", streamId: s.id, errorCode: rf.errorCode, finalSize: rf.finalSize };
        if (controlFrameSize(f) <= maxBytes) {
          s.pending &= ~CTL_RESET;
          return f;
        }
      }
    }
    if (s.pending & CTL_STOP) {
      const r = s.recv;
      if (!r?.stopSendingNeeded) s.pending &= ~CTL_STOP;
      else {
        const f: StreamControlFrame = { type: "stop_sending", streamId: s.id, errorCode: r.stopErrorCode! };
        if (controlFrameSize(f) <= maxBytes) {
          s.pending &= ~CTL_STOP;
          return f;
        }
      }
    }
    if (s.pending & CTL_MAX_STREAM_DATA) {
      const r = s.recv;
      if (!r?.wantsCredit) s.pending &= ~CTL_MAX_STREAM_DATA;
      else if (1 + varintLength(s.id) + varintLength(Math.max(r.credit.limit, r.readBytes + r.credit.maxWindow)) <= maxBytes) {
        s.pending &= ~CTL_MAX_STREAM_DATA;
        let maximum = r.credit.limit;
        if (r.needsCreditUpdate()) {
          maximum = r.credit.update(r.readBytes, now, rtt);
          // Keep the connection window ahead of the largest stream window.
          this.conn.recv.ensureWindow(r.credit.window * CONNECTION_WINDOW_FACTOR);
          if (this.conn.needsMaxData()) this.maxDataPending = true;
        }
        return { type: "max_stream_data", streamId: s.id, maximum };
      }
    }
    if (s.pending & CTL_BLOCKED) {
      const snd = s.send;
      if (!snd || !snd.isBlockedAt(snd.maxStreamData)) s.pending &= ~CTL_BLOCKED;
      else {
        const f: StreamControlFrame = { type: "stream_data_blocked", streamId: s.id, limit: snd.maxStreamData };
        if (controlFrameSize(f) <= maxBytes) {
          s.pending &= ~CTL_BLOCKED;
          snd.onBlockedSent(f.limit);
          return f;
        }
      }
    }
    return null;
  }

  /** A control frame from {@link nextControlFrame} was acknowledged. */
  onControlFrameAcked(f: StreamControlFrame): void {
    if (f.type !== "reset_stream") return;
    const s = this.streams.get(f.streamId);
    if (!s?.send) return;
    s.send.onResetAcked();
    this.maybeClose(s);
  }

  /**
   * A control frame from {@link nextControlFrame} was declared lost: queue a
   * fresh copy only while it still matters (RFC 9000 section 13.3): the
   * latest MAX_DATA / MAX_STREAM_DATA / MAX_STREAMS value, a RESET_STREAM
   * until acknowledged, a STOP_SENDING while the peer may still send, a
   * *_BLOCKED frame while still blocked at the same limit.
   */
  onControlFrameLost(f: StreamControlFrame): void {
    switch (f.type) {
      case "max_data":
        if (f.maximum === this.conn.recv.limit) this.maxDataPending = true;
        return;
      case "max_streams": {
        const d = dirOf(f.bidi);
        if (f.maximum === this.remoteMax[d]) this.maxStreamsPending[d] = true;
        return;
      }
      case "data_blocked":
        if (f.limit === this.conn.peerMaxData && this.conn.sendCredit === 0 && this.connBlocked.size > 0) this.dataBlockedPending = true;
        return;
      case "streams_blocked": {
        const d = dirOf(f.bidi);
        if (f.limit === this.localMax[d] && this.localWanted[d]) this.streamsBlockedPending[d] = true;
        return;
      }
    }
    const s = this.streams.get(f.streamId);
    if (!s) return;
    switch (f.type) {
      case "reset_stream":
        if (s.send?.state === SendState.ResetSent) this.setPending(s, CTL_RESET);
        return;
      case "stop_sending":
        if (s.recv?.stopSendingNeeded) this.setPending(s, CTL_STOP);
        return;
      case "max_stream_data":
        if (s.recv?.wantsCredit && f.maximum === s.recv.credit.limit) this.setPending(s, CTL_MAX_STREAM_DATA);
        return;
      case "stream_data_blocked":
        if (s.send?.isBlockedAt(f.limit)) this.setPending(s, CTL_BLOCKED);
        return;
    }
  }
}
