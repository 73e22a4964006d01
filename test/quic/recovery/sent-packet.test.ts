import { test } from "node:test";
import assert from "node:assert/strict";
import { SKIPPED, SentPacket, SentPacketStore } from "../../../src/quic/recovery/sent-packet.js";

const pkt = (pn: number) => new SentPacket(pn, pn, 1200, true, true, pn);

test("SentPacketStore finds packets by number, marks skipped numbers and advances past removed ones", () => {
  const s = new SentPacketStore<number>(4);
  for (const pn of [0, 1, 2, 4]) s.push(pkt(pn));
  assert.equal(s.count, 4);
  assert.equal(s.largestSent, 4);
  assert.equal(s.get(3), SKIPPED);
  assert.equal(s.get(2)!.pn, 2);
  assert.equal(s.get(9), undefined);
  s.remove(0);
  s.remove(1);
  s.advance();
  assert.equal(s.headPn, 2);
  assert.equal(s.oldest()!.pn, 2);
  assert.throws(() => s.push(pkt(4)), RangeError);
});

test("SentPacketStore grows while keeping order and restarts at the next packet when empty", () => {
  const s = new SentPacketStore<number>(16);
  for (let pn = 0; pn < 100; pn++) {
    s.push(pkt(pn));
    if (pn % 3 === 0) {
      s.remove(pn);
    }
  }
  for (let pn = 0; pn < 100; pn++) {
    const p = s.get(pn);
    if (pn % 3 === 0) assert.equal(p, undefined);
    else assert.equal(p!.pn, pn);
  }
  assert.equal(s.count, 66);
  for (let pn = 0; pn < 100; pn++) if (s.get(pn) !== undefined) s.remove(pn);
  s.advance();
  assert.equal(s.count, 0);
  assert.equal(s.headPn, 100);
  s.push(pkt(1000)); // no skipped marks needed when nothing is outstanding
  assert.equal(s.endPn - s.headPn, 1);
});
