import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { Connection } from "../../src/quic/connection.js";
import { establish, makePair, type Pair, type PairOptions } from "./harness.js";

/**
 * Streams `size` bytes from the client to the server on one stream while
 * `tick` runs at every step; returns true when the server read them all
 * intact.
 */
function upload(p: Pair, server: Connection, size: number, tick: () => void, maxTime = 60_000): boolean {
  const data = randomBytes(size);
  const s = p.conn.openStream(true)!;
  let off = 0;
  const hash = createHash("sha256");
  let done = false;
  p.link.run(() => {
    tick();
    while (off < size) {
      const end = Math.min(size, off + 32 * 1024);
      const more = p.conn.streamWrite(s.id, data.subarray(off, end), end === size);
      off = end;
      if (!more) break;
    }
    for (let r = server.streamRead(s.id); r; r = server.streamRead(s.id)) {
      hash.update(r.data);
      if (r.fin) done = true;
    }
    return done || p.conn.isClosing || server.isClosing;
  }, maxTime);
  return done && hash.digest("hex") === createHash("sha256").update(data).digest("hex");
}

test("a client-initiated key update: the server follows, data keeps flowing, both count it, and old keys go after three PTOs (RFC 9001 section 6)", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => p.conn.isHandshakeConfirmed, 1_000);
  let updated = false;
  let serverUpdatedAt = 0;
  let serverPto = 0;
  let serverDroppedOldAt = 0;
  let clientFollowedAt = 0;
  const ok = upload(p, server, 1024 * 1024, () => {
    // Start the update once data is flowing.
    if (!updated && p.conn.stats().bytesSent > 200_000) {
      assert.equal(p.conn.updateKey(), true);
      assert.equal(p.conn.keyPhase, 1);
      updated = true;
    }
    if (!serverUpdatedAt && server.keyPhase === 1) {
      serverUpdatedAt = p.link.now;
      serverPto = server.recovery.ptoPeriod();
      assert.equal(server.hasPreviousReadKeys, true, "the server kept no old keys for late packets");
    }
    if (serverUpdatedAt && !serverDroppedOldAt && !server.hasPreviousReadKeys) serverDroppedOldAt = p.link.now;
    if (!clientFollowedAt && p.conn.hasPreviousReadKeys) clientFollowedAt = p.link.now;
  });
  assert.ok(ok, `transfer failed: ${p.conn.closeInfo?.error?.message ?? server.closeInfo?.error?.message ?? "timeout"}`);
  assert.ok(updated && serverUpdatedAt > 0, "the server never followed the update");
  assert.ok(clientFollowedAt >= serverUpdatedAt, "the client never switched its read keys");
  assert.equal(p.conn.stats().keyUpdates, 1);
  assert.equal(server.stats().keyUpdates, 1);
  p.link.run(() => !server.hasPreviousReadKeys && !p.conn.hasPreviousReadKeys, 5_000);
  if (!serverDroppedOldAt) serverDroppedOldAt = p.link.now;
  assert.ok(Math.abs(serverDroppedOldAt - serverUpdatedAt - 3 * serverPto) < 1e-6, `old keys dropped ${serverDroppedOldAt - serverUpdatedAt} ms after the update, 3 PTO = ${3 * serverPto}`);
  assert.ok(p.conn.isEstablished && server.isEstablished);
});

test("updateKey is refused before confirmation, while an update is unanswered, and until old keys are gone; repeated updates work", () => {
  const p = makePair();
  assert.equal(p.conn.updateKey(), false, "key update before the handshake is confirmed (RFC 9001 section 6.1)");
  const server = establish(p);
  p.link.run(() => p.conn.isHandshakeConfirmed, 1_000);
  assert.equal(p.conn.updateKey(), true);
  assert.equal(p.conn.updateKey(), false, "a second update before the first was acknowledged");
  let updates = 1;
  const ok = upload(p, server, 512 * 1024, () => {
    if (updates < 4 && p.conn.updateKey()) updates++;
  });
  assert.ok(ok);
  // With no data left, a PING carries each new key phase to the server.
  p.link.run(() => {
    if (updates < 4 && p.conn.updateKey()) {
      updates++;
      p.conn.ping();
    }
    return updates === 4 && server.stats().keyUpdates === 4;
  }, 10_000);
  assert.equal(updates, 4);
  assert.equal(p.conn.stats().keyUpdates, 4);
  assert.equal(server.stats().keyUpdates, 4);
  assert.equal(p.conn.keyPhase, 0);
  assert.equal(server.keyPhase, 0);
});

test("a server-initiated key update is followed by the client", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => p.conn.isHandshakeConfirmed, 1_000);
  assert.equal(server.updateKey(), true);
  const ok = upload(p, server, 256 * 1024, () => {});
  assert.ok(ok);
  assert.equal(p.conn.keyPhase, 1);
  assert.equal(p.conn.stats().keyUpdates, 1);
  assert.equal(server.stats().keyUpdates, 1);
});

test("key updates survive loss, reordering and duplication while data flows", () => {
  const cond: PairOptions["aToB"] = { delay: 10, jitter: 8, loss: 0.05, duplicate: 0.05 };
  const p = makePair({ aToB: cond, bToA: cond, seed: 5 });
  const server = establish(p, 10_000);
  let updates = 0;
  let lastUpdate = 0;
  const ok = upload(p, server, 1024 * 1024, () => {
    // One side or the other starts an update every 300 ms when allowed.
    if (p.link.now - lastUpdate > 300) {
      const who = updates % 2 === 0 ? p.conn : server;
      if (who.updateKey()) {
        updates++;
        lastUpdate = p.link.now;
      }
    }
  }, 120_000);
  assert.ok(ok, `transfer failed: ${p.conn.closeInfo?.error?.message ?? server.closeInfo?.error?.message ?? "timeout"}`);
  assert.ok(updates >= 3, `only ${updates} updates`);
  assert.equal(p.conn.stats().keyUpdates, server.stats().keyUpdates);
});
