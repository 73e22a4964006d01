import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteReader, toHex } from "../../../src/util/bytes.js";
import { RangeSet } from "../../../src/util/range-set.js";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import {
  ackFrameToRangeSet,
  ackRangesThatFit,
  ackFrameSizeForRanges,
  decodeFrames,
  encodeFrame,
  encodeFrames,
  frameSize,
  PacketType,
  parseFrame,
  putAckFrameForRanges,
  type AckFrame,
  type Frame,
} from "../../../src/quic/frames/index.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const packetTypes = [PacketType.Initial, PacketType.ZeroRtt, PacketType.Handshake, PacketType.OneRtt];
const frameCodes = new Set<number>([TransportErrorCode.FRAME_ENCODING_ERROR, TransportErrorCode.PROTOCOL_VIOLATION]);

/** Decoding may only produce frames or a QuicTransportError of a frame-level code. */
function decodeOrTransportError(bytes: Uint8Array, pt: PacketType, options?: { maxDatagramFrameSize?: number; ackFrequency?: boolean }): void {
  try {
    const frames = decodeFrames(bytes, pt, options);
    assert.ok(frames.length > 0);
  } catch (e) {
    if (!(e instanceof QuicTransportError)) throw e;
    assert.ok(frameCodes.has(e.errorCode), e.message);
  }
}

// Values across every varint size, kept to safe integers so that they round-trip exactly.
const varint = fc.oneof(
  fc.integer({ min: 0, max: 63 }),
  fc.integer({ min: 0, max: 16383 }),
  fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  fc.maxSafeNat(),
);
const smallVarint = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }));
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const streams = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(2 ** 60), fc.integer({ min: 0, max: 2 ** 60 }));

/** Descending inclusive [hi, lo] pairs with gaps of at least one packet, built upward from a base. */
const ackRanges = fc
  .tuple(smallVarint, fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70000 })), { minLength: 1, maxLength: 20 }))
  .map(([base, parts]) => {
    const asc: number[] = [];
    let lo = base;
    for (const [len, gap] of parts) {
      asc.push(lo, lo + len);
      lo = lo + len + gap + 2;
    }
    const ranges: number[] = [];
    for (let i = asc.length - 2; i >= 0; i -= 2) ranges.push(asc[i + 1]!, asc[i]!);
    return ranges;
  });

// fc.record builds null-prototype objects: copy into plain ones so deepStrictEqual compares like with like.
const ecn = fc.option(
  fc.record({ ect0: varint, ect1: varint, ce: varint }).map((r) => ({ ...r })),
  { nil: null },
);

/** Every valid frame the codec knows. */
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.integer({ min: 1, max: 50 }).map((length): Frame => ({ type: "padding", length })),
  fc.constant<Frame>({ type: "ping" }),
  fc.tuple(ackRanges, varint, ecn).map(([ranges, ackDelay, e]): Frame => ({ type: "ack", largest: ranges[0]!, ackDelay, ranges, ecn: e })),
  fc.record({ streamId: varint, errorCode: varint, finalSize: varint }).map((r): Frame => ({ type: "reset_stream", ...r })),
  fc.record({ streamId: varint, errorCode: varint }).map((r): Frame => ({ type: "stop_sending", ...r })),
  fc.record({ offset: varint, data: bytes(0, 40) }).map((r): Frame => ({ type: "crypto", ...r })),
  bytes(1, 40).map((token): Frame => ({ type: "new_token", token })),
  fc.record({ streamId: varint, offset: varint, data: bytes(0, 40), fin: fc.boolean() }).map((r): Frame => ({ type: "stream", ...r })),
  varint.map((maximum): Frame => ({ type: "max_data", maximum })),
  fc.record({ streamId: varint, maximum: varint }).map((r): Frame => ({ type: "max_stream_data", ...r })),
  fc.record({ bidi: fc.boolean(), maximum: streams }).map((r): Frame => ({ type: "max_streams", ...r })),
  varint.map((limit): Frame => ({ type: "data_blocked", limit })),
  fc.record({ streamId: varint, limit: varint }).map((r): Frame => ({ type: "stream_data_blocked", ...r })),
  fc.record({ bidi: fc.boolean(), limit: streams }).map((r): Frame => ({ type: "streams_blocked", ...r })),
  fc
    .record({ sequence: varint, back: varint, connectionId: bytes(1, 20), statelessResetToken: bytes(16, 16) })
    .map(({ sequence, back, connectionId, statelessResetToken }): Frame => ({
      type: "new_connection_id",
      sequence,
      retirePriorTo: Math.max(0, sequence - back),
      connectionId,
      statelessResetToken,
    })),
  varint.map((sequence): Frame => ({ type: "retire_connection_id", sequence })),
  bytes(8, 8).map((data): Frame => ({ type: "path_challenge", data })),
  bytes(8, 8).map((data): Frame => ({ type: "path_response", data })),
  fc
    .record({ application: fc.boolean(), errorCode: varint, frameType: varint, reason: bytes(0, 30) })
    .map((r): Frame => ({ type: "connection_close", ...r, frameType: r.application ? 0 : r.frameType })),
  fc.constant<Frame>({ type: "handshake_done" }),
  bytes(0, 40).map((data): Frame => ({ type: "datagram", data })),
  fc
    .record({ sequence: varint, ackElicitingThreshold: varint, requestMaxAckDelay: fc.integer({ min: 0, max: 2 ** 14 * 1000 - 1 }), reorderingThreshold: varint })
    .map((r): Frame => ({ type: "ack_frequency", ...r })),
  fc.constant<Frame>({ type: "immediate_ack" }),
);

/** Two adjacent PADDING frames decode as one run, so merge them before comparing. */
function normalize(frames: Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const f of frames) {
    const prev = out[out.length - 1];
    if (f.type === "padding" && prev?.type === "padding") out[out.length - 1] = { type: "padding", length: prev.length + f.length };
    else out.push(f);
  }
  return out;
}

test("random bytes decode to frames or a FRAME_ENCODING_ERROR / PROTOCOL_VIOLATION, in every packet type", () => {
  fc.assert(
    fc.property(bytes(0, 64), fc.constantFrom(...packetTypes), fc.boolean(), (b, pt, ext) => {
      decodeOrTransportError(b, pt, ext ? undefined : { maxDatagramFrameSize: 0, ackFrequency: false });
    }),
    { numRuns: RUNS },
  );
});

test("random bytes behind each valid frame type byte decode or fail with a transport error", () => {
  const types = [...Array(0x20).keys(), 0x30, 0x31];
  fc.assert(
    fc.property(fc.constantFrom(...types), bytes(0, 40), fc.constantFrom(...packetTypes), (t, tail, pt) => {
      const b = new Uint8Array(1 + tail.length);
      b[0] = t;
      b.set(tail, 1);
      decodeOrTransportError(b, pt);
    }),
    { numRuns: RUNS },
  );
});

test("mutated valid payloads (flipped, cut, inserted bytes) decode or fail with a transport error", () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  );
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom(...packetTypes), (frames, muts, pt) => {
      let b = Array.from(encodeFrames(frames));
      for (const m of muts) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.kind === "flip") b[at] = m.value;
        else if (m.kind === "cut") b = b.slice(0, at);
        else b.splice(at, 0, m.value);
      }
      decodeOrTransportError(new Uint8Array(b), pt);
    }),
    { numRuns: RUNS },
  );
});

test("decode(encode(frames)) gives the frames back, and re-encoding is byte-stable", () => {
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), (frames) => {
      const payload = encodeFrames(frames);
      const decoded = decodeFrames(payload, PacketType.OneRtt);
      assert.deepEqual(decoded, normalize(frames));
      assert.equal(toHex(encodeFrames(decoded)), toHex(payload));
      let size = 0;
      for (const f of frames) size += frameSize(f);
      assert.equal(size, payload.length);
    }),
    { numRuns: RUNS },
  );
});

test("a frame encoded as the last in its packet decodes to itself with parseFrame", () => {
  fc.assert(
    fc.property(frameArb, (f) => {
      const enc = encodeFrame(f, true);
      assert.equal(enc.length, frameSize(f, true));
      const r = new ByteReader(enc);
      assert.deepEqual(parseFrame(r), f);
      assert.ok(r.done);
    }),
    { numRuns: RUNS },
  );
});

test("ACK frames written from a RangeSet decode back to the same set, and fit where ackRangesThatFit says", () => {
  fc.assert(
    fc.property(ackRanges, varint, ecn, fc.integer({ min: 0, max: 300 }), (ranges, delay, e, space) => {
      const set = ackFrameToRangeSet({ type: "ack", largest: ranges[0]!, ackDelay: 0, ranges, ecn: null });
      const buf = new Uint8Array(ackFrameSizeForRanges(set, delay, e));
      assert.equal(putAckFrameForRanges(buf, 0, set, delay, e), buf.length);
      const [f] = decodeFrames(buf, PacketType.Handshake) as [AckFrame];
      assert.deepEqual(f.ranges, ranges);
      assert.deepEqual(f.ecn, e);
      assert.deepEqual(ackFrameToRangeSet(f).toArray(), set.toArray());
      const k = ackRangesThatFit(set, delay, e, space);
      if (k > 0) {
        assert.ok(ackFrameSizeForRanges(set, delay, e, k) <= space);
        const out = new Uint8Array(space);
        const end = putAckFrameForRanges(out, 0, set, delay, e, k);
        const [g] = decodeFrames(out.subarray(0, end), PacketType.OneRtt) as [AckFrame];
        assert.deepEqual(g.ranges, ranges.slice(0, 2 * k));
      }
      if (k < set.size) assert.ok(ackFrameSizeForRanges(set, delay, e, k + 1) > space);
      assert.ok(set instanceof RangeSet);
    }),
    { numRuns: RUNS },
  );
});
