/**
 * The ACK path end to end: receiver AckTracker -> frame codec (wire bytes)
 * -> sender LossDetection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PacketType, decodeFrames, putAckFrameForRanges, type AckFrame } from "../../../src/quic/frames/index.js";
import { AckTracker } from "../../../src/quic/recovery/ack-tracker.js";
import { Ecn, PacketNumberSpace } from "../../../src/quic/recovery/constants.js";
import { send, setup } from "./helpers.js";

const App = PacketNumberSpace.Application;

test("ACK ranges and delay go from the tracker through the wire format into loss detection", () => {
  const { ld, rec } = setup();
  ld.onHandshakeConfirmed(0);
  for (let pn = 0; pn < 12; pn++) send(ld, App, pn, pn);
  const rx = new AckTracker(App, { ackDelayExponent: 3, maxAckRanges: 3 });
  for (const pn of [0, 1, 2, 4, 5, 7, 8, 9, 11]) rx.onPacketReceived(pn, true, 50, Ecn.NotEct);
  const buf = new Uint8Array(64);
  const ackDelay = rx.ackDelayField(58); // 8 ms = 8000 us / 8
  assert.equal(ackDelay, 1000);
  const len = putAckFrameForRanges(buf, 0, rx.ranges, ackDelay, rx.ecnCounts, rx.ackRangeCount);
  const [frame] = decodeFrames(buf.subarray(0, len), PacketType.OneRtt) as AckFrame[];
  // Newest first, capped at 3 ranges: [0, 2] is left out.
  assert.deepEqual(frame!.ranges, [11, 11, 9, 7, 5, 4]);
  assert.equal(frame!.ackDelay, 1000);
  assert.deepEqual(frame, rx.buildAck(58));
  ld.onAckFrame(App, frame!, 3, 60);
  assert.deepEqual(rec.acked, [4, 5, 7, 8, 9, 11]);
  assert.deepEqual(rec.lost, [0, 1, 2, 3, 6]); // packet threshold: 11 - 3 >= pn
  assert.equal(ld.rtt.latestRtt, 49);
});
