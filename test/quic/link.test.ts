import { test } from "node:test";
import assert from "node:assert/strict";
import type { OutgoingDatagram, PathInfo, SansIo } from "../../src/quic/types.js";
import { SimulatedLink, type LinkConditions } from "../../src/testing/link.js";

/** Sends `count` numbered datagrams of `size` bytes, one per `every` ms, and logs what it receives. */
class Talker implements SansIo {
  readonly log: string[] = [];
  private sent = 0;
  private next: number;
  constructor(
    start: number,
    private readonly count: number,
    private readonly size: number,
    private readonly every: number,
  ) {
    this.next = start;
  }
  recv(d: Uint8Array, _p: PathInfo, now: number): void {
    this.log.push(`${now.toFixed(3)}:${d.length}:${d[0]}:${d[1]}`);
  }
  send(now: number): OutgoingDatagram | null {
    if (this.sent >= this.count || now < this.next) return null;
    const d = new Uint8Array(this.size);
    d[0] = this.sent & 0xff;
    d[1] = this.sent >> 8;
    this.sent++;
    this.next = now + this.every;
    return { data: d, to: { address: "x", port: 1 }, sendAt: now };
  }
  timeout(): number | undefined {
    return this.sent < this.count ? this.next : undefined;
  }
  onTimeout(): void {}
}

function runOnce(seed: number, cond: LinkConditions, count = 2_000, size = 100, every = 1): { log: string[]; link: SimulatedLink } {
  const a = new Talker(0, count, size, every);
  const b = new Talker(0, 0, size, every);
  const link = new SimulatedLink(a, b, { aToB: cond, seed, start: 0 });
  link.run(() => false, 1_000_000);
  return { log: b.log, link };
}

test("the simulated link is deterministic for a seed and differs across seeds", () => {
  const cond: LinkConditions = { delay: 10, jitter: 5, loss: 0.1, duplicate: 0.05, corrupt: 0.05, reorder: 0.05 };
  const one = runOnce(42, cond).log;
  const two = runOnce(42, cond).log;
  const other = runOnce(43, cond).log;
  assert.deepEqual(one, two);
  assert.notDeepEqual(one, other);
});

test("the link drops about the configured share and counts drops, duplicates and corruptions", () => {
  const { link, log } = runOnce(7, { delay: 5, loss: 0.3, duplicate: 0.1, corrupt: 0.1 }, 10_000);
  const s = link.stats[0];
  assert.equal(s.sent, 10_000);
  assert.ok(s.dropped > 2_700 && s.dropped < 3_300, `dropped ${s.dropped}`);
  assert.ok(s.duplicated > 500 && s.corrupted > 500);
  assert.equal(s.delivered, log.length);
  assert.equal(s.delivered, s.sent - s.dropped + s.duplicated);
});

test("a bandwidth limit spaces deliveries by size / rate and tail-drops past the queue", () => {
  // 1000-byte datagrams every 1 ms into a 100 bytes/ms bottleneck: 10 ms each on the wire.
  const { log } = runOnce(1, { delay: 10, bandwidth: 100 }, 100, 1_000, 1);
  assert.equal(log.length, 100);
  const times = log.map((l) => Number(l.split(":")[0]));
  assert.equal(times[0], 20);
  assert.equal(times[99], 20 + 99 * 10);
  const limited = runOnce(1, { delay: 10, bandwidth: 100, queueBytes: 5_000 }, 100, 1_000, 1);
  assert.ok(limited.link.stats[0].dropped > 50);
});

test("tamper rewrites or drops datagrams, inject delivers crafted ones, schedule runs callbacks on the virtual clock", () => {
  const a = new Talker(0, 4, 10, 100);
  const b = new Talker(0, 0, 10, 100);
  const link = new SimulatedLink(a, b, {
    start: 0,
    aToB: { delay: 10, tamper: (d, i) => (i === 2 ? null : i === 3 ? new Uint8Array([9, 9, 9]) : d) },
  });
  const fired: number[] = [];
  link.schedule(250, () => fired.push(link.now));
  link.schedule(50, () => {
    fired.push(link.now);
    link.inject(0, new Uint8Array([7, 7]), 5);
  });
  link.run(() => false, 10_000);
  assert.deepEqual(fired, [50, 250]);
  assert.deepEqual(b.log, ["10.000:10:0:0", "55.000:2:7:7", "210.000:3:9:9", "310.000:10:3:0"]);
  assert.equal(link.stats[0].dropped, 1);
});
