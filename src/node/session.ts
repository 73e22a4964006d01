/**
 * QuicSession, QuicClientSession and QuicServerSession of the Node-style
 * API (seed 001): an EventEmitter over one sans-IO {@link Connection},
 * driven by the {@link UdpEndpoint} it lives on. With ALPN "h3" the
 * session runs the project's HTTP/3 layer ({@link H3Connection}) and its
 * streams carry header sections as events and `submit*Headers` calls.
 */
import { EventEmitter } from "node:events";
import { X509Certificate } from "node:crypto";
import type { Readable } from "node:stream";
import type { Connection, ConnectionEvent, CloseInfo } from "../quic/connection.js";
import type { UdpEndpoint } from "../driver/udp-endpoint.js";
import { clock } from "../driver/udp-endpoint.js";
import { Migrations } from "../driver/migration.js";
import type { PathEvent } from "../quic/path/index.js";
import { encodeResumptionState } from "../quic/resumption.js";
import { H3Connection, type H3ConnectionOptions, type H3Event, type Header } from "../h3/connection.js";
import { H3ErrorCode } from "../h3/errors.js";
import { TsquicError } from "../util/errors.js";
import type { TlsServer } from "../tls/server.js";
import { trustStoreFor } from "../tls/engine.js";
import { verifyCertificateChain } from "../pki/verify.js";
import { invalidState } from "./errors.js";
import type { QuicSocket } from "./socket.js";
import { addressInfo, type AddressInfo, type CertInput, type StreamDefaults } from "./options.js";
import { QuicStream, QuicStreamError, toHeadersObject, type OpenStreamOptions, type StreamHost } from "./stream.js";

/** What a session needs from its socket. */
export interface SessionOwner {
  /** @internal */ _sessionClosed(session: QuicSession): void;
}

/** How the session verifies its peer, to report `authenticated` / `authenticationError`. */
export interface PeerCheck {
  /** Trust anchors (undefined: the platform's). */
  ca: CertInput | undefined;
  /** Verify the server's name (clients). */
  host: string | undefined;
  /** The purpose the peer's certificate must allow. */
  usage: "server" | "client";
}

/** @internal Everything a session is built from. */
export interface SessionInit {
  owner: SessionOwner;
  socket: QuicSocket;
  udp: UdpEndpoint;
  connection: Connection;
  streamDefaults: StreamDefaults;
  h3: H3ConnectionOptions | undefined;
  peerCheck: PeerCheck;
  keylog: string[];
  /** The session's qlog trace (`qlog: true`). */
  qlog?: Readable | undefined;
}

/** Events the transport and the HTTP/3 layer both pass on: resumption, 0-RTT and path changes. */
type SessionEvent = Extract<H3Event, { type: "session_ticket" | "early_data" }> | PathEvent;

const SESSION_EVENTS: ReadonlySet<string> = new Set<SessionEvent["type"]>(["session_ticket", "early_data", "path_validated", "path_validation_failed", "preferred_address_used", "peer_address_changed"]);

function isSessionEvent(e: ConnectionEvent | H3Event): e is SessionEvent {
  return SESSION_EVENTS.has(e.type);
}

/** A certificate as Node's tls module describes it (a subset of its fields). */
export interface CertificateObject {
  subject: Record<string, string | string[]>;
  issuer: Record<string, string | string[]>;
  subjectaltname?: string;
  valid_from: string;
  valid_to: string;
  serialNumber: string;
  fingerprint: string;
  fingerprint256: string;
  fingerprint512: string;
  raw: Buffer;
  ca: boolean;
  /** With `detailed`: the issuer's certificate, when the peer sent it. */
  issuerCertificate?: CertificateObject;
}

/** How the session ended. */
export interface CloseCode {
  /** QUIC transport code, or the application's code. */
  code: number;
  /** Which code space `code` is in. */
  family: "application" | "transport";
  /** The reason phrase. */
  reason: string;
  /** True when the peer closed. */
  remote: boolean;
}

/** "CN=a\nO=b" (X509Certificate's form) as Node's object form. */
function nameObject(dn: string): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const line of dn.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    const prev = o[k];
    o[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return o;
}

/** Node's certificate object for `chain[index]`, with issuers linked when `detailed`. */
function certificateObject(chain: readonly Uint8Array[], index: number, detailed: boolean): CertificateObject {
  const der = chain[index]!;
  const x = new X509Certificate(der);
  const o: CertificateObject = {
    subject: nameObject(x.subject),
    issuer: nameObject(x.issuer),
    valid_from: x.validFrom,
    valid_to: x.validTo,
    serialNumber: x.serialNumber.toUpperCase(),
    fingerprint: x.fingerprint,
    fingerprint256: x.fingerprint256,
    fingerprint512: x.fingerprint512,
    raw: Buffer.from(der),
    ca: x.ca,
  };
  if (x.subjectAltName) o.subjectaltname = x.subjectAltName;
  if (detailed && index + 1 < chain.length) o.issuerCertificate = certificateObject(chain, index + 1, true);
  return o;
}

/**
 * The base of both session kinds. Events: `secure` (servername,
 * alpnProtocol, cipher), `stream` (QuicStream), `keylog` (line),
 * `pathValidation` (result, local, remote), `error`, `close`; clients also
 * `sessionTicket` (session, remoteTransportParams), `earlyData`
 * (accepted), `qlog` (stream.Readable) and `usePreferredAddress` (address).
 */
export class QuicSession extends EventEmitter implements StreamHost {
  readonly #owner: SessionOwner;
  readonly #socket: QuicSocket;
  readonly #udp: UdpEndpoint;
  readonly #conn: Connection;
  readonly #h3: H3Connection | undefined;
  readonly #defaults: StreamDefaults;
  readonly #peerCheck: PeerCheck;
  readonly #streams = new Map<number, QuicStream>();
  /** HTTP/3 requests whose headers wait for the handshake or for stream credit. */
  readonly #pendingRequests: Array<{ stream: QuicStream; headers: Header[] }> = [];
  readonly #paused = new Set<number>();
  #openWaiters: Array<() => void> = [];
  #keylog: string[] | undefined;
  readonly #createdAt = performance.now();
  #closedAt: number | undefined;
  #secure = false;
  #closing = false;
  #destroyed = false;
  #destroying = false;
  /** The error given to destroy(), reported instead of the connection's. */
  #destroyError: Error | undefined;
  #closeCode: CloseCode | undefined;
  #closeError: Error | undefined;
  #authError: Error | undefined;
  #closePromise: Promise<void> | undefined;
  #selectionWatched: Promise<void> | undefined;
  readonly #counts = { bidi: 0, uni: 0, peer: 0, self: 0 };
  /** HTTP/3: our control streams are open, requests may go (in 0-RTT, before `secure`). */
  #h3Ready = false;
  #migrations: Migrations | undefined;
  #qlog: Readable | undefined;
  /** A client's qlog trace, until the 'qlog' event announces it. */
  #qlogToAnnounce: Readable | undefined;

  /** @internal Sessions come from QuicSocket.connect() and the socket's 'session' event. */
  constructor(init: SessionInit) {
    super();
    this.#owner = init.owner;
    this.#socket = init.socket;
    this.#udp = init.udp;
    this.#conn = init.connection;
    this.#defaults = init.streamDefaults;
    this.#peerCheck = init.peerCheck;
    this.#keylog = init.keylog;
    if (init.qlog && this.isClient) this.#qlogToAnnounce = init.qlog;
    else this.#qlog = init.qlog;
    if (init.h3) this.#h3 = new H3Connection(init.connection, init.h3);
  }

  /** True on client sessions. */
  get isClient(): boolean {
    return this.#conn.role === "client";
  }

  /** True when the session speaks HTTP/3 (ALPN "h3"): streams carry headers. */
  get isH3(): boolean {
    return this.#h3 !== undefined;
  }

  /** The underlying sans-IO connection (for statistics beyond this API). */
  get connection(): Connection {
    return this.#conn;
  }

  // ------------------------------------------------------------ state

  /** The QuicSocket the session belongs to. */
  get socket(): QuicSocket {
    return this.#socket;
  }

  /** Our local address (the new one after {@link QuicClientSession.setSocket}). */
  get address(): AddressInfo {
    const a = this.#conn.local ?? this.#udp.address;
    return addressInfo(a.address, a.port);
  }

  /** The peer's address. */
  get remoteAddress(): AddressInfo {
    const r = this.#conn.remote;
    return addressInfo(r.address, r.port);
  }

  /** The negotiated ALPN protocol. */
  get alpnProtocol(): string | undefined {
    return this.#conn.alpnProtocol;
  }

  /** The SNI server name (sent by a client, received by a server). */
  get servername(): string | undefined {
    return this.#conn.tls.serverName;
  }

  /** The negotiated cipher suite, as node:tls names it. */
  get cipher(): { name: string; standardName: string; version: string } | undefined {
    const s = this.#conn.tls.cipherSuite;
    return s ? { name: s.name, standardName: s.name, version: "TLSv1.3" } : undefined;
  }

  /** The key exchange of the handshake, as node:tls's getEphemeralKeyInfo() (clients). */
  get ephemeralKeyInfo(): { type: string; name: string; size: number } | Record<string, never> {
    const g = this.#conn.tls.group;
    if (!g) return {};
    const info = { x25519: { name: "X25519", size: 253 }, secp256r1: { name: "prime256v1", size: 256 }, secp384r1: { name: "secp384r1", size: 384 } }[g];
    return { type: "ECDH", ...info };
  }

  /** True when the peer's certificate chain verified against the trusted CAs (and, for servers, names us). */
  get authenticated(): boolean {
    return this.#secure && this.#conn.tls.peerCertificates.length > 0 && this.#authError === undefined;
  }

  /** Why the peer is not {@link authenticated}. */
  get authenticationError(): Error | undefined {
    if (!this.#secure) return undefined;
    if (this.#authError) return this.#authError;
    if (this.#conn.tls.peerCertificates.length === 0) return new TsquicError("ERR_QUIC_NO_PEER_CERTIFICATE", "the peer sent no certificate");
    return undefined;
  }

  /** True once the TLS handshake completed. */
  get handshakeComplete(): boolean {
    return this.#secure;
  }

  /** True once the handshake is confirmed (RFC 9001 section 4.1.2). */
  get handshakeConfirmed(): boolean {
    return this.#conn.isHandshakeConfirmed;
  }

  /** True during a graceful close. */
  get closing(): boolean {
    return this.#closing;
  }

  /** True once the session ended. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** How the session ended; undefined while it lives. */
  get closeCode(): CloseCode | undefined {
    return this.#closeCode;
  }

  /** True when the session ended on its idle timeout. */
  get idleTimeout(): boolean {
    return (this.#closeError as TsquicError | undefined)?.code === "ERR_QUIC_IDLE_TIMEOUT";
  }

  /** True when the session ended with a stateless reset from the peer. */
  get statelessReset(): boolean {
    return (this.#closeError as TsquicError | undefined)?.code === "ERR_QUIC_STATELESS_RESET";
  }

  /** True when 0-RTT data was accepted on this session (RFC 9001 section 4.6): by us (server) or by the server (client). */
  get usingEarlyData(): boolean {
    return this.#conn.earlyDataStatus === "accepted";
  }

  /** The qlog trace (JSON-SEQ text) with `qlog: true`; on clients, from the 'qlog' event on. */
  get qlog(): Readable | undefined {
    return this.#qlog;
  }

  // ------------------------------------------------------------ statistics

  /** Milliseconds the session has been (or was) alive. */
  get duration(): number {
    return (this.#closedAt ?? performance.now()) - this.#createdAt;
  }

  /** Handshake time in ms; undefined before it completes. */
  get handshakeDuration(): number | undefined {
    return this.#conn.stats().handshakeDuration;
  }

  /** Bytes sent and not yet acknowledged or declared lost. */
  get bytesInFlight(): number {
    return this.#conn.stats().bytesInFlight;
  }

  /** The most bytes ever in flight. */
  get maxInFlightBytes(): number {
    return this.#conn.stats().maxBytesInFlight;
  }

  /** Bytes of UDP payload received. */
  get bytesReceived(): number {
    return this.#conn.stats().bytesReceived;
  }

  /** Bytes of QUIC packets sent. */
  get bytesSent(): number {
    return this.#conn.stats().bytesSent;
  }

  /** Latest RTT sample, ms (RFC 9002 section 5.1). */
  get latestRTT(): number {
    return this.#conn.stats().latestRtt;
  }

  /** Minimum RTT, ms (RFC 9002 section 5.2). */
  get minRTT(): number {
    return this.#conn.stats().minRtt;
  }

  /** Smoothed RTT, ms (RFC 9002 section 5.3). */
  get smoothedRTT(): number {
    return this.#conn.stats().smoothedRtt;
  }

  /** Packets declared lost, whose frames were queued again (RFC 9002 section 6.1). */
  get lossRetransmitCount(): number {
    return this.#conn.stats().packetsLost;
  }

  /** Probe timeouts that fired: retransmissions for want of an acknowledgement (RFC 9002 section 6.2). */
  get ackDelayRetransmitCount(): number {
    return this.#conn.stats().ptoCount;
  }

  /** Times we were blocked by the peer's flow control (DATA_BLOCKED and STREAM_DATA_BLOCKED sent). */
  get blockCount(): number {
    const b = this.#conn.stats().blockedFramesSent;
    return b.data + b.streamData;
  }

  /** 1-RTT key updates so far, by either side (RFC 9001 section 6). */
  get keyUpdateCount(): number {
    return this.#conn.stats().keyUpdates;
  }

  /** Bytes of new stream data the peer's MAX_DATA still allows. */
  get maxDataLeft(): number {
    return this.#conn.streams.conn.sendCredit;
  }

  /** Largest UDP payload we send. */
  get maxPacketLength(): number {
    return this.#conn.config.maxSendUdpPayloadSize;
  }

  /** Streams we may still open under the peer's MAX_STREAMS, per direction. */
  get maxStreams(): { bidi: number; uni: number } {
    return { bidi: this.#conn.streams.availableStreams(true), uni: this.#conn.streams.availableStreams(false) };
  }

  /** Bidirectional streams opened so far, by either side. */
  get bidiStreamCount(): number {
    return this.#counts.bidi;
  }

  /** Unidirectional streams opened so far, by either side (HTTP/3's own control streams not counted). */
  get uniStreamCount(): number {
    return this.#counts.uni;
  }

  /** Streams the peer opened. */
  get peerInitiatedStreamCount(): number {
    return this.#counts.peer;
  }

  /** Streams we opened. */
  get selfInitiatedStreamCount(): number {
    return this.#counts.self;
  }

  /** Alias of {@link peerInitiatedStreamCount}. */
  get inboundStreamsCount(): number {
    return this.#counts.peer;
  }

  /** Alias of {@link selfInitiatedStreamCount}. */
  get outboundStreamsCount(): number {
    return this.#counts.self;
  }

  // ------------------------------------------------------------ certificates

  /** Our certificate, as node:tls describes one; {} when we sent none. */
  getCertificate(): CertificateObject | Record<string, never> {
    const chain = this.#conn.tls.localCertificates;
    return chain.length && !this.#destroyed ? certificateObject(chain, 0, false) : {};
  }

  /** The peer's certificate ({} when it sent none); with `detailed`, linked to its issuers. */
  getPeerCertificate(detailed = false): CertificateObject | Record<string, never> {
    const chain = this.#conn.tls.peerCertificates;
    return chain.length && !this.#destroyed ? certificateObject(chain, 0, detailed) : {};
  }

  // ------------------------------------------------------------ operations

  /**
   * Opens a stream; resolves once the peer's stream limit allows it (and,
   * for a client, once the handshake got that far). Rejects when the
   * session is closing or destroyed. HTTP/3: a client opens request
   * streams only, which stay {@link QuicStream.pending} until
   * submitInitialHeaders.
   */
  async openStream(options: OpenStreamOptions = {}): Promise<QuicStream> {
    const bidi = !options.halfOpen;
    const defaults: StreamDefaults = {
      highWaterMark: options.highWaterMark ?? this.#defaults.highWaterMark,
      defaultEncoding: options.defaultEncoding ?? this.#defaults.defaultEncoding,
    };
    if (this.#h3) {
      this.#assertOpen();
      if (!this.isClient || !bidi) throw invalidState("an HTTP/3 session opens only client request streams (bidirectional); its unidirectional streams are the protocol's own");
      return new QuicStream(this, undefined, true, true, defaults);
    }
    for (;;) {
      this.#assertOpen();
      const s = this.#conn.openStream(bidi);
      if (s) {
        const stream = this.#adopt(s.id, bidi, true, defaults);
        this.#udp.touch(this.#conn);
        return stream;
      }
      await new Promise<void>((resolve) => this.#openWaiters.push(resolve));
    }
  }

  /** Sends a PING: keeps the connection alive and samples the RTT. */
  ping(): void {
    if (this.#destroyed) return;
    this.#conn.ping();
    this.#udp.touch(this.#conn);
  }

  /**
   * Starts a 1-RTT key update (RFC 9001 section 6). Throws before the
   * handshake is confirmed; returns false while an update may not start
   * yet (the previous one is not finished).
   */
  updateKey(): boolean {
    if (!this.#conn.isHandshakeConfirmed) throw invalidState("updateKey() needs a confirmed handshake (RFC 9001 section 6)");
    const ok = this.#conn.updateKey();
    if (ok) this.#udp.touch(this.#conn);
    return ok;
  }

  /**
   * Closes gracefully: no new streams; once the open ones finish, the
   * connection closes with NO_ERROR (H3_NO_ERROR for HTTP/3). Resolves
   * when the session is destroyed.
   */
  close(): Promise<void> {
    this.#closing = true;
    const p = this.#whenClosed();
    this.#maybeFinishClose();
    return p;
  }

  /**
   * Ends the session at once: open streams are destroyed, the connection
   * closes with `code` (default: 0, or H3_NO_ERROR / H3_INTERNAL_ERROR for
   * HTTP/3 without / with an error). `error` is emitted before `close`.
   */
  destroy(error?: Error, code?: number): void {
    if (this.#destroyed || this.#destroying) return;
    this.#destroying = true;
    this.#destroyError = error;
    for (const s of [...this.#streams.values()]) s.destroy(error);
    const h3 = this.#h3;
    const c = code ?? (h3 ? (error ? H3ErrorCode.H3_INTERNAL_ERROR : H3ErrorCode.H3_NO_ERROR) : 0);
    const reason = error ? error.message.slice(0, 100) : "";
    if (!this.#conn.isClosing) {
      if (h3) h3.close(c, reason);
      else this.#conn.close(c, reason);
    }
    // 'close' follows from the connection_closed event of the next flush.
    this.#udp.touch(this.#conn);
  }

  /**
   * @internal Moves a client's connection to a new UDP socket on the
   * address of its endpoint (RFC 9000 section 9.2); see
   * {@link QuicClientSession.setSocket}.
   */
  async _migrate(natRebinding: boolean): Promise<void> {
    this.#assertOpen();
    this.#migrations ??= new Migrations(this.#udp, this.#conn);
    await this.#migrations.start({ address: this.#udp.address.address, natRebinding });
  }

  // ------------------------------------------------------------ StreamHost

  /** @internal */
  _write(stream: QuicStream, chunk: Uint8Array, fin: boolean): boolean {
    const id = stream.id!;
    let ok: boolean;
    if (this.#h3) ok = chunk.length || !fin ? this.#h3.sendData(id, chunk, fin) : (this.#h3.endStream(id), true);
    else ok = this.#conn.streamWrite(id, chunk, fin);
    this.#udp.touch(this.#conn);
    return ok;
  }

  /** @internal The reader wants more: pull what the transport holds. */
  _read(stream: QuicStream): void {
    const id = stream.id!;
    if (this.#h3) {
      if (this.#paused.delete(id)) {
        this.#h3.resumeReading(id);
        this.#udp.touch(this.#conn);
      }
      return;
    }
    this.#pull(stream);
  }

  /** @internal */
  _abort(stream: QuicStream, code: number): void {
    const id = stream.id!;
    this.#udp.touch(this.#conn);
    if (this.#h3) return this.#h3.cancel(id, code);
    // Only the parts the stream has: a unidirectional stream is send-only or receive-only (RFC 9000 section 2.1).
    const local = stream.clientInitiated === this.isClient;
    if (stream.bidirectional || local) this.#conn.streamReset(id, code);
    if (stream.bidirectional || !local) this.#conn.streamStopSending(id, code);
  }

  /** @internal */
  _headers(stream: QuicStream, kind: "initial" | "informational" | "trailing", headers: Header[]): void {
    const h3 = this.#h3;
    if (!h3) throw invalidState("headers need the HTTP/3 application (alpn 'h3')");
    if (kind === "trailing") {
      h3.sendTrailers(stream.id!, headers);
    } else if (this.isClient) {
      if (kind !== "initial") throw invalidState("only a server sends informational headers");
      if (!stream.pending) throw invalidState("the request headers were already submitted");
      this.#pendingRequests.push({ stream, headers });
      this.#startRequests();
      return;
    } else {
      const status = Number(headers.find(([n]) => n === ":status")?.[1]);
      if ((kind === "informational") !== (status >= 100 && status < 200)) {
        throw new TypeError(kind === "informational" ? "informational headers need a 1xx :status" : "initial headers need a final (2xx-5xx) :status");
      }
      h3.sendResponse(stream.id!, headers, false);
    }
    this.#udp.touch(this.#conn);
  }

  /** @internal */
  _receivedInEarlyData(stream: QuicStream): boolean {
    return !this.isClient && stream.id !== undefined && this.#conn.receivedInEarlyData(stream.id);
  }

  /** @internal A stream is gone. */
  _forget(stream: QuicStream): void {
    if (stream.id !== undefined && this.#streams.get(stream.id) === stream) {
      this.#streams.delete(stream.id);
      this.#paused.delete(stream.id);
    }
    const i = this.#pendingRequests.findIndex((r) => r.stream === stream);
    if (i >= 0) this.#pendingRequests.splice(i, 1);
    this.#maybeFinishClose();
  }

  // ------------------------------------------------------------ driving

  /** @internal Drains the connection's (or HTTP/3 layer's) events into this API's events. */
  _dispatch(): void {
    if (this.#keylog) {
      const lines = this.#keylog;
      this.#keylog = undefined;
      for (const l of lines) this.emit("keylog", Buffer.from(l + "\n"));
    }
    if (this.#qlogToAnnounce) {
      this.#qlog = this.#qlogToAnnounce;
      this.#qlogToAnnounce = undefined;
      this.emit("qlog", this.#qlog);
    }
    this.#watchCertificateSelection();
    if (this.#h3) {
      for (let e = this.#h3.poll(); e; e = this.#h3.poll()) this.#onH3Event(e);
      // After 0-RTT the HTTP/3 layer was ready before the handshake completed: no event marks the completion.
      if (!this.#secure && this.#conn.isEstablished) this.#onSecure();
    } else {
      const c = this.#conn;
      for (let e = c.poll(); e; e = c.poll()) this.#onEvent(e);
    }
  }

  /** @internal A key log line for this connection. */
  _keylog(line: string): void {
    if (this.#keylog) this.#keylog.push(line);
    else this.emit("keylog", Buffer.from(line + "\n"));
  }

  /** An asynchronous clientHelloHandler/ocspHandler parked the handshake: go on once it settles. */
  #watchCertificateSelection(): void {
    if (this.isClient) return;
    const pending = (this.#conn.tls as TlsServer).pendingSelection;
    if (!pending || pending === this.#selectionWatched) return;
    this.#selectionWatched = pending;
    void pending.then(() => {
      this.#conn.resumeHandshake(clock());
      this.#udp.touch(this.#conn);
    });
  }

  #onEvent(e: ConnectionEvent): void {
    if (isSessionEvent(e)) return this.#onSessionEvent(e);
    switch (e.type) {
      case "handshake_done":
        this.#onSecure();
        break;
      case "opened":
        this.#adopt(e.streamId, e.bidi, false, this.#defaults, true);
        break;
      case "readable": {
        const s = this.#streams.get(e.streamId);
        if (s) this.#pull(s);
        break;
      }
      case "writable":
        this.#streams.get(e.streamId)?._onWritable();
        break;
      case "reset": {
        const s = this.#streams.get(e.streamId);
        s?.destroy(new QuicStreamError("ERR_QUIC_STREAM_RESET", `stream ${e.streamId} reset by the peer with code ${e.errorCode}`, e.errorCode));
        break;
      }
      case "stop_sending": {
        const s = this.#streams.get(e.streamId);
        if (s && !s.writableFinished)
          s.destroy(new QuicStreamError("ERR_QUIC_STREAM_STOPPED", `the peer asked to stop sending on stream ${e.streamId} with code ${e.errorCode}`, e.errorCode));
        break;
      }
      case "streams_available":
        this.#wakeOpeners();
        break;
      case "finished":
      case "closed":
        // The Duplex closes itself once both its sides are done.
        break;
      case "connection_closed":
        this.#onClosed(e.info, e.info.error);
        break;
    }
  }

  #onH3Event(e: H3Event): void {
    if (isSessionEvent(e)) return this.#onSessionEvent(e);
    switch (e.type) {
      case "ready":
        this.#h3Ready = true;
        if (this.#conn.isEstablished) this.#onSecure();
        this.#startRequests();
        break;
      case "headers": {
        let s = this.#streams.get(e.streamId);
        if (!s) {
          if (this.isClient) break;
          s = this.#adopt(e.streamId, true, false, this.#defaults, true);
        }
        s.emit(e.interim ? "informationalHeaders" : "initialHeaders", toHeadersObject(e.headers));
        break;
      }
      case "data": {
        const s = this.#streams.get(e.streamId);
        if (s && !s._deliver(e.data) && !this.#paused.has(e.streamId)) {
          this.#paused.add(e.streamId);
          this.#h3!.pauseReading(e.streamId);
        }
        break;
      }
      case "trailers":
        this.#streams.get(e.streamId)?.emit("trailingHeaders", toHeadersObject(e.headers));
        break;
      case "end":
        this.#streams.get(e.streamId)?._deliverEnd();
        break;
      case "reset":
        this.#streams
          .get(e.streamId)
          ?.destroy(new QuicStreamError("ERR_QUIC_STREAM_RESET", `stream ${e.streamId} ${e.remote ? "reset by the peer" : "failed"} with code 0x${e.errorCode.toString(16)}${e.reason ? `: ${e.reason}` : ""}`, e.errorCode));
        break;
      case "writable":
        this.#streams.get(e.streamId)?._onWritable();
        break;
      case "streams_available":
        this.#startRequests();
        break;
      case "stop_sending":
      case "settings":
      case "goaway":
        break;
      case "closed":
        this.#onClosed(e.info, e.error);
        break;
    }
  }

  #onSessionEvent(e: SessionEvent): void {
    switch (e.type) {
      case "session_ticket": {
        // Our opaque session (ticket and NEW_TOKEN token); the parameters are in it too, passed for Node's signature.
        const session = encodeResumptionState({ ticket: e.ticket, ...(e.token ? { token: e.token } : {}) });
        this.emit("sessionTicket", Buffer.from(session), Buffer.from(this.#conn.tls.peerTransportParameters ?? new Uint8Array(0)));
        break;
      }
      case "early_data":
        if (this.isClient) this.emit("earlyData", e.accepted);
        break;
      case "path_validated":
      case "path_validation_failed": {
        this.#migrations?.onPathEvent(e);
        const local = e.path.local ?? this.#udp.address;
        this.emit("pathValidation", e.type === "path_validated" ? "success" : "failure", addressInfo(local.address, local.port), addressInfo(e.path.remote.address, e.path.remote.port));
        break;
      }
      case "preferred_address_used":
        if (this.isClient) this.emit("usePreferredAddress", addressInfo(e.path.remote.address, e.path.remote.port));
        break;
      case "peer_address_changed":
        // The server follows a client that moved (RFC 9000 section 9.3); pathValidation reports the validation.
        break;
    }
  }

  /** Reads everything available on a raw stream into its Duplex, until the reader is saturated. */
  #pull(s: QuicStream): void {
    const id = s.id!;
    for (let r = this.#conn.streamRead(id); r; r = this.#conn.streamRead(id)) {
      const more = r.data.length === 0 || s._deliver(r.data);
      if (r.fin) {
        s._deliverEnd();
        break;
      }
      if (!more) break;
    }
    // Reading frees receive window: MAX_STREAM_DATA may be due.
    this.#udp.touch(this.#conn);
  }

  #adopt(id: number, bidi: boolean, local: boolean, defaults: StreamDefaults, announce = false): QuicStream {
    const s = new QuicStream(this, id, bidi, local, defaults);
    this.#streams.set(id, s);
    this.#counts[bidi ? "bidi" : "uni"]++;
    this.#counts[local ? "self" : "peer"]++;
    if (announce) this.emit("stream", s);
    return s;
  }

  /** Sends the headers of HTTP/3 requests waiting for the handshake or for stream credit. */
  #startRequests(): void {
    const h3 = this.#h3;
    if (!h3 || !this.#h3Ready) return;
    while (this.#pendingRequests.length > 0) {
      const { stream, headers } = this.#pendingRequests[0]!;
      let id: number | null;
      try {
        id = h3.sendRequest(headers, false);
      } catch (e) {
        this.#pendingRequests.shift();
        stream.destroy(e as Error);
        continue;
      }
      if (id === null) break;
      this.#pendingRequests.shift();
      this.#streams.set(id, stream);
      this.#counts.bidi++;
      this.#counts.self++;
      stream._setId(id);
    }
    this.#udp.touch(this.#conn);
  }

  #onSecure(): void {
    if (this.#secure) return;
    this.#secure = true;
    this.#authError = this.#checkPeer();
    const tls = this.#conn.tls;
    const ocsp = this.#ocspResponseHandler;
    if (ocsp && tls.ocspResponse) {
      void Promise.resolve()
        .then(() => ocsp("response", { data: Buffer.from(tls.ocspResponse!) }))
        .catch((e: unknown) => this.destroy(e instanceof Error ? e : new Error(String(e))));
    }
    this.emit("secure", this.servername, this.alpnProtocol, this.cipher);
    this.#wakeOpeners();
  }

  /** @internal Set by connect() when the client asked for OCSP stapling. */
  _setOcspHandler(handler: (type: "response", options: { data: Buffer }) => unknown): void {
    this.#ocspResponseHandler = handler;
  }

  #ocspResponseHandler: ((type: "response", options: { data: Buffer }) => unknown) | undefined;

  /** Verifies the peer's chain for {@link authenticated}, whether or not the handshake required it. */
  #checkPeer(): Error | undefined {
    const chain = this.#conn.tls.peerCertificates;
    if (chain.length === 0) return undefined;
    try {
      verifyCertificateChain(chain, {
        trust: trustStoreFor(this.#peerCheck.ca as Parameters<typeof trustStoreFor>[0]),
        now: Date.now(),
        usage: this.#peerCheck.usage,
        ...(this.#peerCheck.host !== undefined ? { host: this.#peerCheck.host } : {}),
      });
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }

  #wakeOpeners(): void {
    const w = this.#openWaiters;
    this.#openWaiters = [];
    for (const f of w) f();
  }

  #assertOpen(): void {
    if (this.#destroyed || this.#conn.isClosing) throw invalidState("the session is destroyed");
    if (this.#closing) throw invalidState("the session is closing: no new streams");
  }

  #maybeFinishClose(): void {
    if (!this.#closing || this.#destroyed || this.#streams.size > 0 || this.#pendingRequests.length > 0 || this.#conn.isClosing) return;
    if (this.#h3) this.#h3.close(H3ErrorCode.H3_NO_ERROR);
    else this.#conn.close(0);
    this.#udp.touch(this.#conn);
  }

  #whenClosed(): Promise<void> {
    return (this.#closePromise ??= this.#destroyed ? Promise.resolve() : new Promise<void>((resolve) => this.once("close", () => resolve())));
  }

  #onClosed(info: CloseInfo, error: Error | undefined): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#closedAt = performance.now();
    this.#closeCode = { code: info.errorCode, family: info.application ? "application" : "transport", reason: info.reason, remote: info.remote };
    this.#closeError = error;
    // destroy(err) reports the caller's error. Otherwise only transport errors (TLS, refused,
    // protocol violations) are errors: a peer's application code is in closeCode, and an idle
    // timeout or stateless reset in idleTimeout / statelessReset.
    const reported = this.#destroying ? this.#destroyError : !info.application && info.errorCode !== 0 ? error : undefined;
    for (const s of [...this.#streams.values()]) s.destroy(reported);
    this.#streams.clear();
    for (const r of this.#pendingRequests.splice(0)) r.stream.destroy(reported ?? invalidState("the session closed before the request was sent"));
    this.#wakeOpeners();
    this.#migrations?.abort(error);
    this.#owner._sessionClosed(this);
    process.nextTick(() => {
      if (reported) this.emit("error", reported);
      this.emit("close");
    });
  }
}

/** The client side of a session, from {@link QuicSocket.connect}. */
export class QuicClientSession extends QuicSession {
  /**
   * Moves the session to a new local UDP port (RFC 9000 section 9.2): a
   * socket is bound on the address of the session's endpoint and the new
   * path is probed with PATH_CHALLENGE under a fresh connection ID while
   * traffic goes on. Resolves once the server answered and the session
   * moved ('pathValidation' 'success'); rejects when validation fails
   * (ERR_QUIC_PATH_VALIDATION_FAILED, the session staying where it was) or
   * the move is not allowed (before the handshake, or the server sent
   * disable_active_migration: ERR_QUIC_MIGRATION_DISABLED). With
   * `natRebinding` the port changes at once without validation, as a NAT
   * rebinding would look to the server.
   *
   * `socket` must be the session's own QuicSocket: a connection is routed
   * by its socket's endpoint and cannot change QuicSocket here, so another
   * socket is refused with ERR_QUIC_MIGRATION_UNSUPPORTED.
   */
  async setSocket(socket: QuicSocket, natRebinding = false): Promise<void> {
    if (socket !== this.socket) {
      throw new TsquicError(
        "ERR_QUIC_MIGRATION_UNSUPPORTED",
        "setSocket() cannot move a session to another QuicSocket (its connection is routed by its own socket's endpoint); pass session.socket to move it to a new local port",
      );
    }
    await this._migrate(!!natRebinding);
  }
}

/** The server side of a session, from the socket's `session` event. */
export class QuicServerSession extends QuicSession {}
