import { test } from "node:test";
import assert from "node:assert/strict";
import { establish, makePair, transfer } from "./harness.js";

test("statistics after a transfer with loss: RTT, window, bytes, packets, losses, retransmissions and handshake duration are plausible", () => {
  const cond = { delay: 10, loss: 0.05 };
  const p = makePair({ aToB: cond, bToA: cond, seed: 8 });
  const server = establish(p, 10_000);
  const size = 2 * 1024 * 1024;
  const r = transfer(p, server, { streams: 2, bytesPerStream: size / 2 });
  assert.ok(r.completed && r.intact);
  // Let the last ACKs arrive.
  p.link.run(() => false, 1_000);
  const c = p.conn.stats();
  const s = server.stats();

  // RTT (RFC 9002 section 5): the path's round trip is 20 ms plus at most max_ack_delay.
  assert.equal(c.minRtt, 20);
  assert.ok(c.latestRtt >= 20 && c.latestRtt <= 20 + 25 + 1, `latest RTT ${c.latestRtt}`);
  assert.ok(c.smoothedRtt >= 20 && c.smoothedRtt < 60, `smoothed RTT ${c.smoothedRtt}`);
  assert.ok(c.rttVariance >= 0 && c.rttVariance < 30, `RTT variance ${c.rttVariance}`);
  assert.ok(s.minRtt >= 20 && s.smoothedRtt < 100);

  // Window and flight (RFC 9002 section 7): never below the minimum window; nothing left in flight once all is acknowledged.
  assert.ok(c.congestionWindow >= 2 * 1200, `cwnd ${c.congestionWindow}`);
  assert.ok(c.congestionEvents > 0, "5% loss caused no congestion event");
  assert.equal(c.bytesInFlight, 0);

  // Bytes and packets agree with what the link carried.
  assert.equal(s.bytesReceived, p.link.stats[0].deliveredBytes);
  assert.equal(c.bytesReceived, p.link.stats[1].deliveredBytes);
  assert.ok(c.bytesSent > size && c.bytesSent <= p.link.stats[0].sentBytes, `client sent ${c.bytesSent}, link saw ${p.link.stats[0].sentBytes}`);
  assert.ok(c.packetsSent >= p.link.stats[0].sent, "fewer packets than datagrams");
  assert.ok(s.packetsReceived > 0 && s.packetsReceived <= c.packetsSent);

  // Losses and retransmissions: in the ballpark of what the link dropped.
  const dropped = p.link.stats[0].dropped;
  assert.ok(c.packetsLost > 0.5 * dropped && c.packetsLost < 2 * dropped, `lost ${c.packetsLost}, link dropped ${dropped}`);
  assert.ok(c.bytesLost > 0);
  assert.ok(c.retransmittedBytes > 0.5 * dropped * 1000, `retransmitted ${c.retransmittedBytes} bytes`);
  assert.ok(c.retransmittedBytes <= c.bytesLost);

  // Handshake duration: about one round trip for each side, unless a handshake packet was lost.
  for (const d of [c.handshakeDuration, s.handshakeDuration]) {
    assert.ok(d !== undefined && d >= 10 && d < 5_000, `handshake took ${d} ms`);
  }
});

test("handshake duration without loss is one round trip for the client and about one for the server", () => {
  const p = makePair({ aToB: { delay: 25 }, bToA: { delay: 25 } });
  const server = establish(p);
  assert.equal(p.conn.stats().handshakeDuration, 50);
  assert.equal(server.stats().handshakeDuration, 50);
  assert.equal(p.conn.stats().packetsLost, 0);
  assert.equal(p.conn.stats().retransmittedBytes, 0);
});
