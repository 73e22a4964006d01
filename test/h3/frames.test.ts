/**
 * HTTP/3 frames (RFC 9114 section 7): every frame type round-trips through
 * the encoders and the incremental FrameReader whatever the split, DATA is
 * streamed without copies, reserved and unknown frames are skipped without
 * buffering, and each rejection carries its error code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { H3ErrorCode } from "../../src/h3/errors.js";
import {
  decodeSettingsPayload,
  encodeDataFrameHeader,
  encodeFrame,
  encodeFrameHeader,
  encodeReservedFrame,
  encodeSettingsFrame,
  encodeSettingsPayload,
  encodeStreamHeader,
  FrameReader,
  type FrameEvent,
  type FrameReaderOptions,
  type H3Frame,
  isReservedFrameType,
  isReservedStreamType,
  readStreamHeader,
  StreamType,
} from "../../src/h3/frames.js";
import { assertH3Error, cat, h, hex, RUNS, splitAt } from "./helpers.js";

/** Reads all events from `pieces`, merging DATA pieces back into whole frames. */
function readAll(pieces: Uint8Array[], options: FrameReaderOptions = {}): H3Frame[] {
  const r = new FrameReader(options);
  const out: H3Frame[] = [];
  let data: Uint8Array[] = [];
  const drain = () => {
    for (let ev: FrameEvent | undefined; (ev = r.next()); ) {
      if (ev.type === "data") {
        data.push(ev.data);
        if (ev.frameEnd) {
          out.push({ type: "data", data: cat(...data) });
          data = [];
        }
      } else out.push(ev);
    }
  };
  for (const p of pieces) {
    r.push(p);
    drain();
  }
  r.finish();
  return out;
}

const varint = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 2 ** 30 }), fc.maxSafeInteger().filter((v) => v >= 0));
const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array(b));
const settingsArb = fc.record(
  {
    qpackMaxTableCapacity: varint,
    maxFieldSectionSize: varint,
    qpackBlockedStreams: varint,
    enableConnectProtocol: fc.constant(true),
    h3Datagram: fc.constant(true),
    extra: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 1000 }).map((n) => 0x1f * n + 0x21), varint), { selector: (e) => e[0], maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const frameArb: fc.Arbitrary<H3Frame> = fc.oneof(
  bytes.map((data) => ({ type: "data" as const, data })),
  bytes.map((fieldSection) => ({ type: "headers" as const, fieldSection })),
  varint.map((pushId) => ({ type: "cancelPush" as const, pushId })),
  settingsArb.map((settings) => ({ type: "settings" as const, settings })),
  fc.tuple(varint, bytes).map(([pushId, fieldSection]) => ({ type: "pushPromise" as const, pushId, fieldSection })),
  varint.map((id) => ({ type: "goaway" as const, id })),
  varint.map((pushId) => ({ type: "maxPushId" as const, pushId })),
);

test("every frame type round-trips through FrameReader, whatever the split, with reserved frames skipped", () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (frames, cuts, grease) => {
      const wire = cat(...frames.flatMap((f) => (grease ? [encodeReservedFrame(3, Uint8Array.of(1, 2, 3)), encodeFrame(f)] : [encodeFrame(f)])));
      const got = readAll(splitAt(wire, cuts));
      // Normalise: empty `extra` is absent, booleans absent are false.
      assert.deepEqual(got.map(norm), frames.map(norm));
    }),
    { numRuns: RUNS },
  );
});

function norm(f: H3Frame): unknown {
  if (f.type === "settings") {
    const s = { ...f.settings };
    if (!s.extra?.length) delete s.extra;
    return { type: "settings", settings: s };
  }
  if ("data" in f) return { type: f.type, data: h(f.data) };
  if ("fieldSection" in f) return { ...f, fieldSection: h(f.fieldSection) };
  return f;
}

test("frame encodings match RFC 9114 layouts", () => {
  assert.equal(h(encodeFrame({ type: "goaway", id: 4 })), "070104");
  assert.equal(h(encodeFrame({ type: "maxPushId", pushId: 300 })), "0d02412c");
  assert.equal(h(encodeFrame({ type: "cancelPush", pushId: 0 })), "030100");
  assert.equal(h(encodeFrame({ type: "headers", fieldSection: hex("0000d1") })), "01030000d1");
  assert.equal(h(encodeFrame({ type: "pushPromise", pushId: 1, fieldSection: hex("0000") })), "0503010000");
  assert.equal(h(encodeSettingsFrame({ qpackMaxTableCapacity: 4096, qpackBlockedStreams: 16, extra: [[0x21, 0]] })), "040701500007102100");
  assert.equal(h(encodeSettingsFrame({})), "0400");
  assert.equal(h(encodeDataFrameHeader(5)), "0005");
  assert.equal(h(encodeFrameHeader(0x21, 300)), "2141" + "2c");
  assert.equal(h(cat(encodeDataFrameHeader(3), hex("616263"))), h(encodeFrame({ type: "data", data: hex("616263") })));
  assert.throws(() => encodeSettingsPayload({ extra: [[0x02, 1]] }), RangeError);
  assert.throws(() => encodeSettingsPayload({ qpackMaxTableCapacity: 1, extra: [[0x01, 1]] }), RangeError);
});

test("DATA payloads are yielded as views of the pushed bytes, piece by piece", () => {
  const body = new Uint8Array(1000).fill(7);
  const r = new FrameReader();
  const header = encodeDataFrameHeader(body.length);
  r.push(header);
  assert.equal(r.next(), undefined);
  r.push(body.subarray(0, 600));
  const first = r.next();
  assert.ok(first?.type === "data" && !first.frameEnd && first.data.length === 600);
  assert.equal(first.data.buffer, body.buffer, "not copied");
  assert.equal(r.next(), undefined);
  r.push(body.subarray(600));
  const second = r.next();
  assert.ok(second?.type === "data" && second.frameEnd && second.data.length === 400);
  // A zero-length DATA frame yields one empty, final piece.
  r.push(encodeDataFrameHeader(0));
  assert.deepEqual(r.next(), { type: "data", data: new Uint8Array(0), frameEnd: true });
  r.finish();
});

test("reserved and unknown frames are discarded as they arrive, however long", () => {
  const r = new FrameReader({ maxFrameSize: 100 });
  r.push(encodeFrameHeader(0x1f * 1000 + 0x21, 1_000_000));
  for (let i = 0; i < 100; i++) {
    r.push(new Uint8Array(10_000));
    assert.equal(r.next(), undefined);
    assert.equal(r.buffered, 0);
  }
  r.push(encodeFrame({ type: "goaway", id: 8 }));
  assert.deepEqual(r.next(), { type: "goaway", id: 8 });
  // An unknown, non-reserved type is skipped the same way.
  r.push(cat(encodeFrameHeader(0x1234, 2), hex("abcd"), encodeFrame({ type: "goaway", id: 12 })));
  assert.deepEqual(r.next(), { type: "goaway", id: 12 });
  assert.ok(isReservedFrameType(0x21) && isReservedFrameType(0x40) && !isReservedFrameType(0x22));
});

test("malformed frames are H3_FRAME_ERROR", () => {
  const FE = H3ErrorCode.H3_FRAME_ERROR;
  const read = (wire: string) => readAll([hex(wire)]);
  assertH3Error(() => read("07 00"), FE, /truncated GOAWAY/);
  assertH3Error(() => read("07 02 0400"), FE, /extra bytes in GOAWAY/);
  assertH3Error(() => read("07 01 40"), FE, /truncated GOAWAY/);
  assertH3Error(() => read("03 02 0000"), FE, /CANCEL_PUSH/);
  assertH3Error(() => read("0d 00"), FE, /MAX_PUSH_ID/);
  assertH3Error(() => read("07 09"), FE, /9-byte payload/);
  assertH3Error(() => read("05 00"), FE, /PUSH_PROMISE/);
  assertH3Error(() => read("04 01 01"), FE, /truncated setting/);
  assertH3Error(() => read("04 02 0140"), FE, /truncated setting/);
  // The stream ends in the middle of a header, a payload, or a DATA frame.
  assertH3Error(() => read("01"), FE, /inside a frame/);
  assertH3Error(() => read("4001"), FE, /inside a frame/);
  assertH3Error(() => read("01 02 00"), FE, /inside a frame/);
  assertH3Error(() => read("00 05 6162"), FE, /inside a frame/);
  assertH3Error(() => read("21 05 6162"), FE, /inside a frame/);
});

test("SETTINGS: duplicates, HTTP/2 settings and bad boolean values are H3_SETTINGS_ERROR; unknown ones are kept aside", () => {
  const SE = H3ErrorCode.H3_SETTINGS_ERROR;
  assertH3Error(() => decodeSettingsPayload(hex("0100 0100")), SE, /twice/);
  assertH3Error(() => decodeSettingsPayload(hex("2100 2101")), SE, /twice/);
  for (const id of ["02", "03", "04", "05"]) assertH3Error(() => decodeSettingsPayload(hex(id + "00")), SE, /HTTP\/2 setting/);
  assertH3Error(() => decodeSettingsPayload(hex("0802")), SE, /ENABLE_CONNECT_PROTOCOL/);
  assertH3Error(() => decodeSettingsPayload(hex("3302")), SE, /H3_DATAGRAM/);
  assert.deepEqual(decodeSettingsPayload(hex("0800 3300 06 4400 4040 07 00 05")), {
    enableConnectProtocol: false,
    h3Datagram: false,
    maxFieldSectionSize: 0x400,
    extra: [
      [0x40, 7],
      [0, 5],
    ],
  });
});

test("HTTP/2-only frame types are H3_FRAME_UNEXPECTED; oversized frames are H3_EXCESSIVE_LOAD", () => {
  for (const t of ["02", "06", "08", "09"]) assertH3Error(() => readAll([hex(t + "00")]), H3ErrorCode.H3_FRAME_UNEXPECTED, /HTTP\/2/);
  assertH3Error(() => readAll([encodeFrameHeader(1, 101)], { maxFrameSize: 100 }), H3ErrorCode.H3_EXCESSIVE_LOAD, /exceeds/);
  assertH3Error(() => readAll([encodeFrameHeader(4, 101)], { maxFrameSize: 100 }), H3ErrorCode.H3_EXCESSIVE_LOAD, /exceeds/);
  // DATA is streamed, so it has no such limit.
  assert.equal(readAll([encodeFrame({ type: "data", data: new Uint8Array(500) })], { maxFrameSize: 100 }).length, 1);
});

test("per-stream frame rules: SETTINGS first and once on the control stream, Table 1 elsewhere", () => {
  const settings = encodeSettingsFrame({});
  const goaway = encodeFrame({ type: "goaway", id: 0 });
  const headers = encodeFrame({ type: "headers", fieldSection: hex("0000") });
  const data = encodeFrame({ type: "data", data: hex("00") });
  const push = encodeFrame({ type: "pushPromise", pushId: 0, fieldSection: hex("0000") });
  const UNEXPECTED = H3ErrorCode.H3_FRAME_UNEXPECTED;
  const control: FrameReaderOptions = { stream: "control" };
  assert.equal(readAll([cat(settings, goaway, encodeReservedFrame(0))], control).length, 2);
  assertH3Error(() => readAll([goaway], control), H3ErrorCode.H3_MISSING_SETTINGS);
  assertH3Error(() => readAll([encodeReservedFrame(0)], control), H3ErrorCode.H3_MISSING_SETTINGS);
  assertH3Error(() => readAll([cat(settings, settings)], control), UNEXPECTED, /control stream/);
  assertH3Error(() => readAll([cat(settings, data)], control), UNEXPECTED);
  assertH3Error(() => readAll([cat(settings, headers)], control), UNEXPECTED);
  assertH3Error(() => readAll([cat(settings, push)], control), UNEXPECTED);
  assert.equal(readAll([cat(headers, data, push, encodeReservedFrame(2))], { stream: "request" }).length, 3);
  for (const f of [settings, goaway, encodeFrame({ type: "maxPushId", pushId: 1 }), encodeFrame({ type: "cancelPush", pushId: 1 })]) {
    assertH3Error(() => readAll([f], { stream: "request" }), UNEXPECTED, /request stream/);
    assertH3Error(() => readAll([f], { stream: "push" }), UNEXPECTED, /push stream/);
  }
  assertH3Error(() => readAll([push], { stream: "push" }), UNEXPECTED);
});

test("unidirectional stream headers: types, push IDs, reserved types, partial input", () => {
  assert.equal(h(encodeStreamHeader(StreamType.CONTROL)), "00");
  assert.equal(h(encodeStreamHeader(StreamType.QPACK_ENCODER)), "02");
  assert.equal(h(encodeStreamHeader(StreamType.QPACK_DECODER)), "03");
  assert.equal(h(encodeStreamHeader(StreamType.PUSH, 300)), "01412c");
  assert.throws(() => encodeStreamHeader(StreamType.PUSH), RangeError);
  assert.deepEqual(readStreamHeader(hex("00 04 00")), { streamType: 0, length: 1 });
  assert.deepEqual(readStreamHeader(hex("01412c ff")), { streamType: 1, pushId: 300, length: 3 });
  assert.equal(readStreamHeader(hex("")), undefined);
  assert.equal(readStreamHeader(hex("01")), undefined);
  assert.equal(readStreamHeader(hex("0141")), undefined);
  assert.equal(readStreamHeader(hex("40")), undefined);
  const reserved = readStreamHeader(encodeStreamHeader(0x1f * 5 + 0x21));
  assert.ok(reserved && isReservedStreamType(reserved.streamType));
});
