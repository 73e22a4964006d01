import { test } from "node:test";
import assert from "node:assert/strict";
import { Pacer } from "../../../src/quic/recovery/pacer.js";

test("Pacer rate is N * cwnd / smoothed_rtt with N = 1.25 (RFC 9002 section 7.7)", () => {
  const p = new Pacer(1200);
  assert.equal(p.rate(12000, 100), 150); // bytes per ms
  assert.equal(p.rate(12000, 0), 15000); // smoothed_rtt below the granularity counts as 1 ms
});

test("Pacer lets a burst of 10 packets go, then spaces packets at the pacing interval", () => {
  const p = new Pacer(1200);
  const cwnd = 120000;
  const srtt = 100; // rate 1500 bytes/ms: one 1200-byte packet every 0.8 ms
  for (let i = 0; i < 10; i++) {
    assert.equal(p.nextSendTime(0, cwnd, srtt), 0, `packet ${i}`);
    p.onPacketSent(0, 1200, cwnd, srtt);
  }
  const next = p.nextSendTime(0, cwnd, srtt);
  assert.ok(Math.abs(next - 0.8) < 1e-9);
  // Waking exactly on time sends.
  assert.equal(p.nextSendTime(next, cwnd, srtt), next);
  p.onPacketSent(next, 1200, cwnd, srtt);
  assert.ok(Math.abs(p.nextSendTime(next, cwnd, srtt) - (next + 0.8)) < 1e-9);
});

test("Pacer bursts never exceed the window and refill only up to the burst after idle", () => {
  const p = new Pacer(1200);
  const cwnd = 2400; // minimum window: bursts of 2 packets
  assert.equal(p.capacity(cwnd), 2400);
  p.onPacketSent(0, 1200, cwnd, 100);
  p.onPacketSent(0, 1200, cwnd, 100);
  assert.ok(p.nextSendTime(0, cwnd, 100) > 0);
  // Long idle: tokens cap at the bucket, here 2 ms at 1.25 * 1 MB / 100 ms = 25,000 bytes: 20 packets.
  const big = 1_000_000;
  let sent = 0;
  while (p.nextSendTime(10_000, big, 100) === 10_000) {
    p.onPacketSent(10_000, 1200, big, 100);
    sent++;
  }
  assert.equal(sent, 20);
});

test("Pacer bucket holds 2 ms of the rate, between 10 and 256 packets", () => {
  const p = new Pacer(1200);
  // Slow path: the 10-packet burst allowance dominates.
  assert.equal(p.capacity(100_000, 100), 12_000);
  // Fast path (1 MB window, 1 ms RTT): 2 ms of 1,250 bytes/us would be 2.5 MB, capped at 256 packets and the window.
  assert.equal(p.capacity(1_000_000, 1), 256 * 1200);
  assert.equal(p.capacity(200_000, 1), 200_000);
});
