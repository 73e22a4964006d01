import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkConditions } from "../../src/testing/link.js";
import { establish, makePair, transfer } from "./harness.js";

const MB = 1024 * 1024;

test("10 MB over 4 streams arrives intact through 30% loss in both directions (PTOs and retransmission)", () => {
  const cond: LinkConditions = { delay: 10, loss: 0.3 };
  const p = makePair({ aToB: cond, bToA: cond, seed: 9 });
  const server = establish(p, 20_000);
  const r = transfer(p, server, { streams: 4, bytesPerStream: 2.5 * MB, maxTime: 1_200_000 });
  assert.equal(r.error, undefined);
  assert.ok(r.completed, "transfer did not complete in time");
  assert.ok(r.intact, "received bytes differ");
  const s = p.conn.stats();
  assert.ok(s.ptoCount > 0 && s.packetsLost > 1000 && s.retransmittedBytes > 1 * MB, JSON.stringify(s));
});

test("an echo of 1 MB over 4 streams comes back intact through 30% loss in both directions", () => {
  const cond: LinkConditions = { delay: 15, loss: 0.3 };
  const p = makePair({ aToB: cond, bToA: cond, seed: 10 });
  const server = establish(p, 20_000);
  const r = transfer(p, server, { streams: 4, bytesPerStream: 256 * 1024, echo: true, maxTime: 1_200_000 });
  assert.equal(r.error, undefined);
  assert.ok(r.completed && r.intact);
});
