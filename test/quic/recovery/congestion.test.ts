import { test } from "node:test";
import assert from "node:assert/strict";
import { NewReno } from "../../../src/quic/recovery/new-reno.js";
import { Cubic, kCubicAlpha, kCubicC } from "../../../src/quic/recovery/cubic.js";
import { createCongestionController } from "../../../src/quic/recovery/controllers.js";
import type { CongestionController } from "../../../src/quic/recovery/congestion.js";
import { RttEstimator } from "../../../src/quic/recovery/rtt.js";
import { SentPacket } from "../../../src/quic/recovery/sent-packet.js";
import { initialWindow, minimumWindow } from "../../../src/quic/recovery/constants.js";

const MDS = 1200;

/** Drives a controller with whole rounds: send a window's worth, acknowledge it one RTT later. */
class Driver {
  pn = 0;
  readonly rtt = new RttEstimator();
  constructor(readonly cc: CongestionController, rttMs: number) {
    this.rtt.update(rttMs, 0, 0, true, 0);
  }
  send(n: number, t: number, size = MDS): SentPacket<null>[] {
    const out: SentPacket<null>[] = [];
    for (let i = 0; i < n; i++) {
      const p = new SentPacket<null>(this.pn++, t, size, true, true, null);
      this.cc.onPacketSent(size, t);
      out.push(p);
    }
    return out;
  }
  ack(packets: SentPacket<null>[], t: number): void {
    this.cc.onPacketsAcked(packets, t, this.rtt);
  }
  /** One round trip at full window starting at `t`. */
  round(t: number): void {
    const n = Math.floor(this.cc.window / MDS);
    this.ack(this.send(n, t), t + this.rtt.smoothedRtt);
  }
}

test("initial and minimum windows follow RFC 9002 section 7.2", () => {
  assert.equal(initialWindow(1200), 12000);
  assert.equal(initialWindow(1500), 14720);
  assert.equal(initialWindow(9000), 18000);
  assert.equal(minimumWindow(1200), 2400);
  assert.equal(new NewReno(1500).window, 14720);
  assert.equal(createCongestionController("cubic", 1200).window, 12000);
  assert.throws(() => createCongestionController("bbr" as never), RangeError);
});

test("NewReno slow start grows the window by the bytes acknowledged (RFC 9002 section 7.3.1)", () => {
  const d = new Driver(new NewReno(MDS), 100);
  const sent = d.send(10, 0);
  assert.equal(d.cc.bytesInFlight, 12000);
  d.ack(sent, 100);
  assert.equal(d.cc.window, 24000);
  assert.equal(d.cc.bytesInFlight, 0);
  assert.equal(d.cc.inSlowStart, true);
});

test("NewReno halves once per recovery period and leaves it when a later packet is acknowledged (RFC 9002 section 7.3.2)", () => {
  const cc = new NewReno(MDS);
  const d = new Driver(cc, 100);
  d.ack(d.send(10, 0), 100); // 24000
  const flight = d.send(20, 100);
  cc.onPacketsLost([flight[0]!], 150);
  assert.equal(cc.ssthresh, 12000);
  assert.equal(cc.window, 12000);
  assert.equal(cc.congestionEvents, 1);
  assert.equal(cc.inRecovery(100), true);
  cc.onPacketsLost([flight[1]!], 160); // sent before recovery began: same event
  assert.equal(cc.window, 12000);
  assert.equal(cc.congestionEvents, 1);
  d.ack(flight.slice(2), 200); // no growth in recovery
  assert.equal(cc.window, 12000);
  assert.equal(cc.bytesInFlight, 0);
  // Congestion avoidance: one max_datagram_size per window acknowledged (RFC 9002 section 7.3.3).
  const later = d.send(10, 210);
  d.ack(later.slice(0, 9), 310);
  assert.equal(cc.window, 12000);
  d.ack(later.slice(9), 311);
  assert.equal(cc.window, 13200);
  // A packet sent after recovery began starts a new event.
  const next = d.send(1, 320);
  cc.onPacketsLost(next, 400);
  assert.equal(cc.window, 6600);
  assert.equal(cc.congestionEvents, 2);
});

test("NewReno never goes below the minimum window and persistent congestion collapses to it (RFC 9002 sections 7.2, 7.6.2)", () => {
  const cc = new NewReno(MDS);
  const d = new Driver(cc, 100);
  for (let i = 0; i < 6; i++) cc.onPacketsLost(d.send(1, i * 100 + 1), i * 100 + 50);
  assert.equal(cc.window, 2400);
  const c2 = new NewReno(MDS);
  const d2 = new Driver(c2, 100);
  d2.ack(d2.send(20, 0), 100); // 36000
  c2.onPacketsLost(d2.send(1, 100), 150); // 18000, ssthresh 18000
  c2.onPersistentCongestion(160);
  assert.equal(c2.window, 2400);
  assert.equal(c2.inSlowStart, true);
  assert.equal(c2.inRecovery(155), false); // recovery is over
  d2.ack(d2.send(2, 170), 270);
  assert.equal(c2.window, 4800); // slow start again
});

test("Lost PMTU probes leave the window alone (RFC 9000 section 14.4)", () => {
  const cc = new NewReno(MDS);
  const d = new Driver(cc, 100);
  const [probe] = d.send(1, 0, 1500);
  probe!.mtuProbe = true;
  cc.onPacketsLost([probe!], 10);
  assert.equal(cc.window, 12000);
  assert.equal(cc.bytesInFlight, 0);
});

test("The window does not grow while the sender is application limited (RFC 9002 section 7.8)", () => {
  for (const cc of [new NewReno(MDS), new Cubic(MDS)]) {
    const d = new Driver(cc, 100);
    const sent = d.send(2, 0);
    cc.appLimited = true;
    d.ack(sent, 100);
    assert.equal(cc.window, 12000, cc.algorithm);
    // Filling the window ends the application-limited period by itself.
    const full = d.send(10, 100);
    assert.equal(cc.appLimited, false);
    d.ack(full, 200);
    assert.equal(cc.window, 24000, cc.algorithm);
  }
});

/** CUBIC at W_max = 100 segments after one loss, then full-window rounds of `rttMs`. */
function cubicAfterLoss(rttMs: number, fastConvergence = true): { cc: Cubic; d: Driver; t: number } {
  const cc = new Cubic(MDS, { fastConvergence });
  const d = new Driver(cc, rttMs);
  d.ack(d.send(90, 0), 1); // 12000 + 108000 = 120000 bytes = 100 segments
  assert.equal(cc.window, 120000);
  cc.onPacketsLost(d.send(1, 2), 3);
  return { cc, d, t: 10 };
}

test("CUBIC reduces by beta = 0.7 and sets W_max to the window before the loss (RFC 9438 sections 4.6, 4.7)", () => {
  const { cc } = cubicAfterLoss(100);
  assert.equal(cc.wMax, 120000);
  assert.equal(cc.window, 84000);
  assert.equal(cc.ssthresh, 84000);
  assert.equal(cc.inSlowStart, false);
});

test("CUBIC follows W_cubic(t) = C(t-K)^3 + W_max: concave up to K, convex after (RFC 9438 section 4.2)", () => {
  const { cc, d } = cubicAfterLoss(100);
  const K = Math.cbrt((100 - 70) / kCubicC); // cubic_root((W_max - cwnd_epoch) / C), segments
  const wCubic = (t: number) => kCubicC * (t - K) ** 3 + 100;
  let t = 10;
  const samples: Array<[number, number]> = []; // [t since epoch, cwnd in segments] while the cubic curve leads
  let renoFrom = Infinity;
  let epoch = -1;
  while (t < 8000) {
    d.round(t);
    t += 100;
    if (epoch < 0) epoch = cc.epochStart;
    const ts = (t - epoch) / 1000;
    if (cc.wEst < cc.wCubic(ts)) samples.push([ts, cc.window / MDS]);
    else if (ts > K) renoFrom = Math.min(renoFrom, ts);
  }
  assert.ok(Math.abs(cc.k - K) < 1e-9);
  // Track the curve within 1 % (the per-ACK update lags a fraction of a round behind W_cubic(t + RTT)).
  for (const [ts, w] of samples) {
    const expected = wCubic(ts);
    assert.ok(Math.abs(w - expected) / expected < 0.01, `t=${ts.toFixed(1)}s cwnd=${w.toFixed(2)} W_cubic=${expected.toFixed(2)}`);
  }
  // W_est reaches cwnd_prior (100 segments) after about 30 / alpha_cubic rounds, then grows 1 segment per
  // round and overtakes the still-flat curve: from then on the window is the Reno-friendly one.
  assert.ok(renoFrom > 5.5 && renoFrom < 6.5, `Reno-friendly from ${renoFrom}`);
  assert.equal(cc.window, Math.floor(cc.wEst));
  // Growth per round shrinks toward the plateau at K and rises after it.
  const inc = samples.slice(1).map(([ts, w], i) => [ts, w - samples[i]![1]] as const);
  const before = inc.filter(([ts]) => ts > 0.3 && ts < K - 0.3).map(([, x]) => x);
  const after = inc.filter(([ts]) => ts > K + 0.3 && ts < renoFrom).map(([, x]) => x);
  assert.ok(before.length > 20 && after.length > 5);
  for (let i = 1; i < before.length; i++) assert.ok(before[i]! <= before[i - 1]! + 1e-9, "concave: increments shrink");
  for (let i = 1; i < after.length; i++) assert.ok(after[i]! >= after[i - 1]! - 1e-9, "convex: increments grow");
  const atK = samples.find(([ts]) => ts >= K)!;
  assert.ok(Math.abs(atK[1] - 100) < 1.5, `window at K is ${atK[1]} segments, W_max is 100`);
});

test("CUBIC uses the Reno-friendly estimate when it is ahead of the cubic curve (RFC 9438 section 4.3)", () => {
  const { cc, d } = cubicAfterLoss(10); // short RTT: Reno grows faster than the cubic plateau
  let t = 10;
  for (let r = 0; r < 21; r++, t += 10) d.round(t);
  // After the first round starts the epoch, 20 rounds of alpha_cubic segments each.
  const expected = 70 + 20 * kCubicAlpha;
  const w = cc.window / MDS;
  assert.ok(Math.abs(w - expected) / expected < 0.02, `cwnd ${w} segments, Reno-friendly estimate ${expected}`);
  const ts = (t - cc.epochStart) / 1000;
  assert.ok(cc.wCubic(ts) / MDS < w, "cubic curve below the window");
});

test("CUBIC fast convergence lowers W_max after a loss below the previous W_max (RFC 9438 section 4.7)", () => {
  for (const fast of [true, false]) {
    const { cc, d } = cubicAfterLoss(100, fast);
    d.round(10); // grows a little above 84000 toward W_max
    const before = cc.window;
    cc.onPacketsLost(d.send(1, 200), 300);
    const expectWMax = fast ? (before * 1.7) / 2 : before;
    assert.ok(Math.abs(cc.wMax - expectWMax) < 1, `fast=${fast}`);
    assert.ok(Math.abs(cc.window - before * 0.7) <= 1);
  }
});

test("CUBIC after persistent congestion restarts from the minimum window with K = 0 (RFC 9438 section 4.8)", () => {
  const { cc, d } = cubicAfterLoss(100);
  cc.onPersistentCongestion(50);
  assert.equal(cc.window, 2400);
  let t = 60;
  while (cc.inSlowStart) {
    d.round(t);
    t += 100;
  }
  d.round(t);
  assert.equal(cc.k, 0);
  assert.ok(cc.wMax >= 84000);
});
