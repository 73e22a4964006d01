/**
 * The HTTP/3 connection (RFC 9114), sans-IO, over one transport
 * {@link Connection}: after quiche's `h3::Connection` and aioquic's
 * `H3Connection`. It owns the transport's event queue: call {@link
 * H3Connection.poll} until it returns undefined whenever the driver reports
 * activity on the connection, and act on the HTTP/3 events it returns.
 * Requests and responses go out through the `send*` methods; the transport
 * datagrams they cause are the driver's business.
 *
 * Both roles are supported. The connection opens its control stream (with
 * SETTINGS) and its QPACK encoder and decoder streams as soon as the
 * handshake completes, accepts the peer's, enforces the framing and message
 * rules of RFC 9114, and keeps the QPACK contexts (RFC 9204) in step,
 * including header sections blocked on the dynamic table.
 *
 * Errors the peer causes never escape: a connection error closes the
 * transport with the H3 code (CONNECTION_CLOSE type 0x1d), a stream error
 * resets the stream with it and surfaces a `reset` event.
 */
import type { CloseInfo, Connection, ConnectionEvent } from "../quic/connection.js";
import { QuicConnectionError } from "../quic/connection.js";
import type { PathEvent } from "../quic/path/index.js";
import type { SessionTicket } from "../tls/ticket.js";
import { TsquicError } from "../util/errors.js";
import { FieldSectionTooLargeError, H3Error, H3ErrorCode, h3ErrorName } from "./errors.js";
import {
  encodeDataFrameHeader,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodeSettingsFrame,
  encodeStreamHeader,
  FrameReader,
  readStreamHeader,
  StreamType,
  type FrameEvent,
  type H3Settings,
} from "./frames.js";
import { fieldSectionSize, MessageError, validateRequestHeaders, validateResponseHeaders, validateTrailers } from "./messages.js";
import { DEFAULT_MAX_FIELD_SECTION_SIZE, QpackDecoder, type UnblockedSection } from "./qpack/decoder.js";
import { QpackEncoder, type QpackEncoderOptions } from "./qpack/encoder.js";
import type { Header } from "./qpack/primitives.js";

export type { Header } from "./qpack/primitives.js";

/** Settings and limits of an {@link H3Connection}. */
export interface H3ConnectionOptions {
  /**
   * SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (RFC 9114
   * section 4.2.2): the largest header or trailer section accepted,
   * counted as names + values + 32 per field. Default 64 KiB.
   */
  maxFieldSectionSize?: number;
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertise for our decoder (RFC 9204 section 5). Default 4096. */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS we advertise (RFC 9204 section 5). Default 100. */
  qpackBlockedStreams?: number;
  /** Our QPACK encoder's preferences (its table never exceeds what the peer allows). */
  encoder?: QpackEncoderOptions;
  /** Send a reserved setting to exercise the peer's handling of unknown ones (RFC 9114 section 7.2.4.1). Default true. */
  grease?: boolean;
}

/**
 * What {@link H3Connection.poll} returns. `headers`, `data`, `trailers` and
 * `end` describe the message received on a request stream: the request on
 * a server, the response on a client.
 */
export type H3Event =
  /** The handshake completed and our control and QPACK streams are open. */
  | { type: "ready" }
  /** The peer's SETTINGS arrived (RFC 9114 section 7.2.4). */
  | { type: "settings"; settings: H3Settings }
  /**
   * A header section: a request (server), or a response (client; `interim`
   * for 1xx responses, which a final one follows). Already validated
   * (RFC 9114 sections 4.2 and 4.3).
   */
  | { type: "headers"; streamId: number; headers: Header[]; interim: boolean }
  /** Content bytes (a view that stays valid; do not modify). */
  | { type: "data"; streamId: number; data: Uint8Array }
  /** The trailer section. */
  | { type: "trailers"; streamId: number; headers: Header[] }
  /** The message ended cleanly (FIN), with Content-Length checked. */
  | { type: "end"; streamId: number }
  /**
   * The exchange on the stream was aborted: by the peer (`remote`: it reset
   * the stream or asked us to stop sending with an error), or by us for a
   * stream error (`remote` false: a malformed message, H3_MESSAGE_ERROR...;
   * the stream was reset with `errorCode`). No more events follow for the stream.
   */
  | { type: "reset"; streamId: number; errorCode: number; remote: boolean; reason: string }
  /** The peer asked us to stop sending with H3_NO_ERROR: it needs no more of our message, the exchange goes on (RFC 9114 section 4.1). */
  | { type: "stop_sending"; streamId: number; errorCode: number }
  /** A stream whose last write reported backpressure can take more. */
  | { type: "writable"; streamId: number }
  /** More request streams may be opened (the peer raised MAX_STREAMS after `sendRequest` returned null). */
  | { type: "streams_available" }
  /** The peer sent GOAWAY (RFC 9114 section 5.2): a stream ID from a server, a push ID from a client. */
  | { type: "goaway"; id: number }
  /** The connection ended; `error` is undefined for a clean close (H3_NO_ERROR). */
  | { type: "closed"; info: CloseInfo; error: Error | undefined }
  /**
   * Client: the server accepted or rejected our 0-RTT requests (rejected
   * ones are sent again in 1-RTT); the handshake is complete.
   */
  | { type: "early_data"; accepted: boolean }
  /** Client: a session ticket (and NEW_TOKEN token) to resume a later connection with. */
  | { type: "session_ticket"; ticket: SessionTicket; token: Uint8Array | undefined }
  /** Path validation and migration, passed through from the transport (RFC 9000 sections 8.2 and 9). */
  | PathEvent;

/** Statistics of the QPACK contexts, to see the dynamic tables at work. */
export interface QpackStats {
  /** Entries our encoder inserted into the peer's table. */
  encoderInsertCount: number;
  /** Entries the peer's encoder inserted into our table. */
  decoderInsertCount: number;
  /** Header sections currently blocked in our decoder. */
  blockedStreams: number;
  /** Bytes of our decoder's dynamic table (RFC 9204 section 3.2.1), at most SETTINGS_QPACK_MAX_TABLE_CAPACITY. */
  decoderTableBytes: number;
}

/** A stream-level misuse or a stream the peer already closed: raised by the send methods. */
export class H3StreamError extends TsquicError {
  /** The stream. */
  readonly streamId: number;
  /** The HTTP/3 code the stream ended with, when it was reset. */
  readonly errorCode: number | undefined;

  constructor(code: string, message: string, streamId: number, errorCode?: number) {
    super(code, message);
    this.streamId = streamId;
    this.errorCode = errorCode;
  }
}

// Receiving side of a request stream (RFC 9114 section 4.1).
const RECV_HEADERS = 0;
const RECV_BODY = 1;
const RECV_TRAILERS = 2;
const RECV_DONE = 3;

// Sending side.
const SEND_IDLE = 0;
const SEND_BODY = 1;
const SEND_DONE = 2;

/** DATA payloads up to this size are copied next to their frame header: one stream chunk instead of two. */
const DATA_COALESCE_MAX = 1024;

/** State of one request stream (a client-initiated bidirectional stream, RFC 9114 section 6.1). */
class RequestStream {
  readonly id: number;
  readonly reader: FrameReader;
  recv = RECV_HEADERS;
  send = SEND_IDLE;
  /** A header ("headers") or trailer ("trailers") section waits in the QPACK decoder for encoder-stream data. */
  blocked: "" | "headers" | "trailers" = "";
  /** The application asked us not to read for now (receive backpressure). */
  paused = false;
  /** The transport delivered the FIN: every byte is in the reader. */
  fin = false;
  /** Aborted: reset by either side or failed; no more events. */
  dead = false;
  contentLength: number | undefined;
  received = 0;
  /** The response is one that never has content (to HEAD, 204, 304; RFC 9110 section 6.4.1). */
  noBody = false;
  /** The request method: ours on a client, the peer's on a server. */
  method = "";
  /** A final response was sent (server) or received (client). */
  final = false;
  /** The transport forgot the stream while its last bytes still waited here (see H3Connection.releaseIfDone). */
  transportClosed = false;

  constructor(id: number, maxFrameSize: number) {
    this.id = id;
    this.reader = new FrameReader({ stream: "request", maxFrameSize });
  }
}

type UniKind = "control" | "encoder" | "decoder";

/** A unidirectional stream of the peer, typed once its header is read (RFC 9114 section 6.2). */
interface UniStream {
  id: number;
  kind: UniKind | undefined;
  /** Bytes of an incomplete stream header. */
  head: Uint8Array | undefined;
  reader: FrameReader | undefined;
}

/**
 * One HTTP/3 connection over a transport {@link Connection}. See the module
 * comment for how it is driven.
 */
export class H3Connection {
  /** The transport connection. */
  readonly transport: Connection;
  /** True on the client side. */
  readonly isClient: boolean;
  /** Our QPACK encoder (for inspection). */
  readonly encoder: QpackEncoder;
  /** Our QPACK decoder (for inspection). */
  readonly decoder: QpackDecoder;
  /** The SETTINGS we send. */
  readonly localSettings: H3Settings;
  /** The peer's SETTINGS, once received. */
  peerSettings: H3Settings | undefined;

  private readonly maxFieldSectionSize: number;
  private readonly maxHeadersFrame: number;
  private readonly requests = new Map<number, RequestStream>();
  private readonly uni = new Map<number, UniStream>();
  /** Request streams to (re)process: unblocked, resumed. */
  private readonly pending = new Set<RequestStream>();
  private events: H3Event[] = [];
  private eventHead = 0;

  private started = false;
  private controlId = -1;
  private encoderId = -1;
  private decoderId = -1;
  private peerControl = -1;
  private peerEncoder = -1;
  private peerDecoder = -1;
  /** The highest MAX_PUSH_ID received (server); -1 when none. */
  private maxPushIdReceived = -1;
  /** The GOAWAY ID we sent, or undefined. */
  private goawaySent: number | undefined;
  /** The GOAWAY ID received, or undefined. */
  private goawayRecv: number | undefined;
  /** Highest request stream ID seen (server). */
  private maxRequestId = -1;
  /** Closed by either side, or failing: no more processing. */
  private ended = false;
  /** Close with H3_NO_ERROR once the GOAWAY is acknowledged. */
  private closeWhenFlushed = false;
  private closedEmitted = false;

  /** Wraps a transport connection. Create it before the handshake completes, or at any time after. */
  constructor(transport: Connection, options: H3ConnectionOptions = {}) {
    this.transport = transport;
    this.isClient = transport.role === "client";
    this.maxFieldSectionSize = options.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    // Encoded sections are about as large as decoded ones; allow room for
    // Huffman coding that did not pay off before calling a frame excessive.
    this.maxHeadersFrame = Math.ceil(this.maxFieldSectionSize * 1.25) + 1024;
    const capacity = options.qpackMaxTableCapacity ?? 4096;
    const blocked = options.qpackBlockedStreams ?? 100;
    this.decoder = new QpackDecoder({ maxTableCapacity: capacity, maxBlockedStreams: blocked, maxFieldSectionSize: this.maxFieldSectionSize });
    this.encoder = new QpackEncoder(options.encoder);
    this.localSettings = {
      qpackMaxTableCapacity: capacity,
      qpackBlockedStreams: blocked,
      maxFieldSectionSize: this.maxFieldSectionSize,
      // A reserved identifier 0x1f * N + 0x21 (RFC 9114 section 7.2.4.1), so peers keep ignoring unknown settings.
      ...(options.grease === false ? {} : { extra: [[0x1f * (1 + Math.floor(Math.random() * 1000)) + 0x21, Math.floor(Math.random() * 1024)] as [number, number]] }),
    };
    // With 0-RTT (client) or after accepting it (server), our streams open before the handshake completes.
    if (transport.isEstablished || transport.canSendApplicationData) this.start();
  }

  // ------------------------------------------------------------- queries

  /** True once the connection closed or is closing. */
  get isClosed(): boolean {
    return this.ended;
  }

  /** The GOAWAY ID received from the peer, if any. */
  get goawayReceived(): number | undefined {
    return this.goawayRecv;
  }

  /** True once a GOAWAY was sent or received: no new requests. */
  get isGoingAway(): boolean {
    return this.goawaySent !== undefined || this.goawayRecv !== undefined;
  }

  /** Request streams not yet fully closed at the transport. */
  get activeRequests(): number {
    return this.requests.size;
  }

  /** Server: true when the request on `streamId` arrived (at least in part) in 0-RTT: replayable (RFC 8470 section 5). */
  isEarlyRequest(streamId: number): boolean {
    return this.transport.receivedInEarlyData(streamId);
  }

  /** True when a request can be sent now (a client with a usable connection and free stream credit). */
  get canSendRequest(): boolean {
    return this.isClient && this.started && !this.ended && this.goawayRecv === undefined && this.goawaySent === undefined && this.transport.streams.availableStreams(true) > 0;
  }

  /** Dynamic table usage of both QPACK contexts. */
  qpackStats(): QpackStats {
    return {
      encoderInsertCount: this.encoder.table.insertCount,
      decoderInsertCount: this.decoder.table.insertCount,
      blockedStreams: this.decoder.blockedStreams,
      decoderTableBytes: this.decoder.table.size,
    };
  }

  /** Bytes the frame readers of all streams hold (unparsed or partial frames); each is bounded by the frame size limit. O(streams). */
  bufferedFrameBytes(): number {
    let total = 0;
    for (const s of this.requests.values()) total += s.reader.heldBytes;
    for (const u of this.uni.values()) total += u.reader?.heldBytes ?? 0;
    return total;
  }

  // --------------------------------------------------------------- events

  /**
   * The next HTTP/3 event, or undefined when there is nothing more to do
   * now. Drains the transport's events (this object must be their only
   * consumer) and never throws for anything the peer sends.
   */
  poll(): H3Event | undefined {
    for (;;) {
      if (this.eventHead < this.events.length) {
        const e = this.events[this.eventHead++]!;
        if (this.eventHead === this.events.length) {
          this.events = [];
          this.eventHead = 0;
        }
        return e;
      }
      if (this.pending.size > 0) {
        const list = [...this.pending];
        this.pending.clear();
        for (const s of list) {
          this.guard(() => this.processRequest(s));
          this.releaseIfDone(s);
        }
        continue;
      }
      const te = this.transport.poll();
      if (!te) {
        this.guard(() => {
          this.flushDecoder();
          this.checkFlushedClose();
        });
        if (this.eventHead < this.events.length) continue;
        return undefined;
      }
      // The close is always reported, even after we failed and stopped processing.
      if (te.type === "connection_closed") this.onConnectionClosed(te.info);
      else this.guard(() => this.onTransportEvent(te));
    }
  }

  private emit(e: H3Event): void {
    this.events.push(e);
  }

  /** Runs a processing step; a protocol error becomes a connection close, never an exception. */
  private guard(fn: () => void): void {
    if (this.ended) return;
    try {
      fn();
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (e instanceof H3Error) {
      this.connectionError(e.errorCode, e.reason);
    } else {
      this.connectionError(H3ErrorCode.H3_INTERNAL_ERROR, `internal error: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** Closes the connection with an HTTP/3 code (RFC 9114 section 8: a connection error). */
  private connectionError(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.pending.clear();
    this.transport.close(code, reason.slice(0, 200));
  }

  private onTransportEvent(e: ConnectionEvent): void {
    switch (e.type) {
      case "handshake_done":
        this.start();
        break;
      case "opened":
        this.onOpened(e.streamId, e.bidi);
        break;
      case "readable": {
        const s = this.requests.get(e.streamId);
        if (s) this.processRequest(s);
        else {
          const u = this.uni.get(e.streamId);
          if (u) this.processUni(u);
        }
        break;
      }
      case "writable": {
        const s = this.requests.get(e.streamId);
        if (s && !s.dead) this.emit({ type: "writable", streamId: e.streamId });
        break;
      }
      case "reset":
        this.onPeerReset(e.streamId, e.errorCode);
        break;
      case "stop_sending":
        this.onPeerStopSending(e.streamId, e.errorCode);
        break;
      case "closed": {
        this.uni.delete(e.streamId);
        const s = this.requests.get(e.streamId);
        // Everything was read from the transport, but the message may not be delivered yet: a header
        // section blocked on the encoder stream, or paused reading, still holds the last bytes and the FIN.
        if (s && !s.dead && s.fin && s.recv !== RECV_DONE) s.transportClosed = true;
        else if (this.requests.delete(e.streamId)) this.maybeFinishShutdown();
        break;
      }
      case "streams_available":
        if (e.bidi && this.isClient) this.emit({ type: "streams_available" });
        break;
      case "early_data":
        // Server: accepted 0-RTT, our streams may open now (0.5-RTT). Client: the verdict.
        if (this.isClient) this.emit(e);
        else this.start();
        break;
      case "session_ticket":
      case "path_validated":
      case "path_validation_failed":
      case "peer_address_changed":
      case "preferred_address_used":
        this.emit(e);
        break;
      default:
        // finished: nothing to do at this layer.
        break;
    }
  }

  // ---------------------------------------------------------- our streams

  /**
   * Opens our control stream with SETTINGS and the QPACK encoder and
   * decoder streams (RFC 9114 section 6.2.1, RFC 9204 section 4.2): the
   * first streams we create, as soon as the transport can send.
   */
  private start(): void {
    if (this.started || this.ended) return;
    // RFC 9114 section 6.2: the peer must allow at least three unidirectional streams.
    if (this.transport.streams.availableStreams(false) < 3) {
      this.connectionError(H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, "the peer allows fewer than 3 unidirectional streams (RFC 9114 section 6.2)");
      return;
    }
    this.started = true;
    const t = this.transport;
    this.controlId = t.openStream(false)!.id;
    this.encoderId = t.openStream(false)!.id;
    this.decoderId = t.openStream(false)!.id;
    const type = encodeStreamHeader(StreamType.CONTROL);
    const settings = encodeSettingsFrame(this.localSettings);
    const first = new Uint8Array(type.length + settings.length);
    first.set(type, 0);
    first.set(settings, type.length);
    t.streamWrite(this.controlId, first);
    t.streamWrite(this.encoderId, encodeStreamHeader(StreamType.QPACK_ENCODER));
    t.streamWrite(this.decoderId, encodeStreamHeader(StreamType.QPACK_DECODER));
    this.emit({ type: "ready" });
  }

  /** Sends what our QPACK decoder produced (acknowledgments, increments, cancellations) on our decoder stream. */
  private flushDecoder(): void {
    if (!this.started || this.ended) return;
    const b = this.decoder.takeDecoderStreamData();
    if (b.length > 0) this.transport.streamWrite(this.decoderId, b);
  }

  // -------------------------------------------------------- peer streams

  private onOpened(id: number, bidi: boolean): void {
    if (bidi) {
      if (this.isClient) {
        // RFC 9114 section 6.1: HTTP/3 has no server-initiated bidirectional streams.
        throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, `server opened bidirectional stream ${id}`);
      }
      if (this.goawaySent !== undefined && id >= this.goawaySent) {
        // RFC 9114 section 5.2: requests at or above our GOAWAY ID are rejected, unprocessed.
        this.transport.streamStopSending(id, H3ErrorCode.H3_REQUEST_REJECTED);
        this.transport.streamReset(id, H3ErrorCode.H3_REQUEST_REJECTED);
        return;
      }
      if (id > this.maxRequestId) this.maxRequestId = id;
      this.requests.set(id, new RequestStream(id, this.maxHeadersFrame));
      return;
    }
    this.uni.set(id, { id, kind: undefined, head: undefined, reader: undefined });
  }

  private processUni(u: UniStream): void {
    const t = this.transport;
    for (;;) {
      if (this.ended || this.uni.get(u.id) !== u) return;
      const r = t.streamRead(u.id);
      if (!r) return;
      let data = r.data;
      if (u.kind === undefined) {
        if (u.head && data.length > 0) {
          const joined = new Uint8Array(u.head.length + data.length);
          joined.set(u.head, 0);
          joined.set(data, u.head.length);
          data = joined;
        } else if (u.head) data = u.head;
        const h = readStreamHeader(data);
        if (!h) {
          // RFC 9114 section 6.2: a stream may end before its header; tolerate it.
          if (r.fin) this.uni.delete(u.id);
          else u.head = data.slice();
          continue;
        }
        u.head = undefined;
        if (!this.onUniType(u, h.streamType)) return;
        data = data.subarray(h.length);
      }
      if (data.length > 0) this.onUniData(u, data);
      if (r.fin) {
        // RFC 9114 section 6.2.1, RFC 9204 section 4.2: critical streams never close.
        throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer closed its ${u.kind} stream`);
      }
    }
  }

  /** Types a peer unidirectional stream; false when it is to be ignored. */
  private onUniType(u: UniStream, type: number): boolean {
    switch (type) {
      case StreamType.CONTROL:
        // RFC 9114 section 6.2.1: only one control stream per peer.
        if (this.peerControl >= 0) throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, "second control stream");
        this.peerControl = u.id;
        u.kind = "control";
        u.reader = new FrameReader({ stream: "control" });
        return true;
      case StreamType.PUSH:
        // RFC 9114 section 6.2.2: only servers push; a client that never sent MAX_PUSH_ID allows no push ID.
        if (!this.isClient) throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, "client opened a push stream");
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, "push stream received, but no MAX_PUSH_ID was sent");
      case StreamType.QPACK_ENCODER:
        // RFC 9204 section 4.2: one encoder stream per peer.
        if (this.peerEncoder >= 0) throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, "second QPACK encoder stream");
        this.peerEncoder = u.id;
        u.kind = "encoder";
        return true;
      case StreamType.QPACK_DECODER:
        if (this.peerDecoder >= 0) throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, "second QPACK decoder stream");
        this.peerDecoder = u.id;
        u.kind = "decoder";
        return true;
      default:
        // RFC 9114 sections 6.2 and 6.2.3: unknown and reserved types are not
        // errors; abort reading with H3_STREAM_CREATION_ERROR.
        this.uni.delete(u.id);
        this.transport.streamStopSending(u.id, H3ErrorCode.H3_STREAM_CREATION_ERROR);
        return false;
    }
  }

  private onUniData(u: UniStream, data: Uint8Array): void {
    switch (u.kind) {
      case "control": {
        const reader = u.reader!;
        reader.push(data);
        for (let f = reader.next(); f; f = this.ended ? undefined : reader.next()) this.onControlFrame(f);
        return;
      }
      case "encoder":
        this.onUnblocked(this.decoder.onEncoderStreamData(data));
        return;
      case "decoder":
        this.encoder.onDecoderStreamData(data);
        return;
    }
  }

  /** Frames of the peer's control stream (RFC 9114 section 6.2.1); the reader enforced SETTINGS first and the allowed types. */
  private onControlFrame(f: FrameEvent): void {
    switch (f.type) {
      case "settings":
        this.peerSettings = f.settings;
        this.encoder.applyPeerSettings({ maxTableCapacity: f.settings.qpackMaxTableCapacity ?? 0, blockedStreams: f.settings.qpackBlockedStreams ?? 0 });
        this.start();
        this.emit({ type: "settings", settings: f.settings });
        return;
      case "goaway":
        this.onGoaway(f.id);
        return;
      case "maxPushId":
        // RFC 9114 section 7.2.7: only clients send MAX_PUSH_ID, and it never decreases.
        if (this.isClient) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, "MAX_PUSH_ID from a server");
        if (f.pushId < this.maxPushIdReceived) throw new H3Error(H3ErrorCode.H3_ID_ERROR, `MAX_PUSH_ID decreased from ${this.maxPushIdReceived} to ${f.pushId}`);
        this.maxPushIdReceived = f.pushId;
        return;
      case "cancelPush":
        // RFC 9114 section 7.2.3: we never allow pushes (client) and never promise any (server).
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, `CANCEL_PUSH for push ID ${f.pushId}, which ${this.isClient ? "exceeds the maximum push ID" : "was never promised"}`);
      default:
        throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame ${f.type} on the control stream`);
    }
  }

  private onGoaway(id: number): void {
    if (this.isClient) {
      // RFC 9114 section 7.2.6: from a server, a client-initiated bidirectional stream ID.
      if (id % 4 !== 0) throw new H3Error(H3ErrorCode.H3_ID_ERROR, `GOAWAY with stream ID ${id}, not a client-initiated bidirectional stream`);
    }
    // RFC 9114 section 5.2: the identifier never increases.
    if (this.goawayRecv !== undefined && id > this.goawayRecv) throw new H3Error(H3ErrorCode.H3_ID_ERROR, `GOAWAY ID increased from ${this.goawayRecv} to ${id}`);
    this.goawayRecv = id;
    if (this.isClient) {
      // Requests at or above the ID were not processed: cancel them (to free
      // transport state) and report them rejected so they can be retried.
      for (const s of this.requests.values()) {
        if (s.id < id || s.dead) continue;
        this.abort(s, H3ErrorCode.H3_REQUEST_CANCELLED);
        this.emit({ type: "reset", streamId: s.id, errorCode: H3ErrorCode.H3_REQUEST_REJECTED, remote: true, reason: `not processed: the server sent GOAWAY ${id}` });
      }
    }
    this.emit({ type: "goaway", id });
    this.maybeFinishShutdown();
  }

  // -------------------------------------------------------- request streams

  private processRequest(s: RequestStream): void {
    const t = this.transport;
    while (!s.dead && !s.blocked && !s.paused && s.recv !== RECV_DONE && !this.ended) {
      const ev = s.reader.next();
      if (ev === undefined) {
        if (s.fin) {
          s.reader.finish();
          this.onRequestFin(s);
          return;
        }
        const r = t.streamRead(s.id);
        if (!r) return;
        if (r.data.length > 0) s.reader.push(r.data);
        if (r.fin) s.fin = true;
        continue;
      }
      this.onRequestFrame(s, ev);
    }
  }

  private onRequestFrame(s: RequestStream, ev: FrameEvent): void {
    switch (ev.type) {
      case "headers":
        if (s.recv === RECV_HEADERS) this.decodeSection(s, ev.fieldSection, "headers");
        else if (s.recv === RECV_BODY) this.decodeSection(s, ev.fieldSection, "trailers");
        // RFC 9114 section 4.1: nothing but unknown frames after the trailer section.
        else throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `HEADERS after the trailer section on stream ${s.id}`);
        return;
      case "data":
        // RFC 9114 section 4.1: DATA before HEADERS or after trailers is invalid.
        if (s.recv !== RECV_BODY) {
          throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `DATA ${s.recv === RECV_HEADERS ? "before the header section" : "after the trailer section"} on stream ${s.id}`);
        }
        this.onBodyData(s, ev.data);
        return;
      case "pushPromise":
        // RFC 9114 sections 7.2.5 and 4.6: servers receive no PUSH_PROMISE; a client without MAX_PUSH_ID allows none.
        if (!this.isClient) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, "PUSH_PROMISE from a client");
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, `PUSH_PROMISE for push ID ${ev.pushId}, but no MAX_PUSH_ID was sent`);
      default:
        throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame ${ev.type} on request stream ${s.id}`);
    }
  }

  private decodeSection(s: RequestStream, bytes: Uint8Array, kind: "headers" | "trailers"): void {
    let res;
    try {
      res = this.decoder.decodeFieldSection(s.id, bytes);
    } catch (e) {
      if (e instanceof FieldSectionTooLargeError) {
        this.onSectionTooLarge(s);
        return;
      }
      throw e;
    }
    if (res.blocked) {
      // RFC 9204 section 2.2.1: wait for the encoder stream; stop reading the stream meanwhile.
      s.blocked = kind;
      return;
    }
    this.onSection(s, kind, res.headers);
  }

  /** Blocked sections that the encoder stream made decodable. */
  private onUnblocked(list: UnblockedSection[]): void {
    for (const u of list) {
      const s = this.requests.get(u.streamId);
      if (!s || s.dead || !s.blocked) continue;
      const kind = s.blocked;
      s.blocked = "";
      if (u.error) {
        if (u.error instanceof FieldSectionTooLargeError) this.onSectionTooLarge(s);
        else throw u.error;
      } else {
        this.onSection(s, kind, u.headers);
      }
      this.pending.add(s);
    }
  }

  private onSection(s: RequestStream, kind: "headers" | "trailers", headers: Header[]): void {
    if (kind === "trailers") {
      try {
        validateTrailers(headers, !this.isClient);
        // The content is complete once the trailers come (RFC 9114 section 4.1.2).
        this.checkLength(s);
      } catch (e) {
        if (e instanceof MessageError) return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, e.message);
        throw e;
      }
      s.recv = RECV_TRAILERS;
      this.emit({ type: "trailers", streamId: s.id, headers });
      return;
    }
    if (!this.isClient) {
      let head;
      try {
        head = validateRequestHeaders(headers);
      } catch (e) {
        if (e instanceof MessageError) return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, e.message);
        throw e;
      }
      s.method = head.method;
      s.contentLength = head.contentLength;
      s.recv = RECV_BODY;
      this.emit({ type: "headers", streamId: s.id, headers, interim: false });
      return;
    }
    let head;
    try {
      head = validateResponseHeaders(headers);
    } catch (e) {
      if (e instanceof MessageError) return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, e.message);
      throw e;
    }
    if (head.status < 200) {
      // RFC 9114 section 4.1: interim responses precede the final one on the same stream.
      this.emit({ type: "headers", streamId: s.id, headers, interim: true });
      return;
    }
    s.final = true;
    s.recv = RECV_BODY;
    s.noBody = s.method === "HEAD" || head.status === 204 || head.status === 304;
    s.contentLength = head.contentLength;
    this.emit({ type: "headers", streamId: s.id, headers, interim: false });
  }

  private onBodyData(s: RequestStream, data: Uint8Array): void {
    if (data.length === 0) return;
    s.received += data.length;
    if (s.noBody) return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, `content in a response that has none (${s.method === "HEAD" ? "HEAD request" : "status without content"})`);
    // RFC 9114 section 4.1.2: more content than Content-Length is malformed; no need to wait for the end.
    if (s.contentLength !== undefined && s.received > s.contentLength) {
      return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, `content exceeds content-length ${s.contentLength}`);
    }
    this.emit({ type: "data", streamId: s.id, data });
  }

  /** RFC 9114 section 4.1.2: Content-Length must equal the content received (unless the message never has content). */
  private checkLength(s: RequestStream): void {
    if (s.contentLength !== undefined && !s.noBody && s.received !== s.contentLength) {
      throw new MessageError(`content-length ${s.contentLength} but ${s.received} bytes of content`);
    }
  }

  private onRequestFin(s: RequestStream): void {
    if (s.recv === RECV_HEADERS) {
      // RFC 9114 section 4.1: a stream that ends without a complete message.
      if (!this.isClient) return this.streamError(s, H3ErrorCode.H3_REQUEST_INCOMPLETE, "request stream ended before the header section");
      return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, "response stream ended before a final response");
    }
    if (s.recv === RECV_BODY) {
      try {
        this.checkLength(s);
      } catch (e) {
        if (e instanceof MessageError) return this.streamError(s, H3ErrorCode.H3_MESSAGE_ERROR, e.message);
        throw e;
      }
    }
    s.recv = RECV_DONE;
    this.emit({ type: "end", streamId: s.id });
  }

  /**
   * A header section over our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114
   * section 4.2.2). QPACK state is intact, so this concerns the stream
   * only: a server answers 431 and stops reading; a client abandons the
   * response with H3_EXCESSIVE_LOAD.
   */
  private onSectionTooLarge(s: RequestStream): void {
    const reason = `header section exceeds SETTINGS_MAX_FIELD_SECTION_SIZE ${this.maxFieldSectionSize}`;
    if (this.isClient || s.send !== SEND_IDLE) return this.streamError(s, H3ErrorCode.H3_EXCESSIVE_LOAD, reason);
    s.dead = true;
    this.writeHeaders(s, [[":status", "431"], ["content-length", "0"]], true);
    s.send = SEND_DONE;
    // RFC 9114 section 4.1: a complete response was sent, the rest of the request is not needed.
    this.transport.streamStopSending(s.id, H3ErrorCode.H3_NO_ERROR);
  }

  /** A stream error (RFC 9114 section 8): reset the stream both ways with `code` and tell the application. */
  private streamError(s: RequestStream, code: number, reason: string): void {
    if (s.dead) return;
    this.abort(s, code);
    this.emit({ type: "reset", streamId: s.id, errorCode: code, remote: false, reason });
  }

  /** Forgets a request the transport already closed once its message is delivered or abandoned. */
  private releaseIfDone(s: RequestStream): void {
    if (s.transportClosed && (s.dead || s.recv === RECV_DONE) && this.requests.delete(s.id)) this.maybeFinishShutdown();
  }

  /** Abruptly ends both directions still open (RFC 9114 section 4.1.1), forgetting QPACK state for the stream. */
  private abort(s: RequestStream, code: number): void {
    s.dead = true;
    this.pending.delete(s);
    this.releaseIfDone(s);
    const t = this.transport;
    if (t.isClosing) return;
    if (s.recv !== RECV_DONE) {
      // RFC 9204 section 2.2.2.2: the encoder may release references for this stream.
      this.decoder.cancelStream(s.id);
      t.streamStopSending(s.id, code);
    }
    if (s.send !== SEND_DONE) {
      s.send = SEND_DONE;
      t.streamReset(s.id, code);
    }
  }

  private onPeerReset(id: number, code: number): void {
    const s = this.requests.get(id);
    if (s) {
      if (s.dead) return;
      // The message we were receiving is cut short; cancel our side too (RFC 9114 section 4.1.1).
      s.recv = RECV_DONE;
      if (s.blocked) s.blocked = "";
      this.decoder.cancelStream(id);
      this.abort(s, H3ErrorCode.H3_REQUEST_CANCELLED);
      this.emit({ type: "reset", streamId: id, errorCode: code, remote: true, reason: `the peer reset the stream with ${h3ErrorName(code)}` });
      return;
    }
    const u = this.uni.get(id);
    if (!u) return;
    if (u.kind !== undefined) throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer reset its ${u.kind} stream`);
    // RFC 9114 section 6.2: a reset before the stream header is tolerated.
    this.uni.delete(id);
  }

  private onPeerStopSending(id: number, code: number): void {
    if (id === this.controlId || id === this.encoderId || id === this.decoderId) {
      // RFC 9114 section 6.2.1, RFC 9204 section 4.2: the peer must not ask us to close a critical stream.
      throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, `the peer sent STOP_SENDING on our critical stream ${id}`);
    }
    const s = this.requests.get(id);
    if (!s || s.dead) return;
    // The transport has already reset our sending part with the peer's code.
    s.send = SEND_DONE;
    if (code === H3ErrorCode.H3_NO_ERROR && this.isClient) {
      // RFC 9114 section 4.1: the server needs no more of the request; its response still comes.
      this.emit({ type: "stop_sending", streamId: id, errorCode: code });
      return;
    }
    this.abort(s, H3ErrorCode.H3_REQUEST_CANCELLED);
    this.emit({ type: "reset", streamId: id, errorCode: code, remote: true, reason: `the peer asked to stop sending with ${h3ErrorName(code)}` });
  }

  private onConnectionClosed(info: CloseInfo): void {
    this.ended = true;
    this.pending.clear();
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    const clean = info.application ? info.errorCode === H3ErrorCode.H3_NO_ERROR || info.errorCode === 0 : info.errorCode === 0 && !info.error;
    let error: Error | undefined;
    if (!clean) {
      error = info.application
        ? new QuicConnectionError(
            "ERR_H3_CONNECTION_CLOSED",
            `${info.remote ? "the peer" : "we"} closed the HTTP/3 connection with ${h3ErrorName(info.errorCode)}${info.reason ? `: ${info.reason}` : ""}`,
            info.errorCode,
            true,
            info.remote,
          )
        : (info.error ?? new QuicConnectionError("ERR_QUIC_TRANSPORT", `connection closed with transport error ${info.errorCode}`, info.errorCode, false, info.remote));
    }
    this.emit({ type: "closed", info, error });
  }

  // ----------------------------------------------------------- sending

  private liveStream(id: number): RequestStream {
    const s = this.requests.get(id);
    if (!s) throw new H3StreamError("ERR_H3_STREAM_NOT_FOUND", `no request stream ${id}`, id);
    if (s.dead) throw new H3StreamError("ERR_H3_STREAM_CLOSED", `stream ${id} was reset`, id);
    if (this.ended || this.transport.isClosing) throw new H3StreamError("ERR_H3_CONNECTION_CLOSED", "the connection is closed", id);
    return s;
  }

  /** Encodes a header or trailer section and writes it with the encoder instructions it needs. */
  private writeHeaders(s: RequestStream, headers: readonly Header[], fin: boolean): boolean {
    // RFC 9114 section 4.2.2: stay within the peer's limit.
    const limit = this.peerSettings?.maxFieldSectionSize;
    if (limit !== undefined) {
      const size = fieldSectionSize(headers);
      if (size > limit) throw new H3StreamError("ERR_H3_HEADERS_TOO_LARGE", `header section of ${size} bytes exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE ${limit}`, s.id);
    }
    const section = this.encoder.encodeFieldSection(s.id, headers);
    const ins = this.encoder.takeEncoderStreamData();
    // Instructions go out before the section that needs them; the peer blocks if they are late (RFC 9204 section 2.1.2).
    if (ins.length > 0) this.transport.streamWrite(this.encoderId, ins);
    return this.transport.streamWrite(s.id, encodeHeadersFrame(section), fin);
  }

  /**
   * Client: opens a request stream and sends the request header section
   * (RFC 9114 section 4.1); `endStream` when there is no content. Returns
   * the stream ID, or null when the server's stream limit allows no new
   * stream now (a `streams_available` event follows). Throws for invalid
   * headers (a TypeError) or when the connection cannot take requests.
   */
  sendRequest(headers: readonly Header[], endStream = false): number | null {
    if (!this.isClient) throw new TsquicError("ERR_H3_INVALID_STATE", "only a client sends requests");
    if (this.ended || this.transport.isClosing) throw new TsquicError("ERR_H3_CONNECTION_CLOSED", "the connection is closed");
    if (!this.started) throw new TsquicError("ERR_H3_INVALID_STATE", "the handshake has not completed");
    if (this.goawayRecv !== undefined || this.goawaySent !== undefined) {
      // RFC 9114 section 5.2: no new requests after GOAWAY.
      throw new TsquicError("ERR_H3_GOAWAY", "the connection is going away: no new requests");
    }
    let head;
    try {
      head = validateRequestHeaders(headers);
    } catch (e) {
      throw new TypeError(`invalid request: ${(e as Error).message}`);
    }
    const limit = this.peerSettings?.maxFieldSectionSize;
    if (limit !== undefined && fieldSectionSize(headers) > limit) {
      throw new TsquicError("ERR_H3_HEADERS_TOO_LARGE", `request header section of ${fieldSectionSize(headers)} bytes exceeds the server's SETTINGS_MAX_FIELD_SECTION_SIZE ${limit}`);
    }
    const st = this.transport.openStream(true);
    if (!st) return null;
    const s = new RequestStream(st.id, this.maxHeadersFrame);
    s.method = head.method;
    this.requests.set(s.id, s);
    try {
      this.writeHeaders(s, headers, endStream);
    } catch (e) {
      // Nothing usable was sent: give the stream back to the peer's accounting.
      this.abort(s, H3ErrorCode.H3_REQUEST_CANCELLED);
      throw e;
    }
    s.send = endStream ? SEND_DONE : SEND_BODY;
    return s.id;
  }

  /**
   * Server: sends a response header section on a request stream. A 1xx
   * status is an interim response and may be repeated; the final response
   * comes once (RFC 9114 section 4.1). `endStream` when there is no content.
   * Returns false on backpressure.
   */
  sendResponse(streamId: number, headers: readonly Header[], endStream = false): boolean {
    if (this.isClient) throw new TsquicError("ERR_H3_INVALID_STATE", "only a server sends responses");
    const s = this.liveStream(streamId);
    if (s.final) throw new H3StreamError("ERR_H3_INVALID_STATE", `a final response was already sent on stream ${streamId}`, streamId);
    let head;
    try {
      head = validateResponseHeaders(headers);
    } catch (e) {
      throw new TypeError(`invalid response: ${(e as Error).message}`);
    }
    const interim = head.status < 200;
    if (interim && endStream) throw new TypeError("an interim (1xx) response cannot end the stream");
    const ok = this.writeHeaders(s, headers, endStream);
    if (!interim) {
      s.final = true;
      s.send = endStream ? SEND_DONE : SEND_BODY;
    }
    return ok;
  }

  /**
   * Sends content as a DATA frame (RFC 9114 section 7.2.1), optionally
   * ending the stream. Large payloads are not copied: do not modify `data`
   * afterwards. Returns false when the stream or connection is above its
   * high-water mark: wait for a `writable` event before sending more. A
   * write past the connection's hard send-buffer cap throws, after
   * resetting the stream (H3_INTERNAL_ERROR): respect backpressure.
   */
  sendData(streamId: number, data: Uint8Array, endStream = false): boolean {
    const s = this.liveStream(streamId);
    if (s.send !== SEND_BODY) throw new H3StreamError("ERR_H3_INVALID_STATE", `stream ${streamId} is not sending content (${s.send === SEND_IDLE ? "no header section yet" : "already ended"})`, streamId);
    const t = this.transport;
    const n = data.length;
    let ok: boolean;
    try {
      if (n === 0) ok = endStream ? t.streamWrite(streamId, data, true) : true;
      else {
        const header = encodeDataFrameHeader(n);
        if (n <= DATA_COALESCE_MAX) {
          const frame = new Uint8Array(header.length + n);
          frame.set(header, 0);
          frame.set(data, header.length);
          ok = t.streamWrite(streamId, frame, endStream);
        } else {
          t.streamWrite(streamId, header, false);
          ok = t.streamWrite(streamId, data, endStream);
        }
      }
    } catch (e) {
      // A frame may be half written: the stream cannot go on.
      this.abort(s, H3ErrorCode.H3_INTERNAL_ERROR);
      throw e;
    }
    if (endStream) s.send = SEND_DONE;
    return ok;
  }

  /** Sends a trailer section and ends the stream (RFC 9114 section 4.1). */
  sendTrailers(streamId: number, headers: readonly Header[]): boolean {
    const s = this.liveStream(streamId);
    if (s.send !== SEND_BODY) throw new H3StreamError("ERR_H3_INVALID_STATE", `stream ${streamId} cannot send trailers now`, streamId);
    try {
      validateTrailers(headers, this.isClient);
    } catch (e) {
      throw new TypeError(`invalid trailers: ${(e as Error).message}`);
    }
    const ok = this.writeHeaders(s, headers, true);
    s.send = SEND_DONE;
    return ok;
  }

  /** Ends our message on the stream (FIN) after what was sent. */
  endStream(streamId: number): void {
    const s = this.liveStream(streamId);
    if (s.send === SEND_DONE) return;
    if (s.send !== SEND_BODY) throw new H3StreamError("ERR_H3_INVALID_STATE", `stream ${streamId} has no header section yet`, streamId);
    this.transport.streamWrite(streamId, new Uint8Array(0), true);
    s.send = SEND_DONE;
  }

  /**
   * Cancels the exchange on a stream (RFC 9114 section 4.1.1): resets our
   * sending part and aborts reading with `errorCode` (default
   * H3_REQUEST_CANCELLED). No event follows. Does nothing on a stream
   * already ended or reset.
   */
  cancel(streamId: number, errorCode: number = H3ErrorCode.H3_REQUEST_CANCELLED): void {
    const s = this.requests.get(streamId);
    if (!s || s.dead || this.ended) return;
    this.abort(s, errorCode);
  }

  /**
   * Abandons our message on the stream (RESET_STREAM with `errorCode`,
   * RFC 9114 section 8) while still reading the peer's. Use {@link cancel}
   * to abandon the whole exchange.
   */
  resetStream(streamId: number, errorCode: number = H3ErrorCode.H3_REQUEST_CANCELLED): void {
    const s = this.requests.get(streamId);
    if (!s || s.dead || this.ended || s.send === SEND_DONE) return;
    s.send = SEND_DONE;
    this.transport.streamReset(streamId, errorCode);
  }

  /**
   * Asks the peer to stop sending on the stream (STOP_SENDING) and discards
   * what arrives, while our side of the exchange goes on: a server that
   * answered without needing the rest of the request uses H3_NO_ERROR
   * (RFC 9114 section 4.1).
   */
  stopReading(streamId: number, errorCode: number = H3ErrorCode.H3_NO_ERROR): void {
    const s = this.requests.get(streamId);
    if (!s || s.dead || this.ended || s.recv === RECV_DONE) return;
    s.recv = RECV_DONE;
    s.paused = false;
    this.pending.delete(s);
    this.decoder.cancelStream(streamId);
    this.releaseIfDone(s);
    this.transport.streamStopSending(streamId, errorCode);
  }

  /** Stops reading a stream's content for now: the transport's flow control then holds the peer back. */
  pauseReading(streamId: number): void {
    const s = this.requests.get(streamId);
    if (s) s.paused = true;
  }

  /** Resumes reading after {@link pauseReading}; call {@link poll} afterwards (the driver should be told there is work). */
  resumeReading(streamId: number): void {
    const s = this.requests.get(streamId);
    if (!s || !s.paused) return;
    s.paused = false;
    if (!s.dead) this.pending.add(s);
  }

  /**
   * Starts a graceful shutdown (RFC 9114 section 5.2): sends GOAWAY (a
   * server names the first request stream it will not process; a client
   * allows no pushes), refuses new requests, and closes the connection with
   * H3_NO_ERROR once the requests in progress have finished.
   */
  shutdown(): void {
    if (this.ended || this.transport.isClosing || this.goawaySent !== undefined) return;
    if (!this.started) {
      this.close(H3ErrorCode.H3_NO_ERROR, "shutdown");
      return;
    }
    // A server names the first request stream it will not process; a
    // client, which never allowed pushes, names push ID 0.
    const id = this.isClient || this.maxRequestId < 0 ? 0 : this.maxRequestId + 4;
    this.goawaySent = id;
    this.transport.streamWrite(this.controlId, encodeGoawayFrame(id));
    this.maybeFinishShutdown();
  }

  /** Closes the connection at once (RFC 9114 section 5.3) with an HTTP/3 code, H3_NO_ERROR by default. */
  close(errorCode: number = H3ErrorCode.H3_NO_ERROR, reason = ""): void {
    if (this.ended || this.transport.isClosing) return;
    this.ended = true;
    this.pending.clear();
    this.transport.close(errorCode, reason);
  }

  /** After we sent GOAWAY: close once no request stream is left (RFC 9114 section 5.2). */
  private maybeFinishShutdown(): void {
    if (this.ended || this.goawaySent === undefined || this.requests.size > 0) return;
    this.closeWhenFlushed = true;
    this.checkFlushedClose();
  }

  /**
   * Closes once our control stream is acknowledged: the GOAWAY must reach
   * the peer before the CONNECTION_CLOSE (which abandons unsent stream
   * data), or it could not tell which requests were processed.
   */
  private checkFlushedClose(): void {
    if (!this.closeWhenFlushed || this.ended) return;
    const ctl = this.transport.getStream(this.controlId)?.send;
    if (ctl && ctl.bufferedBytes > 0) return;
    this.close(H3ErrorCode.H3_NO_ERROR, "");
  }
}
