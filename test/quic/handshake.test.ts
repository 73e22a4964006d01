import { test } from "node:test";
import assert from "node:assert/strict";
import { makePair } from "./harness.js";

test("client and server complete a handshake over a simulated link", () => {
  const p = makePair();
  const ok = p.link.run(() => p.conn.isEstablished && (p.serverConn()?.isEstablished ?? false), 5_000);
  assert.ok(ok, `handshake did not complete: client ${p.conn.state} ${p.conn.closeInfo?.error?.message ?? ""}`);
  assert.equal(p.conn.alpnProtocol, "test");
  assert.equal(p.serverConn()!.alpnProtocol, "test");
});
