import { test } from "node:test";
import assert from "node:assert/strict";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { resolveConfig, type ConnectionConfig } from "../../src/quic/config.js";
import { Connection } from "../../src/quic/connection.js";
import { Endpoint } from "../../src/quic/endpoint.js";
import { QUIC_V1 } from "../../src/quic/packet/index.js";
import { drain, establish, makePair, testConfigs } from "./harness.js";

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

test("a plain config that sets maxUndecryptablePackets is resolved like any other, by the endpoint and by a connection", () => {
  const cfg = testConfigs({ maxUndecryptablePackets: 4, connectionIdLength: 12, handshakeTimeout: 5_000 });
  const server = new Endpoint({ config: cfg.server });
  assert.equal(server.config.maxUndecryptablePackets, 4);
  assert.deepEqual(server.config.versions, [QUIC_V1.number]);
  assert.equal(server.config.transport.maxIdleTimeout, 30_000);
  // A connection given the same plain config must fill in the defaults too.
  const client = Connection.connect({ config: cfg.client, serverName: "localhost", remote: { address: "127.0.0.1", port: 1 }, now: 0 });
  assert.equal(client.config.transport.initialMaxData, 1024 * 1024);
  assert.equal(client.config.congestionControl, "reno");
  // A resolved config is used as it is, and a copy of one is resolved again (a copy may carry plain fields).
  const resolved = resolveConfig(cfg.server);
  assert.equal(new Endpoint({ config: resolved }).config, resolved);
  const copy = { ...resolved, transport: { maxIdleTimeout: 1_000 } } as unknown as ConnectionConfig;
  assert.equal(new Endpoint({ config: copy }).config.transport.maxAckDelay, 25);
  // listen() takes either kind as well.
  const late = new Endpoint({ config: cfg.client });
  late.listen(cfg.server);
  assert.equal(late.config.maxUndecryptablePackets, 4);
  assert.deepEqual(late.config.versions, [QUIC_V1.number]);
});

test("once a connection is gone, a datagram for its connection ID routes nowhere, even right after one that routed to it", () => {
  const sent: Uint8Array[] = [];
  const p = makePair({ aToB: { delay: 10, tamper: (d) => (sent.push(d.slice()), d) } });
  const server = establish(p);
  const s = p.conn.openStream(true)!;
  p.conn.streamWrite(s.id, new Uint8Array(100), true);
  p.link.run(() => false, 100);
  const shortHeader = sent.filter((d) => (d[0]! & 0x80) === 0);
  assert.ok(shortHeader.length >= 2, "the client sent no 1-RTT datagrams");
  const path = { from: p.link.address(0), to: p.link.address(1) };
  // Routed (a duplicate packet, dropped by the connection): the route is now remembered.
  assert.equal(p.server.recv(shortHeader[0]!.slice(), path, p.link.now), server);
  server.close(0, "done");
  p.link.run(() => p.server.connectionCount === 0, 10_000);
  assert.equal(p.server.connectionCount, 0, "the server connection was not removed");
  assert.equal(p.server.recv(shortHeader[1]!.slice(), path, p.link.now), undefined);
});
