/**
 * `serve()`: an HTTP/3 server with the web-standard `Request → Response`
 * handler of Bun.serve and the fetch API (seed 003), over the UDP driver
 * and {@link H3Connection}. Request bodies stream in as `request.body`
 * (a ReadableStream fed from DATA frames with backpressure); response bodies
 * stream out from `response.body` with backpressure, and bodies of known
 * length get a Content-Length.
 */
import type { KeyObject } from "node:crypto";
import { cipherSuitesOption, keylogConfig, QuicSocket, transportConfig, type CertInput, type QuicServerOptions } from "../api/quic.js";
import type { KeylogOption } from "../driver/keylog-file.js";
import type { QlogOption } from "../driver/qlog-files.js";
import type { ConnectionConfig, TransportSettings } from "../quic/config.js";
import type { Connection } from "../quic/connection.js";
import { UdpEndpoint } from "../driver/udp-endpoint.js";
import { H3ErrorCode } from "./errors.js";
import { H3Connection, type H3ConnectionOptions } from "./connection.js";
import type { Header } from "./qpack/primitives.js";
import { appendHeaderList, BODY_FAILURE_CODE, chunkBytes, H3Session, IncomingBody, pumpBody, toHeaders, writeContent } from "./session.js";

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Address to bind. Default "0.0.0.0". */
  hostname?: string;
  /** UDP port; 0 (the default) picks a free one, see `server.port` after `ready`. */
  port?: number;
  /** Certificate chain (PEM or DER). */
  cert: CertInput;
  /** Private key. */
  key: string | Uint8Array | KeyObject;
  passphrase?: string;
  /** CA to verify client certificates; setting it requests one. */
  ca?: CertInput;
  /** The request handler. A throw or rejection becomes a 500 response (or what `error` returns). */
  fetch(request: Request, server: H3Server): Response | Promise<Response>;
  /** Turns a handler failure into a response; default: an empty 500. */
  error?(error: unknown): Response | Promise<Response>;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 section 4.2.2); larger request headers get 431. Default 64 KiB. */
  maxFieldSectionSize?: number;
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY for our decoder. Default 4096. */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS. Default 100. */
  qpackBlockedStreams?: number;
  /** Bytes of a request body buffered before reading pauses (receive backpressure). Default 256 KiB. */
  requestBodyHighWaterMark?: number;
  /** Transport parameters (idle timeout, windows, concurrent requests as initialMaxStreamsBidi...). */
  transport?: Partial<TransportSettings>;
  congestionControl?: "reno" | "cubic";
  /** Per-stream send buffer above which writes wait. Default 1 MiB. */
  highWaterMark?: number;
  maxUdpPayloadSize?: number;
  /** SSLKEYLOGFILE lines (NSS key log format): a file path or a function per line. */
  keylog?: KeylogOption;
  /** Writes a qlog file per connection into this directory (a path or `{ dir }`). */
  qlog?: QlogOption;
  /** Require a Retry round trip (address validation, RFC 9000 section 8.1.2); a NEW_TOKEN token from an earlier connection skips it. */
  validateAddress?: boolean;
  /** Addresses offered to clients in preferred_address (RFC 9000 section 9.6); see `listen()`. */
  preferredAddress?: QuicServerOptions["preferredAddress"];
  /**
   * Accept 0-RTT from resuming clients (RFC 9001 section 4.6). Default
   * false. Early requests can be replayed by an attacker: each ticket
   * allows early data once, and only requests `acceptEarlyRequest` lets
   * through reach `fetch` (see `server.isEarlyRequest(request)`); the
   * others are answered 425 Too Early so the client retries them after
   * the handshake (RFC 8470 section 5.2).
   */
  earlyData?: boolean;
  /** Which requests received in 0-RTT `fetch` may handle; default: the safe methods GET, HEAD and OPTIONS (RFC 9110 section 9.2.1). */
  acceptEarlyRequest?(request: Request): boolean;
  /** TLS 1.3 cipher suites in preference order (names, an array or a ":"-separated list). */
  ciphers?: string | string[];
  /** Most simultaneous connections. */
  maxConnections?: number;
  /**
   * Other application protocols served on the same socket, by ALPN, with
   * `listen()`-style handlers (e.g. hq-interop beside h3, as `tsquic serve`
   * does). Connections that negotiate one of them get a QuicSocket instead
   * of HTTP/3.
   */
  otherProtocols?: Record<string, Pick<QuicServerOptions<any>, "open" | "close" | "error" | "stream">>;
}

/** Statuses whose responses never have content (RFC 9110 sections 15.3.5, 15.4.5). */
const NO_CONTENT = new Set([204, 205, 304]);

/**
 * Body bytes gathered before sending headers while the body stream keeps
 * yielding within one event-loop turn (an in-memory body: Bun splits one
 * into several chunks), to send its Content-Length. The chunks are held by
 * reference, not copied.
 */
const EAGER_BODY_LIMIT = 8 * 1024 * 1024;

/** Response fields the server manages itself. */
const MANAGED = new Set(["content-length"]);

/** Safe methods (RFC 9110 section 9.2.1): the requests served from 0-RTT by default. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** 425 Too Early (RFC 8470 section 5.2). */
const TOO_EARLY = 425;

/** A request being served. */
interface Exchange {
  session: H3Session;
  streamId: number;
  method: string;
  body: IncomingBody | undefined;
  abort: AbortController;
  /** The peer's message ended (end or reset). */
  requestDone: boolean;
  /** The exchange was aborted; nothing more to send. */
  dead: boolean;
}

/**
 * An HTTP/3 server started by {@link serve}. `port` is final once `ready`
 * resolves; `stop()` shuts down gracefully (GOAWAY, in-flight requests
 * finish), `stop(true)` closes every connection at once.
 */
export class H3Server {
  /** Resolves once the socket is bound. */
  readonly ready: Promise<H3Server>;
  private udp: UdpEndpoint | undefined;
  private readonly options: ServeOptions;
  private readonly h3Options: H3ConnectionOptions;
  private readonly sessions = new Map<Connection, H3Session>();
  private readonly requestedPort: number;
  private readonly requestedHost: string;
  private stopping: Promise<void> | undefined;
  private stopResolve: (() => void) | undefined;
  private inFlight = 0;
  private unrefed = false;
  private socketClosing = false;

  /** @internal use {@link serve} */
  constructor(options: ServeOptions) {
    if (!options.cert || !options.key) throw new TypeError("serve() needs a certificate and a key");
    if (typeof options.fetch !== "function") throw new TypeError("serve() needs a fetch(request) handler");
    this.options = options;
    this.requestedPort = options.port ?? 0;
    this.requestedHost = options.hostname ?? "0.0.0.0";
    this.h3Options = {
      ...(options.maxFieldSectionSize !== undefined ? { maxFieldSectionSize: options.maxFieldSectionSize } : {}),
      ...(options.qpackMaxTableCapacity !== undefined ? { qpackMaxTableCapacity: options.qpackMaxTableCapacity } : {}),
      ...(options.qpackBlockedStreams !== undefined ? { qpackBlockedStreams: options.qpackBlockedStreams } : {}),
    };
    const config: ConnectionConfig = {
      // RFC 9114 section 3.1: HTTP/3 is ALPN "h3".
      alpn: ["h3", ...Object.keys(options.otherProtocols ?? {})],
      serverTls: {
        cert: options.cert,
        key: options.key,
        ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
        ...(options.ca !== undefined ? { ca: options.ca, requestClientCertificate: true } : {}),
        ...(options.earlyData ? { earlyData: true } : {}),
        ...(options.ciphers !== undefined ? { cipherSuites: cipherSuitesOption(options.ciphers) } : {}),
      },
      ...transportConfig(options),
      ...keylogConfig(options.keylog),
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
      if (this.stopping) void this.finishStop();
      return this;
    });
  }

  /** The bound port (the requested one until `ready` resolves). */
  get port(): number {
    return this.udp?.address.port ?? this.requestedPort;
  }

  /** The preferred addresses offered to clients, as bound (ports resolved once `ready`); undefined without the option. */
  get preferredAddress(): QuicServerOptions["preferredAddress"] {
    return this.udp?.endpoint.config.preferredAddress;
  }

  /** The bound address. */
  get hostname(): string {
    return this.udp?.address.address ?? this.requestedHost;
  }

  /** `https://hostname:port/`. */
  get url(): URL {
    const h = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return new URL(`https://${h}:${this.port}/`);
  }

  /** Live connections. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Requests whose handler or response is still in progress. */
  get pendingRequests(): number {
    return this.inFlight;
  }

  /** The HTTP/3 connections, for inspection (QPACK statistics, settings). */
  get h3Connections(): H3Connection[] {
    return [...this.sessions.values()].map((s) => s.h3);
  }

  /** Requests that arrived in 0-RTT. */
  private readonly earlyRequests = new WeakSet<Request>();

  /**
   * True when `request` arrived (at least in part) in 0-RTT: an attacker
   * may replay it, so act on it only if doing so twice is harmless (RFC 8470 section 5).
   */
  isEarlyRequest(request: Request): boolean {
    return this.earlyRequests.has(request);
  }

  /** Connections of the other protocols (see {@link ServeOptions.otherProtocols}). */
  private readonly rawSockets = new Map<Connection, QuicSocket<any>>();

  /** Hands a connection that negotiated another ALPN to its `listen()`-style handlers. */
  private routeOther(c: Connection, alpn: string): void {
    let s = this.rawSockets.get(c);
    if (!s) {
      const h = this.options.otherProtocols![alpn]!;
      s = new QuicSocket<any>(c, { udp: this.udp!, handlers: () => ({ stream: h.stream ?? {}, socket: { open: h.open, close: h.close, error: h.error } }) });
      s._onGone = () => {
        this.rawSockets.delete(c);
        if (this.stopping) void this.finishStop();
      };
      this.rawSockets.set(c, s);
    }
    s._dispatch();
  }

  private onActivity(c: Connection): void {
    if (this.options.otherProtocols) {
      // With several protocols on the socket, nothing is decided before ALPN is: events wait in the connection's queue.
      const alpn = c.alpnProtocol;
      if (alpn === undefined) return;
      if (alpn !== "h3") return this.routeOther(c, alpn);
    }
    let s = this.sessions.get(c);
    if (!s) {
      // A connection that closed before we saw it (or that we already let go) has nothing to serve.
      if (c.isClosing) return;
      const h3 = new H3Connection(c, this.h3Options);
      const udp = this.udp!;
      s = new H3Session(h3, () => udp.touch(c), {
        request: (session, id, headers) => this.onRequest(session, id, headers),
        closed: () => {
          this.sessions.delete(c);
          if (this.stopping) void this.finishStop();
        },
      });
      this.sessions.set(c, s);
      // A connection that arrives while stopping is turned away gracefully.
      if (this.stopping) h3.shutdown();
    }
    s.dispatch();
  }

  private onRequest(session: H3Session, streamId: number, headers: Header[]): void {
    let method = "";
    let scheme = "https";
    let authority = "";
    let path = "/";
    for (const [n, v] of headers) {
      if (n.charCodeAt(0) !== 0x3a) break;
      if (n === ":method") method = v;
      else if (n === ":scheme") scheme = v;
      else if (n === ":authority") authority = v;
      else if (n === ":path") path = v;
    }
    const h3 = session.h3;
    const ex: Exchange = { session, streamId, method, body: undefined, abort: new AbortController(), requestDone: false, dead: false };
    let fields: Headers;
    let url: URL;
    try {
      fields = toHeaders(headers);
      if (!authority) authority = fields.get("host") ?? "";
      url = new URL(`${scheme}://${authority}${path === "*" ? "/" : path}`);
    } catch {
      return this.simpleResponse(ex, 400);
    }
    // The web Request cannot carry CONNECT (RFC 9114 section 4.4) or TRACE.
    if (method === "CONNECT" || method === "TRACE" || method === "TRACK") return this.simpleResponse(ex, 501);
    const hasBody = method !== "GET" && method !== "HEAD";
    if (hasBody) {
      ex.body = new IncomingBody(
        {
          pause: () => h3.pauseReading(streamId),
          resume: () => {
            h3.resumeReading(streamId);
            session.touch();
          },
          cancel: () => {
            // The handler does not want the rest of the request body (RFC 9114 section 4.1).
            h3.stopReading(streamId, H3ErrorCode.H3_NO_ERROR);
            session.touch();
          },
        },
        this.options.requestBodyHighWaterMark,
      );
    }
    session.setSink(streamId, {
      data: (d) => ex.body?.push(d),
      end: () => {
        ex.requestDone = true;
        ex.body?.end();
      },
      reset: (code, remote, reason) => {
        ex.requestDone = true;
        ex.dead = true;
        const err = new DOMException(`request aborted: ${reason}`, "AbortError");
        ex.body?.error(err);
        ex.abort.abort(err);
        void code;
        void remote;
      },
    });
    let request: Request;
    try {
      request = new Request(url, {
        method,
        headers: fields,
        signal: ex.abort.signal,
        ...(ex.body ? { body: ex.body.stream, duplex: "half" } : {}),
      } as RequestInit);
    } catch {
      return this.simpleResponse(ex, 400);
    }
    if (h3.isEarlyRequest(streamId)) {
      const accept = this.options.acceptEarlyRequest ?? ((r: Request) => SAFE_METHODS.has(r.method));
      let ok = false;
      try {
        ok = accept(request);
      } catch {
        ok = false;
      }
      if (!ok) {
        // Not processed: the client sends it again after the handshake.
        session.removeSink(streamId);
        ex.body?.error(new DOMException("request refused as too early", "AbortError"));
        return this.simpleResponse(ex, TOO_EARLY);
      }
      this.earlyRequests.add(request);
    }
    this.inFlight++;
    void this.handle(ex, request)
      .catch(() => h3.cancel(streamId, H3ErrorCode.H3_INTERNAL_ERROR))
      .finally(() => {
        this.inFlight--;
      });
  }

  private async handle(ex: Exchange, request: Request): Promise<void> {
    let response: Response;
    try {
      response = await this.options.fetch(request, this);
      if (!isResponse(response)) throw new TypeError(`the fetch handler returned ${typeof response}, not a Response`);
    } catch (err) {
      response = await this.errorResponse(err);
    }
    await this.respond(ex, response);
  }

  private async errorResponse(err: unknown): Promise<Response> {
    if (this.options.error) {
      try {
        const r = await this.options.error(err);
        if (isResponse(r)) return r;
      } catch {
        // Fall through to the plain 500.
      }
    }
    return new Response(null, { status: 500 });
  }

  /** Answers without calling the handler (malformed target, unsupported method). */
  private simpleResponse(ex: Exchange, status: number): void {
    try {
      ex.session.h3.sendResponse(ex.streamId, [
        [":status", String(status)],
        ["content-length", "0"],
      ], true);
      ex.session.h3.stopReading(ex.streamId, H3ErrorCode.H3_NO_ERROR);
    } catch {
      // The stream is already gone.
    }
    ex.session.touch();
  }

  private async respond(ex: Exchange, response: Response): Promise<void> {
    const { session, streamId } = ex;
    const h3 = session.h3;
    const body = response.body;
    if (ex.dead || session.closed) {
      body?.cancel().catch(() => {});
      return;
    }
    const status = response.status;
    const headers: Header[] = [[":status", String(status)]];
    appendHeaderList(headers, response.headers, MANAGED);
    const declared = response.headers.get("content-length");
    const noContent = ex.method === "HEAD" || NO_CONTENT.has(status) || status < 200;
    try {
      if (noContent || body === null) {
        if (ex.method === "HEAD" || status === 304) {
          // The Content-Length a GET would have, if the handler gave one; no content is sent (RFC 9110 sections 8.6, 9.3.2).
          if (declared !== null) headers.push(["content-length", declared]);
        } else if (!NO_CONTENT.has(status)) {
          headers.push(["content-length", "0"]);
        }
        body?.cancel().catch(() => {});
        h3.sendResponse(streamId, status < 200 ? [[":status", "500"], ["content-length", "0"]] : headers, true);
        session.touch();
      } else {
        await this.sendBody(ex, headers, declared, body);
      }
    } catch {
      // Our side failed while producing the body, or the stream died: abandon the response.
      h3.cancel(streamId, ex.dead ? H3ErrorCode.H3_REQUEST_CANCELLED : BODY_FAILURE_CODE);
      ex.body?.error(new DOMException("response aborted", "AbortError"));
      session.touch();
      return;
    } finally {
      session.removeSink(streamId);
    }
    // The response is complete: the rest of the request, if any, is not needed (RFC 9114 section 4.1).
    if (!ex.requestDone) {
      ex.requestDone = true;
      ex.body?.error(new DOMException("the response was sent before the request body was read", "AbortError"));
      h3.stopReading(streamId, H3ErrorCode.H3_NO_ERROR);
      session.touch();
    }
  }

  /**
   * Sends headers and content. When the whole body is at hand at once
   * (strings, buffers, blobs in memory: their streams yield everything
   * within one event-loop turn), the Content-Length is known and headers,
   * content and FIN leave together; otherwise the body streams out as it
   * comes, with backpressure.
   */
  private async sendBody(ex: Exchange, headers: Header[], declared: string | null, body: ReadableStream<Uint8Array>): Promise<void> {
    const { session, streamId } = ex;
    const h3 = session.h3;
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let next: Promise<ReadableStreamReadResult<unknown>> = reader.read();
    let r: ReadableStreamReadResult<unknown> | null = await next;
    // Gather what is ready before the next turn, up to a bound.
    while (!r.done) {
      const bytes = chunkBytes(r.value);
      chunks.push(bytes);
      size += bytes.length;
      next = reader.read();
      r = await Promise.race([next, new Promise<null>((res) => setImmediate(() => res(null)))]);
      // Not ready yet (`next` is still pending), or enough gathered (`r` is a chunk still to send).
      if (r === null || (!r.done && size >= EAGER_BODY_LIMIT)) break;
    }
    if (ex.dead) throw new Error("aborted");
    const complete = r !== null && r.done;
    if (declared !== null) headers.push(["content-length", declared]);
    else if (complete) headers.push(["content-length", String(size)]);
    if (complete && chunks.length === 0) {
      h3.sendResponse(streamId, headers, true);
      session.touch();
      return;
    }
    h3.sendResponse(streamId, headers, false);
    let ok = true;
    for (let i = 0; i < chunks.length; i++) {
      if (!ok) await session.waitWritable(streamId);
      ok = await writeContent(session, streamId, chunks[i]!, complete && i === chunks.length - 1);
    }
    if (complete) return;
    if (!ok) await session.waitWritable(streamId);
    await pumpBody(session, streamId, reader, r ?? (await next));
  }

  /**
   * Stops the server. Gracefully by default: no new connections, GOAWAY on
   * every connection (RFC 9114 section 5.2), which closes once its
   * requests are done. With `force`, every connection is closed at once
   * (H3_NO_ERROR). Resolves when the socket is closed.
   */
  stop(force = false): Promise<void> {
    if (!this.stopping) {
      this.stopping = new Promise<void>((resolve) => (this.stopResolve = resolve));
    }
    const udp = this.udp;
    if (udp) {
      udp.endpoint.acceptingConnections = false;
      for (const [c, s] of this.sessions) {
        if (force) s.h3.close(H3ErrorCode.H3_NO_ERROR, "server stopping");
        else s.h3.shutdown();
        s.dispatch();
        udp.touch(c);
      }
      // Other protocols have no graceful shutdown of their own: close them now with code 0.
      for (const [c, s] of this.rawSockets) {
        s.close(0, "server stopping");
        udp.touch(c);
      }
      void this.finishStop();
    }
    return this.stopping;
  }

  private async finishStop(): Promise<void> {
    const udp = this.udp;
    if (!udp || this.sessions.size > 0 || this.rawSockets.size > 0 || udp.isClosed || this.socketClosing) return;
    this.socketClosing = true;
    // Send the last CONNECTION_CLOSE frames; UdpEndpoint.close waits until they have left.
    udp.flushNow();
    await udp.close();
    this.stopResolve?.();
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

function isResponse(r: unknown): r is Response {
  return r instanceof Response || (typeof r === "object" && r !== null && typeof (r as Response).status === "number" && typeof (r as Response).headers?.get === "function");
}

/**
 * Starts an HTTP/3 server (ALPN h3). Returns at once; `await server.ready`
 * before reading `server.port` when port 0 was requested.
 *
 * ```ts
 * const server = serve({ hostname: "127.0.0.1", port: 4433, cert, key,
 *   fetch: (req) => new Response(`hello from ${new URL(req.url).pathname}`) });
 * await server.ready;
 * ```
 */
export function serve(options: ServeOptions): H3Server {
  return new H3Server(options);
}
