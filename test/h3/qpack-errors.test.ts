/**
 * Each QPACK rule a peer can break, and the error it must produce (RFC 9204
 * sections 2.2.3, 3.2, 4.3, 4.4, 4.5): QPACK_DECOMPRESSION_FAILED for field
 * sections, QPACK_ENCODER_STREAM_ERROR for encoder instructions,
 * QPACK_DECODER_STREAM_ERROR for decoder instructions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { FieldSectionTooLargeError, H3ErrorCode } from "../../src/h3/errors.js";
import { QpackDecoder } from "../../src/h3/qpack/decoder.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import { assertH3Error, h, hex } from "./helpers.js";

const FAILED = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
const ENCODER_STREAM = H3ErrorCode.QPACK_ENCODER_STREAM_ERROR;
const DECODER_STREAM = H3ErrorCode.QPACK_DECODER_STREAM_ERROR;

// RFC 9204 Appendix B.2's encoder stream: capacity 220, two entries.
const B2_ENCODER = hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468");

function decoderWithTwoEntries(blocked = 1): QpackDecoder {
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: blocked });
  dec.onEncoderStreamData(B2_ENCODER);
  dec.takeDecoderStreamData();
  return dec;
}

test("field sections: truncation and impossible prefixes are QPACK_DECOMPRESSION_FAILED", () => {
  const dec = decoderWithTwoEntries();
  assertH3Error(() => dec.decodeFieldSection(0, hex("")), FAILED, /truncated/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("00")), FAILED, /truncated/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 51 0b 2f")), FAILED, /truncated/);
  // MaxEntries = 6: an encoded Required Insert Count above 12 is impossible.
  assertH3Error(() => dec.decodeFieldSection(0, hex("0d00")), FAILED, /exceeds 2 \* MaxEntries/);
  // Encoded 12 with 2 inserts: ReqInsertCount 11 > MaxValue 8 and <= FullRange 12.
  assertH3Error(() => dec.decodeFieldSection(0, hex("0c00")), FAILED, /impossible/);
  // Sign bit with Delta Base >= Required Insert Count: negative Base.
  assertH3Error(() => dec.decodeFieldSection(0, hex("0281")), FAILED, /negative Base/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("0080")), FAILED, /negative Base/);
  // With no dynamic table, any non-zero Required Insert Count is impossible.
  assertH3Error(() => new QpackDecoder().decodeFieldSection(0, hex("0100")), FAILED, /exceeds/);
});

test("field sections: bad static indices, dynamic references at or past the Required Insert Count, and evicted entries", () => {
  const dec = decoderWithTwoEntries();
  // Static index 99 does not exist (indexed, and as a name reference).
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 ff24")), FAILED, /static table index 99/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 5f54 00")), FAILED, /static table index 99/);
  // Required Insert Count 1, Base 1: relative index 0 is entry 0, fine; post-base 0 is entry 1 >= RIC.
  assert.deepEqual(dec.decodeFieldSection(0, hex("0200 80")), { blocked: false, headers: [[":authority", "www.example.com"]] });
  assertH3Error(() => dec.decodeFieldSection(4, hex("0200 10")), FAILED, /post-base index 0/);
  assertH3Error(() => dec.decodeFieldSection(4, hex("0200 00 01 61")), FAILED, /post-base index 0/);
  // Relative index 1 from Base 1 would be entry -1.
  assertH3Error(() => dec.decodeFieldSection(4, hex("0200 81")), FAILED, /relative index 1/);
  assertH3Error(() => dec.decodeFieldSection(4, hex("0200 41 00")), FAILED, /relative index 1/);
  // Fill the table until entry 0 is evicted, then reference it.
  const evicting = new QpackDecoder({ maxTableCapacity: 100 });
  evicting.onEncoderStreamData(hex("3f45 4161 0162 4161 0163")); // capacity 100; a=b (35 bytes); a=c
  evicting.onEncoderStreamData(hex("4161 0164")); // a=d evicts a=b
  assert.equal(evicting.table.dropped, 1);
  // Required Insert Count 3 (encoded 4 with MaxEntries 3), Base 3, relative index 2 = entry 0.
  assertH3Error(() => evicting.decodeFieldSection(0, hex("0400 82")), FAILED, /relative index 2/);
  assert.deepEqual(evicting.decodeFieldSection(0, hex("0400 81")), { blocked: false, headers: [["a", "c"]] });
});

test("field sections: malformed Huffman strings and oversized integers", () => {
  const dec = new QpackDecoder();
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 51 81 ff")), FAILED, /padding/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 51 84 ffffffff")), FAILED, /EOS/);
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000 ff ffffffffffffffffff01")), FAILED, /too long|2\^62/);
});

test("more blocked streams than SETTINGS_QPACK_BLOCKED_STREAMS is QPACK_DECOMPRESSION_FAILED", () => {
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
  assert.deepEqual(dec.decodeFieldSection(0, hex("0381 10 11")), { blocked: true });
  assertH3Error(() => dec.decodeFieldSection(4, hex("0381 10 11")), FAILED, /blocked streams/);
  // A second section on an already blocked stream is a bug of the caller.
  assertH3Error(() => dec.decodeFieldSection(0, hex("0000")), H3ErrorCode.H3_INTERNAL_ERROR);
  // With a limit of 0, any blocking section fails.
  assertH3Error(() => new QpackDecoder({ maxTableCapacity: 220 }).decodeFieldSection(0, hex("0381 10 11")), FAILED, /blocked streams/);
});

test("a section over MAX_FIELD_SECTION_SIZE fails for its stream only, and is still acknowledged", () => {
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1, maxFieldSectionSize: 100 });
  dec.onEncoderStreamData(B2_ENCODER);
  dec.takeDecoderStreamData();
  // Entry 0 (57 bytes) twice is 114 > 100.
  const err = assertH3Error(() => dec.decodeFieldSection(0, hex("0300 81 81")), H3ErrorCode.H3_EXCESSIVE_LOAD);
  assert.ok(err instanceof FieldSectionTooLargeError);
  assert.equal(h(dec.takeDecoderStreamData()), "80");
  // Once over, the rest is parsed but not decoded: still well-formed input is required.
  assertH3Error(() => dec.decodeFieldSection(4, hex("0300 81 81 ff24")), FAILED, /static table index 99/);
  // The same limit applies to a section released from blocking, as an error result.
  const blocked = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1, maxFieldSectionSize: 100 });
  assert.deepEqual(blocked.decodeFieldSection(8, hex("0300 81 81")), { blocked: true });
  const [u] = blocked.onEncoderStreamData(B2_ENCODER);
  assert.equal(u?.streamId, 8);
  assert.ok(u?.error instanceof FieldSectionTooLargeError);
  assert.equal(h(blocked.takeDecoderStreamData()), "88");
  assert.equal(blocked.blockedStreams, 0);
});

test("encoder stream: capacity above our maximum, oversized entries, bad references are QPACK_ENCODER_STREAM_ERROR", () => {
  // Capacity 101 > 100.
  assertH3Error(() => new QpackDecoder({ maxTableCapacity: 100 }).onEncoderStreamData(hex("3f46")), ENCODER_STREAM, /exceeds the maximum/);
  // Any insert with capacity 0.
  assertH3Error(() => new QpackDecoder({ maxTableCapacity: 100 }).onEncoderStreamData(hex("4161 0162")), ENCODER_STREAM, /exceeds/);
  // An entry larger than the capacity: 32 + 1 + 68 = 101 > 100.
  const big = new QpackDecoder({ maxTableCapacity: 100 });
  big.onEncoderStreamData(hex("3f45"));
  assertH3Error(() => big.onEncoderStreamData(hex("4161 7f05")), ENCODER_STREAM, /exceeds/);
  // Static name index 99; dynamic name index and duplicate of missing entries.
  assertH3Error(() => decoderWithTwoEntries().onEncoderStreamData(hex("ff24 00")), ENCODER_STREAM, /static table index 99/);
  assertH3Error(() => decoderWithTwoEntries().onEncoderStreamData(hex("82 00")), ENCODER_STREAM, /relative index 2/);
  assertH3Error(() => decoderWithTwoEntries().onEncoderStreamData(hex("02")), ENCODER_STREAM, /duplicate/);
  // Malformed strings and integers carry the encoder stream's code too.
  assertH3Error(() => decoderWithTwoEntries().onEncoderStreamData(hex("c0 81 ff")), ENCODER_STREAM, /padding/);
  assertH3Error(() => decoderWithTwoEntries().onEncoderStreamData(hex("3f ffffffffffffffffff01")), ENCODER_STREAM, /too long|2\^62/);
});

test("encoder stream: an instruction cut anywhere waits for the rest", () => {
  const dec = new QpackDecoder({ maxTableCapacity: 220 });
  for (let cut = 0; cut <= B2_ENCODER.length; cut++) {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.onEncoderStreamData(B2_ENCODER.subarray(0, cut));
    d.onEncoderStreamData(B2_ENCODER.subarray(cut));
    assert.equal(d.table.insertCount, 2);
    assert.equal(d.table.size, 106);
  }
  dec.onEncoderStreamData(B2_ENCODER);
  assert.equal(h(dec.takeDecoderStreamData()), "02");
});

test("decoder stream: unknown acknowledgments, zero or excessive increments are QPACK_DECODER_STREAM_ERROR", () => {
  assertH3Error(() => new QpackEncoder().onDecoderStreamData(hex("84")), DECODER_STREAM, /no unacknowledged section/);
  assertH3Error(() => new QpackEncoder().onDecoderStreamData(hex("00")), DECODER_STREAM, /Increment of 0/);
  assertH3Error(() => new QpackEncoder().onDecoderStreamData(hex("01")), DECODER_STREAM, /beyond/);
  assertH3Error(() => new QpackEncoder().onDecoderStreamData(hex("3f ffffffffffffffffff01")), DECODER_STREAM, /too long|2\^62/);
  // Cancelling an unknown stream is fine, and instructions may arrive a byte at a time.
  const enc = new QpackEncoder({ shouldIndex: () => true });
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 1 });
  enc.encodeFieldSection(200, [["x", "y"]]);
  enc.onDecoderStreamData(hex("7f"));
  enc.onDecoderStreamData(hex("89"));
  enc.onDecoderStreamData(hex("01")); // Stream Cancellation of stream 63 + 137 = 200.
  assert.equal(enc.blockingStreams, 0);
  assert.equal(enc.table.entry(0).refs, 0);
  // A second acknowledgment for the same stream has nothing left to acknowledge.
  enc.encodeFieldSection(4, [["x", "y"]]);
  enc.onDecoderStreamData(hex("84"));
  assertH3Error(() => enc.onDecoderStreamData(hex("84")), DECODER_STREAM, /no unacknowledged section/);
});

test("the peer may not change SETTINGS_QPACK_MAX_TABLE_CAPACITY once the table is in use", () => {
  const enc = new QpackEncoder({ shouldIndex: () => true });
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 1 });
  enc.encodeFieldSection(0, [["x", "y"]]);
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 2 });
  assertH3Error(() => enc.applyPeerSettings({ maxTableCapacity: 0 }), DECODER_STREAM, /changed/);
});

test("a decoder with capacity 0 sends no Stream Cancellation; one with a table does", () => {
  const none = new QpackDecoder();
  none.cancelStream(4);
  assert.equal(none.takeDecoderStreamData().length, 0);
  const some = new QpackDecoder({ maxTableCapacity: 100 });
  some.cancelStream(4);
  assert.equal(h(some.takeDecoderStreamData()), "44");
});
