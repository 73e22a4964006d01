/**
 * A small deterministic end-to-end run: a sender's LossDetection and a
 * receiver's AckTracker over a bottleneck link with a drop-tail queue,
 * propagation delay and random loss, on a fake clock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AckFrame } from "../../../src/quic/frames/types.js";
import { AckTracker } from "../../../src/quic/recovery/ack-tracker.js";
import type { CongestionAlgorithm } from "../../../src/quic/recovery/congestion.js";
import { PacketNumberSpace } from "../../../src/quic/recovery/constants.js";
import { LossDetection, type LossDetectionHandler } from "../../../src/quic/recovery/loss-detection.js";
import { SentPacket } from "../../../src/quic/recovery/sent-packet.js";

const App = PacketNumberSpace.Application;
const MDS = 1200;

/** Small seeded PRNG (mulberry32) so every run is the same. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Link {
  /** Bottleneck rate in bytes per ms. */
  rate: number;
  /** One-way propagation delay in ms. */
  delay: number;
  /** Drop-tail queue size in bytes. */
  queue: number;
  /** Random loss probability per data packet. */
  loss: number;
}

interface Result {
  done: boolean;
  time: number;
  minCwndAfterStart: number;
  ld: LossDetection<number>;
}

function transfer(algorithm: CongestionAlgorithm, link: Link, bytes: number, seed: number): Result {
  const chunks = Math.ceil(bytes / MDS);
  const delivered = new Uint8Array(chunks);
  let deliveredCount = 0;
  let nextChunk = 0;
  const retransmit: number[] = [];
  const handler: LossDetectionHandler<number> = {
    onPacketAcked(_space, p) {
      if (p.frames >= 0 && delivered[p.frames] === 0) {
        delivered[p.frames] = 1;
        deliveredCount++;
      }
    },
    onPacketLost(_space, p) {
      if (p.frames >= 0 && delivered[p.frames] === 0) retransmit.push(p.frames);
    },
  };
  const ld = new LossDetection<number>(handler, { isServer: true, congestionControl: algorithm, peerMaxAckDelay: 25 });
  ld.onHandshakeConfirmed(0);
  const rx = new AckTracker(App, { maxAckDelay: 25, ackDelayExponent: 3 });
  const rnd = prng(seed);

  const dataT: number[] = [];
  const dataPn: number[] = [];
  let dataHead = 0;
  const ackT: number[] = [];
  const ackF: AckFrame[] = [];
  let ackHead = 0;
  let linkFree = 0;
  let pn = 0;
  let now = 0;
  let minCwnd = Infinity;

  while (deliveredCount < chunks && now < 60_000) {
    while (dataHead < dataT.length && dataT[dataHead]! <= now) {
      rx.onPacketReceived(dataPn[dataHead]!, true, dataT[dataHead]!);
      dataHead++;
    }
    if (rx.ackDue(now)) {
      const frame = rx.buildAck(now)!;
      rx.onAckSent();
      ackT.push(now + link.delay);
      ackF.push(frame);
    }
    while (ackHead < ackT.length && ackT[ackHead]! <= now) {
      ld.onAckFrame(App, ackF[ackHead]!, 3, now);
      ackHead++;
    }
    if (ld.lossDetectionDeadline <= now) ld.onLossDetectionTimeout(now);
    if (now > 2000) minCwnd = Math.min(minCwnd, ld.congestionWindow);

    let nextSend = Infinity;
    for (;;) {
      const probe = ld.probesPending(App) > 0;
      while (retransmit.length > 0 && delivered[retransmit[0]!] === 1) retransmit.shift();
      const hasData = retransmit.length > 0 || nextChunk < chunks;
      if (!probe) {
        if (!hasData) {
          ld.setAppLimited(true);
          break;
        }
        if (ld.congestionAllowance < MDS) break;
        const at = ld.pacingDeadline(now);
        if (at > now) {
          nextSend = at;
          break;
        }
      }
      const chunk = retransmit.length > 0 ? retransmit.shift()! : nextChunk < chunks ? nextChunk++ : -1;
      ld.onPacketSent(App, new SentPacket(pn, now, MDS, true, true, chunk));
      // Bottleneck: drop-tail queue, then serialisation at `rate`, then propagation.
      const queued = Math.max(0, linkFree - now) * link.rate;
      if (rnd() >= link.loss && queued + MDS <= link.queue) {
        linkFree = Math.max(now, linkFree) + MDS / link.rate;
        dataT.push(linkFree + link.delay);
        dataPn.push(pn);
      }
      pn++;
    }

    const next = Math.min(
      dataHead < dataT.length ? dataT[dataHead]! : Infinity,
      ackHead < ackT.length ? ackT[ackHead]! : Infinity,
      ld.lossDetectionDeadline,
      rx.ackDeadline,
      nextSend,
    );
    if (next === Infinity) break;
    now = Math.max(now, next);
  }
  return { done: deliveredCount === chunks, time: now, minCwndAfterStart: minCwnd, ld };
}

for (const algorithm of ["reno", "cubic"] as const) {
  test(`simulation: a ${algorithm} transfer fills a bottleneck whose queue overflows`, () => {
    // 10 Mbit/s, 40 ms RTT (BDP 50 kB), half a BDP of queue, no random loss; 3 MB.
    const link: Link = { rate: 1250, delay: 20, queue: 25_000, loss: 0 };
    const bytes = 3_000_000;
    const r = transfer(algorithm, link, bytes, 7);
    const s = r.ld.getStats();
    assert.ok(r.done, "transfer completes");
    const utilisation = bytes / link.rate / r.time;
    assert.ok(utilisation > 0.85, `utilisation ${utilisation.toFixed(2)}`);
    assert.ok(s.packetsLost > 0 && s.congestionEvents > 0, "the queue overflowed and the sender reacted");
    assert.ok(s.congestionEvents < 10, `congestion events: ${s.congestionEvents}`); // one reduction per round trip, not per loss
    assert.equal(s.persistentCongestions, 0);
    assert.equal(s.ptoCount, 0);
    assert.equal(s.spuriousLosses, 0);
    assert.ok(r.minCwndAfterStart >= 20 * MDS, `window fell to ${r.minCwndAfterStart}`);
    assert.ok(s.smoothedRtt >= 40 && s.smoothedRtt < 40 + 25_000 / link.rate + 5, `smoothed RTT ${s.smoothedRtt}`);
    assert.equal(s.bytesInFlight, 0);
  });

  test(`simulation: a ${algorithm} transfer with 0.2 % random loss keeps going without collapsing`, () => {
    const link: Link = { rate: 1250, delay: 20, queue: 50_000, loss: 0.002 };
    const bytes = 3_000_000;
    const r = transfer(algorithm, link, bytes, 7);
    const s = r.ld.getStats();
    assert.ok(r.done, "transfer completes");
    // Reno-style throughput under random loss p is about 1.22 * MSS / (RTT * sqrt(p)): ~65 % of this link.
    const utilisation = bytes / link.rate / r.time;
    assert.ok(utilisation > 0.45, `utilisation ${utilisation.toFixed(2)}`);
    assert.equal(s.persistentCongestions, 0);
    assert.ok(s.ptoCount <= 1, `PTOs: ${s.ptoCount}`);
    assert.ok(r.minCwndAfterStart >= 8 * MDS, `window fell to ${r.minCwndAfterStart}`);
    assert.equal(s.bytesInFlight, 0);
  });
}
