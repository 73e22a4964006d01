/**
 * Adaptive reordering thresholds (RFC 9002 sections 6.1.1 and 6.1.2): a
 * path that reorders packets must not be mistaken for a lossy one, while
 * real loss is still found.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ReorderingThresholds, kMaxPacketThreshold, kMaxTimeThreshold } from "../../../src/quic/recovery/reordering.js";
import { establish, makePair, transfer } from "../harness.js";

const MB = 1024 * 1024;

test("a spurious loss raises the threshold that declared it, within the caps", () => {
  const t = new ReorderingThresholds();
  assert.equal(t.packetThreshold, 3);
  assert.equal(t.timeThreshold, 9 / 8);
  t.onSpuriousLoss(7, false);
  assert.equal(t.packetThreshold, 8);
  t.onSpuriousLoss(4, false); // a shorter reorder never lowers it
  assert.equal(t.packetThreshold, 8);
  assert.equal(t.timeThreshold, 9 / 8);
  for (let i = 0; i < 20; i++) t.onSpuriousLoss(3, true);
  assert.equal(t.timeThreshold, kMaxTimeThreshold);
  t.onSpuriousLoss(1e9, false);
  assert.equal(t.packetThreshold, kMaxPacketThreshold);
  const fixed = new ReorderingThresholds(3, 9 / 8, false);
  fixed.onSpuriousLoss(50, false);
  fixed.onSpuriousLoss(50, true);
  assert.deepEqual([fixed.packetThreshold, fixed.timeThreshold], [3, 9 / 8]);
});

/** Sends `size` bytes client to server over a link with `cond` both ways; returns the virtual time taken and the client's recovery counters. */
function run(adaptiveReordering: boolean, cond: { delay: number; jitter?: number; loss?: number }, size: number) {
  const p = makePair({ config: { adaptiveReordering }, aToB: cond, bToA: cond, seed: 5 });
  const server = establish(p, 10_000);
  const r = transfer(p, server, { streams: 1, bytesPerStream: size });
  assert.equal(r.error, undefined);
  assert.ok(r.completed && r.intact, "transfer incomplete or corrupted");
  const stats = p.conn.recovery.getStats();
  return { elapsed: r.elapsed, lost: stats.packetsLost, spurious: stats.spuriousLosses, thresholds: p.conn.recovery.reordering };
}

test("on a 10 ms jitter link adaptive thresholds stop declaring reordered packets lost, and goodput rises", () => {
  const cond = { delay: 10, jitter: 10 };
  const fixed = run(false, cond, 2 * MB);
  const adaptive = run(true, cond, 2 * MB);
  const mbps = (ms: number): number => (2 * MB * 8) / (ms * 1000);
  assert.ok(fixed.spurious > 50, `fixed thresholds: ${fixed.spurious} spurious losses`);
  assert.ok(adaptive.spurious < fixed.spurious / 4, `adaptive: ${adaptive.spurious} spurious losses, fixed: ${fixed.spurious}`);
  assert.ok(adaptive.thresholds.packetThreshold > 3, `packet threshold ${adaptive.thresholds.packetThreshold}`);
  // Goodput in virtual time, so the machine's speed cannot change the verdict.
  assert.ok(
    mbps(adaptive.elapsed) > 2 * mbps(fixed.elapsed),
    `adaptive ${mbps(adaptive.elapsed).toFixed(1)} Mbit/s vs fixed ${mbps(fixed.elapsed).toFixed(1)} Mbit/s`,
  );
});

test("after adapting to jitter, real loss is still detected and repaired", () => {
  const r = run(true, { delay: 10, jitter: 10, loss: 0.02 }, 2 * MB);
  assert.ok(r.lost > r.spurious + 20, `${r.lost} declared lost, ${r.spurious} of them spurious`);
});
