/**
 * RFC 9204 Appendix B, byte for byte: the encoder's output where its choices
 * are the example's (B.1 to B.3), the instruction and field line encoders for
 * the rest (B.4, B.5), and the decoder fed every example in sequence, with
 * its table and its decoder-stream output checked at each step.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { QpackDecoder } from "../../src/h3/qpack/decoder.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import { writeFieldSectionPrefix, writeIndexedDynamic, writeIndexedStatic } from "../../src/h3/qpack/field-lines.js";
import { encodeDecoderInstruction, encodeEncoderInstruction } from "../../src/h3/qpack/instructions.js";
import { Writer } from "../../src/h3/qpack/primitives.js";
import { h, hex } from "./helpers.js";

const B1_SECTION = "0000 510b 2f69 6e64 6578 2e68 746d 6c";
const B2_ENCODER = "3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468";
const B2_SECTION = "0381 10 11";
const B3_ENCODER = "4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565";
const B4_ENCODER = "02";
const B4_SECTION = "0500 80 c1 81";
const B5_ENCODER = "810d 6375 7374 6f6d 2d76 616c 7565 32";

function tableOf(t: { dropped: number; insertCount: number; name(a: number): string; value(a: number): string }): Array<[number, string, string]> {
  const out: Array<[number, string, string]> = [];
  for (let a = t.dropped; a < t.insertCount; a++) out.push([a, t.name(a), t.value(a)]);
  return out;
}

test("B.1: literal field line with a static name reference, encoded and decoded", () => {
  const enc = new QpackEncoder({ huffman: false });
  assert.equal(h(enc.encodeFieldSection(0, [[":path", "/index.html"]])), h(hex(B1_SECTION)));
  assert.equal(enc.takeEncoderStreamData().length, 0);
  const dec = new QpackDecoder();
  assert.deepEqual(dec.decodeFieldSection(0, hex(B1_SECTION)), { blocked: false, headers: [[":path", "/index.html"]] });
  // No dynamic reference: nothing to acknowledge.
  assert.equal(dec.takeDecoderStreamData().length, 0);
});

test("B.2 and B.3: the encoder's dynamic table inserts, post-base references and speculative insert", () => {
  const enc = new QpackEncoder({ huffman: false, shouldIndex: () => true });
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 1 });
  const section = enc.encodeFieldSection(4, [
    [":authority", "www.example.com"],
    [":path", "/sample/path"],
  ]);
  assert.equal(h(enc.takeEncoderStreamData()), h(hex(B2_ENCODER)));
  assert.equal(h(section), h(hex(B2_SECTION)));
  assert.equal(enc.table.size, 106);
  assert.deepEqual([enc.table.entry(0).refs, enc.table.entry(1).refs], [1, 1]);
  assert.equal(enc.blockingStreams, 1);

  enc.onDecoderStreamData(hex("84"));
  assert.equal(enc.knownReceivedCount, 2);
  assert.deepEqual([enc.table.entry(0).refs, enc.table.entry(1).refs], [0, 0]);
  assert.equal(enc.blockingStreams, 0);

  assert.ok(enc.insert("custom-key", "custom-value"));
  assert.equal(h(enc.takeEncoderStreamData()), h(hex(B3_ENCODER)));
  assert.equal(enc.table.size, 160);
  enc.onDecoderStreamData(hex("01"));
  assert.equal(enc.knownReceivedCount, 3);
  // B.4's cancellation of stream 8, which this encoder never used, changes nothing.
  enc.onDecoderStreamData(hex("48"));
  assert.equal(enc.knownReceivedCount, 3);
});

test("B.4 and B.5: instruction and field line encoders produce the example bytes", () => {
  assert.equal(h(encodeEncoderInstruction({ type: "duplicate", index: 2 })), h(hex(B4_ENCODER)));
  const w = new Writer();
  writeFieldSectionPrefix(w, 4, 4, Math.floor(220 / 32));
  writeIndexedDynamic(w, 0);
  writeIndexedStatic(w, 1);
  writeIndexedDynamic(w, 1);
  assert.equal(h(w.take()), h(hex(B4_SECTION)));
  assert.equal(h(encodeDecoderInstruction({ type: "streamCancel", streamId: 8 })), "48");
  assert.equal(h(encodeEncoderInstruction({ type: "insertWithNameRef", isStatic: false, nameIndex: 1, value: "custom-value2" }, false)), h(hex(B5_ENCODER)));
  assert.equal(h(encodeDecoderInstruction({ type: "sectionAck", streamId: 4 })), "84");
  assert.equal(h(encodeDecoderInstruction({ type: "insertCountIncrement", increment: 1 })), "01");
});

test("B.1 to B.5: the decoder follows the whole exchange", () => {
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
  assert.deepEqual(dec.decodeFieldSection(0, hex(B1_SECTION)), { blocked: false, headers: [[":path", "/index.html"]] });

  // B.2, with the field section overtaking the encoder stream: it blocks,
  // then the inserts release it and the decoder acknowledges it (84); the
  // acknowledgment covers both inserts, so no Insert Count Increment follows.
  assert.deepEqual(dec.decodeFieldSection(4, hex(B2_SECTION)), { blocked: true });
  assert.equal(dec.blockedStreams, 1);
  const unblocked = dec.onEncoderStreamData(hex(B2_ENCODER));
  assert.deepEqual(unblocked, [
    {
      streamId: 4,
      headers: [
        [":authority", "www.example.com"],
        [":path", "/sample/path"],
      ],
    },
  ]);
  assert.equal(h(dec.takeDecoderStreamData()), "84");
  assert.equal(dec.table.size, 106);

  // B.3: speculative insert, acknowledged with an Insert Count Increment of 1.
  assert.deepEqual(dec.onEncoderStreamData(hex(B3_ENCODER)), []);
  assert.equal(h(dec.takeDecoderStreamData()), "01");
  assert.equal(dec.table.size, 160);

  // B.4: the section arrives before the Duplicate and blocks; the stream is
  // cancelled (48); then the Duplicate lands and is acknowledged (01).
  assert.deepEqual(dec.decodeFieldSection(8, hex(B4_SECTION)), { blocked: true });
  dec.cancelStream(8);
  assert.equal(dec.blockedStreams, 0);
  assert.equal(h(dec.takeDecoderStreamData()), "48");
  assert.deepEqual(dec.onEncoderStreamData(hex(B4_ENCODER)), []);
  assert.equal(h(dec.takeDecoderStreamData()), "01");
  assert.equal(dec.table.size, 217);
  assert.deepEqual(tableOf(dec.table), [
    [0, ":authority", "www.example.com"],
    [1, ":path", "/sample/path"],
    [2, "custom-key", "custom-value"],
    [3, ":authority", "www.example.com"],
  ]);
  // Had it not been cancelled, the B.4 section decodes to these lines.
  assert.deepEqual(dec.decodeFieldSection(12, hex(B4_SECTION)), {
    blocked: false,
    headers: [
      [":authority", "www.example.com"],
      [":path", "/"],
      ["custom-key", "custom-value"],
    ],
  });
  assert.equal(h(dec.takeDecoderStreamData()), "8c");

  // B.5: an insert with a dynamic name reference evicts the oldest entry.
  assert.deepEqual(dec.onEncoderStreamData(hex(B5_ENCODER)), []);
  assert.equal(h(dec.takeDecoderStreamData()), "01");
  assert.equal(dec.table.size, 215);
  assert.deepEqual(tableOf(dec.table), [
    [1, ":path", "/sample/path"],
    [2, "custom-key", "custom-value"],
    [3, ":authority", "www.example.com"],
    [4, "custom-key", "custom-value2"],
  ]);
});

test("the Appendix B encoder stream decodes the same delivered a byte at a time", () => {
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
  const all = hex(B2_ENCODER + B3_ENCODER + B4_ENCODER + B5_ENCODER);
  for (let i = 0; i < all.length; i++) dec.onEncoderStreamData(all.subarray(i, i + 1));
  assert.equal(dec.table.size, 215);
  assert.equal(dec.table.insertCount, 5);
  // Increments are sent as entries complete: they add up to the insert count.
  const ds = dec.takeDecoderStreamData();
  assert.equal(
    [...ds].reduce((n, b) => n + b, 0),
    5,
  );
});
