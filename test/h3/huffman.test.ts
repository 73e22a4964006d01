/**
 * Huffman code (RFC 7541 Appendix B): the Appendix C.4/C.6 string vectors,
 * the section 5.2 rejections (EOS, padding longer than 7 bits, padding not
 * all ones), and round trips of arbitrary bytes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { H3ErrorCode } from "../../src/h3/errors.js";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "../../src/h3/qpack/huffman.js";
import { assertH3Error, h, hex, onlyH3Errors, RUNS } from "./helpers.js";

// RFC 7541 Appendix C.4.1-C.4.3 (requests) and C.6.1 (responses).
const VECTORS: Array<[string, string]> = [
  ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
  ["no-cache", "a8eb 1064 9cbf"],
  ["custom-key", "25a8 49e9 5ba9 7d7f"],
  ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
  ["302", "6402"],
  ["private", "aec3 771a 4b"],
  ["Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
  ["https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"],
];

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

test("Huffman encodes and decodes the RFC 7541 Appendix C.4 and C.6 strings", () => {
  for (const [text, code] of VECTORS) {
    assert.equal(h(huffmanEncode(text)), h(hex(code)), text);
    assert.equal(huffmanEncodedLength(text), hex(code).length, text);
    assert.equal(latin1(huffmanDecode(hex(code))), text);
  }
});

test("Huffman decodes the empty string and accepts up to 7 bits of all-ones padding", () => {
  assert.equal(huffmanDecode(new Uint8Array(0)).length, 0);
  // '0' is 00000; then 3 padding bits of 1.
  assert.equal(latin1(huffmanDecode(hex("07"))), "0");
  // 'a' is 00011; '0' 00000; then 6 ones: 00011000 00111111.
  assert.equal(latin1(huffmanDecode(hex("183f"))), "a0");
});

test("Huffman rejects EOS, padding over 7 bits and padding that is not all ones (RFC 7541 section 5.2)", () => {
  const code = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
  // EOS is 30 ones.
  assertH3Error(() => huffmanDecode(hex("ffffffff")), code, /EOS/);
  assertH3Error(() => huffmanDecode(hex("fffffffc")), code, /EOS/);
  // A whole byte of padding.
  assertH3Error(() => huffmanDecode(hex("ff")), code, /padding/);
  assertH3Error(() => huffmanDecode(hex("07ff")), code, /padding/);
  // Padding with a zero bit.
  assertH3Error(() => huffmanDecode(hex("00")), code, /padding/);
  assertH3Error(() => huffmanDecode(hex("06")), code, /padding/);
  // 11111110 is the start of '!' (11111110 00): a code cut short, not padding.
  assertH3Error(() => huffmanDecode(hex("fe")), code, /padding/);
});

test("Huffman round-trips every byte value and arbitrary byte strings", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(h(huffmanDecode(huffmanEncode(all))), h(all));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const enc = huffmanEncode(b);
      assert.equal(enc.length, huffmanEncodedLength(latin1(b)));
      assert.equal(h(huffmanDecode(enc)), h(b));
    }),
    { numRuns: RUNS },
  );
});

test("Huffman decoding of random bytes yields bytes or QPACK_DECOMPRESSION_FAILED, never more than 8/5 per byte", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      onlyH3Errors(() => {
        const out = huffmanDecode(b);
        assert.ok(out.length <= Math.ceil((b.length * 8) / 5));
        // Whatever decodes re-encodes to the same bytes (the code is canonical and padding is forced).
        assert.equal(h(huffmanEncode(out)), h(b));
      });
    }),
    { numRuns: RUNS },
  );
});

test("Huffman encoding rejects characters that are not bytes", () => {
  assert.throws(() => huffmanEncode("caf\u00e9\u20ac"), TypeError);
  assert.throws(() => huffmanEncodedLength("\u0100"), TypeError);
});
