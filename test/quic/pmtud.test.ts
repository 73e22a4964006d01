/**
 * Path MTU discovery (RFC 8899, RFC 9000 section 14.3): PING+PADDING probes
 * find the largest datagram a path carries, data flows at that size, and a
 * path that shrinks (a black hole) falls back to 1200 and keeps working.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Connection } from "../../src/quic/connection.js";
import { UdpEndpoint } from "../../src/driver/udp-endpoint.js";
import { BASE_PLPMTU, MAX_PROBES, PathMtuDiscovery, PROBE_GRANULARITY } from "../../src/quic/recovery/pmtud.js";
import { establish, makePair, testConfigs, transfer } from "./harness.js";

test("the search tries the ceiling, then halves the interval; MAX_PROBES losses rule a size out", () => {
  const d = new PathMtuDiscovery();
  d.start(1452, 0);
  assert.equal(d.probeSize(0), 1452);
  for (let i = 0; i < MAX_PROBES; i++) {
    const size = d.probeSize(i);
    assert.equal(size, 1452, "the ceiling is retried until MAX_PROBES losses");
    d.onProbeSent(size);
    assert.equal(d.probeSize(i), 0, "one probe at a time");
    d.onProbeLost(size, i);
  }
  const mid = d.probeSize(10);
  assert.equal(mid, Math.ceil((BASE_PLPMTU + 1451) / 2));
  d.onProbeSent(mid);
  assert.equal(d.onProbeAcked(mid, 10), mid);
  assert.equal(d.mtu, mid);
  assert.equal(d.phase, "search");
});

test("black hole: large packets lost in a row bring the PLPMTU back to the base, acknowledged ones reset the count", () => {
  const d = new PathMtuDiscovery();
  d.start(1452, 0);
  d.onProbeSent(1452);
  d.onProbeAcked(1452, 1);
  assert.equal(d.phase, "complete");
  assert.equal(d.onPacketLost(1452, 2), false);
  assert.equal(d.onPacketLost(1452, 2), false);
  d.onPacketAcked(1452);
  assert.equal(d.onPacketLost(1452, 3), false);
  assert.equal(d.onPacketLost(BASE_PLPMTU, 3), false, "small packets say nothing about the PMTU");
  assert.equal(d.onPacketLost(1452, 3), false);
  assert.equal(d.onPacketLost(1452, 3), false);
  assert.equal(d.onPacketLost(1452, 3), true);
  assert.equal(d.mtu, BASE_PLPMTU);
  assert.equal(d.stats.blackHoles, 1);
  assert.equal(d.phase, "search");
  assert.ok(d.probeSize(3) < 1452, "the size that vanished is not tried again at once");
});

/** A pair over links that carry at most `mtu` bytes, run until both sides' search completed. */
function pairWithMtu(mtu: number | undefined, pmtudMax = 1452) {
  const c = { delay: 10, ...(mtu !== undefined ? { mtu } : {}) };
  const p = makePair({ aToB: c, bToA: c, seed: 3, config: { pmtudMax } });
  const server = establish(p);
  const done = (x: Connection): boolean => x.pathMtu?.phase === "complete";
  assert.ok(p.link.run(() => done(p.conn) && done(server), 60_000), `search did not complete: client ${p.conn.pathMtu?.phase} ${p.conn.pathMtu?.mtu}`);
  return { p, server };
}

for (const mtu of [1452, 1400, 1300, 1250]) {
  test(`over a path carrying ${mtu} bytes the search converges within ${PROBE_GRANULARITY} bytes of it and data flows at that size`, () => {
    const { p, server } = pairWithMtu(mtu);
    for (const c of [p.conn, server]) {
      const found = c.pathMtu!.mtu;
      assert.ok(found <= mtu && found > mtu - PROBE_GRANULARITY, `found ${found} for a ${mtu}-byte path`);
    }
    let largest = 0;
    p.link.setConditions(0, { delay: 10, mtu, tamper: (d) => ((largest = Math.max(largest, d.length)), d) });
    const r = transfer(p, server, { streams: 2, bytesPerStream: 256 * 1024 });
    assert.ok(r.completed && r.intact, r.error);
    assert.equal(largest, p.conn.pathMtu!.mtu, "data packets fill the discovered size");
    // Probe losses are no congestion signal (RFC 9000 section 14.4).
    assert.equal(p.conn.stats().congestionEvents, 0);
  });
}

test("a black hole mid-connection: the size falls back to 1200, the transfer completes, and a new search settles at 1200", () => {
  const { p, server } = pairWithMtu(undefined);
  assert.equal(p.conn.pathMtu!.mtu, 1452);
  // The path now carries only 1200-byte datagrams, both ways.
  p.link.setConditions(0, { delay: 10, mtu: 1200 });
  p.link.setConditions(1, { delay: 10, mtu: 1200 });
  const r = transfer(p, server, { streams: 2, bytesPerStream: 512 * 1024, maxTime: 120_000 });
  assert.ok(r.completed && r.intact, r.error);
  assert.ok(p.conn.pathMtu!.stats.blackHoles >= 1, "no black hole detected");
  assert.equal(p.conn.pathMtu!.mtu, 1200);
  assert.ok(p.link.run(() => p.conn.pathMtu!.phase === "complete", 60_000));
  assert.equal(p.conn.pathMtu!.mtu, 1200);
});

test("pmtudMax 0 disables discovery: every datagram stays at 1200 bytes", () => {
  const p = makePair({ config: { pmtudMax: 0 } });
  const server = establish(p);
  let largest = 0;
  p.link.setConditions(0, { delay: 10, tamper: (d) => ((largest = Math.max(largest, d.length)), d) });
  const r = transfer(p, server, { streams: 1, bytesPerStream: 128 * 1024 });
  assert.ok(r.completed && r.intact);
  assert.equal(p.conn.pathMtu, undefined);
  assert.equal(largest, 1200);
});

test("over UDP loopback the search reaches the configured maximum", async () => {
  const cfg = testConfigs({ pmtudMax: 1400 });
  let serverConn: Connection | undefined;
  const server = await UdpEndpoint.bind({ config: cfg.server, address: "127.0.0.1", port: 0, server: true }, (c) => {
    serverConn = c;
    while (c.poll());
  });
  const client = await UdpEndpoint.bind({ config: cfg.client, address: "127.0.0.1", port: 0, server: false }, (c) => {
    while (c.poll());
  });
  try {
    const conn = client.connect({ serverName: "localhost", remote: { address: "127.0.0.1", port: server.address.port } });
    const deadline = Date.now() + 10_000;
    while (!(conn.pathMtu?.phase === "complete" && serverConn?.pathMtu?.phase === "complete")) {
      if (Date.now() > deadline) assert.fail(`no convergence: client ${conn.pathMtu?.phase} ${conn.pathMtu?.mtu}, server ${serverConn?.pathMtu?.phase}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(conn.pathMtu!.mtu, 1400);
    assert.equal(serverConn!.pathMtu!.mtu, 1400);
  } finally {
    await client.close();
    await server.close();
  }
});
