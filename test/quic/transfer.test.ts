import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkConditions } from "../../src/testing/link.js";
import { establish, makePair, transfer } from "./harness.js";

const MB = 1024 * 1024;

for (const [name, loss] of [
  ["no loss", 0],
  ["5% loss", 0.05],
] as const) {
  test(`10 MB over 4 streams arrives intact with ${name}`, () => {
    const cond: LinkConditions = { delay: 10, loss };
    const p = makePair({ aToB: cond, bToA: cond, seed: 3 });
    const server = establish(p, 10_000);
    const r = transfer(p, server, { streams: 4, bytesPerStream: 2.5 * MB });
    assert.equal(r.error, undefined);
    assert.ok(r.completed, "transfer did not complete in time");
    assert.ok(r.intact, "received bytes differ");
    if (loss > 0) assert.ok(p.conn.stats().packetsLost > 0, "the link lost nothing");
  });

  test(`an echo of 2 MB over 4 streams comes back intact with ${name}`, () => {
    const cond: LinkConditions = { delay: 10, loss };
    const p = makePair({ aToB: cond, bToA: cond, seed: 4 });
    const server = establish(p, 10_000);
    const r = transfer(p, server, { streams: 4, bytesPerStream: 512 * 1024, echo: true });
    assert.equal(r.error, undefined);
    assert.ok(r.completed && r.intact);
  });
}
