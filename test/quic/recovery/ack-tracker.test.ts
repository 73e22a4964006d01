import { test } from "node:test";
import assert from "node:assert/strict";
import { AckTracker } from "../../../src/quic/recovery/ack-tracker.js";
import { Ecn, PacketNumberSpace } from "../../../src/quic/recovery/constants.js";

const App = PacketNumberSpace.Application;

test("AckTracker acknowledges every second ack-eliciting packet, else within max_ack_delay (RFC 9000 section 13.2.2)", () => {
  const t = new AckTracker(App, { maxAckDelay: 25 });
  assert.equal(t.ackDeadline, Infinity);
  t.onPacketReceived(0, true, 100);
  assert.equal(t.ackDeadline, 125);
  assert.equal(t.ackDue(124), false);
  assert.equal(t.ackDue(125), true);
  t.onPacketReceived(1, true, 110);
  assert.equal(t.ackDeadline, 110); // the second one makes it immediate
  t.onAckSent();
  assert.equal(t.ackDeadline, Infinity);
  assert.equal(t.ackElicitingPending, false);
  t.onPacketReceived(2, true, 200);
  assert.equal(t.ackDeadline, 225); // counting starts over after an ACK
});

test("AckTracker acknowledges at once on a gap and on reordering (RFC 9000 section 13.2.1)", () => {
  const t = new AckTracker(App);
  t.onPacketReceived(0, true, 0);
  t.onAckSent();
  t.onPacketReceived(2, true, 10); // 1 is missing
  assert.equal(t.ackDeadline, 10);
  t.onAckSent();
  t.onPacketReceived(1, true, 20); // below the largest ack-eliciting
  assert.equal(t.ackDeadline, 20);
  t.onAckSent();
  t.onPacketReceived(3, true, 30); // in order again
  assert.equal(t.ackDeadline, 55);
});

test("AckTracker: a non-ack-eliciting packet filling the hole is not a gap; one alone never elicits an ACK", () => {
  const t = new AckTracker(App);
  t.onPacketReceived(0, true, 0);
  t.onAckSent();
  t.onPacketReceived(1, false, 1);
  assert.equal(t.ackDeadline, Infinity); // RFC 9000 section 13.2.1: no ACK in response to non-ack-eliciting
  assert.equal(t.hasNewAcks, true); // but it may ride along
  t.onPacketReceived(2, true, 2);
  assert.equal(t.ackDeadline, 27); // 0..2 contiguous: not a gap
});

test("AckTracker acknowledges Initial and Handshake packets at once (RFC 9000 section 13.2.1)", () => {
  for (const space of [PacketNumberSpace.Initial, PacketNumberSpace.Handshake]) {
    const t = new AckTracker(space);
    t.onPacketReceived(0, true, 5);
    assert.equal(t.ackDeadline, 5);
    assert.equal(t.ackDelayField(50), 0); // never delayed on purpose
  }
});

test("AckTracker: CE-marked packets are acknowledged at once and ECN counts are reported (RFC 9000 sections 13.2.1, 13.4.1)", () => {
  const t = new AckTracker(App);
  assert.equal(t.ecnCounts, null);
  t.onPacketReceived(0, true, 0, Ecn.Ect0);
  t.onPacketReceived(1, false, 0, Ecn.Ect1);
  t.onAckSent();
  t.onPacketReceived(2, true, 1, Ecn.Ce);
  assert.equal(t.ackDeadline, 1);
  assert.deepEqual(t.ecnCounts, { ect0: 1, ect1: 1, ce: 1 });
  assert.deepEqual(t.buildAck(1)!.ecn, { ect0: 1, ect1: 1, ce: 1 });
});

test("AckTracker threshold is configurable (ack-frequency extension)", () => {
  const t = new AckTracker(App);
  t.setAckFrequency(3, 40, 0); // ACK after more than 3; no immediate ACK on reordering
  for (let pn = 0; pn < 3; pn++) t.onPacketReceived(pn, true, pn);
  assert.equal(t.ackDeadline, 40);
  t.onPacketReceived(5, true, 4); // gap ignored, but the 4th packet triggers
  assert.equal(t.ackDeadline, 4);
  t.onAckSent();
  t.onPacketReceived(7, true, 10);
  assert.equal(t.ackDeadline, 50);
  t.requestImmediateAck(11); // IMMEDIATE_ACK
  assert.equal(t.ackDeadline, 11);
});

test("AckTracker builds ACK ranges newest first, capped to a number of ranges (RFC 9000 sections 13.2.3, 19.3.1)", () => {
  const t = new AckTracker(App, { ackDelayExponent: 3 });
  for (const pn of [0, 1, 2, 3, 4, 6, 7, 10]) t.onPacketReceived(pn, true, pn);
  const ack = t.buildAck(10)!;
  assert.equal(ack.largest, 10);
  assert.deepEqual(ack.ranges, [10, 10, 7, 6, 4, 0]);
  assert.deepEqual(t.buildAck(10, 2)!.ranges, [10, 10, 7, 6]);
  assert.equal(t.ackRangeCount, 3);
  // Input to the frame codec: the same ranges straight from the RangeSet.
  const set = t.ranges;
  assert.deepEqual(set.toArray(), [[0, 5], [6, 8], [10, 11]]);
});

test("AckTracker encodes the ACK Delay in microseconds scaled by 2^ack_delay_exponent (RFC 9000 sections 13.2.5, 19.3)", () => {
  const t = new AckTracker(App, { ackDelayExponent: 3 });
  t.onPacketReceived(0, true, 100);
  t.onPacketReceived(1, true, 100.5);
  assert.equal(t.ackDelayField(105.5), 5000 / 8);
  const t0 = new AckTracker(App, { ackDelayExponent: 0 });
  t0.onPacketReceived(3, true, 7);
  assert.equal(t0.ackDelayField(7.25), 250);
  assert.equal(t0.buildAck(7.25)!.ackDelay, 250);
});

test("AckTracker detects duplicates and ignores them", () => {
  const t = new AckTracker(App);
  assert.equal(t.isDuplicate(0), false);
  assert.equal(t.onPacketReceived(0, true, 0), true);
  assert.equal(t.isDuplicate(0), true);
  assert.equal(t.onPacketReceived(0, true, 1), false);
  assert.equal(t.largestReceived, 0);
  assert.equal(t.isDuplicate(1), false);
});

test("AckTracker bounds duplicate-detection state with a floor (RFC 9000 section 12.3)", () => {
  const t = new AckTracker(App, { maxTrackedRanges: 8 });
  for (let pn = 0; pn < 40; pn += 2) t.onPacketReceived(pn, false, pn); // 20 separate ranges
  assert.ok(t.ranges.size <= 8);
  assert.equal(t.isDuplicate(1), true); // below the floor: treated as seen
  assert.equal(t.isDuplicate(39), false);
});

test("AckTracker stops reporting ranges the peer has seen our ACK for (RFC 9000 section 13.2.4)", () => {
  const t = new AckTracker(App);
  for (let pn = 0; pn < 10; pn++) t.onPacketReceived(pn, true, pn);
  t.onAckSent();
  t.onAckOfAckReceived(9);
  assert.equal(t.ackRangeCount, 0);
  assert.equal(t.buildAck(10), null);
  assert.equal(t.isDuplicate(5), true); // still remembered for duplicates
  t.onPacketReceived(12, true, 12);
  assert.deepEqual(t.buildAck(12)!.ranges, [12, 12]);
  t.onPacketReceived(11, true, 13); // 10 is still missing
  assert.deepEqual(t.buildAck(13)!.ranges, [12, 11]);
});

test("AckTracker still acknowledges a late packet that arrives below the ack floor", () => {
  const t = new AckTracker(App);
  for (const pn of [0, 1, 2, 3, 4, 6, 7, 8, 9]) t.onPacketReceived(pn, true, pn);
  t.onAckSent();
  t.onAckOfAckReceived(9);
  assert.equal(t.isDuplicate(5), false);
  t.onPacketReceived(5, true, 20);
  assert.equal(t.ackDeadline, 20); // out of order: immediate
  assert.deepEqual(t.buildAck(20)!.ranges, [9, 0]);
});

test("AckTracker.discard drops everything", () => {
  const t = new AckTracker(PacketNumberSpace.Handshake);
  t.onPacketReceived(0, true, 0);
  t.discard();
  assert.equal(t.ackDeadline, Infinity);
  assert.equal(t.buildAck(1), null);
  assert.equal(t.isDuplicate(1), true);
});
