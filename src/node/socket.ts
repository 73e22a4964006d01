/**
 * QuicSocket and createQuicSocket() of the Node-style API (seed 001): one
 * or more local UDP bindings ({@link QuicEndpoint}) that act as a client
 * (connect()) and a server (listen()) at once, with the socket-wide
 * controls of the documentation: block list, server-busy refusal,
 * diagnostic packet loss, counters.
 */
import { EventEmitter } from "node:events";
import { BlockList, isIP } from "node:net";
import { resolveConfig, type ConnectionConfig, type ResolvedConfig } from "../quic/config.js";
import type { PreferredAddressConfig } from "../quic/path/preferred.js";
import { decodeTransportParameters } from "../quic/transport-params.js";
import { toResumptionState } from "../quic/resumption.js";
import { resumeOptions } from "../api/quic.js";
import { QuicTransportError } from "../quic/errors.js";
import type { Connection } from "../quic/connection.js";
import type { EndpointStats } from "../quic/endpoint.js";
import type { UdpEndpoint, UdpEndpointOptions } from "../driver/udp-endpoint.js";
import type { H3ConnectionOptions } from "../h3/connection.js";
import { H3ErrorCode } from "../h3/errors.js";
import type { ServerCertificate, TlsServerConfig } from "../tls/server.js";
import type { TlsClientConfig } from "../tls/client.js";
import { TsquicError } from "../util/errors.js";
import { QuicOptionError, invalidState } from "./errors.js";
import { QlogReadables } from "./qlog.js";
import { QuicEndpoint, resolveHost, type EndpointOwner } from "./endpoint.js";
import {
  alpnOf,
  checkOptionNames,
  commonConfig,
  h3Options,
  preferredAddressOption,
  privateKey,
  streamDefaults,
  toSecureContext,
  type ConnectOptions,
  type EndpointOptions,
  type ListenOptions,
  type LookupFunction,
  type QuicSocketOptions,
  type SecureContext,
  type StreamDefaults,
} from "./options.js";
import { QuicClientSession, QuicServerSession, type PeerCheck, type QuicSession, type SessionOwner } from "./session.js";

/** Node's default for maxConnectionsPerHost. */
const DEFAULT_MAX_CONNECTIONS_PER_HOST = 100;

/** What listen() settled for the server sessions to come. */
interface ServerSetup {
  config: ResolvedConfig;
  defaults: StreamDefaults;
  h3: H3ConnectionOptions | undefined;
  peerCheck: PeerCheck;
}

/**
 * The resumption options of connect(): `sessionTicket` is the opaque
 * session of a 'sessionTicket' event (a bare TLS ticket is taken too);
 * `remoteTransportParams`, when given, replaces the server transport
 * parameters remembered in it for 0-RTT.
 */
function resumption(o: ConnectOptions): ReturnType<typeof resumeOptions> {
  const earlyData = o.earlyData ?? true;
  if (o.sessionTicket === undefined) {
    if (o.remoteTransportParams !== undefined) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.remoteTransportParams", "connect.remoteTransportParams needs connect.sessionTicket");
    return { earlyData };
  }
  const session = o.sessionTicket instanceof Uint8Array ? toResumptionState(new Uint8Array(o.sessionTicket)) : undefined;
  if (!session) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.sessionTicket", "connect.sessionTicket is not a session from a 'sessionTicket' event");
  let params: Uint8Array | undefined;
  if (o.remoteTransportParams !== undefined) {
    params = o.remoteTransportParams instanceof Uint8Array ? new Uint8Array(o.remoteTransportParams) : undefined;
    try {
      if (params) decodeTransportParameters(params, "server");
    } catch (e) {
      if (!(e instanceof QuicTransportError)) throw e;
      params = undefined;
    }
    if (!params) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.remoteTransportParams", "connect.remoteTransportParams are not a server's transport parameters from a 'sessionTicket' event");
  }
  return resumeOptions(session, params, earlyData);
}

/** Creates a QuicSocket (the documentation's `net.createQuicSocket`). */
export function createQuicSocket(options: QuicSocketOptions = {}): QuicSocket {
  return new QuicSocket(options);
}

/**
 * A set of local UDP bindings serving as QUIC client and server. Events:
 * `ready` (bound), `listening`, `session` (a new QuicServerSession; a
 * handler that throws or rejects destroys it and emits `sessionError`),
 * `busy`, `endpointClose`, `error`, `close`.
 */
export class QuicSocket extends EventEmitter implements EndpointOwner, SessionOwner {
  /** Remote addresses to ignore (servers) or refuse to connect to (clients). */
  readonly blockList = new BlockList();
  readonly #options: QuicSocketOptions;
  readonly #endpoints: QuicEndpoint[] = [];
  readonly #sessions = new Map<Connection, QuicSession>();
  /** Key log lines of server connections that arrive before their session exists. */
  readonly #keylogBacklog = new WeakMap<Connection, string[]>();
  /** qlog Readables of connections traced with `qlog: true`, until their sessions take them. */
  readonly #qlogs = new QlogReadables();
  readonly #createdAt = performance.now();
  #server: ServerSetup | undefined;
  #bindStarted = false;
  #boundAt: number | undefined;
  #listenAt: number | undefined;
  #endedAt: number | undefined;
  #serverBusy = false;
  #statelessReset: boolean;
  #diagnosticLoss = { rx: 0, tx: 0 };
  #blocked = 0;
  #serverSessions = 0;
  #clientSessions = 0;
  #refed = true;
  #closing: Promise<void> | undefined;
  #destroyed = false;
  readonly #udpOptions: UdpEndpointOptions[] = [];

  /** @internal Use {@link createQuicSocket}. */
  constructor(options: QuicSocketOptions = {}) {
    super();
    checkOptionNames("socket", options);
    checkOptionNames("connect", options.client);
    checkOptionNames("listen", options.server);
    // Checked now; listen() builds the tracer.
    this.#qlogs.tracerFactory("socket", options.qlog);
    const secret = options.statelessResetSecret;
    if (secret !== undefined && (!(secret instanceof Uint8Array) || secret.length < 16))
      throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "socket.statelessResetSecret", "socket.statelessResetSecret must be a Buffer or Uint8Array of at least 16 bytes");
    for (const k of ["maxConnections", "maxConnectionsPerHost", "retryTokenTimeout"] as const) {
      const v = options[k];
      if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v > 0)) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", `socket.${k}`, `socket.${k} must be a positive integer`);
    }
    this.#options = options;
    this.#statelessReset = !options.disableStatelessReset;
    this.#endpoints.push(new QuicEndpoint(this, options.endpoint));
  }

  // ------------------------------------------------------------ state

  /** The local bindings. */
  get endpoints(): QuicEndpoint[] {
    return [...this.#endpoints];
  }

  /** True once a binding is up. */
  get bound(): boolean {
    return this.#endpoints.some((e) => e.bound);
  }

  /** True while binding has started but no binding is up. */
  get pending(): boolean {
    return this.#bindStarted && !this.bound && !this.#destroyed;
  }

  /** True after listen() succeeded. */
  get listening(): boolean {
    return this.#listenAt !== undefined && !this.#destroyed;
  }

  /** True once closed or destroyed. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** While true, new connections are refused with CONNECTION_REFUSED (RFC 9000 section 5.2.2). */
  get serverBusy(): boolean {
    return this.#serverBusy;
  }

  set serverBusy(on: boolean) {
    on = !!on;
    if (on === this.#serverBusy) return;
    this.#serverBusy = on;
    for (const e of this.#endpoints) if (e._udp) e._udp.endpoint.serverBusy = on;
    this.emit("busy", on);
  }

  /** Whether stateless resets are sent for unknown connections (RFC 9000 section 10.3). */
  get statelessReset(): boolean {
    return this.#statelessReset;
  }

  set statelessReset(on: boolean) {
    this.#statelessReset = !!on;
    // The endpoints read their options object at run time.
    for (const o of this.#udpOptions) o.disableStatelessReset = !this.#statelessReset;
  }

  // ------------------------------------------------------------ counters

  #sum(k: keyof EndpointStats): number {
    let n = 0;
    for (const e of this.#endpoints) n += e._udp?.endpoint.stats[k] ?? 0;
    return n;
  }

  /** UDP payload bytes received. */
  get bytesReceived(): number {
    return this.#sum("bytesReceived");
  }

  /** UDP payload bytes sent. */
  get bytesSent(): number {
    return this.#sum("bytesSent");
  }

  /** UDP datagrams received (blocked or diagnostically dropped ones excluded). */
  get packetsReceived(): number {
    return this.#sum("datagramsReceived");
  }

  /** UDP datagrams sent. */
  get packetsSent(): number {
    return this.#sum("datagramsSent");
  }

  /** Datagrams ignored: from blocked addresses, or belonging to nothing we could answer. */
  get packetsIgnored(): number {
    return this.#sum("packetsIgnored") + this.#blocked;
  }

  /** Stateless resets sent. */
  get statelessResetCount(): number {
    return this.#sum("statelessResetsSent");
  }

  /** Connections refused because {@link serverBusy} was set. */
  get serverBusyCount(): number {
    return this.#sum("busyRefusals");
  }

  /** Server sessions created so far. */
  get serverSessions(): number {
    return this.#serverSessions;
  }

  /** Client sessions created so far. */
  get clientSessions(): number {
    return this.#clientSessions;
  }

  /** Milliseconds since the socket was created (until it closed). */
  get duration(): number {
    return (this.#endedAt ?? performance.now()) - this.#createdAt;
  }

  /** Milliseconds since the first binding came up; 0 before. */
  get boundDuration(): number {
    return this.#boundAt === undefined ? 0 : (this.#endedAt ?? performance.now()) - this.#boundAt;
  }

  /** Milliseconds since listen() succeeded; 0 before. */
  get listenDuration(): number {
    return this.#listenAt === undefined ? 0 : (this.#endedAt ?? performance.now()) - this.#listenAt;
  }

  // ------------------------------------------------------------ operations

  /** Adds a binding; only before the socket starts binding. */
  addEndpoint(options: EndpointOptions = {}): QuicEndpoint {
    if (this.#destroyed || this.#closing) throw invalidState("the socket is closed");
    if (this.#bindStarted) throw invalidState("addEndpoint() must be called before the socket binds (listen, connect)");
    const e = new QuicEndpoint(this, options);
    this.#endpoints.push(e);
    return e;
  }

  /**
   * Drops a share of datagrams at random, for tests: `rx` of those
   * received, `tx` of those sent (probabilities 0..1). Diagnostic only.
   */
  setDiagnosticPacketLoss(options: { rx?: number; tx?: number } = {}): void {
    const check = (k: "rx" | "tx"): number => {
      const v = options[k] ?? 0;
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", `setDiagnosticPacketLoss.${k}`, `${k} must be a probability in 0..1`);
      return v;
    };
    this.#diagnosticLoss = { rx: check("rx"), tx: check("tx") };
  }

  /** Starts accepting sessions with these options (merged over `server` of createQuicSocket). */
  async listen(options: ListenOptions = {}): Promise<void> {
    this.#assertUsable();
    if (this.#server) throw invalidState("the socket is already listening");
    checkOptionNames("listen", options);
    const o: ListenOptions = { ...this.#options.server, ...options };
    const alpn = alpnOf("listen", o.alpn);
    if (o.cert === undefined || o.key === undefined) throw new QuicOptionError("ERR_MISSING_OPTION", "listen.cert", "listen() needs cert and key");
    if (o.h3 !== undefined && alpn !== "h3") throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "listen.h3", "listen.h3 applies to alpn 'h3' only");
    const key = privateKey("listen", o.key, o.passphrase);
    const { cipherSuites, groups, ...transport } = commonConfig("listen", o);
    const serverTls: Omit<TlsServerConfig, "alpnProtocols" | "quicTransportParameters" | "mode"> = {
      cert: o.cert,
      key,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(cipherSuites ? { cipherSuites } : {}),
      ...(groups ? { groups } : {}),
      requestClientCertificate: !!o.requestCert,
      // node:tls: requestCert with rejectUnauthorized (the default) refuses clients without a valid certificate.
      requireClientCertificate: o.rejectUnauthorized !== false,
      rejectUnauthorized: o.rejectUnauthorized !== false,
      // 0-RTT only when asked for: it can be replayed (RFC 8446 section 8); src/quic/early-data.ts allows each ticket once.
      ...(o.earlyData ? { earlyData: true } : {}),
    };
    const select = this.#certificateSelector(o, { cert: o.cert, key, ...(o.ca !== undefined ? { ca: o.ca } : {}) });
    if (select) serverTls.selectCertificate = select;
    const tracer = this.#qlogs.tracerFactory("listen", o.qlog ?? this.#options.qlog);
    const preferred = preferredAddressOption("listen", o.preferredAddress);
    const config = resolveConfig({ alpn: [alpn], serverTls, ...transport, keylog: (line, c) => this.#keylog(line, c), ...(tracer ? { tracer } : {}) });
    this.#server = {
      config,
      defaults: streamDefaults("listen", o),
      h3: alpn === "h3" ? h3Options("listen", o.h3) : undefined,
      peerCheck: { ca: o.ca, host: undefined, usage: "client" },
    };
    let first: ResolvedConfig;
    try {
      await this.#bindAll();
      first = preferred ? await this.#bindPreferredAddress(preferred, config) : config;
    } catch (e) {
      this.#server = undefined;
      throw e;
    }
    // The preferred address belongs to the first bound endpoint: connections arriving on others are not offered it.
    const bound = this.#endpoints.filter((e) => e._udp);
    bound.forEach((e, i) => e._udp!.endpoint.listen(i === 0 ? first : config));
    this.#listenAt = performance.now();
    this.emit("listening");
  }

  /**
   * Starts a client session (options merged over `client` of
   * createQuicSocket). Resolves once the handshake has started; the
   * session emits `secure` when it completes.
   */
  async connect(options: ConnectOptions = {}): Promise<QuicClientSession> {
    this.#assertUsable();
    checkOptionNames("connect", options);
    const o: ConnectOptions = { ...this.#options.client, ...options };
    const alpn = alpnOf("connect", o.alpn);
    if (!(Number.isInteger(o.port) && o.port! > 0 && o.port! < 65536)) throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.port", `connect.port must be 1..65535, got ${String(o.port)}`);
    if (o.h3 !== undefined && alpn !== "h3") throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.h3", "connect.h3 applies to alpn 'h3' only");
    const { cipherSuites, groups, ...transport } = commonConfig("connect", o);
    const clientTls: Omit<TlsClientConfig, "alpnProtocols" | "quicTransportParameters" | "mode"> = {
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: privateKey("connect", o.key, o.passphrase) } : {}),
      ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
      ...(cipherSuites ? { cipherSuites } : {}),
      ...(groups ? { groups } : {}),
      ...(o.ocspHandler ? { requestOcsp: true } : {}),
    };
    const policy = o.preferredAddressPolicy ?? "reject";
    if (policy !== "accept" && policy !== "reject") throw new QuicOptionError("ERR_INVALID_ARG_VALUE", "connect.preferredAddressPolicy", "connect.preferredAddressPolicy must be 'accept' or 'reject'");
    const tracer = this.#qlogs.tracerFactory("connect", o.qlog);
    const resume = resumption(o);
    const config: ConnectionConfig = {
      alpn: [alpn],
      clientTls,
      ...transport,
      keylog: (line, c) => this.#keylog(line, c),
      preferredAddressPolicy: policy,
      ...(tracer ? { tracer } : {}),
    };
    // Every option is checked before anything is resolved or bound.
    const resolved = resolveConfig(config);
    const defaults = streamDefaults("connect", o);
    const h3 = alpn === "h3" ? h3Options("connect", o.h3) : undefined;
    const host = o.address ?? "localhost";
    const address = await resolveHost(host, o.type === "udp6" ? 6 : 4, o.lookup ?? this.#options.lookup);
    if (this.blockList.check(address, isIP(address) === 6 ? "ipv6" : "ipv4")) {
      throw new TsquicError("ERR_QUIC_ADDRESS_BLOCKED", `connecting to ${address} is not allowed: the address is in the socket's blockList`);
    }
    await this.#bindAll();
    this.#assertUsable();
    const endpoint = this.#endpoints.find((e) => e.bound && e.family === isIP(address));
    if (!endpoint) throw invalidState(`no IPv${isIP(address)} endpoint to connect to ${address} from (add one with addEndpoint({ type: 'udp${isIP(address)}' }))`);
    const servername = o.servername ?? host;
    const udp = endpoint._udp!;
    const connection = udp.connect({
      serverName: servername,
      remote: { address, port: o.port! },
      config: resolved,
      ...resume,
    });
    const session = new QuicClientSession({
      owner: this,
      socket: this,
      udp,
      connection,
      streamDefaults: defaults,
      h3,
      peerCheck: { ca: o.ca, host: servername, usage: "server" },
      keylog: this.#takeKeylog(connection),
      qlog: this.#qlogs.take(connection),
    });
    if (o.ocspHandler) session._setOcspHandler(o.ocspHandler);
    this.#sessions.set(connection, session);
    this.#clientSessions++;
    return session;
  }

  /**
   * Closes gracefully: no new sessions; resolves once the sessions alive
   * now have ended (closed by either side or timed out) and the bindings
   * are closed.
   */
  close(): Promise<void> {
    if (this.#destroyed) return Promise.resolve();
    this.#closing ??= (async () => {
      for (const e of this.#endpoints) if (e._udp) e._udp.endpoint.acceptingConnections = false;
      while (this.#sessions.size > 0) await new Promise<void>((resolve) => this.once("_sessionGone", resolve));
      await this.#shutdown(undefined);
    })();
    return this.#closing;
  }

  /** Destroys the socket at once: sessions are destroyed (with `error`), bindings closed; `error` then `close` are emitted. */
  destroy(error?: Error): void {
    if (this.#destroyed) return;
    for (const s of [...this.#sessions.values()]) s.destroy(undefined, s.isH3 ? H3ErrorCode.H3_NO_ERROR : 0);
    void this.#shutdown(error);
  }

  /** Keeps the process alive while bound (the default). */
  ref(): void {
    this.#refed = true;
    for (const e of this.#endpoints) e.ref();
  }

  /** Lets the process exit while bound. */
  unref(): void {
    this.#refed = false;
    for (const e of this.#endpoints) e.unref();
  }

  // ------------------------------------------------------------ EndpointOwner / SessionOwner

  /** @internal */
  get _lookup(): LookupFunction | undefined {
    return this.#options.lookup;
  }

  /** @internal */
  _endpointOptions(): UdpEndpointOptions {
    const o = this.#options;
    const u: UdpEndpointOptions = {
      // A client-only binding still needs a configuration; listen() replaces it.
      config: this.#server?.config ?? { alpn: ["tsquic-node"] },
      server: this.#server !== undefined,
      maxConnectionsPerHost: o.maxConnectionsPerHost ?? DEFAULT_MAX_CONNECTIONS_PER_HOST,
      disableStatelessReset: !this.#statelessReset,
      ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
      ...(o.validateAddress ? { requireRetry: true } : {}),
      ...(o.retryTokenTimeout !== undefined ? { retryTokenLifetime: o.retryTokenTimeout * 1000 } : {}),
      ...(o.statelessResetSecret !== undefined ? { statelessResetKey: new Uint8Array(o.statelessResetSecret) } : {}),
    };
    this.#udpOptions.push(u);
    return u;
  }

  /** @internal */
  _onBound(endpoint: QuicEndpoint, udp: UdpEndpoint): void {
    udp.endpoint.serverBusy = this.#serverBusy;
    udp.acceptDatagram = (from) => {
      if (this.blockList.check(from.address, from.address.includes(":") ? "ipv6" : "ipv4")) {
        this.#blocked++;
        return false;
      }
      return !(this.#diagnosticLoss.rx > 0 && Math.random() < this.#diagnosticLoss.rx);
    };
    udp.sendDatagram = () => !(this.#diagnosticLoss.tx > 0 && Math.random() < this.#diagnosticLoss.tx);
    if (!this.#refed) endpoint.unref();
    if (this.#boundAt === undefined) {
      this.#boundAt = performance.now();
      this.emit("ready");
    }
  }

  /** @internal */
  _onActivity(connection: Connection, endpoint: QuicEndpoint): void {
    let s = this.#sessions.get(connection);
    if (!s) {
      const server = this.#server;
      if (connection.role !== "server" || !server) return;
      s = new QuicServerSession({
        owner: this,
        socket: this,
        udp: endpoint._udp!,
        connection,
        streamDefaults: server.defaults,
        h3: server.h3,
        peerCheck: server.peerCheck,
        keylog: this.#takeKeylog(connection),
        qlog: this.#qlogs.take(connection),
      });
      this.#sessions.set(connection, s);
      this.#serverSessions++;
      this.#announce(s);
    }
    s._dispatch();
  }

  /** @internal */
  _onEndpointClosed(endpoint: QuicEndpoint, error: Error | undefined): void {
    this.emit("endpointClose", endpoint, error);
    // When every binding is gone, the socket goes too.
    if (!this.#destroyed && this.#bindStarted && this.#endpoints.every((e) => e.destroyed)) void this.#shutdown(error);
  }

  /** @internal */
  _sessionClosed(session: QuicSession): void {
    this.#sessions.delete(session.connection);
    this.emit("_sessionGone");
  }

  // ------------------------------------------------------------ internals

  /** Calls the 'session' listeners; one that throws or rejects gets the session destroyed and 'sessionError' emitted. */
  #announce(s: QuicServerSession): void {
    const fail = (e: unknown): void => {
      const err = e instanceof Error ? e : new Error(String(e));
      s.once("close", () => this.emit("sessionError", err, s));
      s.destroy(undefined, s.isH3 ? H3ErrorCode.H3_INTERNAL_ERROR : 1);
    };
    for (const listener of this.listeners("session")) {
      try {
        const r = (listener as (s: QuicServerSession) => unknown).call(this, s);
        if (r && typeof (r as Promise<unknown>).then === "function") (r as Promise<unknown>).then(undefined, fail);
      } catch (e) {
        fail(e);
      }
    }
  }

  /** The TLS selectCertificate hook running clientHelloHandler and ocspHandler, when either is set. */
  #certificateSelector(o: ListenOptions, defaults: SecureContext): TlsServerConfig["selectCertificate"] {
    const onHello = o.clientHelloHandler;
    const onOcsp = o.ocspHandler;
    if (!onHello && !onOcsp) return undefined;
    return (servername, hello) => {
      if (!onHello && !hello.statusRequest) return undefined;
      return (async (): Promise<ServerCertificate> => {
        let ctx = defaults;
        if (onHello) ctx = toSecureContext("listen.clientHelloHandler", await onHello(hello.alpnProtocols[0], servername, [...hello.cipherSuites])) ?? ctx;
        let ocspResponse: Uint8Array | undefined;
        if (onOcsp && hello.statusRequest) {
          const answer = await onOcsp("request", { servername, context: ctx });
          if (answer?.context) ctx = toSecureContext("listen.ocspHandler", answer.context) ?? ctx;
          if (answer?.data !== undefined) ocspResponse = typeof answer.data === "string" ? new Uint8Array(Buffer.from(answer.data)) : new Uint8Array(answer.data);
        }
        return { cert: ctx.cert, key: ctx.key, ...(ocspResponse?.length ? { ocspResponse } : {}) };
      })();
    };
  }

  #keylog(line: string, c: Connection): void {
    const s = this.#sessions.get(c);
    if (s) return s._keylog(line);
    const backlog = this.#keylogBacklog.get(c);
    if (backlog) backlog.push(line);
    else this.#keylogBacklog.set(c, [line]);
  }

  #takeKeylog(c: Connection): string[] {
    const lines = this.#keylogBacklog.get(c) ?? [];
    this.#keylogBacklog.delete(c);
    return lines;
  }

  /**
   * Binds a socket on each preferred address on the first endpoint and
   * returns the listen configuration offering them, with the ports bound.
   */
  async #bindPreferredAddress(preferred: PreferredAddressConfig, config: ResolvedConfig): Promise<ResolvedConfig> {
    const udp = this.#endpoints.find((e) => e._udp)!._udp!;
    const bound: PreferredAddressConfig = {};
    try {
      for (const family of ["ipv4", "ipv6"] as const) {
        const want = preferred[family];
        if (want) bound[family] = await udp.addSocket(want);
      }
    } catch (e) {
      for (const a of [bound.ipv4, bound.ipv6]) if (a) udp.removeSocket(a);
      throw e;
    }
    return resolveConfig({ ...config, preferredAddress: bound });
  }

  #assertUsable(): void {
    if (this.#destroyed) throw invalidState("the socket is destroyed");
    if (this.#closing) throw invalidState("the socket is closing");
  }

  async #bindAll(): Promise<void> {
    this.#bindStarted = true;
    const results = await Promise.allSettled(this.#endpoints.map((e) => e.bind()));
    if (!this.bound) {
      const failure = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      throw failure?.reason ?? invalidState("no endpoint could bind");
    }
  }

  async #shutdown(error: Error | undefined): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#endedAt = performance.now();
    this.#qlogs.endAll();
    await Promise.all(this.#endpoints.map((e) => e.close()));
    if (error) this.emit("error", error);
    this.emit("close");
  }
}
