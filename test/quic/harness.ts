import type { KeyObject } from "node:crypto";
import { createCertificate, createDevelopmentCertificates } from "../../src/pki/generate.js";
import { findCipherSuite } from "../../src/crypto/suites.js";
import type { ConnectionConfig } from "../../src/quic/config.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { Endpoint, type EndpointOptions } from "../../src/quic/endpoint.js";
import { encodeFrames, type Frame } from "../../src/quic/frames/index.js";
import { PacketProtection, QUIC_V1, writeShortHeader } from "../../src/quic/packet/index.js";
import { PacketNumberSpace } from "../../src/quic/recovery/constants.js";
import type { OutgoingDatagram, PathInfo, SansIo } from "../../src/quic/types.js";
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
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now });
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

/**
 * A 1-RTT datagram from the pair's client to its server carrying exactly
 * `frames`, protected with the client's current 1-RTT keys (taken from its
 * key log): how a test injects a frame the real client would never send.
 * Its packet number is far above anything the client sent.
 */
export function forgeClientPacket(p: Pair, frames: Frame[] | Uint8Array): Uint8Array {
  const line = p.clientKeylog.find((l) => l.startsWith("CLIENT_TRAFFIC_SECRET_0 "));
  if (!line) throw new Error("client has no 1-RTT secret yet");
  const secret = fromHex(line.split(" ")[2]!);
  const suite = findCipherSuite(p.conn.tls.cipherSuite!.id)!;
  const prot = PacketProtection.fromSecret(suite, secret, QUIC_V1);
  let payload = frames instanceof Uint8Array ? frames : encodeFrames(frames);
  if (payload.length < 4) {
    const padded = new Uint8Array(4);
    padded.set(payload);
    payload = padded; // PADDING after the frames, for the header-protection sample
  }
  const pn = p.conn.recovery.largestSent(PacketNumberSpace.Application) + 1000;
  const dcid = p.conn.peerCids.current.cid;
  const buf = new Uint8Array(1 + dcid.length + 4 + payload.length + 16);
  const pnOffset = writeShortHeader(buf, 0, dcid, pn, 4, 0);
  buf.set(payload, pnOffset + 4);
  const end = prot.protect(buf, 0, pnOffset, 4, pnOffset + 4 + payload.length, pn);
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
    if (type === 0) r += varint(); // token
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
    if (((datagram[o]! >> 4) & 3) === 0) r += varint();
    o = r + varint();
  }
  return o === 0 ? null : datagram.subarray(0, o);
}
