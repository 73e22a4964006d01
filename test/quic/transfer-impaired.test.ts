import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkConditions } from "../../src/testing/link.js";
import { establish, makePair, transfer } from "./harness.js";

const MB = 1024 * 1024;

const cases: Array<{ name: string; cond: LinkConditions; size: number; check?: (p: ReturnType<typeof makePair>) => void }> = [
  {
    name: "jitter that reorders packets",
    cond: { delay: 10, jitter: 10 },
    size: 10 * MB,
  },
  {
    name: "duplication, corruption, reordering and 3% loss",
    cond: { delay: 10, jitter: 5, duplicate: 0.05, corrupt: 0.05, loss: 0.03 },
    size: 10 * MB,
    check: (p) => {
      const dropped = p.serverConn()!.stats().packetsDropped;
      assert.ok(dropped > 100, `server dropped only ${dropped} duplicate or corrupt packets`);
      assert.ok(p.link.stats[0].corrupted > 100 && p.link.stats[0].duplicated > 100);
    },
  },
  {
    name: "a 10 Mbit/s bottleneck with a 30 KB queue (tail drops)",
    cond: { delay: 10, bandwidth: 1_250, queueBytes: 30_000 },
    size: 4 * MB,
    check: (p) => assert.ok(p.link.stats[0].dropped > 0, "the queue never overflowed"),
  },
];

for (const c of cases) {
  test(`${c.size / MB} MB over 4 streams arrives intact with ${c.name}`, () => {
    const p = makePair({ aToB: c.cond, bToA: c.cond, seed: 21 });
    const server = establish(p, 10_000);
    const r = transfer(p, server, { streams: 4, bytesPerStream: c.size / 4 });
    assert.equal(r.error, undefined);
    assert.ok(r.completed, "transfer did not complete in time");
    assert.ok(r.intact, "received bytes differ");
    c.check?.(p);
  });
}
