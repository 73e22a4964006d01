import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { getCiphers, type KeyObject } from "node:crypto";
import type { ConnectionConfig, TransportSettings } from "../quic/config.js";
import type { Connection, ConnectionEvent } from "../quic/connection.js";
import { QuicConnectionError } from "../quic/connection.js";
import type { SocketAddress } from "../quic/types.js";
import { Migrations, type MigrateOptions } from "../driver/migration.js";
import type { PathAddresses } from "../quic/path/path.js";
import { TsquicError } from "../util/errors.js";
import { plainBytes } from "../util/bytes.js";
import { UdpEndpoint } from "../driver/udp-endpoint.js";
import { keylogSink, type KeylogOption } from "../driver/keylog-file.js";
import { qlogDirectory, type QlogOption } from "../driver/qlog-files.js";
import type { SessionTicket } from "../tls/ticket.js";
import { CIPHER_SUITES, type CipherSuiteName } from "../crypto/suites.js";
import type { EarlyDataStatus } from "../quic/connection.js";
import { encodeResumptionState, toResumptionState, type ResumptionState } from "../quic/resumption.js";

/** Certificate, key or CA input: PEM text or DER/PEM bytes. */
export type CertInput = string | Uint8Array | Array<string | Uint8Array>;

/** Callbacks for the streams of a connection (seed 000, "Stream lifecycle callbacks"). */
export interface StreamHandlers<T = unknown> {
  /** A stream was opened, by either side (on the peer when its first frame arrives). */
  open?(stream: QuicStream<T>): void;
  /** Bytes arrived on a stream. */
  data?(stream: QuicStream<T>, buffer: Buffer): void;
  /** The peer finished its side of the stream (FIN received after all its data), as Bun's TCP `end`. */
  end?(stream: QuicStream<T>): void;
  /** A stream whose `write` returned false can take more data. */
  drain?(stream: QuicStream<T>): void;
  /** The stream is finished both ways (FIN sent and received) or was reset. */
  close?(stream: QuicStream<T>): void;
  /** The peer reset the stream or asked us to stop sending, or a stream-level error occurred. */
  error?(stream: QuicStream<T>, error: Error): void;
}

/** Callbacks for a connection. */
export interface SocketHandlers<T = unknown> {
  /** The handshake completed. */
  open?(socket: QuicSocket<T>): void;
  /** The connection ended (after `error` when it ended with one). */
  close?(socket: QuicSocket<T>): void;
  /** The connection failed: TLS, handshake timeout, idle timeout, protocol violation, peer's error close. */
  error?(socket: QuicSocket<T>, error: Error): void;
  /** A datagram (DATAGRAM frame, RFC 9221) arrived; needs the `datagrams` option. */
  datagram?(socket: QuicSocket<T>, data: Buffer): void;
  /**
   * Client: the server sent a session ticket (or a NEW_TOKEN token to go
   * with the last one). `ticket` is opaque and serializable: the TLS ticket,
   * the server's transport parameters and its address token. Pass it as
   * `tls.session` to resume a later connection, with 0-RTT when allowed.
   */
  sessionTicket?(socket: QuicSocket<T>, ticket: Uint8Array): void;
  /**
   * Client: the server accepted or rejected our 0-RTT data (before `open`).
   * Rejected data is sent again after the handshake, unless the server chose
   * another ALPN or lower limits, which fail the connection instead.
   */
  earlyData?(socket: QuicSocket<T>, accepted: boolean): void;
}

/** A key log destination of `quic()` / `listen()`: a file path, or a callback per connection and line. */
export type SocketKeylogOption<T = unknown> = string | ((socket: QuicSocket<T>, line: string) => void);

/** Transport knobs shared by both entry points. */
export interface QuicTransportOptions {
  /** Transport parameters (idle timeout, windows, stream limits...). */
  transport?: Partial<TransportSettings>;
  /** "reno" (default) or "cubic". */
  congestionControl?: "reno" | "cubic";
  /** Largest UDP payload to send (default 1200). */
  maxUdpPayloadSize?: number;
  /** Per-stream write buffer size above which `write` returns false. Default 1 MiB. */
  highWaterMark?: number;
  /** Handshake timeout in ms. Default 10 s. */
  handshakeTimeout?: number;
  /**
   * RTT assumed before the first sample, in ms: it sets the first probe
   * timeouts (RFC 9002 section 6.2.2 allows a value known for the network).
   * Default 333.
   */
  initialRtt?: number;
  /**
   * QUIC versions in preference order (numbers, e.g. 0x00000001 for v1 and
   * 0x6b3343cf for v2). A client starts with the first and offers the rest
   * for compatible version negotiation (RFC 9368); a server converts a first
   * flight to the first of its versions the client offers. Default [v1].
   */
  versions?: number[];
  /**
   * Writes a qlog file (JSON-SEQ, `.sqlog`, readable by qvis) per
   * connection into this directory: a path or `{ dir }`.
   */
  qlog?: QlogOption;
  /**
   * Accept and allow DATAGRAM frames (RFC 9221): advertises
   * max_datagram_frame_size 65535 unless `transport.maxDatagramFrameSize`
   * says otherwise. Sending also needs the peer to allow them.
   */
  datagrams?: boolean;
  /** Most datagrams waiting to be sent per connection; `sendDatagram` drops further ones. Default 64. */
  maxQueuedDatagrams?: number;
}

/** Every key of {@link QuicTransportOptions}: what APIs built over quic() and listen() pass on. */
const TRANSPORT_OPTION_KEYS = [
  "transport",
  "congestionControl",
  "maxUdpPayloadSize",
  "highWaterMark",
  "handshakeTimeout",
  "initialRtt",
  "versions",
  "qlog",
  "datagrams",
  "maxQueuedDatagrams",
] as const satisfies readonly (keyof QuicTransportOptions)[];
// Fails to compile when QuicTransportOptions gains a key the list lacks.
const transportOptionKeysComplete: Record<Exclude<keyof QuicTransportOptions, (typeof TRANSPORT_OPTION_KEYS)[number]>, never> = {};
void transportOptionKeysComplete;

/** The transport options set in `o`, for an API built over quic() or listen() to pass on whole. */
export function pickTransportOptions(o: QuicTransportOptions): QuicTransportOptions {
  const picked: Record<string, unknown> = {};
  for (const k of TRANSPORT_OPTION_KEYS) if (o[k] !== undefined) picked[k] = o[k];
  return picked as QuicTransportOptions;
}

/** Options of {@link quic}: TLS, ALPN and callbacks; stream callbacks may sit at the top level or under `stream`. */
export interface QuicClientOptions<T = unknown> extends StreamHandlers<T>, QuicTransportOptions {
  tls?: {
    /** Trusted CA certificates; replaces the platform root store. */
    ca?: CertInput;
    /** Client certificate chain (mutual TLS). */
    cert?: CertInput;
    /** Client private key. */
    key?: string | Uint8Array | KeyObject;
    passphrase?: string;
    /** Verify the server's certificate (default true). */
    rejectUnauthorized?: boolean;
    /** Server name for SNI and verification (default: the host of the target). */
    serverName?: string;
    /** A session from an earlier connection (the `sessionTicket` callback or `socket.sessionTicket`), to resume. */
    session?: Uint8Array | SessionTicket;
    /**
     * The server's transport parameters of the session (seed 001's
     * remoteTransportParams), when the ticket came without them; needed for 0-RTT.
     */
    remoteTransportParams?: Uint8Array;
    /**
     * With a session that allows it, send stream data written before the
     * handshake completes in 0-RTT (RFC 9001 section 4.6); `quic()` then
     * resolves at once. 0-RTT data can be replayed by an attacker: only
     * send what is safe to process twice. Default true.
     */
    earlyData?: boolean;
    /** TLS 1.3 cipher suites in preference order: names such as TLS_CHACHA20_POLY1305_SHA256, as an array or a ":"-separated list. */
    ciphers?: string | string[];
  };
  /** ALPN protocol(s). Default "tsquic". */
  alpn?: string | string[];
  /** Stream callbacks, when not given at the top level. */
  stream?: StreamHandlers<T>;
  /** Connection callbacks. When `stream` is given, top-level open/close/error are connection callbacks. */
  socket?: SocketHandlers<T>;
  /** DNS lookup (default: the platform's). */
  lookup?: (hostname: string) => Promise<{ address: string; family: number }>;
  /** Local address to bind. */
  localAddress?: string;
  /** SSLKEYLOGFILE lines (NSS key log format): a file path, or `keylog(socket, line)`. */
  keylog?: SocketKeylogOption<T>;
  /** A datagram arrived (with `datagrams: true`); also accepted under `socket`. */
  datagram?(socket: QuicSocket<T>, data: Buffer): void;
  /**
   * What to do when the server offers a preferred address (RFC 9000
   * section 9.6): "accept" (default) validates it after the handshake and
   * moves there; "reject" stays on the address connected to.
   */
  preferredAddressPolicy?: "accept" | "reject";
}

/** Options of {@link listen}. */
export interface QuicServerOptions<T = unknown> extends SocketHandlers<T>, QuicTransportOptions {
  /** Port; 0 picks a free one (see `server.port`). */
  port?: number;
  /** Address to bind. Default "0.0.0.0". */
  hostname?: string;
  /** ALPN protocol(s) accepted, in preference order. Default "tsquic". */
  alpn?: string | string[];
  /** Server TLS settings. */
  quic: {
    cert: CertInput;
    key: string | Uint8Array | KeyObject;
    /** CA to verify client certificates; setting it requests a client certificate. */
    ca?: CertInput;
    passphrase?: string;
    /** Require clients to present a certificate (default: when `ca` is set). */
    requestCert?: boolean;
    /**
     * Accept 0-RTT data from resuming clients (RFC 9001 section 4.6).
     * Default false: early data can be replayed. When on, each ticket
     * allows early data once (see src/quic/early-data.ts).
     */
    earlyData?: boolean;
    /** TLS 1.3 cipher suites in preference order (names, an array or a ":"-separated list). */
    ciphers?: string | string[];
  };
  /** Stream callbacks for every connection. */
  stream?: StreamHandlers<T>;
  /** Require a Retry round trip before keeping state (address validation, RFC 9000 section 8.1.2); a client's NEW_TOKEN token from an earlier connection skips it. */
  validateAddress?: boolean;
  /** Most simultaneous connections. */
  maxConnections?: number;
  /** SSLKEYLOGFILE lines (NSS key log format) of every connection: a file path, or `keylog(socket, line)`. */
  keylog?: SocketKeylogOption<T>;
  /**
   * Addresses to offer clients in preferred_address (RFC 9000 section
   * 9.6): a socket is bound on each (port 0 picks a free one, see
   * `server.preferredAddress`), and clients that accept move there once
   * the handshake is confirmed.
   */
  preferredAddress?: { ipv4?: SocketAddress; ipv6?: SocketAddress };
}

/**
 * Parses a cipher-suite option: TLS 1.3 suite names, as an array or a list
 * separated by ":" or ",". Throws a TypeError naming the supported suites,
 * or saying the runtime lacks a suite's AEAD (Bun's node:crypto has no
 * ChaCha20-Poly1305).
 */
export function cipherSuitesOption(ciphers: string | string[]): CipherSuiteName[] {
  const names = (Array.isArray(ciphers) ? ciphers : ciphers.split(/[:,]/)).map((n) => n.trim()).filter((n) => n.length > 0);
  const runtime = getCiphers();
  for (const n of names) {
    const suite = CIPHER_SUITES.find((c) => c.name === n);
    if (!suite) throw new TypeError(`unsupported cipher suite "${n}" (supported: ${CIPHER_SUITES.map((c) => c.name).join(", ")})`);
    if (!runtime.includes(suite.aead)) throw new TypeError(`cipher suite ${n} is not available: this runtime's node:crypto has no ${suite.aead}`);
  }
  if (names.length === 0) throw new TypeError("the cipher list is empty");
  return names as CipherSuiteName[];
}

/** The resolved handler set a connection dispatches to; replaced wholesale by `server.reload`. */
export interface Handlers {
  stream: StreamHandlers<any>;
  socket: SocketHandlers<any>;
}

const encoder = new TextEncoder();

/**
 * One stream of a QUIC connection (seed 000's QuicStream). Bidirectional;
 * data flows through `write` / `end` and the `data` callback.
 */
export class QuicStream<T = unknown> {
  /** Stream ID: 0, 4, 8... for client-initiated, 1, 5, 9... for server-initiated streams (RFC 9000 section 2.1). */
  readonly id: number;
  /**
   * Application data attached to the stream. It is local to this side: the
   * value given to `socket.stream(data)` is never sent to the peer, so on the
   * peer it starts undefined (set it in `open` if needed).
   */
  data: T | undefined;
  /** The connection. */
  readonly socket: QuicSocket<T>;
  private closedFired = false;

  /** @internal */
  constructor(socket: QuicSocket<T>, id: number, data: T | undefined) {
    this.socket = socket;
    this.id = id;
    this.data = data;
  }

  /**
   * Queues bytes to send. Returns false when the stream's buffered bytes are
   * above its high-water mark: wait for `drain` before writing more (the
   * data is still queued). The chunk is not copied: do not modify it
   * afterwards (as with Node's and Bun's sockets).
   */
  write(chunk: Uint8Array | string): boolean {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    return this.socket._write(this, bytes, false);
  }

  /** Sends FIN, optionally after a last chunk: our side of the stream is finished. */
  end(chunk?: Uint8Array | string): void {
    const bytes = chunk === undefined ? new Uint8Array(0) : typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    this.socket._write(this, bytes, true);
  }

  /** Closes the stream at once: RESET_STREAM for our sending side and STOP_SENDING for the peer's (RFC 9000 sections 19.4, 19.5). */
  close(errorCode = 0): void {
    this.socket._resetStream(this, errorCode);
  }

  /** True once `close` fired for this stream. */
  get closed(): boolean {
    return this.closedFired;
  }

  /** Server: true when the peer's data on this stream arrived in 0-RTT (replayable: act on it only if that is safe). */
  get earlyData(): boolean {
    return this.socket.connection.receivedInEarlyData(this.id);
  }

  /** @internal */
  _markClosed(): boolean {
    if (this.closedFired) return false;
    this.closedFired = true;
    return true;
  }
}

/** Runs an application handler; a throw must not break the connection's state machine, so it is rethrown on its own. */
function callHandler(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
}

/** Where a {@link QuicSocket} lives: the UDP endpoint driving its connection and the handlers it calls. */
export interface SocketHost {
  udp: UdpEndpoint;
  handlers(): Handlers;
}

/**
 * A QUIC connection (seed 000's QuicSocket). All data flows through
 * streams: there is no `socket.write`.
 */
export class QuicSocket<T = unknown> {
  /** Application data attached to the connection. */
  data: unknown;
  /** @internal */
  readonly connection: Connection;
  private readonly host: SocketHost;
  private readonly streams = new Map<number, QuicStream<T>>();
  private ended = false;
  private opened = false;
  /** @internal resolves the client's promise */
  _onOpen: (() => void) | undefined;
  /** @internal rejects the client's promise */
  _onFail: ((e: Error) => void) | undefined;
  /** @internal called when the connection is gone */
  _onGone: (() => void) | undefined;
  /** The latest session received (client; see the `sessionTicket` callback), to pass as `tls.session` later. */
  sessionTicket: Uint8Array | undefined;
  /** Migrations waiting for their path's validation. */
  private readonly migrations: Migrations;

  /** @internal */
  constructor(connection: Connection, host: SocketHost) {
    this.connection = connection;
    this.host = host;
    this.migrations = new Migrations(host.udp, connection);
  }

  /** Opens a new bidirectional stream with optional local data. */
  stream(data?: T): QuicStream<T> {
    if (this.ended) throw this.connection.closeInfo?.error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection is closed");
    const s = this.connection.openStream(true);
    if (!s) {
      throw new TsquicError(
        "ERR_QUIC_STREAM_LIMIT",
        `the peer allows no more concurrent streams right now (${this.connection.streams.streamCount} open); close some and retry`,
      );
    }
    const qs = new QuicStream<T>(this, s.id, data);
    this.streams.set(s.id, qs);
    this.call(() => this.host.handlers().stream.open?.(qs));
    this.host.udp.touch(this.connection);
    return qs;
  }

  /** Closes the connection gracefully (CONNECTION_CLOSE with the application code, RFC 9000 section 10.2). */
  close(errorCode = 0, reason = ""): void {
    if (this.ended) return;
    this.connection.close(errorCode, reason);
    this.host.udp.touch(this.connection);
  }

  /**
   * Sends an unreliable datagram (a DATAGRAM frame, RFC 9221): delivered
   * once or not at all, never retransmitted. Returns false when it was
   * dropped because too many wait already. Throws when the peer does not
   * accept datagrams or `data` is larger than {@link maxDatagramSize}.
   * `data` is not copied: do not modify it afterwards.
   */
  sendDatagram(data: Uint8Array | string): boolean {
    if (this.ended) throw this.connection.closeInfo?.error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection is closed");
    const ok = this.connection.sendDatagram(typeof data === "string" ? encoder.encode(data) : plainBytes(data));
    this.host.udp.touch(this.connection);
    return ok;
  }

  /** The largest datagram {@link sendDatagram} accepts; 0 when the peer accepts none. */
  get maxDatagramSize(): number {
    return this.connection.maxDatagramSize;
  }

  /** The peer's address. */
  get address(): SocketAddress {
    return { ...this.connection.remote };
  }

  /** Our local address (the new socket's after {@link migrate}). */
  get localAddress(): SocketAddress {
    return { ...(this.connection.local ?? this.host.udp.address) };
  }

  /**
   * Client: moves the connection to a new UDP socket (RFC 9000 section
   * 9.2), bound to `address` (default: the wildcard of the current
   * family) and `port` (default: a free one). The new path is probed with
   * PATH_CHALLENGE under a fresh connection ID while traffic continues on
   * the old one; the promise resolves with the new path once the server
   * answers and the connection has moved, and rejects (the connection
   * staying where it was) when validation fails, when the server sent
   * disable_active_migration (ERR_QUIC_MIGRATION_DISABLED) or has given no
   * spare connection ID (ERR_QUIC_NO_CONNECTION_ID). With `natRebinding`
   * the move happens at once without validation or new connection ID, as
   * a NAT rebinding would look to the server.
   */
  async migrate(options: MigrateOptions = {}): Promise<PathAddresses> {
    if (this.ended) throw this.connection.closeInfo?.error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection is closed");
    return this.migrations.start(options);
  }

  /** The negotiated ALPN protocol. */
  get alpnProtocol(): string | undefined {
    return this.connection.alpnProtocol;
  }

  /**
   * 0-RTT on this connection: "none", "attempted" (client, before the
   * server answered), "accepted", or "rejected" (client; the data was sent
   * again in 1-RTT).
   */
  get earlyData(): EarlyDataStatus {
    return this.connection.earlyDataStatus;
  }

  /** The server's encoded transport parameters (client), as remembered for 0-RTT. */
  get remoteTransportParams(): Uint8Array | undefined {
    return this.connection.tls.peerTransportParameters;
  }

  /** Connection statistics: RTT, congestion window, bytes and packets, losses. */
  stats(): ReturnType<Connection["stats"]> {
    return this.connection.stats();
  }

  /** True once the connection has closed. */
  get closed(): boolean {
    return this.ended;
  }

  /** @internal */
  _write(stream: QuicStream<T>, bytes: Uint8Array, fin: boolean): boolean {
    if (this.ended) throw this.connection.closeInfo?.error ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection is closed");
    // Zero-copy, as with Node's and Bun's sockets: the chunk is referenced until acknowledged, so do not modify it after write.
    const data = plainBytes(bytes);
    const ok = this.connection.streamWrite(stream.id, data, fin);
    this.host.udp.touch(this.connection);
    return ok;
  }

  /** @internal */
  _resetStream(stream: QuicStream<T>, code: number): void {
    const s = this.connection.getStream(stream.id);
    if (s) {
      this.connection.streamReset(stream.id, code);
      this.connection.streamStopSending(stream.id, code);
      this.host.udp.touch(this.connection);
    }
    this.fireClose(stream);
  }

  private call(fn: () => void): void {
    callHandler(fn);
  }

  private fireClose(qs: QuicStream<T>): void {
    if (qs._markClosed()) {
      this.streams.delete(qs.id);
      this.call(() => this.host.handlers().stream.close?.(qs));
    }
  }

  private streamFor(id: number): QuicStream<T> {
    let qs = this.streams.get(id);
    if (!qs) {
      qs = new QuicStream<T>(this, id, undefined);
      this.streams.set(id, qs);
      this.call(() => this.host.handlers().stream.open?.(qs!));
    }
    return qs;
  }

  /** @internal Drains the connection's events into the callbacks. */
  _dispatch(): void {
    const h = this.host.handlers();
    const c = this.connection;
    for (let e: ConnectionEvent | undefined = c.poll(); e; e = c.poll()) {
      switch (e.type) {
        case "handshake_done":
          this.opened = true;
          this.call(() => h.socket.open?.(this));
          this._onOpen?.();
          this._onOpen = undefined;
          break;
        case "session_ticket": {
          const ticket = encodeResumptionState({ ticket: e.ticket, ...(e.token ? { token: e.token } : {}) });
          this.sessionTicket = ticket;
          this.call(() => h.socket.sessionTicket?.(this, ticket));
          break;
        }
        case "early_data":
          if (this.connection.role === "client") this.call(() => h.socket.earlyData?.(this, e.accepted));
          break;
        case "datagram": {
          const buf = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
          this.call(() => h.socket.datagram?.(this, buf));
          break;
        }
        case "opened":
          this.streamFor(e.streamId);
          break;
        case "readable": {
          const qs = this.streamFor(e.streamId);
          for (let r = c.streamRead(e.streamId); r; r = c.streamRead(e.streamId)) {
            if (r.data.length > 0) {
              const buf = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
              this.call(() => h.stream.data?.(qs, buf));
            }
            if (r.fin) {
              this.call(() => h.stream.end?.(qs));
              break;
            }
          }
          break;
        }
        case "writable": {
          const qs = this.streams.get(e.streamId);
          if (qs) this.call(() => h.stream.drain?.(qs));
          break;
        }
        case "reset": {
          const qs = this.streamFor(e.streamId);
          const err = new QuicConnectionError("ERR_QUIC_STREAM_RESET", `stream ${e.streamId} reset by the peer with code ${e.errorCode}`, e.errorCode, true, true);
          this.call(() => h.stream.error?.(qs, err));
          // Our sending side is no longer wanted either: end it so the stream closes.
          if (c.getStream(e.streamId)) c.streamReset(e.streamId, e.errorCode);
          this.fireClose(qs);
          break;
        }
        case "stop_sending": {
          const qs = this.streamFor(e.streamId);
          const err = new QuicConnectionError("ERR_QUIC_STREAM_STOPPED", `peer asked to stop sending on stream ${e.streamId} with code ${e.errorCode}`, e.errorCode, true, true);
          this.call(() => h.stream.error?.(qs, err));
          break;
        }
        case "closed": {
          const qs = this.streams.get(e.streamId);
          if (qs) this.fireClose(qs);
          break;
        }
        case "finished":
        case "streams_available":
        case "peer_address_changed":
        case "preferred_address_used":
          break;
        case "path_validated":
        case "path_validation_failed":
          this.migrations.onPathEvent(e);
          break;
        case "connection_closed": {
          if (this.ended) break;
          this.ended = true;
          const err = e.info.error;
          if (!this.opened) {
            this._onFail?.(err ?? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "connection closed before the handshake completed"));
            this._onFail = undefined;
          }
          for (const qs of [...this.streams.values()]) {
            if (err) this.call(() => h.stream.error?.(qs, err));
            this.fireClose(qs);
          }
          this.migrations.abort(err);
          if (err && this.opened) this.call(() => h.socket.error?.(this, err));
          else if (err && !this._onOpen && h.socket.error) this.call(() => h.socket.error?.(this, err));
          this.call(() => h.socket.close?.(this));
          this._onGone?.();
          break;
        }
      }
    }
  }
}

function alpnList(alpn: string | string[] | undefined): string[] {
  if (alpn === undefined) return ["tsquic"];
  return Array.isArray(alpn) ? alpn : [alpn];
}

/** max_datagram_frame_size advertised by `datagrams: true`: any datagram up to 64 KiB (RFC 9221 section 3 suggests 65535). */
const DEFAULT_DATAGRAM_FRAME_SIZE = 65535;

/** The connection-config fields of the transport options shared by every server and client API. */
export function transportConfig(o: QuicTransportOptions): Partial<ConnectionConfig> {
  const transport = o.datagrams && o.transport?.maxDatagramFrameSize === undefined ? { ...o.transport, maxDatagramFrameSize: DEFAULT_DATAGRAM_FRAME_SIZE } : o.transport;
  return {
    ...(transport ? { transport } : {}),
    ...(o.congestionControl ? { congestionControl: o.congestionControl } : {}),
    ...(o.maxUdpPayloadSize ? { maxSendUdpPayloadSize: o.maxUdpPayloadSize } : {}),
    ...(o.highWaterMark ? { streamHighWaterMark: o.highWaterMark } : {}),
    ...(o.handshakeTimeout ? { handshakeTimeout: o.handshakeTimeout } : {}),
    ...(o.initialRtt ? { initialRtt: o.initialRtt } : {}),
    ...(o.versions ? { versions: o.versions } : {}),
    ...(o.qlog !== undefined ? { tracer: qlogDirectory(o.qlog) } : {}),
    ...(o.maxQueuedDatagrams !== undefined ? { maxQueuedDatagrams: o.maxQueuedDatagrams } : {}),
  };
}

/** A path or line sink as a `quic()` / `listen()` key log option (for layers whose users know no sockets). */
export function keylogPerLine<T>(option: KeylogOption): SocketKeylogOption<T> {
  return typeof option === "function" ? (_socket, line) => option(line) : option;
}

/** The connection-config key log of a path or line sink (every connection writes to it). */
export function keylogConfig(option: KeylogOption | undefined): Partial<ConnectionConfig> {
  const sink = keylogSink(option);
  return sink ? { keylog: (line) => sink(line) } : {};
}

/** Splits "host:port" or "[v6]:port". */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new TypeError(`invalid QUIC target "${target}": expected "host:port" or "[ipv6]:port"`);
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new TypeError(`invalid port in "${target}"`);
  return { host: m[1]!, port };
}

/**
 * Connects to a QUIC server (seed 000's `Bun.quic`). Resolves with the
 * connection once the handshake completes; rejects with an error carrying
 * the QUIC or TLS code when it fails.
 */
export async function quic<T = unknown>(target: string, options: QuicClientOptions<T> = {}): Promise<QuicSocket<T>> {
  const { host, port } = parseTarget(target);
  let address = host;
  if (!isIP(host)) {
    const r = options.lookup ? await options.lookup(host) : await dnsLookup(host);
    address = r.address;
  }
  const ipv6 = isIP(address) === 6;
  const handlers: Handlers = options.stream
    ? {
        stream: options.stream,
        socket: { ...(options.socket ?? {}), open: options.socket?.open ?? (options.open as SocketHandlers["open"]), close: options.socket?.close ?? (options.close as SocketHandlers["close"]), error: options.socket?.error ?? (options.error as SocketHandlers["error"]) },
      }
    : {
        stream: { open: options.open, data: options.data, end: options.end, drain: options.drain, close: options.close, error: options.error } as StreamHandlers<any>,
        socket: options.socket ?? {},
      };
  if (options.datagram && !handlers.socket.datagram) handlers.socket = { ...handlers.socket, datagram: options.datagram as SocketHandlers["datagram"] };
  let socketRef: QuicSocket<T> | undefined;
  // Key log lines of a 0-RTT attempt come before the socket exists: they wait for it.
  const keylog = options.keylog;
  const earlyKeylog: string[] = [];
  const tls = options.tls ?? {};
  const session = tls.session === undefined ? undefined : toResumptionState(tls.session);
  const config: ConnectionConfig = {
    alpn: alpnList(options.alpn),
    clientTls: {
      ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
      ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
      ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
      ...(tls.ciphers !== undefined ? { cipherSuites: cipherSuitesOption(tls.ciphers) } : {}),
    },
    ...transportConfig(options),
    ...(typeof keylog === "function"
      ? { keylog: (line: string) => (socketRef ? callHandler(() => keylog(socketRef!, line)) : earlyKeylog.push(line)) }
      : keylogConfig(keylog)),
    ...(options.preferredAddressPolicy ? { preferredAddressPolicy: options.preferredAddressPolicy } : {}),
  };
  const udp = await UdpEndpoint.bind(
    { config, address: options.localAddress ?? (ipv6 ? "::" : "0.0.0.0"), port: 0, server: false },
    () => socketRef?._dispatch(),
  );
  const conn = udp.connect({
    serverName: tls.serverName ?? host,
    remote: { address, port },
    ...resumeOptions(session, tls.remoteTransportParams, tls.earlyData ?? true),
  });
  const socket = new QuicSocket<T>(conn, { udp, handlers: () => handlers });
  socketRef = socket;
  if (typeof keylog === "function") for (const line of earlyKeylog) callHandler(() => keylog(socket, line));
  socket._onGone = () => {
    // A client's UDP socket belongs to its one connection: close it with the connection.
    setImmediate(() => {
      udp.flushNow();
      void udp.close();
    });
  };
  // With 0-RTT the socket is usable at once: what its streams carry goes in 0-RTT packets.
  if (conn.canSendApplicationData) return socket;
  await new Promise<void>((resolve, reject) => {
    socket._onOpen = resolve;
    socket._onFail = reject;
  });
  return socket;
}

/** The connect options resuming `session` (ticket, NEW_TOKEN token, 0-RTT). */
export function resumeOptions(
  session: ResumptionState | undefined,
  remoteTransportParams: Uint8Array | undefined,
  earlyData: boolean,
): { sessionTicket?: SessionTicket; token?: Uint8Array; earlyData: boolean } {
  if (!session) return { earlyData };
  const ticket = remoteTransportParams ? { ...session.ticket, peerTransportParameters: remoteTransportParams } : session.ticket;
  return { sessionTicket: ticket, ...(session.token ? { token: session.token } : {}), earlyData };
}

/** A QUIC server (seed 000's `Bun.listen({ quic })`). */
export class QuicServer<T = unknown> {
  /** Resolves once the socket is bound (`port` is then final). */
  readonly ready: Promise<QuicServer<T>>;
  private udp: UdpEndpoint | undefined;
  private handlers: Handlers;
  private readonly sockets = new Map<Connection, QuicSocket<T>>();
  private readonly requestedPort: number;
  private readonly requestedHost: string;
  private stopped = false;
  private unrefed = false;

  /** @internal */
  constructor(options: QuicServerOptions<T>) {
    if (!options.quic?.cert || !options.quic?.key) throw new TypeError("listen({ quic: { cert, key } }) needs a certificate and a key");
    this.handlers = { stream: options.stream ?? {}, socket: { open: options.open, close: options.close, error: options.error, datagram: options.datagram } as SocketHandlers<any> };
    const keylog = options.keylog;
    this.requestedPort = options.port ?? 0;
    this.requestedHost = options.hostname ?? "0.0.0.0";
    const config: ConnectionConfig = {
      alpn: alpnList(options.alpn),
      serverTls: {
        cert: options.quic.cert,
        key: options.quic.key,
        ...(options.quic.passphrase !== undefined ? { passphrase: options.quic.passphrase } : {}),
        ...(options.quic.ca !== undefined ? { ca: options.quic.ca, requestClientCertificate: options.quic.requestCert ?? true } : {}),
        ...(options.quic.earlyData ? { earlyData: true } : {}),
        ...(options.quic.ciphers !== undefined ? { cipherSuites: cipherSuitesOption(options.quic.ciphers) } : {}),
      },
      ...transportConfig(options),
      ...(typeof keylog === "function" ? { keylog: (line: string, c: Connection) => callHandler(() => keylog(this.socketFor(c), line)) } : keylogConfig(keylog)),
    };
    this.ready = UdpEndpoint.bind(
      {
        config,
        address: this.requestedHost,
        port: this.requestedPort,
        server: true,
        ...(options.validateAddress ? { requireRetry: true } : {}),
        ...(options.maxConnections ? { maxConnections: options.maxConnections } : {}),
        ...(options.preferredAddress ? { preferredAddress: options.preferredAddress } : {}),
      },
      (c) => this.onActivity(c),
    ).then((udp) => {
      this.udp = udp;
      if (this.unrefed) udp.unref();
      if (this.stopped) void udp.close();
      return this;
    });
  }

  /** The bound port (the requested one until `ready` resolves). */
  get port(): number {
    return this.udp?.address.port ?? this.requestedPort;
  }

  /** The bound address. */
  get hostname(): string {
    return this.udp?.address.address ?? this.requestedHost;
  }

  /** The preferred addresses offered to clients, as bound (ports resolved once `ready`); undefined without the option. */
  get preferredAddress(): { ipv4?: SocketAddress; ipv6?: SocketAddress } | undefined {
    return this.udp?.endpoint.config.preferredAddress;
  }

  /** Live connections. */
  get connections(): number {
    return this.sockets.size;
  }

  private onActivity(c: Connection): void {
    this.socketFor(c)._dispatch();
  }

  /** The socket of a connection, created on its first activity (or its first key log line). */
  private socketFor(c: Connection): QuicSocket<T> {
    let s = this.sockets.get(c);
    if (!s) {
      s = new QuicSocket<T>(c, { udp: this.udp!, handlers: () => this.handlers });
      this.sockets.set(c, s);
      s._onGone = () => {
        this.sockets.delete(c);
        // A stopped server releases its socket once the last connection is gone.
        if (this.stopped && this.sockets.size === 0) {
          const udp = this.udp!;
          setImmediate(() => {
            udp.flushNow();
            void udp.close();
          });
        }
      };
    }
    return s;
  }

  /** Replaces the handlers for every live and future connection (hot reload, as Bun's TCP server does). */
  reload(options: Pick<QuicServerOptions<T>, "open" | "close" | "error" | "datagram" | "stream">): void {
    this.handlers = {
      stream: options.stream ?? this.handlers.stream,
      socket: {
        open: options.open ?? this.handlers.socket.open,
        close: options.close ?? this.handlers.socket.close,
        error: options.error ?? this.handlers.socket.error,
        datagram: options.datagram ?? this.handlers.socket.datagram,
      },
    };
  }

  /**
   * Stops accepting connections. With `closeActiveConnections`, closes live
   * connections too and releases the socket; otherwise the socket stays
   * open until they end.
   */
  stop(closeActiveConnections = false): void {
    this.stopped = true;
    const udp = this.udp;
    if (!udp) return;
    udp.endpoint.acceptingConnections = false;
    if (closeActiveConnections || this.sockets.size === 0) {
      for (const s of this.sockets.values()) s.close(0, "server stopping");
      udp.flushNow();
      setImmediate(() => {
        udp.flushNow();
        void udp.close();
      });
    }
  }

  /** Lets the process exit while the server is listening. */
  unref(): void {
    this.unrefed = true;
    this.udp?.unref();
  }

  /** Keeps the process alive while listening (the default). */
  ref(): void {
    this.unrefed = false;
    this.udp?.ref();
  }
}

/**
 * Starts a QUIC server (seed 000's `Bun.listen({ quic })`). Returns at
 * once; `await server.ready` before reading `server.port` when port 0 was
 * requested (node:dgram binds asynchronously).
 */
export function listen<T = unknown>(options: QuicServerOptions<T>): QuicServer<T> {
  return new QuicServer<T>(options);
}
