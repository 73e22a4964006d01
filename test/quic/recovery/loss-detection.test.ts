import { test } from "node:test";
import assert from "node:assert/strict";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import { AckTracker } from "../../../src/quic/recovery/ack-tracker.js";
import { Ecn, PacketNumberSpace } from "../../../src/quic/recovery/constants.js";
import { TimeoutAction } from "../../../src/quic/recovery/loss-detection.js";
import { SentPacket } from "../../../src/quic/recovery/sent-packet.js";
import { send, setup } from "./helpers.js";

const { Initial, Handshake, Application: App } = PacketNumberSpace;

test("LossDetection reports newly acknowledged packets once, in order, and takes an RTT sample (RFC 9002 section 5.1)", () => {
  const { ld, rec } = setup();
  ld.onHandshakeConfirmed(0);
  for (let pn = 0; pn < 4; pn++) send(ld, App, pn, pn);
  assert.equal(ld.bytesInFlight, 4800);
  assert.equal(ld.onAckReceived(App, [3, 2, 0, 0], 0, null, 103), 3);
  assert.deepEqual(rec.acked, [0, 2, 3]);
  assert.equal(ld.rtt.latestRtt, 100); // from the largest, packet 3 sent at 3
  assert.equal(ld.bytesInFlight, 1200);
  rec.clear();
  assert.equal(ld.onAckReceived(App, [3, 0], 0, null, 110), 1); // only 1 is new; largest not new: no sample
  assert.deepEqual(rec.acked, [1]);
  assert.equal(ld.rtt.samples, 1);
  assert.equal(ld.onAckReceived(App, [3, 0], 0, null, 111), 0);
});

test("LossDetection: no RTT sample from an ACK of only non-ack-eliciting packets (RFC 9002 section 5.1)", () => {
  const { ld } = setup();
  send(ld, App, 0, 0, 50, false);
  ld.onAckReceived(App, [0, 0], 0, null, 100);
  assert.equal(ld.rtt.hasSample, false);
});

test("LossDetection declares loss by packet threshold, then by time threshold on the timer (RFC 9002 sections 6.1.1, 6.1.2)", () => {
  const { ld, rec } = setup();
  ld.onHandshakeConfirmed(0);
  for (let pn = 0; pn < 5; pn++) send(ld, App, pn, pn);
  ld.onAckReceived(App, [4, 4], 0, null, 50); // RTT sample 46
  assert.deepEqual(rec.acked, [4]);
  assert.deepEqual(rec.lost, [0, 1]); // 4 >= pn + 3
  assert.equal(ld.stats.packetsLost, 2);
  // 2 and 3 wait for the time threshold: 9/8 * 46 = 51.75 after their send times.
  assert.equal(ld.lossDetectionDeadline, 2 + 51.75);
  assert.equal(ld.onLossDetectionTimeout(53), TimeoutAction.None);
  assert.equal(ld.onLossDetectionTimeout(53.75), TimeoutAction.LossDetected);
  assert.deepEqual(rec.lost, [0, 1, 2]);
  assert.equal(ld.lossDetectionDeadline, 3 + 51.75);
  assert.equal(ld.onLossDetectionTimeout(54.75), TimeoutAction.LossDetected);
  assert.deepEqual(rec.lost, [0, 1, 2, 3]);
  assert.equal(ld.bytesInFlight, 0);
  assert.equal(ld.lossDetectionDeadline, Infinity); // nothing left in flight
});

test("LossDetection declares old packets lost at once by time threshold (RFC 9002 section 6.1.2)", () => {
  const { ld, rec } = setup();
  send(ld, App, 0, 0);
  send(ld, App, 1, 100);
  ld.onAckReceived(App, [1, 1], 0, null, 110); // RTT 10, loss delay 11.25; packet 0 is 110 ms old
  assert.deepEqual(rec.lost, [0]);
});

test("LossDetection counts acknowledgements of packets declared lost as spurious", () => {
  const { ld, rec } = setup();
  for (let pn = 0; pn < 5; pn++) send(ld, App, pn, 0);
  ld.onAckReceived(App, [4, 4], 0, null, 10);
  assert.deepEqual(rec.lost, [0, 1]);
  ld.onAckReceived(App, [4, 0], 0, null, 11);
  assert.equal(ld.stats.spuriousLosses, 2);
  assert.deepEqual(rec.acked, [4, 2, 3]);
});

test("LossDetection rejects ACKs of packets never sent or deliberately skipped (RFC 9000 sections 13.1, 21.4)", () => {
  const { ld } = setup();
  send(ld, App, 0, 0);
  send(ld, App, 2, 1); // 1 skipped
  const err = (e: unknown) => e instanceof QuicTransportError && e.errorCode === TransportErrorCode.PROTOCOL_VIOLATION;
  assert.throws(() => ld.onAckReceived(App, [5, 5], 0, null, 10), err);
  assert.throws(() => ld.onAckReceived(App, [2, 0], 0, null, 10), err);
  const { ld: ld2 } = setup();
  send(ld2, App, 0, 0);
  send(ld2, App, 1, 0);
  send(ld2, App, 2, 0);
  assert.throws(
    () => ld2.onAckReceived(App, [2, 1, 1, 0], 0, null, 10),
    (e: unknown) => e instanceof QuicTransportError && e.errorCode === TransportErrorCode.FRAME_ENCODING_ERROR,
  );
});

test("LossDetection: PTO = smoothed_rtt + max(4*rttvar, 1) + max_ack_delay, doubled per expiry, reset by an ACK (RFC 9002 section 6.2.1)", () => {
  const { ld } = setup({ peerMaxAckDelay: 25 });
  ld.onHandshakeConfirmed(0);
  send(ld, App, 0, 0);
  assert.equal(ld.lossDetectionDeadline, 333 + 666 + 25);
  assert.equal(ld.onLossDetectionTimeout(1023), TimeoutAction.None);
  assert.equal(ld.onLossDetectionTimeout(1024), TimeoutAction.Probe);
  assert.equal(ld.ptoSpace, App);
  assert.equal(ld.probesPending(App), 2);
  assert.equal(ld.ptoBackoffExponent, 1);
  assert.equal(ld.stats.ptoCount, 1);
  assert.equal(ld.lossDetectionDeadline, 0 + 2 * 1024); // still from the last ack-eliciting packet
  send(ld, App, 1, 1024);
  assert.equal(ld.probesPending(App), 1);
  send(ld, App, 2, 1024);
  assert.equal(ld.probesPending(App), 0);
  assert.equal(ld.lossDetectionDeadline, 1024 + 2048);
  assert.equal(ld.onLossDetectionTimeout(3072), TimeoutAction.Probe);
  assert.equal(ld.lossDetectionDeadline, 1024 + 4096);
  // The ACK of the probe resets the backoff; the PTO counts from the remaining packet's send time.
  ld.onAckReceived(App, [2, 2], 0, null, 3100);
  assert.equal(ld.ptoBackoffExponent, 0);
  assert.equal(ld.stats.ptoCount, 2);
  const rtt = ld.rtt;
  assert.equal(rtt.latestRtt, 3100 - 1024);
  // Packet 0 is lost by time; packet 1 (sent at 1024) waits for 9/8 of the new RTT sample.
  assert.equal(ld.lossDetectionDeadline, 1024 + (9 / 8) * 2076);
});

test("LossDetection: Initial and Handshake PTOs leave out max_ack_delay; the earliest space wins (RFC 9002 section 6.2.1)", () => {
  const { ld } = setup({ peerMaxAckDelay: 25 });
  send(ld, Initial, 0, 0);
  assert.equal(ld.lossDetectionDeadline, 999);
  send(ld, Handshake, 0, 10);
  assert.equal(ld.lossDetectionDeadline, 999);
  assert.equal(ld.onLossDetectionTimeout(999), TimeoutAction.Probe);
  assert.equal(ld.ptoSpace, Initial);
  assert.equal(ld.probesPending(Initial), 2);
  assert.equal(ld.probesPending(Handshake), 1); // probe the other space with data in flight too (section 6.2.4)
  // Backoff applies across spaces: the Handshake PTO doubles as well.
  ld.discardSpace(Initial, 1000);
  assert.equal(ld.ptoBackoffExponent, 0); // discarding keys resets it (section 6.4, Appendix A.11)
  assert.equal(ld.lossDetectionDeadline, 10 + 999);
});

test("LossDetection never arms the Application PTO before handshake confirmation (RFC 9002 section 6.2.1)", () => {
  const { ld } = setup();
  send(ld, App, 0, 0);
  assert.equal(ld.lossDetectionDeadline, Infinity);
  ld.onHandshakeConfirmed(5);
  assert.equal(ld.lossDetectionDeadline, 0 + 999 + 25);
});

test("LossDetection: a client with nothing in flight arms the anti-deadlock PTO until its address is validated (RFC 9002 section 6.2.2.1)", () => {
  const { ld } = setup({ isServer: false });
  send(ld, Initial, 0, 0);
  ld.onAckReceived(Initial, [0, 0], 0, null, 100); // RTT 100: PTO period 100 + 200
  assert.equal(ld.ackElicitingInFlight(Initial), 0);
  assert.equal(ld.lossDetectionDeadline, 100 + 300); // counted from now
  assert.equal(ld.onLossDetectionTimeout(400), TimeoutAction.Probe);
  assert.equal(ld.ptoSpace, Initial); // no Handshake keys: a padded Initial
  assert.equal(ld.probesPending(Initial), 1);
  assert.equal(ld.lossDetectionDeadline, 400 + 600);
  ld.onHandshakeKeysAvailable(450);
  assert.equal(ld.lossDetectionDeadline, 450 + 600);
  assert.equal(ld.onLossDetectionTimeout(1050), TimeoutAction.Probe);
  assert.equal(ld.ptoSpace, Handshake);
  // The client keeps the backoff on Initial ACKs: the server may still be validating (section 6.2.1).
  send(ld, Initial, 1, 1050);
  ld.onAckReceived(Initial, [1, 1], 0, null, 1150);
  assert.equal(ld.ptoBackoffExponent, 2);
  // A Handshake ACK proves validation: backoff resets, and nothing in flight means no timer.
  send(ld, Handshake, 0, 1200);
  ld.onAckReceived(Handshake, [0, 0], 0, null, 1300);
  assert.equal(ld.ptoBackoffExponent, 0);
  assert.equal(ld.lossDetectionDeadline, Infinity);
});

test("LossDetection: a server at the amplification limit does not arm its PTO (RFC 9002 section 6.2.2.1)", () => {
  const { ld } = setup({ isServer: true });
  send(ld, Initial, 0, 0);
  ld.setAmplificationLimited(true, 1);
  assert.equal(ld.lossDetectionDeadline, Infinity);
  ld.setAmplificationLimited(false, 2000);
  assert.equal(ld.lossDetectionDeadline, 999); // in the past: the connection runs the timeout at once
  assert.equal(ld.onLossDetectionTimeout(2000), TimeoutAction.Probe);
});

test("LossDetection: discarding a space removes its packets from flight and ignores its ACKs (RFC 9002 section 6.4)", () => {
  const { ld, rec } = setup();
  send(ld, Initial, 0, 0);
  send(ld, Initial, 1, 0);
  send(ld, Handshake, 0, 0);
  assert.equal(ld.bytesInFlight, 3600);
  ld.discardSpace(Initial, 5);
  assert.equal(ld.bytesInFlight, 1200);
  assert.equal(ld.ackElicitingInFlight(Initial), 0);
  assert.equal(ld.onAckReceived(Initial, [1, 0], 0, null, 10), 0);
  assert.deepEqual(rec.acked, []);
  assert.equal(ld.isDiscarded(Initial), true);
  assert.throws(() => send(ld, Initial, 2, 11), RangeError);
});

test("LossDetection.discardPackets drops rejected 0-RTT packets without a loss signal (RFC 9002 section 6.4)", () => {
  const { ld, rec } = setup();
  send(ld, App, 0, 0);
  send(ld, App, 1, 0);
  const zeroRtt = new Set([0, 1]);
  const requeued: number[] = [];
  const n = ld.discardPackets(App, (p) => (zeroRtt.has(p.pn) ? (requeued.push(p.pn), true) : false), 1);
  assert.equal(n, 2);
  assert.deepEqual(requeued, [0, 1]);
  assert.equal(ld.bytesInFlight, 0);
  assert.deepEqual(rec.lost, []);
  assert.equal(ld.cc.congestionEvents, 0);
});

test("LossDetection.resetForRetry hands every packet back and restarts congestion control (RFC 9002 section 6.3)", () => {
  const { ld, rec } = setup({ isServer: false });
  send(ld, Initial, 0, 0);
  send(ld, App, 0, 0); // 0-RTT
  ld.resetForRetry(50, 50);
  assert.deepEqual(rec.lostSpaces, [Initial, App]);
  assert.equal(ld.stats.packetsLost, 0);
  assert.equal(ld.bytesInFlight, 0);
  assert.equal(ld.rtt.smoothedRtt, 50);
  send(ld, Initial, 1, 51); // packet numbers continue
  assert.equal(ld.largestSent(Initial), 1);
});

test("LossDetection tells the ACK tracker when our ACK frames are acknowledged (RFC 9000 section 13.2.4)", () => {
  const { ld } = setup();
  const tracker = new AckTracker(App);
  ld.attachAckTracker(App, tracker);
  for (let pn = 0; pn < 10; pn++) tracker.onPacketReceived(pn, true, pn);
  const p = new SentPacket(0, 10, 100, true, true, "ack+ping");
  p.ackLargest = tracker.largestReceived;
  ld.onPacketSent(App, p);
  tracker.onAckSent();
  assert.equal(tracker.ackRangeCount, 1);
  ld.onAckReceived(App, [0, 0], 0, null, 20);
  assert.equal(tracker.ackRangeCount, 0);
});

test("LossDetection.onAckFrame decodes the ACK Delay with the peer's exponent", () => {
  const { ld } = setup();
  ld.onHandshakeConfirmed(0);
  send(ld, App, 0, 0);
  send(ld, App, 1, 0);
  ld.onAckFrame(App, { type: "ack", largest: 0, ackDelay: 0, ranges: [0, 0], ecn: null }, 3, 100);
  ld.onAckFrame(App, { type: "ack", largest: 1, ackDelay: 1250, ranges: [1, 0], ecn: null }, 3, 150); // 10 ms
  assert.equal(ld.rtt.smoothedRtt, 0.875 * 100 + 0.125 * 140);
});

test("LossDetection: ECN-CE increase is a congestion event; stripped marks fail validation (RFC 9002 section 7.1, RFC 9000 section 13.4.2)", () => {
  const { ld } = setup();
  const mark = (pn: number, t: number) => {
    const p = new SentPacket(pn, t, 1200, true, true, "");
    p.ecn = Ecn.Ect0;
    ld.onPacketSent(App, p);
  };
  for (let pn = 0; pn < 4; pn++) mark(pn, 0);
  const before = ld.congestionWindow;
  ld.onAckReceived(App, [1, 0], 0, { ect0: 2, ect1: 0, ce: 0 }, 10);
  assert.equal(ld.congestionWindow, before + 2400); // slow start
  mark(4, 11);
  ld.onAckReceived(App, [2, 0], 0, { ect0: 2, ect1: 0, ce: 1 }, 20);
  assert.equal(ld.stats.ecnCeEvents, 1);
  assert.equal(ld.cc.congestionEvents, 1);
  assert.equal(ld.ecnFailed, false);
  ld.onAckReceived(App, [4, 0], 0, null, 30); // ECT(0) packets acknowledged without counts
  assert.equal(ld.ecnFailed, true);
});

test("LossDetection: persistent congestion as in RFC 9002 section 7.6.3 collapses the window to the minimum", () => {
  // Time unit u = 200 ms. A first RTT sample of 100 ms with max_ack_delay 100 gives a PTO period near 2u.
  const u = 200;
  const { ld, rec } = setup({ peerMaxAckDelay: 100 });
  send(ld, App, 0, 0);
  ld.onAckReceived(App, [0, 0], 0, null, 100); // first RTT sample: 100
  const T = (x: number) => 200 + x * u;
  send(ld, App, 1, T(0));
  send(ld, App, 2, T(1));
  ld.onAckReceived(App, [1, 1], 140, null, T(1.2)); // RTT 240, ack delay 140: adjusted 100
  for (let pn = 3; pn <= 7; pn++) send(ld, App, pn, T(pn - 1));
  send(ld, App, 8, T(8)); // PTO 1
  send(ld, App, 9, T(12)); // PTO 2
  assert.equal(ld.congestionWindow, 12000 + 2400);
  ld.onAckReceived(App, [9, 9], 0, null, T(12.2));
  assert.deepEqual(rec.lost, [2, 3, 4, 5, 6, 7, 8]);
  assert.equal(ld.stats.persistentCongestions, 1);
  // Minimum window, then slow start again: the ACK of packet 9 (processed after the losses, Appendix B) adds 1200.
  assert.equal(ld.congestionWindow, 2400 + 1200);
  assert.equal(ld.cc.inSlowStart, true);
  assert.equal(ld.rtt.minRtt, ld.rtt.latestRtt); // min_rtt restarts (RFC 9002 section 5.2)
});

test("LossDetection: an acknowledgement in another space between the lost packets rules out persistent congestion", () => {
  const u = 200;
  const { ld, rec } = setup({ peerMaxAckDelay: 100 });
  send(ld, App, 0, 0);
  ld.onAckReceived(App, [0, 0], 0, null, 100);
  const T = (x: number) => 200 + x * u;
  send(ld, App, 1, T(0));
  send(ld, App, 2, T(1));
  ld.onAckReceived(App, [1, 1], 140, null, T(1.2));
  for (let pn = 3; pn <= 7; pn++) {
    send(ld, App, pn, T(pn - 1));
    if (pn === 5) send(ld, Handshake, 0, T(4.5));
  }
  ld.onAckReceived(Handshake, [0, 0], 0, null, T(4.6));
  send(ld, App, 8, T(8));
  send(ld, App, 9, T(12));
  ld.onAckReceived(App, [9, 9], 0, null, T(12.2));
  assert.deepEqual(rec.lost, [2, 3, 4, 5, 6, 7, 8]);
  assert.equal(ld.stats.persistentCongestions, 0);
  assert.ok(ld.congestionWindow > 2400);
});

test("LossDetection: no persistent congestion from packets sent before the first RTT sample (RFC 9002 section 7.6.2)", () => {
  const { ld } = setup({ peerMaxAckDelay: 0 });
  for (let pn = 0; pn < 8; pn++) send(ld, App, pn, pn * 1000);
  send(ld, App, 8, 8000);
  ld.onAckReceived(App, [8, 8], 0, null, 8010);
  assert.equal(ld.stats.packetsLost, 8);
  assert.equal(ld.stats.persistentCongestions, 0);
});

test("LossDetection statistics snapshot", () => {
  const { ld } = setup({ congestionControl: "cubic" });
  send(ld, App, 0, 0);
  ld.onAckReceived(App, [0, 0], 0, null, 30);
  const s = ld.getStats();
  assert.equal(s.congestionControl, "cubic");
  assert.equal(s.smoothedRtt, 30);
  assert.equal(s.minRtt, 30);
  assert.equal(s.rttVar, 15);
  assert.equal(s.packetsSent, 1);
  assert.equal(s.packetsAcked, 1);
  assert.equal(s.bytesInFlight, 0);
  assert.equal(s.cwnd, 13200);
  assert.equal(ld.ptoPeriod(), 30 + 60 + 25);
});

test("LossDetection.ptoSpace names the space whose PTO fired even after the timer re-arms for another", () => {
  const { ld } = setup();
  send(ld, Initial, 0, 0);
  send(ld, Handshake, 0, 10);
  assert.equal(ld.onLossDetectionTimeout(999), TimeoutAction.Probe);
  send(ld, Initial, 1, 999); // the probe
  assert.equal(ld.lossDetectionDeadline, 10 + 2 * 999); // now the Handshake PTO is the earliest
  assert.equal(ld.ptoSpace, Initial);
});

test("LossDetection.shouldElicitAck asks for a PING when only ACK-only packets are outstanding (RFC 9000 section 13.2.4)", () => {
  const { ld, rec } = setup();
  ld.onHandshakeConfirmed(0);
  send(ld, App, 0, 0, 40, false);
  send(ld, App, 1, 10, 40, false);
  assert.equal(ld.lossDetectionDeadline, Infinity); // nothing ack-eliciting: no timer
  assert.equal(ld.shouldElicitAck(App, 332), false);
  assert.equal(ld.shouldElicitAck(App, 333), true); // one (initial) smoothed RTT after the oldest
  send(ld, App, 2, 333); // ACK + PING
  assert.equal(ld.shouldElicitAck(App, 400), false);
  for (let pn = 3; pn < 6; pn++) send(ld, App, pn, 340 + pn, 40, false);
  ld.onAckReceived(App, [5, 2], 0, null, 400);
  // Old ACK-only records are cleared by the packet threshold; their "loss" carries no congestion signal.
  assert.deepEqual(rec.lost, [0, 1]);
  assert.equal(ld.cc.congestionEvents, 0);
  assert.equal(ld.outstanding(App), 0);
});
