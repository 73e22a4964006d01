import { test } from "node:test";
import assert from "node:assert/strict";
import type { CloseInfo, Connection } from "../../src/quic/connection.js";
import { drain, establish, makePair, Spy } from "./harness.js";

function closedEvent(c: Connection): CloseInfo | undefined {
  for (const e of drain(c)) if (e.type === "connection_closed") return e.info;
  return undefined;
}

/** A pair whose last receive time per side is recorded. */
function watchedPair(clientIdle: number, serverIdle: number, delay = 10) {
  const p = makePair({
    clientConfig: { transport: { maxIdleTimeout: clientIdle } },
    serverConfig: { transport: { maxIdleTimeout: serverIdle } },
    aToB: { delay },
    bToA: { delay },
  });
  const lastRecv = [0, 0];
  p.link.replace(0, new Spy(p.client, { afterRecv: (_d, now) => (lastRecv[0] = now) }));
  p.link.replace(1, new Spy(p.server, { afterRecv: (_d, now) => (lastRecv[1] = now) }));
  return { p, lastRecv };
}

test("both sides close silently with ERR_QUIC_IDLE_TIMEOUT after the smaller of the two idle timeouts (RFC 9000 section 10.1)", () => {
  const { p, lastRecv } = watchedPair(2_000, 5_000);
  const server = establish(p);
  const closedAt = [0, 0];
  let sentBeforeFirstClose = -1;
  p.link.run(() => {
    if (!closedAt[0] && p.conn.isClosed) closedAt[0] = p.link.now;
    if (!closedAt[1] && server.isClosed) closedAt[1] = p.link.now;
    if (sentBeforeFirstClose < 0 && (closedAt[0] || closedAt[1])) sentBeforeFirstClose = p.link.stats[0].sent + p.link.stats[1].sent;
    return p.conn.isClosed && server.isClosed;
  }, 20_000);
  assert.ok(closedAt[0] && closedAt[1], "a side never timed out");
  assert.ok(Math.abs(closedAt[0] - lastRecv[0] - 2_000) < 1e-6, `client closed ${closedAt[0] - lastRecv[0]} ms after its last receipt`);
  assert.ok(Math.abs(closedAt[1] - lastRecv[1] - 2_000) < 1e-6, `server closed ${closedAt[1] - lastRecv[1]} ms after its last receipt`);
  // Silently: no CONNECTION_CLOSE leaves either side.
  assert.equal(p.link.stats[0].sent + p.link.stats[1].sent, sentBeforeFirstClose);
  for (const c of [p.conn, server]) {
    const info = closedEvent(c);
    assert.ok(info, "no connection_closed event");
    assert.equal(info.error?.code, "ERR_QUIC_IDLE_TIMEOUT");
    assert.equal(info.errorCode, 0);
    assert.equal(info.remote, false);
  }
  p.link.run(() => false, 10);
  assert.equal(p.client.connectionCount, 0);
  assert.equal(p.server.connectionCount, 0);
});

test("when one side disables its idle timeout (0) the other side's applies", () => {
  const { p, lastRecv } = watchedPair(0, 3_000);
  const server = establish(p);
  p.link.run(() => p.conn.isClosed && server.isClosed, 20_000);
  assert.ok(p.conn.isClosed && server.isClosed);
  assert.ok(Math.abs(p.link.now - Math.max(...lastRecv) - 3_000) < 1e-6);
  assert.equal(p.conn.closeInfo?.error?.code, "ERR_QUIC_IDLE_TIMEOUT");
});

test("the idle timeout is never shorter than three PTOs", () => {
  // 100 ms one way: a PTO is over 200 ms, so a 50 ms idle timeout becomes three PTOs.
  const { p, lastRecv } = watchedPair(50, 50, 100);
  let pto = 0;
  const spy = new Spy(p.client, { afterRecv: (_d, now) => ((lastRecv[0] = now), (pto = p.conn.recovery.ptoPeriod())) });
  p.link.replace(0, spy);
  establish(p);
  p.link.run(() => p.conn.isClosed, 20_000);
  assert.ok(p.conn.isClosed);
  assert.ok(pto > 200);
  assert.ok(Math.abs(p.link.now - lastRecv[0] - 3 * pto) < 1e-6, `closed ${p.link.now - lastRecv[0]} ms after the last receipt; 3 PTO = ${3 * pto}`);
});

test("a PING every second keeps a connection with a 2-second idle timeout alive, and it times out once the pings stop", () => {
  const { p } = watchedPair(2_000, 2_000);
  const server = establish(p);
  const start = p.link.now;
  let pings = 0;
  for (let t = 1_000; t <= 20_000; t += 1_000) p.link.schedule(start + t, () => (p.conn.ping(), pings++));
  p.link.run(() => p.conn.isClosing || server.isClosing || p.link.now - start >= 20_000, 21_000);
  assert.equal(pings, 20);
  assert.equal(p.conn.isEstablished, true, `client ${p.conn.state}: ${p.conn.closeInfo?.error?.message}`);
  assert.equal(server.isEstablished, true);
  assert.ok(p.link.now - start >= 20_000);
  p.link.run(() => p.conn.isClosed && server.isClosed, 10_000);
  assert.equal(p.conn.closeInfo?.error?.code, "ERR_QUIC_IDLE_TIMEOUT");
  assert.equal(server.closeInfo?.error?.code, "ERR_QUIC_IDLE_TIMEOUT");
});
