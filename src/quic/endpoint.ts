import { randomBytes } from "node:crypto";
import { plainBytes } from "../util/bytes.js";
import { AddressTokens, type RetryTokenContents } from "./address-token.js";
import { randomConnectionId } from "./cid.js";
import { resolveConfig, type ConnectionConfig, type ResolvedConfig } from "./config.js";
import { DeadlineHeap } from "./scheduler.js";
import { Connection, type ClientConnectionOptions } from "./connection.js";
import { TLS_AES_128_GCM_SHA256 } from "../crypto/suites.js";
import { TransportErrorCode } from "./errors.js";
import { putFrame, transportCloseFrame } from "./frames/index.js";
import {
  HeaderProtectionBatch,
  LongPacketType,
  MIN_PN_AND_PAYLOAD_LENGTH,
  PacketProtection,
  deriveInitialSecrets,
  patchLongHeaderLength,
  writeLongHeader,
  type QuicVersion,
  MIN_INITIAL_DATAGRAM_SIZE,
  MIN_STATELESS_RESET_LENGTH,
  STATELESS_RESET_TOKEN_LENGTH,
  PacketType,
  buildRetry,
  buildStatelessReset,
  buildVersionNegotiation,
  getQuicVersion,
  parsePacketHeader,
  peekDestinationCid,
  statelessResetLength,
  statelessResetToken,
} from "./packet/index.js";
import type { OutgoingDatagram, PathInfo, SansIo } from "./types.js";

/** Options of an {@link Endpoint}. */
export interface EndpointOptions {
  /** Configuration for the connections this endpoint creates. */
  config: ConnectionConfig | ResolvedConfig;
  /** Accept incoming connections (requires `config.serverTls`). Default: true when serverTls is set. */
  server?: boolean;
  /** Require address validation with Retry before keeping any state for a client (RFC 9000 section 8.1.2). */
  requireRetry?: boolean;
  /** How long a Retry token stays valid, ms. Default 10 s. */
  retryTokenLifetime?: number;
  /**
   * Send clients a NEW_TOKEN token after the handshake (RFC 9000 section
   * 8.1.3), so their next connection skips Retry and the anti-amplification
   * limit. Default true.
   */
  newTokens?: boolean;
  /** How long a NEW_TOKEN token stays valid, ms. Default 24 hours. */
  newTokenLifetime?: number;
  /** 32-byte key sealing Retry and NEW_TOKEN tokens; share it between servers (and restarts) that must accept each other's tokens. Random when absent. */
  addressTokenKey?: Uint8Array;
  /** Key for stateless reset tokens (RFC 9000 section 10.3.2); random when absent. Share it across restarts to reset old connections. */
  statelessResetKey?: Uint8Array;
  /** Do not send stateless resets for unknown connections. */
  disableStatelessReset?: boolean;
  /** Most connections at once; further Initials are refused with CONNECTION_REFUSED (RFC 9000 section 5.2.2). Default 10,000. */
  maxConnections?: number;
  /** Most connections per remote IP address; further Initials are refused like those past `maxConnections`. Default unlimited. */
  maxConnectionsPerHost?: number;
  /** Stateless resets sent per second at most (RFC 9000 section 10.3.3 asks for a limit). Default 100. */
  statelessResetRate?: number;
  /**
   * Leave the header protection of the datagrams {@link Endpoint.send}
   * returns to {@link Endpoint.finishSends}, which applies it to the whole
   * burst at once (one cipher call instead of one per packet). A driver
   * that sets this must call finishSends before any of those datagrams
   * leaves. Default false: every datagram is complete when returned.
   */
  batchHeaderProtection?: boolean;
}

/** Endpoint-level events. */
export type EndpointEvent = { type: "connection"; connection: Connection };

/** Counters of an endpoint. */
export interface EndpointStats {
  datagramsReceived: number;
  bytesReceived: number;
  datagramsSent: number;
  bytesSent: number;
  /** Datagrams that belonged to no connection and were not answered. */
  packetsIgnored: number;
  versionNegotiationsSent: number;
  retriesSent: number;
  statelessResetsSent: number;
  serverConnections: number;
  clientConnections: number;
  refusedConnections: number;
  /** Of the refused connections, those refused because {@link Endpoint.serverBusy} was set. */
  busyRefusals: number;
}

/** Map key of a connection ID or token: one char per byte, cheaper than hex on the per-datagram path. */
function cidKey(cid: Uint8Array): string {
  let k = "";
  for (let i = 0; i < cid.length; i++) k += String.fromCharCode(cid[i]!);
  return k;
}


/**
 * Many connections behind one UDP socket, sans-IO: routes each datagram by
 * destination connection ID (RFC 9000 section 5.2), answers what belongs
 * to no connection (Version Negotiation, Retry, stateless reset), creates
 * server connections, and merges every connection's output and timers into
 * one `send` / `timeout` for its driver. One endpoint can be a client and a
 * server at once.
 */
export class Endpoint implements SansIo {
  /** Resolved configuration (replaced by {@link listen}). */
  config: ResolvedConfig;
  /** Counters. */
  readonly stats: EndpointStats = {
    datagramsReceived: 0,
    bytesReceived: 0,
    datagramsSent: 0,
    bytesSent: 0,
    packetsIgnored: 0,
    versionNegotiationsSent: 0,
    retriesSent: 0,
    statelessResetsSent: 0,
    serverConnections: 0,
    clientConnections: 0,
    refusedConnections: 0,
    busyRefusals: 0,
  };
  /** Whether the endpoint accepts new connections. */
  acceptingConnections: boolean;
  /** Refuse every new connection with CONNECTION_REFUSED (RFC 9000 section 5.2.2) while set, e.g. under load. */
  serverBusy = false;

  private readonly byCid = new Map<string, Connection>();
  /** Connections by the stateless reset token of the peer CID they send to. */
  private readonly byResetToken = new Map<string, Connection>();
  /** Routing keys registered for each connection, and the connection's routing generation when last collected. */
  private readonly cidsOf = new Map<Connection, string[]>();
  private readonly routingSeen = new Map<Connection, number>();
  /** Reset-token keys registered for each connection. */
  private readonly resetKeysOf = new Map<Connection, string[]>();
  private readonly perHost = new Map<string, number>();
  /** The host each server connection counts against in {@link perHost}: its address at the handshake, wherever it moved since. */
  private readonly hostOf = new Map<Connection, string>();
  private readonly connections: Connection[] = [];
  /**
   * Connections that may have something to send: touched by a datagram, a
   * timer or the application since they last had nothing. send() visits
   * only these, and timeout() reads the deadline heap, so an event costs
   * the same with ten connections or ten thousand.
   */
  private readonly active = new Set<Connection>();
  private readonly deadlines = new DeadlineHeap<Connection>();
  private readonly wakeConnection = (c: Connection): void => this.wake(c);
  private readonly queued: OutgoingDatagram[] = [];
  private readonly events: EndpointEvent[] = [];
  private readonly resetKey: Uint8Array;
  private readonly tokens: AddressTokens;
  private readonly options: EndpointOptions;
  private resetWindowStart = 0;
  private resetsInWindow = 0;
  /** Header protection of the burst being sent, with `batchHeaderProtection`. */
  private readonly headerProtectionBatch: HeaderProtectionBatch | undefined;

  constructor(options: EndpointOptions) {
    this.options = options;
    this.headerProtectionBatch = options.batchHeaderProtection ? new HeaderProtectionBatch() : undefined;
    this.config = resolveConfig(options.config);
    this.acceptingConnections = options.server ?? this.config.serverTls !== undefined;
    this.resetKey = options.statelessResetKey ?? new Uint8Array(randomBytes(32));
    this.tokens = new AddressTokens(options.addressTokenKey);
    this.serverVersions = this.config.versions.filter((v) => getQuicVersion(v) !== undefined);
  }

  /** The versions we accept as a server and list in Version Negotiation (reserved ones left out). */
  private serverVersions: number[];

  /**
   * Starts accepting connections with `config` (it must hold `serverTls`),
   * for a driver that creates the endpoint before it knows the server's
   * settings. Connections already open keep theirs.
   */
  listen(config: ConnectionConfig | ResolvedConfig): void {
    const resolved = resolveConfig(config);
    if (!resolved.serverTls) throw new TypeError("listen needs a configuration with serverTls");
    // Routing reads connection IDs of the configured length: it cannot change under live connections.
    if (resolved.connectionIdLength !== this.config.connectionIdLength) throw new TypeError("listen cannot change connectionIdLength");
    this.config = resolved;
    this.serverVersions = resolved.versions.filter((v) => getQuicVersion(v) !== undefined);
    this.acceptingConnections = true;
  }

  /** Live connections (not yet closed). */
  get connectionCount(): number {
    return this.connections.length;
  }

  /** Every live connection. */
  allConnections(): readonly Connection[] {
    return this.connections;
  }

  /** Next endpoint event (new server connections), or undefined. */
  poll(): EndpointEvent | undefined {
    return this.events.shift();
  }

  /** Starts a client connection from this endpoint. */
  connect(options: Omit<ClientConnectionOptions, "config" | "statelessResetKey"> & { config?: ConnectionConfig | ResolvedConfig }): Connection {
    const c = Connection.connect({ ...options, config: options.config ?? this.config, statelessResetKey: this.resetKey });
    this.add(c);
    this.stats.clientConnections++;
    return c;
  }

  /**
   * Schedules `c` for the next {@link send}: call after the application
   * queued data or frames on it. Connections call it themselves from their
   * public methods; drivers may call it too.
   */
  wake(c: Connection): void {
    if (this.cidsOf.has(c)) this.active.add(c);
  }

  private add(c: Connection): void {
    if (this.headerProtectionBatch) c.headerProtectionBatch = this.headerProtectionBatch;
    this.routingVersion++;
    this.connections.push(c);
    c.onWake = this.wakeConnection;
    this.active.add(c);
    const keys: string[] = [];
    for (const cid of c.sourceConnectionIds) {
      const k = cidKey(cid);
      this.byCid.set(k, c);
      keys.push(k);
    }
    this.cidsOf.set(c, keys);
  }

  private registerCid(c: Connection, cid: Uint8Array): void {
    const k = cidKey(cid);
    this.routingVersion++;
    this.byCid.set(k, c);
    this.cidsOf.get(c)?.push(k);
  }

  private remove(c: Connection): void {
    this.routingVersion++;
    this.lastRouted = undefined;
    const i = this.connections.indexOf(c);
    if (i >= 0) this.connections.splice(i, 1);
    c.onWake = undefined;
    this.active.delete(c);
    this.deadlines.delete(c);
    for (const k of this.cidsOf.get(c) ?? []) if (this.byCid.get(k) === c) this.byCid.delete(k);
    for (const k of this.resetKeysOf.get(c) ?? []) if (this.byResetToken.get(k) === c) this.byResetToken.delete(k);
    this.resetKeysOf.delete(c);
    this.cidsOf.delete(c);
    this.routingSeen.delete(c);
    const host = this.hostOf.get(c);
    if (host !== undefined) {
      this.hostOf.delete(c);
      const n = (this.perHost.get(host) ?? 1) - 1;
      if (n <= 0) this.perHost.delete(host);
      else this.perHost.set(host, n);
    }
  }

  /**
   * Routes one datagram (RFC 9000 section 5.2). Never throws. Returns the
   * connection it went to (existing or new), so a driver knows whose events to drain.
   */
  recv(datagram: Uint8Array, path: PathInfo, now: number): Connection | undefined {
    datagram = plainBytes(datagram);
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += datagram.length;
    if (datagram.length === 0) return;
    const dcid = peekDestinationCid(datagram, 0, datagram.length, this.config.connectionIdLength);
    if (!dcid) {
      this.stats.packetsIgnored++;
      return undefined;
    }
    const conn = this.route(dcid);
    if (conn) {
      conn.recv(datagram, path, now);
      this.collectCids(conn);
      this.active.add(conn);
      return conn;
    }
    if ((datagram[0]! & 0x80) === 0) {
      // A short header we cannot route may be a stateless reset for one of ours (RFC 9000 section 10.3.1).
      const reset = this.statelessResetTarget(datagram);
      if (reset) {
        reset.onStatelessReset(now);
        this.active.add(reset);
        return reset;
      }
      this.maybeStatelessReset(datagram, dcid, path, now);
      return undefined;
    }
    return this.onUnknownLongHeader(datagram, path, now);
  }

  /**
   * The connection a DCID routes to. The last answer is remembered: a bulk
   * transfer routes every datagram to the same connection, and comparing a
   * few bytes is cheaper than building a map key and hashing it.
   */
  private route(dcid: Uint8Array): Connection | undefined {
    const last = this.lastRoutedCid;
    if (this.lastRoutedVersion === this.routingVersion && last.length === dcid.length) {
      let same = true;
      for (let i = 0; i < last.length; i++) {
        if (last[i] !== dcid[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastRouted;
    }
    const conn = this.byCid.get(cidKey(dcid));
    if (conn) {
      this.lastRoutedCid = dcid.slice();
      this.lastRouted = conn;
      this.lastRoutedVersion = this.routingVersion;
    }
    return conn;
  }

  /** Bumped whenever {@link byCid} changes, which invalidates the {@link route} cache. */
  private routingVersion = 0;
  private lastRoutedVersion = -1;
  private lastRoutedCid: Uint8Array = new Uint8Array(0);
  private lastRouted: Connection | undefined;

  /** Picks up CIDs a connection issued since the last look (NEW_CONNECTION_ID), and the peer's reset token it now uses. */
  private collectCids(c: Connection): void {
    // Only look when the connection's CIDs or reset token changed since the last time.
    const gen = c.routingGeneration;
    if (this.routingSeen.get(c) === gen) return;
    const known = this.cidsOf.get(c);
    if (!known) return;
    this.routingSeen.set(c, gen);
    for (const cid of c.sourceConnectionIds) {
      const k = cidKey(cid);
      if (!this.byCid.has(k)) this.registerCid(c, cid);
    }
    const token = c.peerResetToken;
    if (token) {
      const k = cidKey(token);
      if (this.byResetToken.get(k) !== c) {
        this.byResetToken.set(k, c);
        const tokens = this.resetKeysOf.get(c);
        if (tokens) tokens.push(k);
        else this.resetKeysOf.set(c, [k]);
      }
    }
  }

  /** The connection whose peer's stateless reset token ends `datagram`, if any (RFC 9000 section 10.3.1). */
  private statelessResetTarget(datagram: Uint8Array): Connection | undefined {
    if (datagram.length < MIN_STATELESS_RESET_LENGTH || this.byResetToken.size === 0) return undefined;
    const c = this.byResetToken.get(cidKey(datagram.subarray(datagram.length - STATELESS_RESET_TOKEN_LENGTH)));
    // The map only narrows the search; the connection compares in constant time against the token in use.
    return c && c.matchesStatelessReset(datagram) ? c : undefined;
  }

  private onUnknownLongHeader(datagram: Uint8Array, path: PathInfo, now: number): Connection | undefined {
    let header;
    try {
      header = parsePacketHeader(datagram, 0, datagram.length, this.config.connectionIdLength);
    } catch {
      this.stats.packetsIgnored++;
      return undefined;
    }
    if (!this.acceptingConnections) {
      this.stats.packetsIgnored++;
      return undefined;
    }
    if (header.type === PacketType.UnsupportedVersion || !this.config.versions.includes(header.version)) {
      // Version Negotiation only for datagrams that could carry an Initial (RFC 9000 section 6.1 and 14.1).
      if (datagram.length >= MIN_INITIAL_DATAGRAM_SIZE) {
        const vn = buildVersionNegotiation(header.scid, header.dcid, this.serverVersions);
        this.queued.push({ data: vn, to: path.from, from: path.to, sendAt: now });
        this.stats.versionNegotiationsSent++;
      } else {
        this.stats.packetsIgnored++;
      }
      return undefined;
    }
    if (header.type !== PacketType.Initial || datagram.length < MIN_INITIAL_DATAGRAM_SIZE) {
      // A server drops Initial datagrams under 1200 bytes (RFC 9000 section 14.1) and anything else for unknown CIDs.
      this.stats.packetsIgnored++;
      return undefined;
    }
    if (header.dcid.length < 8) {
      // The client's first DCID is at least 8 bytes (RFC 9000 section 7.2).
      this.stats.packetsIgnored++;
      return undefined;
    }
    const max = this.options.maxConnections ?? 10_000;
    const perHost = this.options.maxConnectionsPerHost ?? Infinity;
    if (this.serverBusy || this.connections.length >= max || (this.perHost.get(path.from.address) ?? 0) >= perHost) {
      if (this.serverBusy) this.stats.busyRefusals++;
      this.refuse(header.versionInfo!, header.dcid, header.scid, path, now);
      return undefined;
    }
    let retry: RetryTokenContents | undefined;
    // A NEW_TOKEN token from an earlier connection validates the address (RFC 9000 section 8.1.3); one that fails is ignored, not fatal.
    const validated = AddressTokens.isNewToken(header.token) && this.tokens.openNewToken(header.token, path.from, now, this.options.newTokenLifetime);
    if (this.options.requireRetry && !validated) {
      if (header.token.length === 0 || AddressTokens.isNewToken(header.token)) {
        this.sendRetry(header.version, header.dcid, header.scid, path, now);
        return undefined;
      }
      const t = this.tokens.openRetry(header.token, path.from, now, this.options.retryTokenLifetime);
      if (!t || !equalCid(t.retrySourceCid, header.dcid)) {
        // An invalid token: drop (RFC 9000 section 8.1.3 allows a close with INVALID_TOKEN; dropping keeps no state).
        this.stats.packetsIgnored++;
        return undefined;
      }
      retry = t;
    }
    const scid = randomConnectionId(this.config.connectionIdLength);
    const c = Connection.accept({
      config: this.config,
      remote: path.from,
      local: path.to,
      now,
      scid,
      initialDcid: header.dcid.slice(),
      peerScid: header.scid.slice(),
      version: header.version,
      ...(retry ? { retry } : {}),
      ...(validated ? { addressValidated: true } : {}),
      ...(this.options.newTokens !== false ? { issueToken: (client, at) => this.tokens.sealNewToken(client, at) } : {}),
      statelessResetKey: this.resetKey,
      onCidIssued: (cid) => this.registerCid(c, cid),
    });
    this.add(c);
    // Retransmitted Initials still carry the client's chosen DCID (RFC 9000 section 7.2).
    this.registerCid(c, header.dcid.slice());
    this.perHost.set(path.from.address, (this.perHost.get(path.from.address) ?? 0) + 1);
    this.hostOf.set(c, path.from.address);
    c.recv(datagram, path, now);
    if (c.packetsProcessed === 0) {
      // Nothing in the datagram authenticated (corrupt or forged): keep no state for it.
      this.remove(c);
      this.stats.packetsIgnored++;
      return undefined;
    }
    this.stats.serverConnections++;
    this.events.push({ type: "connection", connection: c });
    return c;
  }

  /**
   * Refuses a connection without keeping state: an Initial packet with
   * CONNECTION_CLOSE(CONNECTION_REFUSED), protected with the Initial keys of
   * the client's DCID (RFC 9000 sections 5.2.2 and 10.2.3). No TLS work is
   * done, and the answer is far smaller than the 1200-byte Initial.
   */
  private refuse(version: QuicVersion, clientDcid: Uint8Array, clientScid: Uint8Array, path: PathInfo, now: number): void {
    this.stats.refusedConnections++;
    const secrets = deriveInitialSecrets(version, clientDcid);
    const prot = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, secrets.server, version);
    const buf = new Uint8Array(160);
    const pnOffset = writeLongHeader(buf, 0, version, LongPacketType.Initial, clientScid, randomConnectionId(this.config.connectionIdLength), undefined, 0, 1, 2);
    let o = putFrame(buf, pnOffset + 1, transportCloseFrame(TransportErrorCode.CONNECTION_REFUSED, "server busy"));
    // The header-protection sample needs enough payload (RFC 9001 section 5.4.2).
    if (o - pnOffset < MIN_PN_AND_PAYLOAD_LENGTH) o = pnOffset + MIN_PN_AND_PAYLOAD_LENGTH;
    patchLongHeaderLength(buf, pnOffset, o, 2);
    const end = prot.protect(buf, 0, pnOffset, 1, o, 0);
    this.queued.push({ data: buf.subarray(0, end), to: path.from, from: path.to, sendAt: now });
  }

  private sendRetry(version: number, clientDcid: Uint8Array, clientScid: Uint8Array, path: PathInfo, now: number): void {
    const v = getQuicVersion(version);
    if (!v) return;
    const retryScid = randomConnectionId(this.config.connectionIdLength);
    const token = this.tokens.sealRetry(clientDcid, retryScid, path.from, now);
    const packet = buildRetry(v, clientScid, retryScid, clientDcid, token);
    this.queued.push({ data: packet, to: path.from, from: path.to, sendAt: now });
    this.stats.retriesSent++;
  }

  private maybeStatelessReset(datagram: Uint8Array, dcid: Uint8Array, path: PathInfo, now: number): void {
    // RFC 9000 section 10.3: the reset must be smaller than the packet that triggered it, and at least 21 bytes.
    if (this.options.disableStatelessReset || datagram.length <= 21) {
      this.stats.packetsIgnored++;
      return;
    }
    if (now - this.resetWindowStart >= 1000) {
      this.resetWindowStart = now;
      this.resetsInWindow = 0;
    }
    if (this.resetsInWindow >= (this.options.statelessResetRate ?? 100)) {
      this.stats.packetsIgnored++;
      return;
    }
    this.resetsInWindow++;
    const token = statelessResetToken(this.resetKey, dcid);
    const reset = buildStatelessReset(token, statelessResetLength(datagram.length));
    this.queued.push({ data: reset, to: path.from, from: path.to, sendAt: now });
    this.stats.statelessResetsSent++;
  }

  /** The next datagram from any connection or the endpoint itself; active connections take turns. */
  send(now: number): OutgoingDatagram | null {
    const q = this.queued.shift();
    if (q) return this.count(q);
    for (const c of this.active) {
      const d = c.send(now);
      if (d) {
        this.collectCids(c);
        // To the back of the line: the next call serves another connection first.
        if (this.active.size > 1) {
          this.active.delete(c);
          this.active.add(c);
        }
        return this.count(d);
      }
      this.active.delete(c);
      // Nothing more to send: what remains is its timer.
      if (c.isClosed) this.remove(c);
      else this.deadlines.set(c, c.timeout());
    }
    return null;
  }

  /**
   * Completes the datagrams {@link send} returned since the last call, when
   * the endpoint batches header protection (`batchHeaderProtection`);
   * nothing to do otherwise.
   */
  finishSends(): void {
    if (this.headerProtectionBatch && this.headerProtectionBatch.pending > 0) this.headerProtectionBatch.flush();
  }

  private count(d: OutgoingDatagram): OutgoingDatagram {
    this.stats.datagramsSent++;
    this.stats.bytesSent += d.data.length;
    return d;
  }

  /** The earliest deadline of any connection. */
  timeout(): number | undefined {
    // Active connections' deadlines may have moved since they were last filed.
    for (const c of this.active) this.deadlines.set(c, c.timeout());
    return this.deadlines.peek();
  }

  /** Runs expired timers of every connection; returns the connections whose timers ran. */
  onTimeout(now: number): Connection[] {
    for (const c of this.active) this.deadlines.set(c, c.timeout());
    const ran: Connection[] = [];
    for (let c = this.deadlines.popDue(now); c; c = this.deadlines.popDue(now)) {
      const t = c.timeout();
      if (t === undefined || t > now) {
        this.deadlines.set(c, t);
        continue;
      }
      c.onTimeout(now);
      ran.push(c);
      if (c.isClosed) this.remove(c);
      // A timer may leave something to send (an ACK, a probe); send() files its next deadline.
      else this.active.add(c);
    }
    return ran;
  }
}

function equalCid(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
