import { test } from "node:test";
import assert from "node:assert/strict";
import { RttEstimator } from "../../../src/quic/recovery/rtt.js";
import { kInitialRtt } from "../../../src/quic/recovery/constants.js";

test("RttEstimator starts from kInitialRtt: smoothed 333, rttvar 166.5, first PTO 999 ms (RFC 9002 sections 5.3, 6.2.2)", () => {
  const r = new RttEstimator();
  assert.equal(r.smoothedRtt, kInitialRtt);
  assert.equal(r.rttVar, 166.5);
  assert.equal(r.hasSample, false);
  assert.equal(r.pto(0), 333 + 4 * 166.5);
  assert.equal(r.pto(25), 999 + 25);
});

test("RttEstimator: the first sample resets smoothed_rtt, rttvar and min_rtt (RFC 9002 section 5.3)", () => {
  const r = new RttEstimator();
  r.update(100, 40, 1000, true, 25);
  assert.equal(r.latestRtt, 100);
  assert.equal(r.minRtt, 100);
  assert.equal(r.smoothedRtt, 100); // ack delay ignored on the first sample
  assert.equal(r.rttVar, 50);
  assert.equal(r.firstSampleTime, 1000);
});

test("RttEstimator follows the RFC 9002 section 5.3 formulas on hand-computed samples", () => {
  const r = new RttEstimator();
  r.update(100, 0, 0, true, 25);
  // latest 140, ack_delay 10 (< max_ack_delay): adjusted 130.
  r.update(140, 10, 1, true, 25);
  assert.equal(r.rttVar, 0.75 * 50 + 0.25 * 30); // 45, from the previous smoothed_rtt
  assert.equal(r.smoothedRtt, 0.875 * 100 + 0.125 * 130); // 103.75
  assert.equal(r.minRtt, 100);
  // latest 105, ack_delay 10: 105 < min_rtt + ack_delay, so the delay is not subtracted.
  r.update(105, 10, 2, true, 25);
  assert.equal(r.rttVar, 0.75 * 45 + 0.25 * 1.25); // 34.0625
  assert.equal(r.smoothedRtt, 0.875 * 103.75 + 0.125 * 105); // 103.90625
});

test("RttEstimator caps ack_delay by max_ack_delay only after handshake confirmation (RFC 9002 section 5.3)", () => {
  const confirmed = new RttEstimator();
  confirmed.update(100, 0, 0, true, 25);
  confirmed.update(200, 80, 1, true, 25); // delay capped to 25: adjusted 175
  assert.equal(confirmed.smoothedRtt, 0.875 * 100 + 0.125 * 175);
  assert.equal(confirmed.rttVar, 0.75 * 50 + 0.25 * 75);

  const handshake = new RttEstimator();
  handshake.update(100, 0, 0, false, 25);
  handshake.update(200, 80, 1, false, 25); // full delay: adjusted 120
  assert.equal(handshake.smoothedRtt, 0.875 * 100 + 0.125 * 120);
  assert.equal(handshake.rttVar, 0.75 * 50 + 0.25 * 20);
});

test("RttEstimator: min_rtt ignores ack delay (RFC 9002 section 5.2)", () => {
  const r = new RttEstimator();
  r.update(100, 0, 0, true, 25);
  r.update(90, 20, 1, true, 25);
  assert.equal(r.minRtt, 90); // not 70
  assert.equal(r.smoothedRtt, 0.875 * 100 + 0.125 * 90); // 90 < 90 + 20: no adjustment
});

test("RttEstimator loss delay is 9/8 of max(smoothed, latest), at least 1 ms (RFC 9002 section 6.1.2)", () => {
  const r = new RttEstimator();
  r.update(80, 0, 0, true, 25);
  r.update(160, 0, 1, true, 25); // smoothed 90, latest 160
  assert.equal(r.lossDelay(), (9 / 8) * 160);
  const tiny = new RttEstimator();
  tiny.update(0.1, 0, 0, true, 25);
  assert.equal(tiny.lossDelay(), 1);
});

test("RttEstimator resets min_rtt after persistent congestion and fully on reset()", () => {
  const r = new RttEstimator();
  r.update(50, 0, 0, true, 25);
  r.update(200, 0, 1, true, 25);
  assert.equal(r.minRtt, 50);
  r.onPersistentCongestion();
  assert.equal(r.minRtt, 200);
  r.reset(120);
  assert.equal(r.hasSample, false);
  assert.equal(r.smoothedRtt, 120);
  assert.equal(r.rttVar, 60);
});
