import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportErrorCode } from "../../src/quic/errors.js";
import type { Connection } from "../../src/quic/connection.js";
import { drain, establish, makePair } from "./harness.js";

test("one endpoint pair carries 20 concurrent connections, routing each datagram by its connection ID", () => {
  const p = makePair();
  const conns: Connection[] = [p.conn];
  for (let i = 1; i < 20; i++) conns.push(p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now }));
  p.link.run(() => conns.every((c) => c.isEstablished), 5_000);
  assert.ok(conns.every((c) => c.isEstablished));
  assert.equal(p.server.connectionCount, 20);
  // Each client sends its index on a stream; each server connection must see exactly its own.
  const enc = new TextEncoder();
  conns.forEach((c, i) => {
    const s = c.openStream(true)!;
    c.streamWrite(s.id, enc.encode(`client ${i}`), true);
  });
  const seen = new Map<Connection, string>();
  p.link.run(() => {
    for (const sc of p.server.allConnections()) {
      for (const e of drain(sc)) {
        if (e.type !== "readable") continue;
        for (let r = sc.streamRead(e.streamId); r; r = sc.streamRead(e.streamId)) seen.set(sc, (seen.get(sc) ?? "") + new TextDecoder().decode(r.data));
      }
    }
    return seen.size === 20 && [...seen.values()].every((v) => v.startsWith("client "));
  }, 2_000);
  assert.deepEqual([...seen.values()].sort(), conns.map((_, i) => `client ${i}`).sort());
  // Closed connections leave both endpoints.
  for (const c of conns) c.close(0, "", p.link.now);
  p.link.run(() => p.client.connectionCount === 0 && p.server.connectionCount === 0, 5_000);
  assert.equal(p.client.connectionCount, 0);
  assert.equal(p.server.connectionCount, 0);
});

test("an endpoint at its connection limit refuses new clients with CONNECTION_REFUSED and keeps no state for them", () => {
  const p = makePair({ serverOptions: { maxConnections: 1 } });
  const first = establish(p);
  const second = p.client.connect({ serverName: "localhost", remote: p.link.address(1), now: p.link.now });
  p.link.run(() => second.isClosing, 2_000);
  assert.equal(second.closeInfo?.errorCode, TransportErrorCode.CONNECTION_REFUSED);
  assert.equal(second.closeInfo?.remote, true);
  assert.equal(p.server.stats.refusedConnections, 1);
  assert.equal(p.server.connectionCount, 1);
  assert.ok(first.isEstablished && p.conn.isEstablished);
});
