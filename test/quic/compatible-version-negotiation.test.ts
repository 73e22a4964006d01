/**
 * Compatible version negotiation (RFC 9368) between QUIC v1 and v2
 * (RFC 9369): version_information in both directions, a server converting
 * a v1 first flight to v2, and the checks against downgrades.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { buildVersionNegotiation, parsePacketHeader, QUIC_V1, QUIC_V2 } from "../../src/quic/packet/index.js";
import { clientValidate, localVersionInformation, serverNegotiate } from "../../src/quic/version-negotiation.js";
import { QuicTransportError } from "../../src/quic/errors.js";
import { establish, makePair, type PairOptions } from "./harness.js";

const V1 = QUIC_V1.number;
const V2 = QUIC_V2.number;

/** Long-header version of each datagram one way, in order. */
function versionsSeen(): { log: number[]; tamper: (d: Uint8Array) => Uint8Array } {
  const log: number[] = [];
  return {
    log,
    tamper: (d) => {
      if (d[0]! & 0x80) log.push(new DataView(d.buffer, d.byteOffset + 1, 4).getUint32(0));
      return d;
    },
  };
}

function run(o: PairOptions) {
  const up = versionsSeen();
  const down = versionsSeen();
  const p = makePair({ ...o, aToB: { delay: 10, tamper: up.tamper }, bToA: { delay: 10, tamper: down.tamper } });
  const server = establish(p);
  return { p, server, up: up.log, down: down.log };
}

test("v1 only on both sides: v1, and each side's version_information names it", () => {
  const { p, server, up, down } = run({ config: { versions: [V1] } });
  assert.equal(p.conn.version.number, V1);
  assert.equal(server.version.number, V1);
  assert.ok([...up, ...down].every((v) => v === V1));
  assert.deepEqual(server.peerParams?.versionInformation, { chosenVersion: V1, availableVersions: [V1] });
  assert.deepEqual(p.conn.peerParams?.versionInformation, { chosenVersion: V1, availableVersions: [V1] });
});

test("v2 only on both sides: every long header carries v2", () => {
  const { p, server, up, down } = run({ config: { versions: [V2] } });
  assert.equal(p.conn.version.number, V2);
  assert.equal(server.version.number, V2);
  assert.ok(up.length > 0 && down.length > 0);
  assert.ok([...up, ...down].every((v) => v === V2), `versions seen: ${[...up, ...down].map((v) => v.toString(16))}`);
});

test("a v1 first flight offering v2 is converted to v2 by a server preferring v2 (RFC 9368 section 2.3)", () => {
  const { p, server, up, down } = run({ clientConfig: { versions: [V1, V2] }, serverConfig: { versions: [V2, V1] } });
  assert.equal(up[0], V1, "the client starts in v1");
  assert.ok(down.every((v) => v === V2), "every server packet is v2");
  assert.ok(up.slice(1).includes(V2), "the client follows to v2");
  assert.equal(p.conn.version.number, V2);
  assert.equal(server.version.number, V2);
  assert.deepEqual(server.peerParams?.versionInformation, { chosenVersion: V1, availableVersions: [V1, V2] });
  assert.deepEqual(p.conn.peerParams?.versionInformation, { chosenVersion: V2, availableVersions: [V2, V1] });
  // Data flows under v2 keys.
  const s = p.conn.openStream(true)!;
  p.conn.streamWrite(s.id, new TextEncoder().encode("over v2"), true);
  assert.ok(p.link.run(() => server.streamRead(s.id)?.fin === true, 1_000));
});

test("a server preferring v1 keeps a v1 first flight in v1 even when the client offers v2", () => {
  const { p, server, down } = run({ clientConfig: { versions: [V1, V2] }, serverConfig: { versions: [V1, V2] } });
  assert.equal(p.conn.version.number, V1);
  assert.equal(server.version.number, V1);
  assert.ok(down.every((v) => v === V1));
});

test("a forged v2 Initial does not move the client off v1: it fails authentication and the real v1 handshake completes", () => {
  let injected = false;
  const p = makePair({
    clientConfig: { versions: [V1, V2] },
    serverConfig: { versions: [V1] },
    bToA: {
      delay: 10,
      tamper: (d) => {
        if (!injected && d[0]! & 0x80) {
          injected = true;
          const forged = new Uint8Array(d);
          new DataView(forged.buffer).setUint32(1, V2);
          p.link.inject(1, forged, 0);
        }
        return d;
      },
    },
  });
  establish(p);
  assert.ok(injected);
  assert.equal(p.conn.version.number, V1);
});

test("downgrade: after a forged Version Negotiation the server's version_information shows the better version, and the client refuses (RFC 9368 section 4)", () => {
  // The client prefers v2 and tried it first; an attacker's Version Negotiation claimed only v1, so the client retried in v1.
  // The server accepts both but prefers v1, so it does not convert the flight to v2 by itself.
  const p = makePair({ clientConfig: { versions: [V2, V1] }, serverConfig: { versions: [V1, V2] }, connect: { version: V1, afterVersionNegotiation: V2 } });
  p.link.run(() => p.conn.isClosing, 5_000);
  assert.equal(p.conn.closeInfo?.errorCode, TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.match(p.conn.closeInfo!.reason, /downgrade/);
});

test("after a genuine Version Negotiation (the server has only v1) the retried v1 connection is accepted", () => {
  const p = makePair({ clientConfig: { versions: [V2, V1] }, serverConfig: { versions: [V1] }, connect: { version: V1, afterVersionNegotiation: V2 } });
  const server = establish(p);
  assert.equal(server.version.number, V1);
  assert.equal(p.conn.isClosing, false);
});

test("version_information rules: Chosen Version must match the packets; a switch needs the parameter; Available Versions list our versions", () => {
  const code = (fn: () => unknown): number | undefined => {
    try {
      fn();
    } catch (e) {
      return e instanceof QuicTransportError ? e.errorCode : -1;
    }
    return undefined;
  };
  assert.deepEqual(localVersionInformation(V1, [V1, V2]), { chosenVersion: V1, availableVersions: [V1, V2] });
  assert.equal(serverNegotiate(V1, { chosenVersion: V1, availableVersions: [V1, V2] }, [V2, V1]), V2);
  assert.equal(serverNegotiate(V1, { chosenVersion: V1, availableVersions: [V1] }, [V2, V1]), V1);
  assert.equal(serverNegotiate(V1, undefined, [V2, V1]), V1);
  assert.equal(code(() => serverNegotiate(V1, { chosenVersion: V2, availableVersions: [V2] }, [V1])), TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.equal(code(() => clientValidate({ original: V1, negotiated: V2, preferences: [V1, V2] }, undefined)), TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.equal(code(() => clientValidate({ original: V1, negotiated: V2, preferences: [V1, V2] }, { chosenVersion: V1, availableVersions: [V1, V2] })), TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.equal(code(() => clientValidate({ original: V1, negotiated: V1, preferences: [V1] }, undefined)), undefined);
});

test("incompatible negotiation: a client preferring v2 retries in v1 after a v1-only server's Version Negotiation, and completes", () => {
  const p = makePair({ clientConfig: { versions: [V2, V1] }, serverConfig: { versions: [V1] } });
  const server = establish(p);
  assert.equal(p.server.stats.versionNegotiationsSent, 1);
  assert.equal(p.conn.version.number, V1);
  assert.equal(server.version.number, V1);
  // The retried attempt says which version it negotiated, and the server's list confirms v1 is all it has.
  assert.deepEqual(server.peerParams?.versionInformation, { chosenVersion: V1, availableVersions: [V2, V1] });
  assert.deepEqual(p.conn.peerParams?.versionInformation, { chosenVersion: V1, availableVersions: [V1] });
});

test("a forged Version Negotiation that pushes a v2 client down to v1 is caught by the server's version_information", () => {
  let forged = false;
  const p = makePair({
    clientConfig: { versions: [V2, V1] },
    // The server has both, preferring v1, so it does not convert a v1 flight back to v2 by itself.
    serverConfig: { versions: [V1, V2] },
    aToB: {
      delay: 10,
      tamper: (d) => {
        if (!forged && d[0]! & 0x80) {
          // An on-path attacker answers the client's first v2 Initial with a Version Negotiation listing only v1.
          forged = true;
          const h = parsePacketHeader(d, 0, d.length, 8);
          p.link.inject(1, buildVersionNegotiation(h.scid, h.dcid, [V1]), 1);
        }
        return d;
      },
    },
  });
  p.link.run(() => p.conn.isClosing, 5_000);
  assert.ok(forged);
  assert.equal(p.conn.closeInfo?.errorCode, TransportErrorCode.VERSION_NEGOTIATION_ERROR);
  assert.match(p.conn.closeInfo!.reason, /downgrade/);
});
