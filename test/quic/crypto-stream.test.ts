import { test } from "node:test";
import assert from "node:assert/strict";
import { CRYPTO_REORDER_LIMIT, CryptoReceiver, CryptoSender } from "../../src/quic/crypto-stream.js";
import { QuicTransportError, TransportErrorCode } from "../../src/quic/errors.js";
import { Prng } from "../../src/testing/prng.js";

test("CryptoReceiver delivers bytes in order exactly once whatever the order, overlap and repetition of frames", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rng = new Prng(seed);
    const data = rng.bytes(5_000);
    const r = new CryptoReceiver();
    const out: number[] = [];
    let delivered = 0;
    while (delivered < data.length) {
      const off = rng.int(data.length);
      const len = 1 + rng.int(600);
      const end = Math.min(data.length, off + len);
      for (const chunk of r.onData(off, data.subarray(off, end))) {
        for (const b of chunk) out.push(b);
        delivered += chunk.length;
      }
    }
    assert.equal(out.length, data.length, `seed ${seed}`);
    assert.deepEqual(Uint8Array.from(out), data);
    assert.equal(r.buffered, 0);
  }
});

test("CryptoReceiver refuses data too far ahead with CRYPTO_BUFFER_EXCEEDED (RFC 9000 section 7.5)", () => {
  const r = new CryptoReceiver();
  assert.throws(
    () => r.onData(CRYPTO_REORDER_LIMIT, new Uint8Array(10)),
    (e: unknown) => e instanceof QuicTransportError && e.errorCode === TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
  );
  assert.doesNotThrow(() => r.onData(CRYPTO_REORDER_LIMIT - 10, new Uint8Array(10)));
});

test("CryptoSender sends new data once, resends only the unacknowledged parts of lost ranges, and requeues all unacknowledged data for a probe", () => {
  const s = new CryptoSender();
  s.push(new Uint8Array(1000).fill(1));
  s.push(new Uint8Array(1000).fill(2));
  const a = s.next(700)!;
  const b = s.next(700)!;
  const c = s.next(700)!;
  assert.deepEqual([a.offset, a.data.length, b.offset, b.data.length, c.offset, c.data.length], [0, 700, 700, 700, 1400, 600]);
  assert.equal(c.data[599], 2);
  assert.equal(s.next(700), null);
  // 0-700 acknowledged, 300-1400 reported lost: only 700-1400 goes again.
  s.onAcked(0, 700);
  s.onLost(300, 1100);
  const again = s.next(5_000)!;
  assert.deepEqual([again.offset, again.data.length], [700, 700]);
  assert.equal(s.hasData, false);
  // A probe requeues everything sent and not acknowledged, skipping acknowledged holes.
  s.onAcked(1000, 200);
  s.requeueUnacked();
  const ranges: Array<[number, number]> = [];
  for (let r = s.next(5_000); r; r = s.next(5_000)) ranges.push([r.offset, r.offset + r.data.length]);
  assert.deepEqual(ranges, [
    [700, 1000],
    [1200, 2000],
  ]);
  s.onAcked(700, 300);
  s.onAcked(1200, 800);
  assert.equal(s.allAcked, true);
});
