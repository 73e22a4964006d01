/**
 * Property fuzzing of every decoder: random bytes and mutations of valid
 * input, split at random, fed to the field section decoder, the encoder- and
 * decoder-stream instruction readers, the frame reader and the stream header
 * reader. Each must return values or throw an H3Error (never another
 * exception), and stay within its limits. FUZZ_RUNS sets the case count per
 * target (default 1000).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeSettingsPayload, encodeFrame, encodeReservedFrame, encodeSettingsFrame, FrameReader, type FrameStreamKind, readStreamHeader } from "../../src/h3/frames.js";
import { QpackDecoder } from "../../src/h3/qpack/decoder.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { Header } from "../../src/h3/qpack/primitives.js";
import { cat, onlyH3Errors, RUNS, splitAt } from "./helpers.js";

/** Mutations of `base`: byte overwrites, bit flips, a truncation, an insertion. */
function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), { nil: undefined }),
    })
    .map(({ writes, flips, cut, insert }) => {
      let b: Uint8Array = new Uint8Array(base);
      if (b.length > 0) {
        for (const [i, v] of writes) b[i % b.length] = v;
        for (const [i, bit] of flips) b[i % b.length]! ^= 1 << bit;
      }
      if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
      if (insert) {
        const at = insert[0] % (b.length + 1);
        b = cat(b.subarray(0, at), insert[1], b.subarray(at));
      }
      return b;
    });
}

const input = (corpus: Uint8Array[]) => fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...corpus).chain(mutated));
const cuts = fc.array(fc.nat({ max: 200 }), { maxLength: 6 });

// A corpus of valid traffic: encoder stream, field sections, decoder stream.
const REQUESTS: Header[][] = [
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "example.org"],
    [":path", "/index.html"],
    ["user-agent", "fuzz/1.0"],
  ],
  [
    [":status", "200"],
    ["content-type", "text/html; charset=utf-8"],
    ["x-custom", "\u00ff\u0000binary"],
    ["set-cookie", "a=b"],
  ],
  [
    [":authority", "example.org"],
    ["user-agent", "fuzz/1.0"],
    ["accept", "*/*"],
    ["x-long", "v".repeat(120)],
  ],
];
const CAPACITY = 512;
const corpus = (() => {
  const enc = new QpackEncoder({ shouldIndex: () => true });
  enc.applyPeerSettings({ maxTableCapacity: CAPACITY, blockedStreams: 4 });
  const sections = REQUESTS.map((hs, i) => enc.encodeFieldSection(4 * i, hs));
  const encoderStream = enc.takeEncoderStreamData();
  const dec = new QpackDecoder({ maxTableCapacity: CAPACITY, maxBlockedStreams: 4 });
  dec.onEncoderStreamData(encoderStream);
  sections.forEach((s, i) => dec.decodeFieldSection(4 * i, s));
  return { sections, encoderStream, decoderStream: dec.takeDecoderStreamData() };
})();

test("fuzz: field sections decode to bounded headers or fail with an H3Error", () => {
  const limit = 300;
  fc.assert(
    fc.property(input(corpus.sections), fc.boolean(), (section, withTable) => {
      const dec = new QpackDecoder({ maxTableCapacity: CAPACITY, maxBlockedStreams: 2, maxFieldSectionSize: limit });
      if (withTable) dec.onEncoderStreamData(corpus.encoderStream);
      onlyH3Errors(() => {
        const r = dec.decodeFieldSection(0, section);
        if (!r.blocked) {
          const size = r.headers.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);
          assert.ok(size <= limit);
        }
        // Whatever happened, later encoder-stream data may release it.
        for (const u of dec.onEncoderStreamData(corpus.encoderStream)) assert.equal(u.streamId, 0);
      });
    }),
    { numRuns: RUNS },
  );
});

test("fuzz: encoder-stream instructions, split anywhere, apply or fail with an H3Error, within the capacity", () => {
  fc.assert(
    fc.property(input([corpus.encoderStream]), cuts, (stream, at) => {
      const dec = new QpackDecoder({ maxTableCapacity: CAPACITY, maxBlockedStreams: 1 });
      onlyH3Errors(() => {
        dec.decodeFieldSection(4, corpus.sections[0]!);
        for (const piece of splitAt(stream, at)) dec.onEncoderStreamData(piece);
      });
      assert.ok(dec.table.size <= dec.table.capacity && dec.table.capacity <= CAPACITY);
    }),
    { numRuns: RUNS },
  );
});

test("fuzz: decoder-stream instructions, split anywhere, apply or fail with an H3Error", () => {
  fc.assert(
    fc.property(input([corpus.decoderStream, Uint8Array.of(0x84, 0x48, 0x01, 0x80)]), cuts, (stream, at) => {
      const enc = new QpackEncoder({ shouldIndex: () => true });
      enc.applyPeerSettings({ maxTableCapacity: CAPACITY, blockedStreams: 4 });
      REQUESTS.forEach((hs, i) => enc.encodeFieldSection(4 * i, hs));
      onlyH3Errors(() => {
        for (const piece of splitAt(stream, at)) enc.onDecoderStreamData(piece);
      });
      assert.ok(enc.knownReceivedCount <= enc.table.insertCount);
      for (let a = enc.table.dropped; a < enc.table.insertCount; a++) assert.ok(enc.table.entry(a).refs >= 0);
    }),
    { numRuns: RUNS },
  );
});

const FRAMES = cat(
  encodeSettingsFrame({ qpackMaxTableCapacity: 4096, qpackBlockedStreams: 16, enableConnectProtocol: true, extra: [[0x21, 5]] }),
  encodeFrame({ type: "headers", fieldSection: corpus.sections[0]! }),
  encodeFrame({ type: "data", data: new Uint8Array(40).fill(0x61) }),
  encodeReservedFrame(2, Uint8Array.of(1, 2, 3)),
  encodeFrame({ type: "pushPromise", pushId: 7, fieldSection: corpus.sections[1]! }),
  encodeFrame({ type: "goaway", id: 12 }),
  encodeFrame({ type: "maxPushId", pushId: 99 }),
  encodeFrame({ type: "cancelPush", pushId: 3 }),
);

test("fuzz: frames, split anywhere, on any kind of stream, decode or fail with an H3Error, within the size limit", () => {
  fc.assert(
    fc.property(input([FRAMES]), cuts, fc.constantFrom<FrameStreamKind | undefined>(undefined, "control", "request", "push"), (wire, at, stream) => {
      const r = new FrameReader({ maxFrameSize: 256, ...(stream ? { stream } : {}) });
      onlyH3Errors(() => {
        for (const piece of splitAt(wire, at)) {
          r.push(piece);
          for (let ev = r.next(); ev; ev = r.next()) {
            if (ev.type === "headers") assert.ok(ev.fieldSection.length <= 256);
          }
          assert.ok(r.buffered <= wire.length);
        }
        r.finish();
      });
    }),
    { numRuns: RUNS },
  );
});

test("fuzz: SETTINGS payloads and stream headers", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      onlyH3Errors(() => void decodeSettingsPayload(b));
      const sh = readStreamHeader(b);
      if (sh) assert.ok(sh.length <= b.length && sh.length <= 16);
    }),
    { numRuns: RUNS },
  );
});
