/**
 * `fetch()` over HTTP/3 only (ALPN h3), compatible with the web `fetch`:
 * URL, method, headers, string / bytes / Blob / ReadableStream /
 * URLSearchParams / FormData bodies, AbortSignal, streaming `response.body`,
 * redirects (follow / manual / error, to https: URLs).
 * One connection per origin (and TLS settings) is kept in a pool and
 * reused; idle connections close after a timeout; `closeAll()` empties the
 * pool. TLS options follow `quic()` (seed 003's fetch `tls` option).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { KeyObject } from "node:crypto";
import { cipherSuitesOption, keylogConfig, resumeOptions, type CertInput } from "../api/quic.js";
import type { KeylogOption } from "../driver/keylog-file.js";
import { qlogDirectory, type QlogOption } from "../driver/qlog-files.js";
import { toResumptionState } from "../quic/resumption.js";
import type { ConnectionConfig, TransportSettings } from "../quic/config.js";
import { UdpEndpoint } from "../driver/udp-endpoint.js";
import { TsquicError } from "../util/errors.js";
import { H3ErrorCode, h3ErrorName } from "./errors.js";
import { H3Connection, H3StreamError, type H3ConnectionOptions } from "./connection.js";
import type { Header } from "./qpack/primitives.js";
import { appendHeaderList, H3Session, IncomingBody, pumpBody, toHeaders, writeContent } from "./session.js";

/** TLS options of a request or of an agent, as for `quic()`. */
export interface H3TlsOptions {
  /** Trusted CA certificates; replaces the platform roots. */
  ca?: CertInput;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Name for SNI and verification (default: the URL's host). */
  serverName?: string;
  /** Client certificate chain (mutual TLS). */
  cert?: CertInput;
  /** Client private key. */
  key?: string | Uint8Array | KeyObject;
  passphrase?: string;
  /** TLS 1.3 cipher suites in preference order (names, an array or a ":"-separated list). */
  ciphers?: string | string[];
}

/** `RequestInit` plus the TLS options of the connection to use. */
export interface H3RequestInit extends RequestInit {
  tls?: H3TlsOptions;
  /**
   * qlog directory (a path or `{ dir }`) for the connection this request
   * opens; the request is then pooled apart from untraced ones. Default:
   * the agent's `qlog`.
   */
  qlog?: QlogOption;
  /** Key log (a path or a function per line) for the connection this request opens; pooled apart like `qlog`. Default: the agent's. */
  keylog?: KeylogOption;
}

/** Options of an {@link H3Agent} (the connection pool). */
export interface H3AgentOptions {
  /** Close a pooled connection after this many ms without requests. Default 10 s. */
  idleTimeout?: number;
  /** TLS options for requests that give none. */
  tls?: H3TlsOptions;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE for responses. Default 64 KiB. */
  maxFieldSectionSize?: number;
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY for our decoder. Default 4096. */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS. Default 100. */
  qpackBlockedStreams?: number;
  /** Bytes of a response body buffered before reading pauses. Default 256 KiB. */
  responseBodyHighWaterMark?: number;
  /** Transport parameters. */
  transport?: Partial<TransportSettings>;
  congestionControl?: "reno" | "cubic";
  /** Per-stream send buffer above which request bodies wait. Default 1 MiB. */
  highWaterMark?: number;
  /** Handshake timeout in ms. Default 10 s. */
  handshakeTimeout?: number;
  /** RTT assumed before the first sample, ms (RFC 9002 section 6.2.2). Default 333. */
  initialRtt?: number;
  /** SSLKEYLOGFILE lines (NSS key log format): a file path or a function per line. */
  keylog?: KeylogOption;
  /** Writes a qlog file per connection into this directory (a path or `{ dir }`). */
  qlog?: QlogOption;
  /** DNS lookup (default: the platform's). */
  lookup?: (hostname: string) => Promise<{ address: string; family: number }>;
  /**
   * Sessions (tickets and address tokens) kept for resumption, one per
   * origin and TLS settings; 0 turns resumption off. Default 256.
   */
  sessionCache?: number;
  /**
   * When resuming, send GET and HEAD requests without a body in 0-RTT, if
   * the server allows it (RFC 9114 section 10.9, RFC 8470). Other requests
   * wait for the handshake. Default true.
   */
  earlyData?: boolean;
}

/** Methods the fetch standard normalizes to uppercase. */
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
/** Redirect statuses (fetch standard). */
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed at most (fetch standard). */
const MAX_REDIRECTS = 20;
/** Statuses whose responses have no content (RFC 9110 sections 15.3.5, 15.3.6, 15.4.5). */
const NULL_BODY_STATUS = new Set([204, 205, 304]);
/** Methods sent in 0-RTT (without a body): safe and idempotent, so a replay does no harm (RFC 8470 section 4). */
const EARLY_METHODS = new Set(["GET", "HEAD"]);
/** 425 Too Early: the server wants the request again after the handshake (RFC 8470 section 5.2). */
const TOO_EARLY = 425;
/** Responses to requests sent in 0-RTT. */
const earlyResponses = new WeakSet<Response>();

/** A request body, normalized. */
type BodySource = { kind: "none" } | { kind: "bytes"; bytes: Uint8Array } | { kind: "stream"; stream: ReadableStream<unknown>; length: number | undefined };

/** A request, normalized from fetch's arguments. */
interface NormalizedRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: BodySource;
  signal: AbortSignal | undefined;
  tls: H3TlsOptions;
  /** Per-request qlog and key log settings, undefined to use the agent's. */
  qlog: QlogOption | undefined;
  keylog: KeylogOption | undefined;
}

const encoder = new TextEncoder();

/** Normalizes a body (the fetch standard's "extract a body"). */
function extractBody(body: BodyInit | null | undefined, headers: Headers): BodySource {
  if (body === undefined || body === null) return { kind: "none" };
  const setType = (t: string): void => {
    if (t && !headers.has("content-type")) headers.set("content-type", t);
  };
  if (typeof body === "string") {
    setType("text/plain;charset=UTF-8");
    return { kind: "bytes", bytes: encoder.encode(body) };
  }
  if (body instanceof Uint8Array) return { kind: "bytes", bytes: body };
  if (body instanceof ArrayBuffer) return { kind: "bytes", bytes: new Uint8Array(body) };
  if (ArrayBuffer.isView(body)) return { kind: "bytes", bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  if (body instanceof URLSearchParams) {
    setType("application/x-www-form-urlencoded;charset=UTF-8");
    return { kind: "bytes", bytes: encoder.encode(body.toString()) };
  }
  if (typeof Blob !== "undefined" && body instanceof Blob) {
    setType(body.type);
    return { kind: "stream", stream: body.stream(), length: body.size };
  }
  if (body instanceof ReadableStream) return { kind: "stream", stream: body, length: undefined };
  // FormData and anything else the platform knows how to serialize.
  const r = new Response(body as BodyInit);
  setType(r.headers.get("content-type") ?? "");
  return r.body ? { kind: "stream", stream: r.body, length: undefined } : { kind: "none" };
}

function normalize(input: string | URL | Request, init: H3RequestInit, defaults: H3TlsOptions): NormalizedRequest {
  const isReq = typeof Request !== "undefined" && input instanceof Request;
  const url = new URL(isReq ? input.url : String(input instanceof URL ? input.href : input));
  // RFC 9114 section 3.1: HTTP/3 carries "https" URIs.
  if (url.protocol !== "https:") throw new TypeError(`HTTP/3 fetch needs an https: URL, not ${url.protocol}`);
  if (url.username || url.password) throw new TypeError("URLs with credentials are not allowed in fetch");
  let method = init.method ?? (isReq ? input.method : "GET");
  if (NORMALIZED_METHODS.has(method.toUpperCase())) method = method.toUpperCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new TypeError(`invalid method "${method}"`);
  if (method === "CONNECT" || method === "TRACE" || method === "TRACK") throw new TypeError(`method ${method} is not supported by fetch`);
  const headers = new Headers(init.headers ?? (isReq ? input.headers : undefined));
  let body: BodySource;
  if (init.body !== undefined) body = extractBody(init.body, headers);
  else if (isReq && input.body) body = { kind: "stream", stream: input.body, length: undefined };
  else body = { kind: "none" };
  if (body.kind !== "none" && (method === "GET" || method === "HEAD")) throw new TypeError(`a ${method} request cannot have a body`);
  const signal = init.signal ?? (isReq ? input.signal : undefined) ?? undefined;
  return { url, method, headers, body, signal, tls: init.tls ?? defaults, qlog: init.qlog, keylog: init.keylog };
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
function identity(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return v;
  if ((typeof v === "object" && v !== null) || typeof v === "function") {
    let id = objectIds.get(v);
    if (id === undefined) objectIds.set(v, (id = nextObjectId++));
    return `#${id}`;
  }
  return String(v);
}

/** The pool key: origin plus every TLS setting that changes what a connection is, and its own qlog or key log if it asks for one. */
function poolKey(url: URL, tls: H3TlsOptions, logging?: Pick<NormalizedRequest, "qlog" | "keylog">): string {
  const base = [url.host, tls.serverName ?? "", tls.rejectUnauthorized === false ? "0" : "1", identity(tls.ca), identity(tls.cert), identity(tls.key), String(tls.ciphers ?? "")];
  if (logging?.qlog !== undefined || logging?.keylog !== undefined) base.push(identity(logging.qlog), identity(logging.keylog));
  return base.join("|");
}

/** One pooled HTTP/3 connection with its own UDP socket. */
class ClientConnection {
  readonly key: string;
  readonly session: H3Session;
  readonly ready: Promise<void>;
  /** Resolves once the handshake is complete (after `ready` when requests may go in 0-RTT). */
  readonly handshake: Promise<void>;
  /** Resolves once the UDP socket is closed. */
  readonly gone: Promise<void>;
  /** Requests in progress. */
  active = 0;
  private readonly agent: H3Agent;
  private readonly udp: UdpEndpoint;
  private idleTimer: NodeJS.Timeout | undefined;
  private streamWaiters: Array<() => void> = [];
  private goneResolve!: () => void;

  constructor(agent: H3Agent, key: string, udp: UdpEndpoint, h3: H3Connection) {
    this.agent = agent;
    this.key = key;
    this.udp = udp;
    this.gone = new Promise((r) => (this.goneResolve = r));
    const ready = settledLater();
    const handshake = settledLater();
    this.ready = ready.promise;
    this.handshake = handshake.promise;
    this.session = new H3Session(h3, () => udp.touch(h3.transport), {
      ready: () => {
        ready.resolve();
        if (h3.transport.isEstablished) handshake.resolve();
      },
      // The verdict on 0-RTT comes with the end of the handshake.
      earlyData: () => handshake.resolve(),
      sessionTicket: (_s, session) => agent._storeSession(key, session),
      streamsAvailable: () => this.wakeStreamWaiters(),
      goaway: () => {
        // RFC 9114 section 5.2: no new requests here; new ones go to a new connection.
        this.agent._forget(this);
        this.wakeStreamWaiters();
        if (this.active === 0) this.close();
      },
      closed: (_s, error) => {
        ready.reject(error ?? new TsquicError("ERR_H3_CONNECTION_CLOSED", "the connection closed before it was ready"));
        handshake.reject(error ?? new TsquicError("ERR_H3_CONNECTION_CLOSED", "the connection closed before the handshake completed"));
        this.agent._forget(this);
        this.wakeStreamWaiters();
        if (this.idleTimer) clearTimeout(this.idleTimer);
        // Let the CONNECTION_CLOSE leave, then release the socket: node:dgram
        // resolves the address before sending, so a close in the same turn
        // as the send would drop the datagram.
        setImmediate(() => {
          udp.flushNow();
          setImmediate(() => void udp.close().then(() => this.goneResolve()));
        });
      },
    });
  }

  /** True once the handshake is complete. */
  get established(): boolean {
    return this.session.h3.transport.isEstablished;
  }

  /** True when new requests may use this connection. */
  get usable(): boolean {
    return !this.session.closed && !this.session.h3.isGoingAway && !this.session.h3.transport.isClosing;
  }

  /** @internal dispatches driver activity. */
  dispatch(): void {
    this.session.dispatch();
  }

  private wakeStreamWaiters(): void {
    const list = this.streamWaiters;
    this.streamWaiters = [];
    for (const fn of list) fn();
  }

  close(): void {
    if (this.session.closed) return;
    this.session.h3.close(H3ErrorCode.H3_NO_ERROR, "");
    this.session.dispatch();
    this.session.touch();
  }

  private begin(): void {
    this.active++;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    this.udp.ref();
  }

  private finish(): void {
    this.active--;
    if (this.active > 0) return;
    if (!this.usable) {
      this.close();
      return;
    }
    // Idle: let the process exit, and close after the pool's idle timeout.
    this.udp.unref();
    this.idleTimer = setTimeout(() => this.close(), this.agent.idleTimeout);
    this.idleTimer.unref();
  }

  /** Sends one request; resolves with the response once its header section arrives. */
  request(req: NormalizedRequest): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const session = this.session;
      const h3 = session.h3;
      let finished = false;
      let streamId = -1;
      let body: IncomingBody | undefined;
      let responded = false;
      let sendAbort: ((e: unknown) => void) | undefined;
      let uploading = false;
      const signal = req.signal;

      const done = (): void => {
        if (finished) return;
        finished = true;
        signal?.removeEventListener("abort", onAbort);
        if (uploading && streamId >= 0) {
          // The response is over while the request body is still going out: stop it and reset our side.
          uploading = false;
          sendAbort?.(new DOMException("the response ended before the request body was sent", "AbortError"));
          h3.cancel(streamId, H3ErrorCode.H3_REQUEST_CANCELLED);
          session.touch();
        }
        if (streamId >= 0) session.removeSink(streamId);
        this.finish();
      };
      const fail = (e: unknown): void => {
        sendAbort?.(e);
        if (!responded) reject(e);
        else body?.error(e);
        done();
      };
      const onAbort = (): void => {
        if (finished) return;
        // RFC 9114 section 4.1.1: cancel with H3_REQUEST_CANCELLED both ways.
        if (streamId >= 0) {
          h3.cancel(streamId, H3ErrorCode.H3_REQUEST_CANCELLED);
          session.touch();
        }
        fail(signal!.reason ?? new DOMException("This operation was aborted", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.begin();

      const headers: Header[] = [
        [":method", req.method],
        [":scheme", "https"],
        [":authority", req.url.host],
        [":path", req.url.pathname + req.url.search],
      ];
      appendHeaderList(headers, req.headers, new Set(["content-length"]));
      const declared = req.headers.get("content-length");
      const length = req.body.kind === "bytes" ? req.body.bytes.length : req.body.kind === "stream" ? req.body.length : req.method === "POST" || req.method === "PUT" ? 0 : undefined;
      if (declared !== null) headers.push(["content-length", declared]);
      else if (length !== undefined) headers.push(["content-length", String(length)]);

      const start = (): void => {
        if (finished) return;
        if (session.closed) return fail(session.error ?? new TsquicError("ERR_H3_CONNECTION_CLOSED", "the connection closed"));
        let id: number | null;
        try {
          id = h3.sendRequest(headers, req.body.kind === "none");
        } catch (e) {
          return fail(e);
        }
        if (id === null) {
          // The server's MAX_STREAMS is reached: wait for streams_available.
          this.streamWaiters.push(start);
          return;
        }
        streamId = id;
        const early = !h3.transport.isEstablished;
        session.setSink(id, {
          headers: (list, interim) => {
            if (interim || responded) return;
            let status = 0;
            for (const [n, v] of list) {
              if (n === ":status") status = Number(v);
              if (n.charCodeAt(0) !== 0x3a) break;
            }
            const noBody = req.method === "HEAD" || NULL_BODY_STATUS.has(status);
            if (!noBody) {
              body = new IncomingBody(
                {
                  pause: () => h3.pauseReading(id),
                  resume: () => {
                    h3.resumeReading(id);
                    session.touch();
                  },
                  cancel: () => {
                    // The consumer cancelled the body: the response is no longer of interest (RFC 9114 section 4.1.1).
                    h3.cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED);
                    session.touch();
                    done();
                  },
                },
                this.agent.responseBodyHighWaterMark,
              );
            }
            let response: Response;
            try {
              response = new Response(body?.stream ?? null, { status, headers: toHeaders(list) });
            } catch (e) {
              h3.cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED);
              session.touch();
              return fail(new TypeError(`unusable response: ${(e as Error).message}`));
            }
            Object.defineProperty(response, "url", { value: req.url.href });
            if (early) earlyResponses.add(response);
            responded = true;
            resolve(response);
            if (noBody) done();
          },
          data: (d) => body?.push(d),
          end: () => {
            body?.end();
            done();
          },
          reset: (code, remote, reason) => {
            const err =
              session.closed && session.error
                ? session.error
                : new H3StreamError("ERR_H3_STREAM_RESET", `${remote ? "the server" : "we"} reset the request with ${h3ErrorName(code)}${reason ? `: ${reason}` : ""}`, id, code);
            fail(err);
          },
        });
        session.touch();
        if (req.body.kind !== "none") {
          uploading = true;
          this.sendBody(id, req.body, (abort) => (sendAbort = abort)).then(
            () => (uploading = false),
            (e: unknown) => {
              uploading = false;
              if (finished) return;
              if (e instanceof H3StreamError) return; // the stream ended; its reset (or stop) is reported on its own
              // The body source failed: cancel the request (RFC 9114 section 4.1.1).
              h3.cancel(id, H3ErrorCode.H3_REQUEST_CANCELLED);
              session.touch();
              fail(e);
            },
          );
        }
      };
      start();
    });
  }

  private async sendBody(id: number, body: BodySource, setAbort: (abort: (e: unknown) => void) => void): Promise<void> {
    const session = this.session;
    if (body.kind === "bytes") {
      await writeContent(session, id, body.bytes, true);
      return;
    }
    if (body.kind === "stream") {
      const reader = body.stream.getReader();
      setAbort((e) => void reader.cancel(e).catch(() => {}));
      await pumpBody(session, id, reader);
    }
  }
}

/**
 * A pool of HTTP/3 connections, one per origin and TLS settings, and the
 * `fetch` that uses it. The module-level {@link fetch} and {@link closeAll}
 * use a default agent.
 */
export class H3Agent {
  /** Idle connections close after this many ms. */
  readonly idleTimeout: number;
  /** @internal */
  readonly responseBodyHighWaterMark: number | undefined;
  private readonly options: H3AgentOptions;
  /** Key log and qlog settings, made once for every connection of the agent. */
  private readonly logging: Partial<ConnectionConfig>;
  private readonly h3Options: H3ConnectionOptions;
  private readonly pool = new Map<string, ClientConnection>();
  private readonly connecting = new Map<string, Promise<ClientConnection>>();
  private readonly all = new Set<ClientConnection>();
  /** Sessions to resume by pool key, oldest first (bounded by `sessionCache`). */
  private readonly sessions = new Map<string, Uint8Array>();

  constructor(options: H3AgentOptions = {}) {
    this.options = options;
    this.logging = loggingConfig(options);
    this.idleTimeout = options.idleTimeout ?? 10_000;
    this.responseBodyHighWaterMark = options.responseBodyHighWaterMark;
    this.h3Options = {
      ...(options.maxFieldSectionSize !== undefined ? { maxFieldSectionSize: options.maxFieldSectionSize } : {}),
      ...(options.qpackMaxTableCapacity !== undefined ? { qpackMaxTableCapacity: options.qpackMaxTableCapacity } : {}),
      ...(options.qpackBlockedStreams !== undefined ? { qpackBlockedStreams: options.qpackBlockedStreams } : {}),
    };
  }

  /** Open connections (pooled or finishing their requests). */
  get connections(): number {
    return this.all.size;
  }

  /** The HTTP/3 connection pooled for `url`'s origin (default TLS options), for inspection. */
  connectionFor(url: string | URL, tls: H3TlsOptions = this.options.tls ?? {}): H3Connection | undefined {
    return this.pool.get(poolKey(new URL(String(url)), tls))?.session.h3;
  }

  /**
   * Fetches over HTTP/3, like the web `fetch`. Resolves once the response
   * header section arrives (its body streams in after); rejects with the
   * abort reason, or an error carrying the QUIC, TLS or HTTP/3 code
   * (`errorCode`, `code`).
   */
  async fetch(input: string | URL | Request, init: H3RequestInit = {}): Promise<Response> {
    const req = normalize(input, init, this.options.tls ?? {});
    const mode = init.redirect ?? (typeof Request !== "undefined" && input instanceof Request ? input.redirect : "follow");
    for (let redirects = 0; ; redirects++) {
      const res = await this.send(req);
      const location = REDIRECT_STATUS.has(res.status) ? res.headers.get("location") : null;
      if (location === null || mode === "manual") {
        if (redirects > 0) Object.defineProperty(res, "redirected", { value: true });
        return res;
      }
      // The fetch standard's HTTP-redirect fetch, for what applies to HTTP/3.
      await res.body?.cancel().catch(() => {});
      if (mode === "error") throw new TypeError(`fetch: redirect to ${location} with redirect mode "error"`);
      if (redirects >= MAX_REDIRECTS) throw new TypeError(`fetch: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, req.url);
      if (next.protocol !== "https:") throw new TypeError(`fetch: redirect to ${next.protocol} URL, which HTTP/3 cannot fetch`);
      if (((res.status === 301 || res.status === 302) && req.method === "POST") || (res.status === 303 && req.method !== "GET" && req.method !== "HEAD")) {
        req.method = "GET";
        req.body = { kind: "none" };
        for (const h of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) req.headers.delete(h);
      } else if (req.body.kind === "stream") {
        throw new TypeError("fetch: cannot follow a redirect with a streamed request body");
      }
      // Credentials stay with their origin.
      if (next.origin !== req.url.origin) req.headers.delete("authorization");
      req.url = next;
    }
  }

  /**
   * One request on a pooled connection; a request the server rejected
   * unprocessed is retried once, and one it found too early (425) once
   * after the handshake.
   */
  private async send(req: NormalizedRequest): Promise<Response> {
    const replayable = req.body.kind !== "stream";
    for (let attempt = 0; ; attempt++) {
      req.signal?.throwIfAborted();
      const conn = await this.connection(req);
      // Only safe requests without a body may be replayed by an attacker: the others wait for the handshake (RFC 8470 section 4).
      if (!conn.established && !(EARLY_METHODS.has(req.method) && req.body.kind === "none")) await abortable(conn.handshake, req.signal);
      req.signal?.throwIfAborted();
      try {
        const res = await conn.request(req);
        if (res.status === TOO_EARLY && earlyResponses.has(res) && attempt === 0) {
          await res.body?.cancel().catch(() => {});
          await abortable(conn.handshake, req.signal);
          continue;
        }
        return res;
      } catch (e) {
        // RFC 9114 sections 4.1.1 and 5.2: a rejected request was not processed and may be retried once, elsewhere.
        const rejected = (e instanceof H3StreamError && e.errorCode === H3ErrorCode.H3_REQUEST_REJECTED) || (e instanceof TsquicError && e.code === "ERR_H3_GOAWAY");
        if (rejected && replayable && attempt === 0 && !req.signal?.aborted) continue;
        throw e;
      }
    }
  }

  private async connection(req: NormalizedRequest): Promise<ClientConnection> {
    const key = poolKey(req.url, req.tls, req);
    const existing = this.pool.get(key);
    if (existing?.usable) return existing;
    let p = this.connecting.get(key);
    if (!p) {
      p = this.open(req, key).finally(() => this.connecting.delete(key));
      this.connecting.set(key, p);
    }
    return abortable(p, req.signal);
  }

  /** The session kept to resume `url`'s origin with these TLS options (to save it, as `tsquic get --session-file` does). */
  getSession(url: string | URL, tls: H3TlsOptions = this.options.tls ?? {}): Uint8Array | undefined {
    return this.sessions.get(poolKey(new URL(String(url)), tls));
  }

  /** Sets the session the next connection to `url`'s origin resumes (e.g. one loaded from a file). */
  setSession(url: string | URL, session: Uint8Array, tls: H3TlsOptions = this.options.tls ?? {}): void {
    this._storeSession(poolKey(new URL(String(url)), tls), session);
  }

  /** @internal keeps the newest session per key, dropping the oldest past the bound. */
  _storeSession(key: string, session: Uint8Array): void {
    const limit = this.options.sessionCache ?? 256;
    if (limit <= 0) return;
    this.sessions.delete(key);
    this.sessions.set(key, session);
    if (this.sessions.size > limit) this.sessions.delete(this.sessions.keys().next().value!);
  }

  private async open(req: NormalizedRequest, key: string): Promise<ClientConnection> {
    const host = req.url.hostname.startsWith("[") ? req.url.hostname.slice(1, -1) : req.url.hostname;
    const port = req.url.port ? Number(req.url.port) : 443;
    let address = host;
    if (!isIP(host)) address = (this.options.lookup ? await this.options.lookup(host) : await dnsLookup(host)).address;
    const tls = req.tls;
    const o = this.options;
    const config: ConnectionConfig = {
      alpn: ["h3"],
      clientTls: {
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
        ...(tls.key !== undefined ? { key: tls.key } : {}),
        ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
        ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
      },
      ...(o.transport ? { transport: o.transport } : {}),
      ...(o.congestionControl ? { congestionControl: o.congestionControl } : {}),
      ...(o.highWaterMark ? { streamHighWaterMark: o.highWaterMark } : {}),
      ...(o.handshakeTimeout ? { handshakeTimeout: o.handshakeTimeout } : {}),
      ...(o.initialRtt ? { initialRtt: o.initialRtt } : {}),
      ...(req.qlog !== undefined || req.keylog !== undefined ? loggingConfig(req) : this.logging),
    };
    if (tls.ciphers !== undefined) config.clientTls!.cipherSuites = cipherSuitesOption(tls.ciphers);
    let conn: ClientConnection | undefined;
    const udp = await UdpEndpoint.bind({ config, address: isIP(address) === 6 ? "::" : "0.0.0.0", port: 0, server: false }, () => conn?.dispatch());
    // A session is used once (RFC 8446 Appendix C.4): the new connection brings its own.
    const saved = this.sessions.get(key);
    this.sessions.delete(key);
    const session = saved && toResumptionState(saved);
    const transport = udp.connect({ serverName: tls.serverName ?? host, remote: { address, port }, ...resumeOptions(session, undefined, o.earlyData ?? true) });
    conn = new ClientConnection(this, key, udp, new H3Connection(transport, this.h3Options));
    this.all.add(conn);
    void conn.gone.then(() => this.all.delete(conn!));
    await conn.ready;
    this.pool.set(key, conn);
    return conn;
  }

  /** @internal a connection stops taking new requests (GOAWAY, closed). */
  _forget(c: ClientConnection): void {
    if (this.pool.get(c.key) === c) this.pool.delete(c.key);
  }

  /** Closes every connection (H3_NO_ERROR) at once; resolves when their sockets are closed. */
  async closeAll(): Promise<void> {
    const list = [...this.all];
    this.pool.clear();
    for (const c of list) c.close();
    await Promise.all(list.map((c) => c.gone));
  }
}

/** The connection-config key log and tracer of an agent's or a request's `keylog` and `qlog`. */
function loggingConfig(o: { keylog?: KeylogOption | undefined; qlog?: QlogOption | undefined }): Partial<ConnectionConfig> {
  return { ...keylogConfig(o.keylog), ...(o.qlog !== undefined ? { tracer: qlogDirectory(o.qlog) } : {}) };
}

/** The agent behind the module-level {@link fetch}. */
export const defaultAgent = new H3Agent();

/**
 * Web-compatible `fetch` over HTTP/3 (https: URLs only), on the shared
 * connection pool. `init.tls` takes `{ ca, rejectUnauthorized, serverName,
 * cert, key }` as `quic()` does.
 */
export function fetch(input: string | URL | Request, init?: H3RequestInit): Promise<Response> {
  return defaultAgent.fetch(input, init);
}

/** Closes every pooled connection of the default agent. */
export function closeAll(): Promise<void> {
  return defaultAgent.closeAll();
}

/** `p`, or a rejection with the signal's reason when it aborts first. */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A promise settled from outside, whose rejection is handled (waiters see it, nobody else has to). */
function settledLater(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
