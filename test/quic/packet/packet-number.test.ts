import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodePacketNumber,
  packetNumberLength,
  truncatePacketNumber,
  writePacketNumber,
} from "../../../src/quic/packet/index.js";
import { toHex } from "../../../src/util/bytes.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

test("packet number length follows the RFC 9000 Appendix A.2 examples", () => {
  // 29,519 packets outstanding need 16 bits; 65,611 need 24.
  assert.equal(packetNumberLength(0xac5c02, 0xabe8b3), 2);
  assert.equal(packetNumberLength(0xace8fe, 0xabe8b3), 3);
});

test("packet number length before any acknowledgment covers the full number (RFC 9000 section 17.1)", () => {
  assert.equal(packetNumberLength(0, -1), 1);
  assert.equal(packetNumberLength(127, -1), 1);
  assert.equal(packetNumberLength(128, -1), 2);
  assert.equal(packetNumberLength(2 ** 40, -1), 4);
  assert.equal(packetNumberLength(1000, 999), 1);
});

test("packet number decoding follows the RFC 9000 Appendix A.3 example", () => {
  assert.equal(decodePacketNumber(0xa82f30ea, 0x9b32, 16), 0xa82f9b32);
});

test("packet number decoding handles the first packet and window edges", () => {
  assert.equal(decodePacketNumber(-1, 0, 8), 0);
  assert.equal(decodePacketNumber(-1, 5, 8), 5);
  // Just below the window wraps back, just above stays.
  assert.equal(decodePacketNumber(300, 0x2c, 8), 300);
  assert.equal(decodePacketNumber(255, 0, 8), 256);
  assert.equal(decodePacketNumber(256, 0xff, 8), 255);
  // Values above 2^32 keep full precision.
  assert.equal(decodePacketNumber(2 ** 40 + 10, 12, 8), 2 ** 40 + 12);
  // Never beyond 2^62-1 nor below 0.
  assert.ok(decodePacketNumber(2 ** 62 - 2, 0xff, 8) <= 2 ** 62 - 1);
});

test("truncation and writing keep the low bytes big-endian", () => {
  assert.equal(truncatePacketNumber(0xac5c02, 2), 0x5c02);
  assert.equal(truncatePacketNumber(2 ** 40 + 0x01020304, 4), 0x01020304);
  const b = new Uint8Array(4);
  assert.equal(writePacketNumber(b, 1, 654360564, 3), 4);
  assert.equal(toHex(b.subarray(1)), "00bff4"); // RFC 9001 A.5: 49140 encoded
});

test("property: the chosen encoding always decodes back at the receiver", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1, max: 2 ** 50 }),
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (acked, gap, where) => {
        const pn = acked + gap;
        const len = packetNumberLength(pn, acked);
        if (2 * (pn - acked) > 2 ** 32) return; // beyond what 4 bytes can carry
        // The receiver's largest is anywhere between the acknowledged one and pn - 1.
        const largest = acked + Math.floor(where * (gap - 1));
        const got = decodePacketNumber(largest, truncatePacketNumber(pn, len), (len * 8) as 8 | 16 | 24 | 32);
        assert.equal(got, pn);
      },
    ),
    { numRuns: RUNS },
  );
});
