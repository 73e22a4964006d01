import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteReader, ByteWriter, fromHex, toHex } from "../../src/util/bytes.js";
import { readVarint, writeVarint, putVarint, varintLength } from "../../src/quic/varint.js";
import { DecodeError } from "../../src/util/errors.js";

// RFC 9000 Appendix A.1 sample encodings.
const samples: Array<[string, number]> = [
  ["c2197c5eff14e88c", 151288809941952652],
  ["9d7f3e7d", 494878333],
  ["7bbd", 15293],
  ["25", 37],
  ["4025", 37],
];

test("varint decodes the RFC 9000 Appendix A.1 samples", () => {
  for (const [hex, value] of samples) {
    const r = new ByteReader(fromHex(hex));
    assert.equal(readVarint(r), value);
    assert.ok(r.done);
  }
});

test("varint encodes in the shortest form and round-trips across each length boundary", () => {
  for (const v of [0, 63, 64, 16383, 16384, 2 ** 30 - 1, 2 ** 30, 2 ** 53 - 1]) {
    const w = new ByteWriter();
    writeVarint(w, v);
    assert.equal(w.length, varintLength(v));
    const buf = new Uint8Array(8);
    assert.equal(putVarint(buf, 0, v), w.length);
    assert.equal(toHex(buf.subarray(0, w.length)), toHex(w.view()));
    assert.equal(readVarint(new ByteReader(w.view())), v);
  }
});

test("varint rejects truncated input with a DecodeError", () => {
  for (const hex of ["", "40", "80ff", "c0000000000000"]) {
    assert.throws(() => readVarint(new ByteReader(fromHex(hex))), DecodeError);
  }
});

test("varint writes 2^62-1 (which rounds to 2^62 as a JS number) as the all-ones encoding", () => {
  const w = new ByteWriter();
  writeVarint(w, 2 ** 62 - 1);
  assert.equal(toHex(w.view()), "ffffffffffffffff");
  const buf = new Uint8Array(8);
  putVarint(buf, 0, 2 ** 62 - 1);
  assert.equal(toHex(buf), "ffffffffffffffff");
  assert.equal(readVarint(new ByteReader(buf)), 2 ** 62);
});
