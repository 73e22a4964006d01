/**
 * QPACK primitives: prefixed integers (RFC 7541 section 5.1 and the
 * Appendix C.1 examples) with their limits, string literals with the H bit
 * (RFC 9204 section 4.1.2), and the static table (RFC 9204 Appendix A).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { H3ErrorCode } from "../../src/h3/errors.js";
import { Cursor, INCOMPLETE, QPACK_INT_MAX, readInt, readString, Writer, writeInt, writeString } from "../../src/h3/qpack/primitives.js";
import { STATIC_TABLE, staticLookup } from "../../src/h3/qpack/static-table.js";
import { huffmanEncode } from "../../src/h3/qpack/huffman.js";
import { assertH3Error, cat, h, hex, RUNS } from "./helpers.js";

const FAIL = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
const cursor = (b: Uint8Array) => new Cursor(b, 0, b.length, FAIL);

function encInt(flags: number, prefix: number, v: number): Uint8Array {
  const w = new Writer(4);
  writeInt(w, flags, prefix, v);
  return w.take();
}

test("prefixed integers match RFC 7541 Appendix C.1", () => {
  // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42 with an 8-bit prefix.
  assert.equal(h(encInt(0, 5, 10)), "0a");
  assert.equal(h(encInt(0, 5, 1337)), "1f9a0a");
  assert.equal(h(encInt(0, 8, 42)), "2a");
  assert.equal(readInt(cursor(hex("0a")), 5), 10);
  assert.equal(readInt(cursor(hex("1f9a0a")), 5), 1337);
  assert.equal(readInt(cursor(hex("2a")), 8), 42);
  // High bits outside the prefix are not part of the value.
  assert.equal(readInt(cursor(hex("ea")), 5), 10);
  assert.equal(h(encInt(0xe0, 5, 10)), "ea");
});

test("prefixed integers round-trip for every prefix size up to 2^62-1", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.oneof(fc.integer({ min: 0, max: 300 }), fc.maxSafeInteger().filter((v) => v >= 0)), (prefix, v) => {
      const b = encInt(0, prefix, v);
      const c = cursor(b);
      assert.equal(readInt(c, prefix), v);
      assert.equal(c.pos, b.length);
    }),
    { numRuns: RUNS },
  );
  const max = encInt(0, 6, QPACK_INT_MAX);
  assert.equal(readInt(cursor(max), 6), QPACK_INT_MAX);
});

test("prefixed integers past 62 bits or with too many continuation bytes are rejected, truncation is INCOMPLETE", () => {
  // 2^63 with a 5-bit prefix: 31 + continuation bytes of 2^63 - 31.
  assertH3Error(() => readInt(cursor(hex("1f e1 ff ff ff ff ff ff ff ff 00")), 5), FAIL, /too long/);
  assertH3Error(() => readInt(cursor(hex("1f ff ff ff ff ff ff ff ff 7f")), 5), FAIL, /2\^62/);
  // Overlong zero padding: 1f 80 80 ... 00.
  assertH3Error(() => readInt(cursor(hex("1f 80 80 80 80 80 80 80 80 80 00")), 5), FAIL, /too long/);
  for (const t of ["", "1f", "1f80", "1f9a"]) {
    assert.throws(() => readInt(cursor(hex(t)), 5), (e) => e === INCOMPLETE);
  }
});

test("string literals carry the H bit above an (N-1)-bit length and use Huffman only when shorter", () => {
  const w = new Writer(8);
  writeString(w, 0, 7, "www.example.com");
  assert.equal(h(w.take()), "8cf1e3c2e5f23a6ba0ab90f4ff");
  writeString(w, 0, 7, "www.example.com", false);
  assert.equal(h(w.take()), "0f7777772e6578616d706c652e636f6d");
  // Huffman is longer for "\0\0": raw is kept.
  writeString(w, 0, 7, "\0\0");
  assert.equal(h(w.take()), "020000");
  // A 4-bit prefix string literal (3-bit length) with flags above it.
  writeString(w, 0x20, 3, "custom-key", false);
  assert.equal(h(w.take()), "2703637573746f6d2d6b6579");
  assert.equal(readString(cursor(hex("2703637573746f6d2d6b6579")), 3, 100), "custom-key");
  assert.equal(readString(cursor(hex("8cf1e3c2e5f23a6ba0ab90f4ff")), 7, 100), "www.example.com");
});

test("string literals longer than the limit are rejected before their bytes arrive", () => {
  assertH3Error(() => readString(cursor(hex("0b")), 7, 10), FAIL, /exceeds/);
  // Huffman: a limit of 2 symbols allows at most ceil((2*30+7)/8) = 9 encoded bytes.
  assertH3Error(() => readString(cursor(hex("8a")), 7, 2), FAIL, /exceeds/);
  // Within that bound, the decoded length is checked once decoded: "11111" is 4 bytes.
  const five = huffmanEncode("11111");
  assert.equal(five.length, 4);
  assertH3Error(() => readString(cursor(cat(Uint8Array.of(0x80 | five.length), five)), 7, 4), FAIL, /limit/);
  assert.throws(() => readString(cursor(hex("0a 61")), 7, 10), (e) => e === INCOMPLETE);
});

test("the static table has RFC 9204 Appendix A's 99 entries", () => {
  assert.equal(STATIC_TABLE.length, 99);
  assert.deepEqual(STATIC_TABLE[0], [":authority", ""]);
  assert.deepEqual(STATIC_TABLE[17], [":method", "GET"]);
  assert.deepEqual(STATIC_TABLE[52], ["content-type", "text/html; charset=utf-8"]);
  assert.deepEqual(STATIC_TABLE[58], ["strict-transport-security", "max-age=31536000; includesubdomains; preload"]);
  assert.deepEqual(STATIC_TABLE[85], ["content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"]);
  assert.deepEqual(STATIC_TABLE[98], ["x-frame-options", "sameorigin"]);
  assert.equal(staticLookup(":status")?.nameIndex, 24);
  assert.equal(staticLookup(":status")?.values.get("200"), 25);
  assert.equal(staticLookup(":status")?.values.get("500"), 71);
});
