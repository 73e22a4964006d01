import { test } from "node:test";
import assert from "node:assert/strict";
import { buildRetry, parsePacketHeader, PacketType, QUIC_V1 } from "../../src/quic/packet/index.js";
import { drain, establish, makePair, packetTypesIn } from "./harness.js";

/** Records the header fields tests need from each datagram in one direction. */
function recorder() {
  const seen: Array<{ types: string[]; dcid: Uint8Array; scid: Uint8Array; token: Uint8Array }> = [];
  const tamper = (d: Uint8Array): Uint8Array => {
    const h = parsePacketHeader(d, 0, d.length, 8);
    seen.push({ types: packetTypesIn(d), dcid: h.dcid.slice(), scid: h.scid.slice(), token: h.token.slice() });
    return d;
  };
  return { seen, tamper };
}

test("with requireRetry the client follows the Retry and completes, and the transport parameters authenticate both CIDs (RFC 9000 section 7.3)", () => {
  const up = recorder();
  const down = recorder();
  const p = makePair({ serverOptions: { requireRetry: true }, aToB: { delay: 10, tamper: up.tamper }, bToA: { delay: 10, tamper: down.tamper } });
  const server = establish(p);
  assert.equal(p.server.stats.retriesSent, 1);
  assert.equal(p.server.stats.serverConnections, 1);
  const retry = down.seen[0]!;
  assert.deepEqual(retry.types, ["retry"]);
  const first = up.seen[0]!;
  assert.equal(first.token.length, 0);
  const second = up.seen[1]!;
  assert.deepEqual(second.token, retry.token, "the second Initial does not carry the Retry token");
  assert.deepEqual(second.dcid, retry.scid, "the second Initial is not addressed to the Retry's SCID");
  const params = p.conn.peerParams!;
  assert.deepEqual(params.originalDestinationConnectionId, first.dcid);
  assert.deepEqual(params.retrySourceConnectionId, retry.scid);
  // A Retry validates the client's address: no amplification limit on the server connection (RFC 9000 section 8.1.2).
  assert.equal(server.isAddressValidated, true);
  drain(p.conn);
});

test("a Retry with a bad integrity tag is ignored; the client's next Initial draws a good one (RFC 9001 section 5.8)", () => {
  const up = recorder();
  const retries: Uint8Array[] = [];
  const p = makePair({
    serverOptions: { requireRetry: true },
    aToB: { delay: 10, tamper: up.tamper },
    bToA: {
      delay: 10,
      tamper: (d) => {
        if (packetTypesIn(d)[0] !== "retry") return d;
        retries.push(new Uint8Array(d));
        if (retries.length > 1) return d;
        const bad = new Uint8Array(d);
        bad[bad.length - 1]! ^= 0x01; // the last byte of the integrity tag
        return bad;
      },
    },
  });
  establish(p, 10_000);
  assert.ok(p.server.stats.retriesSent >= 2); // the client probes again (one or two Initials), each drawing a Retry
  assert.equal(up.seen[1]!.token.length, 0, "the client acted on the tampered Retry");
  // The client followed the first good Retry.
  const good = parsePacketHeader(retries[1]!, 0, retries[1]!.length, 8);
  assert.deepEqual(p.conn.peerParams!.retrySourceConnectionId, good.scid);
});

test("a Retry whose token was altered fails its integrity check and is ignored", () => {
  const up = recorder();
  let tampered = false;
  const p = makePair({
    serverOptions: { requireRetry: true },
    aToB: { delay: 10, tamper: up.tamper },
    bToA: {
      delay: 10,
      tamper: (d) => {
        if (tampered || packetTypesIn(d)[0] !== "retry") return d;
        tampered = true;
        const bad = new Uint8Array(d);
        const h = parsePacketHeader(bad, 0, bad.length, 8);
        bad[h.token.byteOffset - bad.byteOffset]! ^= 0xff; // first byte of the token
        return bad;
      },
    },
  });
  establish(p, 10_000);
  assert.equal(up.seen[1]!.token.length, 0);
  assert.ok(p.server.stats.retriesSent >= 2); // the client probes again (one or two Initials), each drawing a Retry
});

test("a client follows only the first Retry (RFC 9000 section 17.2.5.2)", () => {
  const up = recorder();
  const down = recorder();
  let injected = false;
  const p = makePair({ serverOptions: { requireRetry: true }, aToB: { delay: 10, tamper: up.tamper }, bToA: { delay: 10, tamper: down.tamper } });
  p.link.run(() => {
    // After the first Retry was used, forge a second valid one with another SCID and token.
    if (!injected && up.seen.length >= 2 && up.seen[1]!.token.length > 0) {
      injected = true;
      const first = up.seen[0]!;
      p.link.inject(1, buildRetry(QUIC_V1, first.scid, new Uint8Array(8).fill(0x77), first.dcid, new Uint8Array(40).fill(1)), 0);
    }
    return p.conn.isEstablished;
  }, 5_000);
  assert.ok(injected);
  assert.ok(p.conn.isEstablished);
  assert.notDeepEqual(p.conn.peerParams!.retrySourceConnectionId, new Uint8Array(8).fill(0x77));
  const realToken = down.seen[0]!.token;
  for (const s of up.seen.slice(1)) if (s.types[0] === "initial") assert.deepEqual(s.token, realToken, "the client used the forged token");
});

test("an Initial whose Retry token was altered creates no connection", () => {
  let altered = 0;
  const p = makePair({
    serverOptions: { requireRetry: true },
    aToB: {
      delay: 10,
      tamper: (d) => {
        const h = parsePacketHeader(d, 0, d.length, 8);
        if (h.type !== PacketType.Initial || h.token.length === 0 || altered++ > 0) return d;
        const bad = new Uint8Array(d);
        bad[h.token.byteOffset - d.byteOffset + 5]! ^= 0x10;
        return bad;
      },
    },
  });
  establish(p, 10_000);
  assert.equal(altered >= 1, true);
  assert.ok(p.server.stats.packetsIgnored >= 1, "the server did not drop the altered token");
  assert.equal(p.server.stats.serverConnections, 1);
});

test("a Retry token is bound to the client's address: after a rebinding the server keeps no state", () => {
  const p = makePair({ serverOptions: { requireRetry: true } });
  p.link.run(() => p.server.stats.retriesSent === 1, 1_000);
  p.link.rebind(0, { address: "10.9.9.9", port: 5555 });
  p.link.run(() => p.conn.isEstablished, 3_000);
  assert.equal(p.conn.isEstablished, false);
  assert.equal(p.server.stats.serverConnections, 0);
  assert.ok(p.server.stats.packetsIgnored >= 1);
});
