import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Endpoint } from "../../src/quic/endpoint.js";
import { drain, establish, makePair, packetTypesIn, testConfigs } from "./harness.js";

const KEY = new Uint8Array(randomBytes(32));

/** An established pair whose server is then replaced by a fresh endpoint with the same reset key (a restart). */
function restartedServer(opts: { sameKey: boolean }) {
  const resets: Uint8Array[] = [];
  const p = makePair({
    serverOptions: { statelessResetKey: KEY },
    bToA: { delay: 10, tamper: (d) => (packetTypesIn(d)[0] === "1rtt" && resets.push(new Uint8Array(d)), d) },
  });
  establish(p);
  p.link.run(() => false, 1_000);
  const fresh = new Endpoint({ config: testConfigs().server, statelessResetKey: opts.sameKey ? KEY : new Uint8Array(randomBytes(32)) });
  p.link.replace(1, fresh);
  resets.length = 0;
  return { p, fresh, resets };
}

test("a restarted server answers 1-RTT packets with a stateless reset and the client closes with ERR_QUIC_STATELESS_RESET (RFC 9000 section 10.3)", () => {
  const { p, fresh, resets } = restartedServer({ sameKey: true });
  drain(p.conn);
  const s = p.conn.openStream(true)!;
  p.conn.streamWrite(s.id, new Uint8Array(500), true);
  p.link.run(() => p.conn.isClosing, 2_000);
  assert.equal(fresh.stats.statelessResetsSent >= 1, true);
  const closed = drain(p.conn).filter((e) => e.type === "connection_closed");
  assert.equal(closed.length, 1);
  const info = closed[0]!.type === "connection_closed" ? closed[0]!.info : undefined;
  assert.equal(info?.error?.code, "ERR_QUIC_STATELESS_RESET");
  assert.equal(info?.remote, true);
  // Draining: the client sends nothing more, and does not answer the reset with one of its own.
  assert.equal(p.conn.state, "draining");
  const sent = p.link.stats[0].sent;
  p.link.run(() => p.conn.isClosed, 5_000);
  assert.ok(p.conn.isClosed);
  assert.equal(p.link.stats[0].sent, sent);
  assert.equal(p.client.stats.statelessResetsSent, 0);
  // A reset is shorter than the packet that triggered it, so two endpoints cannot loop (RFC 9000 section 10.3.3).
  for (const r of resets) assert.ok(r.length >= 21 && r.length < 500);
});

test("a reset from a server with another key is not recognised: the client carries on until its idle timeout", () => {
  const { p, fresh } = restartedServer({ sameKey: false });
  drain(p.conn);
  p.conn.ping();
  p.link.run(() => p.conn.isClosing, 2_000);
  assert.ok(fresh.stats.statelessResetsSent >= 1);
  assert.equal(p.conn.isClosing, false);
  p.link.run(() => p.conn.isClosed, 60_000);
  assert.equal(p.conn.closeInfo?.error?.code, "ERR_QUIC_IDLE_TIMEOUT");
});

test("an endpoint sends no stateless reset for a datagram of 21 bytes or less, and limits their rate", () => {
  const e = new Endpoint({ config: testConfigs().server, statelessResetRate: 5 });
  const path = { from: { address: "10.0.0.1", port: 1 }, to: { address: "10.0.0.2", port: 443 } };
  const small = new Uint8Array(21);
  small[0] = 0x40;
  e.recv(small, path, 1000);
  assert.equal(e.send(1000), null);
  for (let i = 0; i < 20; i++) {
    const d = new Uint8Array(randomBytes(100));
    d[0] = 0x40 | (d[0]! & 0x3f);
    e.recv(d, path, 1000);
  }
  let n = 0;
  while (e.send(1000)) n++;
  assert.equal(n, 5);
});
