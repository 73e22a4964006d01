import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RecvState, RecvStream, ReceiveWindow, RECV_MIN_CHUNK_LIMIT } from "../../../src/quic/stream/index.js";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import { bytes } from "./pair.js";

const runs = Number(process.env.FUZZ_RUNS ?? 500);

function readAll(r: RecvStream, max?: number): { data: Uint8Array; fin: boolean } {
  const parts: Uint8Array[] = [];
  let fin = false;
  for (let res = r.read(max); res; res = r.read(max)) {
    parts.push(res.data);
    if (res.fin) {
      fin = true;
      break;
    }
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return { data: out, fin };
}

function throwsCode(fn: () => void, code: number): void {
  assert.throws(fn, (e: unknown) => e instanceof QuicTransportError && e.errorCode === code);
}

test("reassembly in random order with overlaps and duplicates reproduces the exact bytes", () => {
  const segment = fc.tuple(fc.nat(1999), fc.integer({ min: 0, max: 300 }));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2000 }),
      fc.array(segment, { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 80 }),
      fc.integer({ min: 1, max: 700 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      (len, extra, order, readMax, seed) => {
        const src = bytes(len, seed);
        // A covering split into frames, plus random overlapping extra segments.
        const frames: Array<[number, number]> = [];
        for (let o = 0; o < len; ) {
          const n = Math.min(len - o, 1 + ((o * 7 + seed) % 400));
          frames.push([o, n]);
          o += n;
        }
        for (const [s, n] of extra) if (s < len) frames.push([s, Math.min(n, len - s)]);
        frames.push([len, 0]); // FIN-only frame; the last data frame also carries FIN below
        // Shuffle (Fisher-Yates driven by `order`) and duplicate some.
        for (let i = frames.length - 1; i > 0; i--) {
          const j = (order[i % Math.max(1, order.length)] ?? i) % (i + 1);
          [frames[i], frames[j]] = [frames[j]!, frames[i]!];
        }
        for (let i = 0; i < order.length % 5; i++) frames.push(frames[i % frames.length]!);
        const r = new RecvStream(0, len, len);
        const got: Uint8Array[] = [];
        let fin = false;
        for (const [i, [s, n]] of frames.entries()) {
          r.onData(s, src.subarray(s, s + n), s + n === len);
          if (i % 3 === 0) {
            for (let res = r.read(readMax); res; res = r.read(readMax)) {
              got.push(res.data);
              fin ||= res.fin;
            }
          }
        }
        assert.equal(r.state === RecvState.DataRecvd || r.state === RecvState.DataRead, true);
        const rest = readAll(r, readMax);
        got.push(rest.data);
        fin ||= rest.fin;
        assert.ok(fin, "FIN delivered");
        assert.equal(r.state, RecvState.DataRead);
        assert.deepEqual(Buffer.concat(got), Buffer.from(src));
        assert.equal(r.bufferedBytes, 0);
        assert.equal(r.read(), null);
      },
    ),
    { numRuns: runs },
  );
});

test("states: Recv, Size Known, Data Recvd, Data Read", () => {
  const r = new RecvStream(0, 100, 100);
  assert.equal(r.state, RecvState.Recv);
  r.onData(5, new Uint8Array(5), true);
  assert.equal(r.state, RecvState.SizeKnown);
  assert.equal(r.read(), null, "gap at 0");
  r.onData(0, new Uint8Array(5), false);
  assert.equal(r.state, RecvState.DataRecvd);
  const res = r.read(7)!;
  assert.equal(res.data.length, 5, "one chunk per read");
  assert.equal(res.fin, false);
  const res2 = r.read()!;
  assert.equal(res2.data.length, 5);
  assert.equal(res2.fin, true);
  assert.equal(r.state, RecvState.DataRead);
});

test("empty stream with FIN reads as an empty FIN", () => {
  const r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(0), true);
  assert.equal(r.readable, true);
  assert.deepEqual(r.read(), { data: new Uint8Array(0), fin: true });
  assert.equal(r.state, RecvState.DataRead);
});

test("final size errors (RFC 9000 section 4.5)", () => {
  // changed final size
  let r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(10), true);
  throwsCode(() => r.onData(0, new Uint8Array(12), true), TransportErrorCode.FINAL_SIZE_ERROR);
  throwsCode(() => r.onData(0, new Uint8Array(8), true), TransportErrorCode.FINAL_SIZE_ERROR);
  // data beyond the final size
  throwsCode(() => r.onData(10, new Uint8Array(1), false), TransportErrorCode.FINAL_SIZE_ERROR);
  // same final size again is fine
  r.onData(5, new Uint8Array(5), true);
  // final size below data already received
  r = new RecvStream(0, 100, 100);
  r.onData(20, new Uint8Array(10), false);
  throwsCode(() => r.onData(0, new Uint8Array(10), true), TransportErrorCode.FINAL_SIZE_ERROR);
  // RESET_STREAM with a different or too small final size
  r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(10), true);
  throwsCode(() => r.onReset(1, 11), TransportErrorCode.FINAL_SIZE_ERROR);
  r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(30), false);
  throwsCode(() => r.onReset(1, 29), TransportErrorCode.FINAL_SIZE_ERROR);
  // after a reset, data beyond the final size is still an error
  r = new RecvStream(0, 100, 100);
  r.onReset(1, 10);
  throwsCode(() => r.onData(10, new Uint8Array(1), false), TransportErrorCode.FINAL_SIZE_ERROR);
});

test("stream flow control: data or final size beyond MAX_STREAM_DATA is FLOW_CONTROL_ERROR", () => {
  const r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(100), false);
  throwsCode(() => r.onData(100, new Uint8Array(1), false), TransportErrorCode.FLOW_CONTROL_ERROR);
  throwsCode(() => r.onReset(0, 101), TransportErrorCode.FLOW_CONTROL_ERROR);
  const r2 = new RecvStream(0, 100, 100);
  throwsCode(() => r2.onData(2 ** 62 - 10, new Uint8Array(20), false), TransportErrorCode.FRAME_ENCODING_ERROR);
});

test("RESET_STREAM discards data, surfaces the code, accounts the final size", () => {
  const r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(10), false);
  r.onData(20, new Uint8Array(10), false);
  assert.equal(r.bufferedBytes, 20);
  assert.equal(r.onReset(7, 50), true);
  assert.equal(r.state, RecvState.ResetRecvd);
  assert.equal(r.resetErrorCode, 7);
  assert.equal(r.bufferedBytes, 0);
  assert.equal(r.highestOffset, 50);
  assert.equal(r.consumedOffset, 50, "discarded bytes return their credit");
  assert.equal(r.read(), null);
  assert.equal(r.onReset(7, 50), false, "duplicate reset");
  r.onData(30, new Uint8Array(5), false); // late data below the final size: ignored
  assert.equal(r.bufferedBytes, 0);
  r.onResetDelivered();
  assert.equal(r.state, RecvState.ResetRead);
});

test("RESET_STREAM in Data Recvd is ignored: the data is delivered", () => {
  const r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array([1, 2, 3]), true);
  assert.equal(r.onReset(9, 3), false);
  assert.equal(r.state, RecvState.DataRecvd);
  assert.deepEqual(r.read(), { data: new Uint8Array([1, 2, 3]), fin: true });
});

test("stopReading discards data, asks for STOP_SENDING, keeps counting", () => {
  const r = new RecvStream(0, 100, 100);
  r.onData(0, new Uint8Array(10), false);
  assert.equal(r.stopReading(3), true);
  assert.equal(r.stopSendingNeeded, true);
  assert.equal(r.bufferedBytes, 0);
  assert.equal(r.consumedOffset, 10);
  r.onData(10, new Uint8Array(40), false);
  assert.equal(r.consumedOffset, 50);
  throwsCode(() => r.onData(60, new Uint8Array(41), false), TransportErrorCode.FLOW_CONTROL_ERROR);
  r.onReset(0, 60);
  assert.equal(r.stopSendingNeeded, false);
  // In Data Recvd no STOP_SENDING is needed and the stream is done.
  const r2 = new RecvStream(0, 100, 100);
  r2.onData(0, new Uint8Array(5), true);
  assert.equal(r2.stopReading(3), false);
  assert.equal(r2.state, RecvState.DataRead);
});

test("credit: MAX_STREAM_DATA is due after half the window is read; only in Recv", () => {
  const r = new RecvStream(0, 1000, 1000);
  r.onData(0, new Uint8Array(1000), false);
  r.read(400);
  assert.equal(r.needsCreditUpdate(), false);
  r.read(101);
  assert.equal(r.needsCreditUpdate(), true);
  assert.equal(r.credit.update(r.readBytes, 0, 10), 1501);
  assert.equal(r.needsCreditUpdate(), false);
  r.onData(1000, new Uint8Array(10), true);
  r.read();
  r.read();
  assert.equal(r.needsCreditUpdate(), false, "Size Known: no more credit");
});

test("auto-tuning doubles the window when updates come faster than 2 RTTs, up to the maximum", () => {
  const w = new ReceiveWindow(1000, 8000);
  let consumed = 0;
  let now = 0;
  const rtt = 50;
  const sizes: number[] = [];
  for (let i = 0; i < 10; i++) {
    consumed = w.limit - Math.floor(w.window / 2) + 1; // just past half the window
    assert.ok(w.needsUpdate(consumed));
    w.update(consumed, now, rtt);
    sizes.push(w.window);
    now += 20; // faster than 2 RTTs
  }
  assert.deepEqual(sizes, [1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000, 8000]);
  // Slow consumption does not grow it.
  const slow = new ReceiveWindow(1000, 8000);
  slow.update(600, 0, rtt);
  slow.update(1200, 1000, rtt);
  assert.equal(slow.window, 1000);
});

test("memory bound: gapped one-byte frames neither pin packet buffers nor exceed the window", () => {
  const window = 64 * 1024;
  const r = new RecvStream(0, window, window);
  for (let i = 0; i < RECV_MIN_CHUNK_LIMIT; i++) {
    const packet = new Uint8Array(1500); // each frame is a view into its own packet buffer
    r.onData(2 * i + 1, packet.subarray(100, 101), false);
  }
  assert.equal(r.bufferedBytes, RECV_MIN_CHUNK_LIMIT);
  assert.ok(r.retainedBytes() <= RECV_MIN_CHUNK_LIMIT * 64, `retained ${r.retainedBytes()}`);
  // More fragments than the cap: refused (RFC 9000 section 21.7).
  throwsCode(() => r.onData(window - 3, new Uint8Array(1), false), TransportErrorCode.PROTOCOL_VIOLATION);
  // Beyond the window: flow-control error, nothing stored.
  const r2 = new RecvStream(0, window, window);
  throwsCode(() => r2.onData(window, new Uint8Array(1), false), TransportErrorCode.FLOW_CONTROL_ERROR);
  assert.equal(r2.bufferedBytes, 0);
});

test("memory: large frames are kept as views; small contiguous frames are coalesced", () => {
  const r = new RecvStream(0, 1 << 20, 1 << 20);
  const packet = new Uint8Array(1300);
  r.onData(0, packet.subarray(50, 1250), false);
  assert.equal(r.retainedBytes(), 1300, "view of the packet buffer, no copy");
  const small = new RecvStream(0, 1 << 20, 1 << 20);
  const src = bytes(10000, 3);
  for (let o = 0; o < 10000; o += 10) small.onData(o, src.slice(o, o + 10), false);
  assert.ok(small.chunkCount <= 4, `chunks ${small.chunkCount}`);
  assert.ok(small.retainedBytes() <= 3 * 4096);
  assert.deepEqual(readAll(small).data, src);
});

test("fragmentation cap counts gaps, not frames: 5,000 one-byte frames in reverse order are accepted", () => {
  const n = 5000;
  const src = bytes(n, 9);
  const r = new RecvStream(0, 64 * 1024, 64 * 1024);
  for (let o = n - 1; o >= 0; o--) r.onData(o, src.slice(o, o + 1), o === n - 1);
  assert.ok(r.chunkCount <= RECV_MIN_CHUNK_LIMIT);
  assert.deepEqual(readAll(r).data, src);
});
