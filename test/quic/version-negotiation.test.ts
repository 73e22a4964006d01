import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig } from "../../src/quic/config.js";
import { QuicConnectionError } from "../../src/quic/connection.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { buildVersionNegotiation, isReservedVersion, parsePacketHeader, parseVersionNegotiation, QUIC_V1, QUIC_V2 } from "../../src/quic/packet/index.js";
import { drain, establish, makePair, packetTypesIn, testConfigs } from "./harness.js";

const RESERVED = 0x1a2a3a4a;

test("a client offering only a reserved version gets Version Negotiation and fails with ERR_QUIC_VERSION_NEGOTIATION", () => {
  const vns: Uint8Array[] = [];
  const p = makePair({
    clientConfig: { versions: [RESERVED] },
    bToA: { delay: 10, tamper: (d) => (packetTypesIn(d)[0] === "vn" && vns.push(new Uint8Array(d)), d) },
  });
  const start = p.link.now;
  p.link.run(() => p.conn.isClosing, 2_000);
  // The client asks once more before it believes the unauthenticated VN; the second confirms it.
  assert.equal(p.server.stats.versionNegotiationsSent, 2);
  assert.ok(p.link.now - start < 100, `confirmed within two round trips of 20 ms, not at a timer (${p.link.now - start} ms)`);
  assert.equal(p.server.stats.serverConnections, 0, "the server kept state for an unsupported version");
  const vn = parseVersionNegotiation(vns[0]!);
  // v1, plus a reserved version to keep clients honest (RFC 9000 section 6.3).
  assert.equal(vn.versions[0], QUIC_V1.number);
  assert.ok(vn.versions.slice(1).every((v) => isReservedVersion(v)));
  // The VN echoes the client's CIDs, swapped (RFC 9000 section 17.2.1).
  assert.deepEqual(vn.dcid, p.conn.sourceConnectionIds[0]);
  const events = drain(p.conn).filter((e) => e.type === "connection_closed");
  assert.equal(events.length, 1);
  const info = events[0]!.type === "connection_closed" ? events[0]!.info : undefined;
  assert.ok(info?.error instanceof QuicConnectionError);
  assert.equal(info.error.code, "ERR_QUIC_VERSION_NEGOTIATION");
  assert.equal(info.errorCode, TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.match(info.error.message, /0x1/);
  // It is over at once: nothing more is sent.
  assert.ok(p.conn.isClosed);
  const sent = p.link.stats[0].sent;
  p.link.run(() => false, 5_000);
  assert.equal(p.link.stats[0].sent, sent);
});

test("a server answers a version it does not enable with Version Negotiation listing its versions", () => {
  const p = makePair({ clientConfig: { versions: [QUIC_V2.number] }, serverConfig: { versions: [QUIC_V1.number] } });
  p.link.run(() => p.conn.isClosing, 2_000);
  assert.equal(p.conn.closeInfo?.error?.code, "ERR_QUIC_VERSION_NEGOTIATION");
  assert.match(p.conn.closeInfo!.error!.message, /server supports none of our QUIC versions/);
});

test("client and server agree on QUIC v2 when both enable it (RFC 9369)", () => {
  const p = makePair({ clientConfig: { versions: [QUIC_V2.number] }, serverConfig: { versions: [QUIC_V1.number, QUIC_V2.number] } });
  const server = establish(p);
  assert.equal(p.conn.version.number, QUIC_V2.number);
  assert.equal(server.version.number, QUIC_V2.number);
});

/** A long-header datagram of `size` bytes with an unknown version, like an Initial of a future version. */
function unknownVersionDatagram(size: number): Uint8Array {
  const d = new Uint8Array(size);
  d[0] = 0xc0;
  new DataView(d.buffer).setUint32(1, RESERVED);
  d[5] = 8;
  d.fill(0x11, 6, 14);
  d[14] = 8;
  d.fill(0x22, 15, 23);
  return d;
}

test("a server sends nothing for an unknown-version datagram under 1200 bytes, and Version Negotiation at 1200 (RFC 9000 section 6.1)", () => {
  const p = makePair();
  establish(p);
  p.link.run(() => false, 1_000);
  const sentBefore = p.link.stats[1].sent;
  p.link.inject(0, unknownVersionDatagram(1199));
  p.link.run(() => false, 1_000);
  assert.equal(p.server.stats.versionNegotiationsSent, 0);
  assert.equal(p.link.stats[1].sent, sentBefore);
  p.link.inject(0, unknownVersionDatagram(1200));
  p.link.run(() => false, 1_000);
  assert.equal(p.server.stats.versionNegotiationsSent, 1);
  assert.equal(p.link.stats[1].sent, sentBefore + 1);
});

test("a client ignores a Version Negotiation that lists its own version or answers other CIDs (RFC 9000 section 6.2)", () => {
  const p = makePair();
  const first = p.client.send(p.link.now)!;
  const h = parsePacketHeader(first.data, 0, first.data.length, 8);
  const dcid = h.dcid.slice();
  const scid = h.scid.slice();
  p.link.inject(0, new Uint8Array(first.data));
  // Listing v1: a forgery, since the server would have accepted v1.
  p.link.inject(1, buildVersionNegotiation(scid, dcid, [QUIC_V1.number, QUIC_V2.number]), 1);
  // Routed to our connection, but its Source CID is not the DCID of our Initial: not an answer to it.
  p.link.inject(1, buildVersionNegotiation(scid, new Uint8Array(8).fill(9), [QUIC_V2.number]), 2);
  establish(p);
  assert.equal(p.conn.closeInfo, undefined);
});

test("a configuration with an unsupported, non-reserved version is refused", () => {
  assert.throws(() => resolveConfig({ ...testConfigs().client, versions: [0x12345678] }), TypeError);
  assert.throws(() => resolveConfig({ ...testConfigs().client, versions: [] }), TypeError);
  assert.doesNotThrow(() => resolveConfig({ ...testConfigs().client, versions: [RESERVED, QUIC_V1.number] }));
});

/** A Version Negotiation to `conn` listing only `versions`, as an off-path attacker or a corrupted server packet could produce. */
function forgedVersionNegotiation(conn: { sourceConnectionIds: readonly Uint8Array[] }, clientDcid: Uint8Array, versions: number[]): Uint8Array {
  return buildVersionNegotiation(conn.sourceConnectionIds[0]!, clientDcid, versions);
}

/** The DCID of the client's first Initial in datagram `d`. */
function initialDcid(d: Uint8Array): Uint8Array {
  return parsePacketHeader(d, 0, d.length, 8).dcid.slice();
}

test("a forged or corrupted Version Negotiation does not end a handshake the server would complete", () => {
  // The server's first flight is replaced by a VN that lists no version we have (0x11: v1 with a flipped bit).
  let clientDcid: Uint8Array | undefined;
  const p = makePair({
    aToB: { delay: 10, tamper: (d) => ((clientDcid ??= initialDcid(d)), d) },
    bToA: { delay: 10, tamper: (d, i) => (i === 1 ? forgedVersionNegotiation(p.conn, clientDcid!, [0x11, RESERVED]) : d) },
  });
  const start = p.link.now;
  const server = establish(p, 3_000);
  assert.equal(p.conn.version.number, QUIC_V1.number);
  assert.equal(server.version.number, QUIC_V1.number);
  assert.equal(p.conn.closeInfo, undefined);
  // It asked again at once instead of waiting for the 1 s PTO.
  assert.ok(p.link.now - start < 200, `the handshake took ${p.link.now - start} ms`);
});

test("a Version Negotiation that nothing contradicts within a PTO ends the attempt", () => {
  let clientDcid: Uint8Array | undefined;
  const p = makePair({
    aToB: { delay: 10, tamper: (d) => ((clientDcid ??= initialDcid(d)), d) },
    // One VN toward the client, then silence: the server's real answers are lost.
    bToA: { delay: 10, tamper: (d, i) => (i === 1 ? forgedVersionNegotiation(p.conn, clientDcid!, [RESERVED]) : null) },
  });
  const start = p.link.now;
  p.link.run(() => p.conn.isClosing, 5_000);
  assert.equal(p.conn.closeInfo?.error?.code, "ERR_QUIC_VERSION_NEGOTIATION");
  assert.equal(p.conn.closeInfo?.errorCode, TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  // The VN came at 20 ms; the PTO before the first RTT sample is 3 x 333 ms (RFC 9002 section 6.2.2).
  const took = p.link.now - start;
  assert.ok(took >= 1_000 && took < 1_200, `gave up after ${took} ms`);
});
