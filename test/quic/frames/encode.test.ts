import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteWriter, fromHex, toHex } from "../../../src/util/bytes.js";
import { RangeSet } from "../../../src/util/range-set.js";
import {
  ackFrameFromRangeSet,
  ackFrameSizeForRanges,
  ackFrameToRangeSet,
  ackRangesThatFit,
  applicationCloseFrame,
  closeReasonText,
  cryptoFrameHeaderSize,
  datagramFrameSize,
  decodeAckDelay,
  decodeFrames,
  encodeAckDelay,
  encodeFrame,
  encodeFrames,
  frameSize,
  maxCryptoDataLength,
  maxDatagramDataLength,
  maxStreamDataLength,
  PacketType,
  putAckFrameForRanges,
  putCryptoFrame,
  putDatagramFrame,
  putFrame,
  putPadding,
  putStreamFrame,
  putStreamFrameHeader,
  streamFrameSize,
  transportCloseFrame,
  writeFrame,
  type Frame,
} from "../../../src/quic/frames/index.js";

const token = fromHex("000102030405060708090a0b0c0d0e0f");
const big = 2 ** 53 - 1;

/** One of every frame, with field values across the varint sizes. */
const samples: Frame[] = [
  { type: "padding", length: 7 },
  { type: "ping" },
  { type: "ack", largest: 1000, ackDelay: 20000, ranges: [1000, 990, 900, 900, 10, 0], ecn: null },
  { type: "ack", largest: big, ackDelay: 0, ranges: [big, big - 5], ecn: { ect0: 5, ect1: 70000, ce: 2 ** 31 } },
  { type: "reset_stream", streamId: 3, errorCode: 0x4000, finalSize: big },
  { type: "stop_sending", streamId: 2 ** 40, errorCode: 0 },
  { type: "crypto", offset: 70000, data: fromHex("0102") },
  { type: "new_token", token: fromHex("aa") },
  { type: "stream", streamId: 0, offset: 0, data: fromHex("68656c6c6f"), fin: false },
  { type: "stream", streamId: 7, offset: 123456, data: new Uint8Array(0), fin: true },
  { type: "max_data", maximum: big },
  { type: "max_stream_data", streamId: 1, maximum: 64 },
  { type: "max_streams", bidi: true, maximum: 2 ** 60 },
  { type: "max_streams", bidi: false, maximum: 0 },
  { type: "data_blocked", limit: 16384 },
  { type: "stream_data_blocked", streamId: 5, limit: 63 },
  { type: "streams_blocked", bidi: false, limit: 2 ** 60 },
  { type: "streams_blocked", bidi: true, limit: 1 },
  { type: "new_connection_id", sequence: 5, retirePriorTo: 5, connectionId: new Uint8Array(20).fill(9), statelessResetToken: token },
  { type: "retire_connection_id", sequence: 0 },
  { type: "path_challenge", data: fromHex("0102030405060708") },
  { type: "path_response", data: fromHex("0807060504030201") },
  transportCloseFrame(0x0a, "bad frame", 0x08),
  applicationCloseFrame(0x100, ""),
  { type: "handshake_done" },
  { type: "datagram", data: fromHex("cafe") },
  { type: "ack_frequency", sequence: 9, ackElicitingThreshold: 10, requestMaxAckDelay: 25000, reorderingThreshold: 0 },
  { type: "immediate_ack" },
];

test("every frame type round-trips through encodeFrame and decodeFrames", () => {
  for (const f of samples) {
    assert.deepEqual(decodeFrames(encodeFrame(f), PacketType.OneRtt), [f], f.type);
  }
});

test("every frame type round-trips as the last frame of a packet (STREAM/DATAGRAM without Length)", () => {
  for (const f of samples) {
    assert.deepEqual(decodeFrames(encodeFrame(f, true), PacketType.OneRtt), [f], f.type);
  }
  assert.equal(encodeFrame({ type: "datagram", data: fromHex("cafe") }, true)[0], 0x30);
  assert.equal(encodeFrame({ type: "stream", streamId: 0, offset: 0, data: fromHex("00"), fin: false }, true)[0], 0x08);
});

test("a whole payload of every frame type round-trips and frameSize matches each encoding", () => {
  const payload = encodeFrames(samples);
  assert.deepEqual(decodeFrames(payload, PacketType.OneRtt), samples);
  let total = 0;
  for (const f of samples) total += frameSize(f);
  assert.equal(total, payload.length);
});

test("putFrame writes at an offset, writeFrame appends to a ByteWriter, both equal encodeFrame", () => {
  const w = new ByteWriter(4);
  for (const f of samples) {
    const enc = encodeFrame(f);
    const buf = new Uint8Array(enc.length + 10).fill(0xee);
    assert.equal(putFrame(buf, 3, f), 3 + enc.length);
    assert.equal(toHex(buf.subarray(3, 3 + enc.length)), toHex(enc));
    assert.equal(buf[2], 0xee);
    assert.equal(buf[3 + enc.length], 0xee);
    writeFrame(w, f);
  }
  assert.equal(toHex(w.view()), toHex(encodeFrames(samples)));
});

test("putFrame refuses to write past the end of the buffer", () => {
  const f: Frame = { type: "max_data", maximum: 1024 };
  assert.throws(() => putFrame(new Uint8Array(2), 0, f), RangeError);
  assert.throws(() => putFrame(new Uint8Array(3), 1, f), RangeError);
  assert.equal(putFrame(new Uint8Array(3), 0, f), 3);
});

test("encoders reject values a peer would reject (RangeError)", () => {
  const bad: Frame[] = [
    { type: "new_token", token: new Uint8Array(0) },
    { type: "max_streams", bidi: true, maximum: 2 ** 60 + 2 ** 20 },
    { type: "new_connection_id", sequence: 1, retirePriorTo: 2, connectionId: fromHex("01"), statelessResetToken: token },
    { type: "new_connection_id", sequence: 1, retirePriorTo: 0, connectionId: new Uint8Array(0), statelessResetToken: token },
    { type: "new_connection_id", sequence: 1, retirePriorTo: 0, connectionId: new Uint8Array(21), statelessResetToken: token },
    { type: "new_connection_id", sequence: 1, retirePriorTo: 0, connectionId: fromHex("01"), statelessResetToken: token.subarray(1) },
    { type: "path_challenge", data: new Uint8Array(7) },
    { type: "ack", largest: 5, ackDelay: 0, ranges: [5, 3, 2, 0], ecn: null }, // no gap between ranges
    { type: "ack", largest: 5, ackDelay: 0, ranges: [5, 6], ecn: null },
    { type: "max_data", maximum: -1 },
    { type: "max_data", maximum: 1.5 },
    { type: "max_data", maximum: 2 ** 63 },
    { type: "padding", length: 0 },
  ];
  for (const f of bad) assert.throws(() => encodeFrame(f), RangeError, JSON.stringify(f));
});

test("a decoded 2^62-1 (read back as the double 2^62) re-encodes as the largest varint", () => {
  const bytes = fromHex("10 ffffffffffffffff");
  const [f] = decodeFrames(bytes, PacketType.OneRtt);
  assert.equal(toHex(encodeFrame(f!)), toHex(bytes));
});

test("CONNECTION_CLOSE builders carry the reason as UTF-8", () => {
  const f = transportCloseFrame(0x0a, "héllo", 0x1e);
  assert.equal(toHex(encodeFrame(f)), "1c0a1e06" + "68c3a96c6c6f");
  assert.equal(closeReasonText(f), "héllo");
  assert.equal(toHex(encodeFrame(applicationCloseFrame(3, "x"))), "1d030178");
});

// --- STREAM / CRYPTO / DATAGRAM helpers ----------------------------------------

test("putStreamFrameHeader writes the OFF/LEN/FIN bits and leaves room for the data", () => {
  const buf = new Uint8Array(32);
  const at = putStreamFrameHeader(buf, 1, 4, 1024, 3, true);
  assert.equal(toHex(buf.subarray(1, at)), "0f04440003");
  buf.set(fromHex("616263"), at);
  assert.deepEqual(decodeFrames(buf.subarray(1, at + 3), PacketType.OneRtt), [
    { type: "stream", streamId: 4, offset: 1024, data: fromHex("616263"), fin: true },
  ]);
  const end = putStreamFrame(buf, 0, 0, 0, fromHex("6869"), false, false);
  assert.equal(toHex(buf.subarray(0, end)), "08006869");
  assert.throws(() => putStreamFrame(new Uint8Array(4), 0, 0, 0, fromHex("6869"), false, true), RangeError);
});

test("maxStreamDataLength gives the largest STREAM payload that fits exactly", () => {
  for (const withLength of [true, false]) {
    for (const [id, off] of [[0, 0], [4, 1000], [2 ** 40, 2 ** 35]] as const) {
      for (let space = 0; space < 17000; space += space < 80 ? 1 : 97) {
        const n = maxStreamDataLength(space, id, off, withLength);
        if (n < 0) {
          assert.ok(streamFrameSize(id, off, 0, withLength) > space);
          continue;
        }
        assert.ok(streamFrameSize(id, off, n, withLength) <= space, `space ${space} n ${n}`);
        assert.ok(streamFrameSize(id, off, n + 1, withLength) > space, `space ${space}: ${n + 1} also fits`);
      }
    }
  }
  // Offsets near 2^62-1 cap the length.
  assert.equal(maxStreamDataLength(2000, 0, 2 ** 62 - 2 ** 10), 1023);
  assert.equal(maxStreamDataLength(2000, 0, 2 ** 62), 0); // a decoded 2^62-1
  assert.throws(() => putStreamFrameHeader(new Uint8Array(2000), 0, 0, 2 ** 62 - 2 ** 10, 1024, false), RangeError);
  assert.ok(putStreamFrameHeader(new Uint8Array(2000), 0, 0, 2 ** 62 - 2 ** 10, 1023, false) > 0);
});

test("CRYPTO and DATAGRAM size helpers match what the put functions write", () => {
  for (let space = 0; space < 300; space++) {
    const c = maxCryptoDataLength(space, 5000);
    if (c >= 0) {
      assert.ok(cryptoFrameHeaderSize(5000, c) + c <= space);
      assert.ok(cryptoFrameHeaderSize(5000, c + 1) + c + 1 > space);
      const buf = new Uint8Array(space);
      assert.ok(putCryptoFrame(buf, 0, 5000, new Uint8Array(c)) <= space);
    } else {
      assert.ok(cryptoFrameHeaderSize(5000, 0) > space);
    }
    for (const withLength of [true, false]) {
      const d = maxDatagramDataLength(space, withLength);
      if (d < 0) {
        assert.ok(datagramFrameSize(0, withLength) > space);
        continue;
      }
      assert.ok(datagramFrameSize(d, withLength) <= space);
      assert.ok(datagramFrameSize(d + 1, withLength) > space);
      assert.equal(putDatagramFrame(new Uint8Array(space), 0, new Uint8Array(d), withLength), datagramFrameSize(d, withLength));
    }
  }
});

test("putPadding fills zero bytes that decode as one PADDING run", () => {
  const buf = new Uint8Array(10).fill(1);
  assert.equal(putPadding(buf, 1, 9), 10);
  assert.deepEqual(decodeFrames(buf, PacketType.Initial), [{ type: "ping" }, { type: "padding", length: 9 }]);
});

// --- ACK from a RangeSet ---------------------------------------------------------

function setOf(...ranges: Array<[number, number]>): RangeSet {
  const s = new RangeSet();
  for (const [a, b] of ranges) s.add(a, b);
  return s;
}

test("putAckFrameForRanges writes the RFC 9000 19.3 layout from a RangeSet", () => {
  // Packets 2..5 and 8..10 received: largest 10, first range 2, gap 1, range length 3.
  const set = setOf([2, 6], [8, 11]);
  const buf = new Uint8Array(32);
  const end = putAckFrameForRanges(buf, 0, set, 0);
  assert.equal(toHex(buf.subarray(0, end)), "020a0001020103");
  assert.equal(ackFrameSizeForRanges(set, 0), end);
  const [f] = decodeFrames(buf.subarray(0, end), PacketType.OneRtt);
  assert.deepEqual(f, { type: "ack", largest: 10, ackDelay: 0, ranges: [10, 8, 5, 2], ecn: null });
  assert.deepEqual(ackFrameToRangeSet(f as never).toArray(), set.toArray());
  assert.deepEqual(ackFrameFromRangeSet(set, 0), f);
  // ACK_ECN.
  const ecn = { ect0: 1, ect1: 0, ce: 2 };
  const end2 = putAckFrameForRanges(buf, 0, set, 100, ecn);
  assert.equal(toHex(buf.subarray(0, end2)), "030a4064010201030100" + "02");
});

test("maxRanges keeps the highest ranges, and ackRangesThatFit sizes the ACK to the space left", () => {
  const set = new RangeSet();
  // 200 ranges of 1-7 packets with gaps between them.
  for (let i = 0; i < 200; i++) set.add(i * 10, i * 10 + 1 + (i % 7));
  const buf = new Uint8Array(2000);
  const end = putAckFrameForRanges(buf, 0, set, 5, null, 3);
  const [f] = decodeFrames(buf.subarray(0, end), PacketType.OneRtt);
  assert.deepEqual(ackFrameToRangeSet(f as never).toArray(), set.toArray().slice(-3));
  for (let space = 0; space < 700; space += 7) {
    const k = ackRangesThatFit(set, 5, null, space);
    if (k === 0) {
      assert.ok(ackFrameSizeForRanges(set, 5, null, 1) > space);
      continue;
    }
    assert.ok(ackFrameSizeForRanges(set, 5, null, k) <= space, `space ${space} k ${k}`);
    if (k < set.size) assert.ok(ackFrameSizeForRanges(set, 5, null, k + 1) > space);
  }
  assert.throws(() => putAckFrameForRanges(new Uint8Array(3), 0, set, 5), RangeError);
  assert.throws(() => ackFrameSizeForRanges(new RangeSet(), 0), RangeError);
});

test("ACK delay scales by 2^ack_delay_exponent (RFC 9000 19.3)", () => {
  assert.equal(encodeAckDelay(25000), 3125);
  assert.equal(encodeAckDelay(25007, 3), 3125);
  assert.equal(decodeAckDelay(3125), 25000);
  assert.equal(decodeAckDelay(1, 20), 2 ** 20);
});
