import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RecvStream, SendState, SendStream, StreamUsageError, type SendChunk } from "../../../src/quic/stream/index.js";
import { bytes } from "./pair.js";

const runs = Number(process.env.FUZZ_RUNS ?? 500);

test("emission respects maxBytes, MAX_STREAM_DATA and connection credit, and returns views", () => {
  const s = new SendStream(0, 100, 1 << 20);
  const a = bytes(80, 1);
  const b = bytes(80, 2);
  s.write(a);
  s.write(b);
  assert.equal(s.state, SendState.Ready);
  const c1 = s.nextChunk(50, 1000)!;
  assert.equal(c1.offset, 0);
  assert.equal(c1.data.length, 50);
  assert.equal(c1.data.buffer, a.buffer, "view, not a copy");
  assert.equal(s.state, SendState.Send);
  const c2 = s.nextChunk(1000, 20)!; // connection credit limits
  assert.deepEqual([c2.offset, c2.data.length], [50, 20]);
  const c3 = s.nextChunk(1000, 1000)!; // stream limit (100) limits; spans two chunks -> copy
  assert.deepEqual([c3.offset, c3.data.length], [70, 30]);
  assert.deepEqual(Array.from(c3.data), [...a.subarray(70), ...b.subarray(0, 20)]);
  assert.equal(s.nextChunk(1000, 1000), null, "blocked by MAX_STREAM_DATA");
  assert.equal(s.blockedLimit, 100, "STREAM_DATA_BLOCKED due");
  s.onBlockedSent(100);
  assert.equal(s.blockedLimit, undefined, "once per limit");
  assert.ok(s.setMaxStreamData(1000));
  assert.equal(s.setMaxStreamData(500), false, "smaller limits ignored");
  s.finish();
  const c4 = s.nextChunk(1000, 1000)!;
  assert.deepEqual([c4.offset, c4.data.length, c4.fin], [100, 60, true]);
  assert.equal(s.state, SendState.DataSent);
  assert.throws(() => s.write(new Uint8Array(1)), StreamUsageError);
});

test("lost ranges are sent again ahead of new data; acknowledged bytes are released", () => {
  const s = new SendStream(0, 1 << 20, 1 << 20);
  s.write(bytes(1000));
  const sent: SendChunk[] = [];
  for (let i = 0; i < 5; i++) sent.push(s.nextChunk(100, 1 << 20)!);
  assert.equal(s.bufferedBytes, 1000);
  s.onAcked(0, 100, false);
  assert.equal(s.bufferedBytes, 900, "prefix released");
  s.onAcked(200, 100, false);
  assert.equal(s.bufferedBytes, 900, "out-of-order ack waits for the gap");
  s.onLost(100, 100, false);
  s.onLost(300, 100, false);
  s.onAcked(350, 50, false); // a late ack of part of a lost range
  const r1 = s.nextChunk(1000, 1 << 20)!;
  assert.deepEqual([r1.offset, r1.data.length], [100, 100], "retransmission first");
  const r2 = s.nextChunk(1000, 0)!;
  assert.deepEqual([r2.offset, r2.data.length], [300, 50], "needs no connection credit; acked part skipped");
  const n = s.nextChunk(1000, 1 << 20)!;
  assert.equal(n.offset, 500, "then new data");
  s.onAcked(100, 100, false);
  s.onAcked(300, 50, false);
  s.onAcked(400, 100, false);
  assert.equal(s.bufferedBytes, 500);
  assert.equal(s.ackedOffset, 500);
});

test("FIN: empty FIN frame, lost FIN resent, Data Recvd after everything is acknowledged", () => {
  const s = new SendStream(0, 1 << 20, 1 << 20);
  s.write(new Uint8Array(10));
  const c = s.nextChunk(100, 100)!;
  assert.equal(c.fin, false);
  s.finish();
  const f = s.nextChunk(100, 0)!;
  assert.deepEqual([f.offset, f.data.length, f.fin], [10, 0, true]);
  assert.equal(s.state, SendState.DataSent);
  s.onLost(10, 0, true);
  assert.ok(s.hasRetransmit);
  const f2 = s.nextChunk(100, 0)!;
  assert.deepEqual([f2.offset, f2.data.length, f2.fin], [10, 0, true]);
  s.onAcked(10, 0, true);
  assert.equal(s.state, SendState.DataSent, "data not yet acknowledged");
  s.onAcked(0, 10, false);
  assert.equal(s.state, SendState.DataRecvd);
  assert.equal(s.bufferedBytes, 0);
  s.onLost(0, 10, false); // late loss report: ignored
  assert.equal(s.nextChunk(100, 100), null);
});

test("reset: final size is what was sent, buffers freed, nothing sent after", () => {
  const s = new SendStream(0, 1 << 20, 1 << 20);
  s.write(new Uint8Array(500));
  s.nextChunk(200, 1 << 20);
  s.onLost(0, 200, false);
  assert.equal(s.reset(42), true);
  assert.equal(s.state, SendState.ResetSent);
  assert.deepEqual(s.resetFrame, { errorCode: 42, finalSize: 200 });
  assert.equal(s.bufferedBytes, 0);
  assert.equal(s.nextChunk(1000, 1000), null);
  assert.equal(s.hasRetransmit, false);
  assert.equal(s.reset(1), false, "already reset");
  assert.throws(() => s.write(new Uint8Array(1)), StreamUsageError);
  s.onResetAcked();
  assert.equal(s.state, SendState.ResetRecvd);
  assert.equal(s.terminal, true);
  // Data Recvd cannot be reset.
  const t = new SendStream(0, 100, 100);
  t.write(new Uint8Array(1), true);
  t.nextChunk(10, 10);
  t.onAcked(0, 1, true);
  assert.equal(t.reset(1), false);
});

test("backpressure: write reports the high-water mark, writable once below half", () => {
  const s = new SendStream(0, 1 << 20, 1000);
  assert.equal(s.write(new Uint8Array(600)), true);
  assert.equal(s.write(new Uint8Array(600)), false);
  assert.equal(s.takeWritable(), false);
  s.nextChunk(1200, 1 << 20);
  s.onAcked(0, 600, false);
  assert.equal(s.bufferedBytes, 600);
  assert.equal(s.takeWritable(), false, "still above half");
  s.onAcked(600, 200, false);
  assert.equal(s.takeWritable(), true);
  assert.equal(s.takeWritable(), false, "signalled once");
});

test("random loss, acks and chunk sizes: the receiver gets the exact bytes, memory returns to zero", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 1, maxLength: 50 }),
      fc.integer({ min: 1, max: 400 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      (writes, dice, frameMax, seed) => {
        const total = writes.reduce((a, b) => a + b, 0);
        const src = bytes(total, seed);
        const s = new SendStream(4, 0, 1 << 20);
        const r = new RecvStream(4, total, total);
        let o = 0;
        for (const w of writes) {
          s.write(src.subarray(o, o + w));
          o += w;
        }
        s.finish();
        let roll = 0;
        const die = () => dice[roll++ % dice.length]!;
        const inflight: SendChunk[] = [];
        for (let step = 0; step < 100000 && s.state !== SendState.DataRecvd; step++) {
          // The peer's credit arrives in steps.
          if (step % 3 === 0) s.setMaxStreamData(Math.min(total, s.maxStreamData + 500));
          const c = s.nextChunk(frameMax, 1 << 30);
          if (c) inflight.push(c);
          if (inflight.length > 0 && (c === null || die() < 40)) {
            const k = die() % inflight.length;
            const f = inflight.splice(k, 1)[0]!;
            if (die() < 30 && step < 2000) s.onLost(f.offset, f.data.length, f.fin);
            else {
              r.onData(f.offset, f.data.slice(), f.fin);
              s.onAcked(f.offset, f.data.length, f.fin);
            }
          }
          assert.ok(s.bufferedBytes <= total);
        }
        assert.equal(s.state, SendState.DataRecvd);
        assert.equal(s.bufferedBytes, 0);
        const parts: Uint8Array[] = [];
        let fin = false;
        for (let res = r.read(); res; res = r.read()) (parts.push(res.data), (fin ||= res.fin));
        assert.ok(fin);
        assert.deepEqual(Buffer.concat(parts), Buffer.from(src));
      },
    ),
    { numRuns: runs },
  );
});
