import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CIPHER_SUITES } from "../../../src/crypto/suites.js";
import {
  HeaderProtectionBatch,
  LongPacketType,
  PacketProtection,
  patchLongHeaderLength,
  QUIC_V1,
  writeLongHeader,
  writeShortHeader,
} from "../../../src/quic/packet/index.js";
import type { Connection } from "../../../src/quic/connection.js";
import { Endpoint } from "../../../src/quic/endpoint.js";
import type { OutgoingDatagram, PathInfo, SansIo } from "../../../src/quic/types.js";
import { SimulatedLink } from "../../../src/testing/link.js";
import { establish, makePair, testConfigs } from "../harness.js";

const DCID = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]);

/** A packet of `size` bytes with random payload: a short header, or a Handshake long header when `long`. */
function packet(long: boolean, pn: number, size: number): { buf: Uint8Array; pnOffset: number; payloadEnd: number } {
  const buf = new Uint8Array(size + 16);
  const pnOffset = long ? writeLongHeader(buf, 0, QUIC_V1, LongPacketType.Handshake, DCID, DCID, undefined, pn, 2, 2) : writeShortHeader(buf, 0, DCID, pn, 2, 1);
  const payloadEnd = size;
  buf.set(randomBytes(payloadEnd - pnOffset - 2), pnOffset + 2);
  if (long) patchLongHeaderLength(buf, pnOffset, payloadEnd, 2);
  return { buf, pnOffset, payloadEnd };
}

for (const suite of CIPHER_SUITES) {
  test(`${suite.name}: batched header protection gives the same bytes as protect()`, () => {
    const secretA = new Uint8Array(randomBytes(suite.hashLength));
    const secretB = new Uint8Array(randomBytes(suite.hashLength));
    const a = PacketProtection.fromSecret(suite, secretA, QUIC_V1);
    const b = PacketProtection.fromSecret(suite, secretB, QUIC_V1);
    const batch = new HeaderProtectionBatch();
    const expected: Uint8Array[] = [];
    const deferred: Uint8Array[] = [];
    // Runs of two keys, long and short headers, more packets than the batch's first sample buffer holds.
    for (let i = 0; i < 150; i++) {
      const keys = i % 50 < 30 ? a : b;
      const p = packet(i % 7 === 0, 100 + i, 60 + ((i * 37) % 1300));
      const copy = p.buf.slice();
      const endA = keys.protect(copy, 0, p.pnOffset, 2, p.payloadEnd, 100 + i);
      const endB = keys.protectDeferred(p.buf, 0, p.pnOffset, 2, p.payloadEnd, 100 + i, batch);
      assert.equal(endB, endA);
      expected.push(copy.subarray(0, endA));
      deferred.push(p.buf.subarray(0, endB));
    }
    assert.equal(batch.pending, 150);
    // Before the flush the header is still in the clear: the packets must not leave yet.
    assert.notDeepEqual(deferred, expected);
    batch.flush();
    assert.equal(batch.pending, 0);
    assert.deepEqual(deferred, expected);
  });
}

/** Wraps an endpoint that batches header protection the way a driver does: each datagram is finished before it leaves. */
class FinishingDriver implements SansIo {
  constructor(readonly inner: Endpoint) {}
  recv(datagram: Uint8Array, path: PathInfo, now: number): void {
    this.inner.recv(datagram, path, now);
  }
  send(now: number): OutgoingDatagram | null {
    const d = this.inner.send(now);
    this.inner.finishSends();
    return d;
  }
  timeout(): number | undefined {
    return this.inner.timeout();
  }
  onTimeout(now: number): void {
    this.inner.onTimeout(now);
  }
}

test("endpoints that batch header protection complete a handshake and a transfer with plain ones", () => {
  const cfg = testConfigs();
  const client = new Endpoint({ config: cfg.client, batchHeaderProtection: true });
  const server = new Endpoint({ config: cfg.server });
  const link = new SimulatedLink(new FinishingDriver(client), server, { aToB: { delay: 5, loss: 0.02 }, bToA: { delay: 5, loss: 0.02 }, seed: 11 });
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now });
  assert.ok(link.run(() => conn.isEstablished, 5_000), "handshake did not complete");
  assert.ok(conn.headerProtectionBatch, "the client's connection should seal into the endpoint's batch");
  const s = conn.openStream(true)!;
  const data = new Uint8Array(randomBytes(300_000));
  conn.streamWrite(s.id, data, true);
  let got = 0;
  let fin = false;
  let sconn: Connection | undefined;
  assert.ok(
    link.run(() => {
      for (let e = server.poll(); e; e = server.poll()) sconn = e.connection;
      for (let e = sconn?.poll(); e; e = sconn!.poll()) {
        if (e.type !== "readable") continue;
        for (let r = sconn!.streamRead(e.streamId); r; r = sconn!.streamRead(e.streamId)) {
          assert.deepEqual(r.data, data.subarray(got, got + r.data.length));
          got += r.data.length;
          if (r.fin) fin = true;
        }
      }
      return fin;
    }, 30_000),
    "transfer did not complete",
  );
  assert.equal(got, data.length);
});

test("without a finish, a batching endpoint's datagrams are not yet readable by the peer", () => {
  const p = makePair();
  establish(p);
  // The pair's endpoints do not batch: their datagrams are complete when send() returns.
  assert.equal(p.conn.headerProtectionBatch, undefined);
  const cfg = testConfigs();
  const client = new Endpoint({ config: cfg.client, batchHeaderProtection: true });
  const server = new Endpoint({ config: cfg.server });
  // The client's send() without finishSends: the server cannot open its Initial.
  const conn = client.connect({ serverName: "localhost", remote: { address: "10.0.0.2", port: 443 }, now: 0 });
  const d = client.send(0)!;
  const unfinished = d.data.slice();
  server.recv(unfinished, { from: { address: "10.0.0.1", port: 40000 }, to: { address: "10.0.0.2", port: 443 } }, 0);
  assert.equal(server.connectionCount, 0, "an Initial without header protection must not authenticate");
  client.finishSends();
  server.recv(d.data, { from: { address: "10.0.0.1", port: 40000 }, to: { address: "10.0.0.2", port: 443 } }, 0);
  assert.equal(server.connectionCount, 1, "the finished Initial should be accepted");
  assert.ok(conn);
});
