import { createHash, randomBytes, type KeyObject } from "node:crypto";
import { createCertificate, createDevelopmentCertificates } from "../../src/pki/generate.js";
import { findCipherSuite } from "../../src/crypto/suites.js";
import type { ConnectionConfig } from "../../src/quic/config.js";
import type { ClientConnectionOptions, Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { Endpoint, type EndpointOptions } from "../../src/quic/endpoint.js";
import { encodeFrames, type Frame } from "../../src/quic/frames/index.js";
import { LongPacketType, PacketProtection, QUIC_V1, parsePacketHeader, patchLongHeaderLength, writeLongHeader, writeShortHeader } from "../../src/quic/packet/index.js";
import { PacketNumberSpace } from "../../src/quic/recovery/constants.js";
import type { OutgoingDatagram, PathInfo, SansIo, SocketAddress } from "../../src/quic/types.js";
import { SimulatedLink, type LinkConditions } from "../../src/testing/link.js";
import { fromHex } from "../../src/util/bytes.js";

const certs = createDevelopmentCertificates();

/** Client and server configurations sharing one development CA. */
export function testConfigs(overrides: Partial<ConnectionConfig> = {}): { client: ConnectionConfig; server: ConnectionConfig } {
  const base: ConnectionConfig = { alpn: ["test"], ...overrides };
  return {
    client: { ...base, clientTls: { ca: certs.ca.pem, ...(overrides.clientTls ?? {}) } },
    server: { ...base, serverTls: { cert: certs.leaf.pem, key: certs.leaf.key, ...(overrides.serverTls ?? {}) } },
  };
}

let bigChain: { ca: string; cert: string[]; key: KeyObject } | undefined;

/**
 * A server certificate chain of roughly 8 KB: a root, an intermediate and a
 * leaf with 300 DNS names, so the server's first flight is far larger than
 * three times a 1200-byte Initial.
 */
export function largeChain(): { caPem: string; serverTls: NonNullable<ConnectionConfig["serverTls"]> } {
  if (!bigChain) {
    const root = createCertificate({ subject: { commonName: "big root" }, isCA: true, pathLength: 1 });
    const mid = createCertificate({ subject: { commonName: "big intermediate" }, issuer: root, isCA: true, pathLength: 0 });
    const dns = ["localhost"];
    for (let i = 0; i < 300; i++) dns.push(`host-${i}.a-rather-long-subdomain.example.com`);
    const leaf = createCertificate({ subject: { commonName: "localhost" }, issuer: mid, subjectAltNames: { dns }, extendedKeyUsage: ["serverAuth"] });
    bigChain = { ca: root.pem, cert: [leaf.pem, mid.pem], key: leaf.key };
  }
  return { caPem: bigChain.ca, serverTls: { cert: bigChain.cert, key: bigChain.key } };
}

/** A client endpoint and a server endpoint joined by a simulated link. */
export interface Pair {
  client: Endpoint;
  server: Endpoint;
  link: SimulatedLink;
  conn: Connection;
  /** The server's side of `conn`, once it exists. */
  serverConn(): Connection | undefined;
  /** SSLKEYLOGFILE lines of the client's connections, to forge packets with its keys. */
  clientKeylog: string[];
}

/** Options of {@link makePair}. */
export interface PairOptions {
  config?: Partial<ConnectionConfig>;
  clientConfig?: Partial<ConnectionConfig>;
  serverConfig?: Partial<ConnectionConfig>;
  serverOptions?: Partial<EndpointOptions>;
  aToB?: LinkConditions;
  bToA?: LinkConditions;
  seed?: number;
  /** Extra options of the client's connect (first version, ...). */
  connect?: Pick<ClientConnectionOptions, "version" | "afterVersionNegotiation">;
}

/** Builds a pair and starts the client's connection. */
export function makePair(opts: PairOptions = {}): Pair {
  const cfg = testConfigs(opts.config ?? {});
  const clientKeylog: string[] = [];
  const client = new Endpoint({ config: { keylog: (l) => clientKeylog.push(l), ...cfg.client, ...(opts.clientConfig ?? {}) } });
  const server = new Endpoint({ config: { ...cfg.server, ...(opts.serverConfig ?? {}) }, ...(opts.serverOptions ?? {}) });
  const link = new SimulatedLink(client, server, {
    aToB: opts.aToB ?? { delay: 10 },
    bToA: opts.bToA ?? { delay: 10 },
    seed: opts.seed ?? 7,
  });
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now, ...(opts.connect ?? {}) });
  return {
    client,
    server,
    link,
    conn,
    serverConn: () => lastAccepted(server),
    clientKeylog,
  };
}

const accepted = new WeakMap<Endpoint, Connection>();
/** The newest server connection the endpoint announced (its `connection` events are consumed here). */
export function lastAccepted(e: Endpoint): Connection | undefined {
  for (let ev = e.poll(); ev; ev = e.poll()) accepted.set(e, ev.connection);
  return accepted.get(e);
}

/** Runs the link until both sides finished the handshake; throws with the reason when they do not. */
export function establish(p: Pair, maxTime = 5_000): Connection {
  const ok = p.link.run(() => p.conn.isEstablished && (p.serverConn()?.isEstablished ?? false), maxTime);
  if (!ok) {
    throw new Error(`handshake did not complete: client ${p.conn.state} ${p.conn.closeInfo?.error?.message ?? ""}; server ${p.serverConn()?.state ?? "none"}`);
  }
  return p.serverConn()!;
}

/** Drains a connection's events into `into` (and returns it). */
export function drain(c: Connection, into: ConnectionEvent[] = []): ConnectionEvent[] {
  for (let e = c.poll(); e; e = c.poll()) into.push(e);
  return into;
}

/** Options of {@link forgeClientPacket} and {@link forgePacket}. */
export interface ForgeOptions {
  level?: "handshake" | "oneRtt";
  /** Sets the header's reserved bits before protection. */
  reservedBits?: boolean;
  /** Packet number; default far above anything the sender sent. Give distinct ones when forging several. */
  pn?: number;
  /** Without `pn`: how far above the sender's largest packet number (default 1000). */
  pnAhead?: number;
}

/**
 * A datagram from the pair's client to its server carrying exactly
 * `frames` (encoded, or raw bytes), protected with the client's keys for
 * `level` taken from its key log: how a test injects a frame the real
 * client would never send. Its packet number is far above anything the
 * client sent unless `o.pn` or `o.pnAhead` says otherwise.
 */
export function forgeClientPacket(p: Pair, frames: Frame[] | Uint8Array, o: ForgeOptions = {}): Uint8Array {
  return forgePacket(p.conn, p.clientKeylog, "CLIENT", frames, o);
}

/**
 * A datagram from `sender` to its peer carrying exactly `frames`,
 * protected with the keys `sender`'s key log (`keylog`, lines of
 * SSLKEYLOGFILE) recorded for `level`. `side` names the key log labels of
 * the sender's role.
 */
export function forgePacket(sender: Connection, keylog: string[], side: "CLIENT" | "SERVER", frames: Frame[] | Uint8Array, o: ForgeOptions = {}): Uint8Array {
  const level = o.level ?? "oneRtt";
  const label = level === "oneRtt" ? `${side}_TRAFFIC_SECRET_0 ` : `${side}_HANDSHAKE_TRAFFIC_SECRET `;
  const line = keylog.find((l) => l.startsWith(label));
  if (!line) throw new Error(`${side.toLowerCase()} has no ${level} secret yet`);
  const secret = fromHex(line.split(" ")[2]!);
  const suite = findCipherSuite(sender.tls.cipherSuite!.id)!;
  const prot = PacketProtection.fromSecret(suite, secret, QUIC_V1);
  // A 4-byte packet number leaves room for the header-protection sample even with no payload (RFC 9001 section 5.4.2).
  const payload = frames instanceof Uint8Array ? frames : encodeFrames(frames);
  const space = level === "oneRtt" ? PacketNumberSpace.Application : PacketNumberSpace.Handshake;
  const pn = o.pn ?? sender.recovery.largestSent(space) + (o.pnAhead ?? 1000);
  const dcid = sender.peerCids.current.cid;
  const buf = new Uint8Array(64 + payload.length);
  const pnOffset =
    level === "oneRtt"
      ? writeShortHeader(buf, 0, dcid, pn, 4, 0)
      : writeLongHeader(buf, 0, QUIC_V1, LongPacketType.Handshake, dcid, sender.sourceConnectionIds[0]!, undefined, pn, 4, 2);
  buf.set(payload, pnOffset + 4);
  const payloadEnd = pnOffset + 4 + payload.length;
  if (level !== "oneRtt") patchLongHeaderLength(buf, pnOffset, payloadEnd, 2);
  if (o.reservedBits) buf[0]! |= level === "oneRtt" ? 0x18 : 0x0c;
  const end = prot.protect(buf, 0, pnOffset, 4, payloadEnd, pn);
  return buf.subarray(0, end);
}

/** Wraps a participant to watch every datagram it receives and sends. */
export class Spy implements SansIo {
  constructor(
    readonly inner: SansIo,
    readonly hooks: {
      afterRecv?: (datagram: Uint8Array, now: number) => void;
      afterSend?: (d: OutgoingDatagram, now: number) => void;
    },
  ) {}

  recv(datagram: Uint8Array, path: PathInfo, now: number): void {
    // The core may decrypt in place: hooks get a copy of what arrived.
    const copy = new Uint8Array(datagram);
    this.inner.recv(datagram, path, now);
    this.hooks.afterRecv?.(copy, now);
  }

  send(now: number): OutgoingDatagram | null {
    const d = this.inner.send(now);
    if (d) this.hooks.afterSend?.(d, now);
    return d;
  }

  timeout(): number | undefined {
    return this.inner.timeout();
  }

  onTimeout(now: number): void {
    this.inner.onTimeout(now);
  }
}

/** Long-header packet types in a datagram, in order, and whether a short-header packet follows them. */
export function packetTypesIn(datagram: Uint8Array): Array<"initial" | "0rtt" | "handshake" | "retry" | "1rtt" | "vn"> {
  const out: Array<"initial" | "0rtt" | "handshake" | "retry" | "1rtt" | "vn"> = [];
  let o = 0;
  while (o < datagram.length) {
    const first = datagram[o]!;
    if ((first & 0x80) === 0) {
      out.push("1rtt");
      break;
    }
    const version = ((datagram[o + 1]! << 24) | (datagram[o + 2]! << 16) | (datagram[o + 3]! << 8) | datagram[o + 4]!) >>> 0;
    if (version === 0) {
      out.push("vn");
      break;
    }
    const type = (first >> 4) & 3;
    out.push((["initial", "0rtt", "handshake", "retry"] as const)[type]!);
    if (type === 3) break;
    let r = o + 5;
    r += 1 + datagram[r]!; // DCID
    r += 1 + datagram[r]!; // SCID
    const varint = (): number => {
      const len = 1 << (datagram[r]! >> 6);
      let v = datagram[r]! & 0x3f;
      for (let i = 1; i < len; i++) v = v * 256 + datagram[r + i]!;
      r += len;
      return v;
    };
    if (type === 0) {
      const tokenLength = varint(); // read first: `r += varint()` would add to the old r
      r += tokenLength;
    }
    const length = varint();
    o = r + length;
  }
  return out;
}

/** The datagram with its trailing short-header packet removed (coalesced long-header packets kept), or null when nothing is left. */
export function stripShortHeaderPacket(datagram: Uint8Array): Uint8Array | null {
  let o = 0;
  while (o < datagram.length && (datagram[o]! & 0x80) !== 0) {
    let r = o + 5;
    r += 1 + datagram[r]!;
    r += 1 + datagram[r]!;
    const varint = (): number => {
      const len = 1 << (datagram[r]! >> 6);
      let v = datagram[r]! & 0x3f;
      for (let i = 1; i < len; i++) v = v * 256 + datagram[r + i]!;
      r += len;
      return v;
    };
    if (((datagram[o]! >> 4) & 3) === 0) {
      const tokenLength = varint();
      r += tokenLength;
    }
    const length = varint();
    o = r + length;
  }
  return o === 0 ? null : datagram.subarray(0, o);
}

/** The first packet of a datagram (a long-header packet ends at its Length; a short-header one fills the datagram). */
export function firstPacketOnly(datagram: Uint8Array): Uint8Array {
  if ((datagram[0]! & 0x80) === 0) return datagram;
  const h = parsePacketHeader(datagram, 0, datagram.length, 0);
  return datagram.subarray(0, h.packetEnd);
}

/** Outcome of {@link transfer}. */
export interface TransferResult {
  /** Every stream's bytes arrived (and came back, when echoing) before the deadline. */
  completed: boolean;
  /** Every stream's received bytes equal what was sent (SHA-256). */
  intact: boolean;
  /** Virtual time the transfer took, ms. */
  elapsed: number;
  /** Why it stopped early, if a side closed. */
  error: string | undefined;
}

/**
 * Sends `bytesPerStream` random bytes on each of `streams` client streams
 * (64 KiB writes, following backpressure). The server reads everything and,
 * with `echo`, writes it back on the same stream; the bytes are compared
 * with SHA-256 where they end up.
 */
export function transfer(
  p: Pair,
  server: Connection,
  o: { streams: number; bytesPerStream: number; echo?: boolean; maxTime?: number; serverEvents?: ConnectionEvent[]; clientEvents?: ConnectionEvent[] },
): TransferResult {
  const start = p.link.now;
  const sent = new Map<number, Uint8Array>();
  const pending = new Map<number, number>();
  const hashes = new Map<number, ReturnType<typeof createHash>>();
  const done = new Set<number>();
  for (let i = 0; i < o.streams; i++) {
    const s = p.conn.openStream(true);
    if (!s) throw new Error("stream limit reached");
    sent.set(s.id, new Uint8Array(randomBytes(o.bytesPerStream)));
    pending.set(s.id, 0);
    hashes.set(s.id, createHash("sha256"));
  }
  p.link.run(() => {
    for (const [id, off0] of pending) {
      const data = sent.get(id)!;
      let off = off0;
      while (off < data.length) {
        const end = Math.min(data.length, off + 65536);
        const more = p.conn.streamWrite(id, data.subarray(off, end), end === data.length);
        off = end;
        if (!more) break;
      }
      if (off >= data.length) pending.delete(id);
      else pending.set(id, off);
    }
    for (let e = server.poll(); e; e = server.poll()) {
      if (e.type !== "readable") {
        o.serverEvents?.push(e);
        continue;
      }
      for (let r = server.streamRead(e.streamId); r; r = server.streamRead(e.streamId)) {
        if (o.echo) server.streamWrite(e.streamId, new Uint8Array(r.data), r.fin);
        else {
          hashes.get(e.streamId)?.update(r.data);
          if (r.fin) done.add(e.streamId);
        }
      }
    }
    if (o.echo) {
      for (let e = p.conn.poll(); e; e = p.conn.poll()) {
        if (e.type !== "readable") {
          o.clientEvents?.push(e);
          continue;
        }
        for (let r = p.conn.streamRead(e.streamId); r; r = p.conn.streamRead(e.streamId)) {
          hashes.get(e.streamId)?.update(r.data);
          if (r.fin) done.add(e.streamId);
        }
      }
    }
    return done.size === o.streams || p.conn.isClosing || server.isClosing;
  }, o.maxTime ?? 600_000);
  let intact = done.size === o.streams;
  for (const [id, data] of sent) {
    if (hashes.get(id)!.digest("hex") !== createHash("sha256").update(data).digest("hex")) intact = false;
  }
  const error = p.conn.closeInfo?.error?.message ?? server.closeInfo?.error?.message;
  return { completed: done.size === o.streams, intact, elapsed: p.link.now - start, error };
}

/** What {@link attackerCopiesNextDatagram} did, and a switch to let the client be heard again. */
export interface CopyAttack {
  /** Size of the copied datagram; 0 until the client sent one. */
  bytes: number;
  /** True while the client's own datagrams after the copied one are lost. */
  silent: boolean;
}

/**
 * An off-path attacker (RFC 9000 section 9.3.3) at `spoofed`, an address
 * the server cannot reach, forwards a copy of the client's next datagram
 * that arrives `lead` ms after it leaves (the genuine one takes the link's
 * 10 ms, so the copy comes first). With `thenSilent`, the client's later
 * datagrams are lost until `silent` is cleared.
 */
export function attackerCopiesNextDatagram(p: Pair, spoofed: SocketAddress, lead: number, thenSilent: boolean): CopyAttack {
  const attack: CopyAttack = { bytes: 0, silent: false };
  p.link.unreachable(0, spoofed);
  p.link.setConditions(0, {
    delay: 10,
    tamper: (d) => {
      if (attack.bytes > 0) return attack.silent ? null : d;
      attack.bytes = d.length;
      p.link.inject(0, new Uint8Array(d), lead, spoofed);
      attack.silent = thenSilent;
      return d;
    },
  });
  return attack;
}
