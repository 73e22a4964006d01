import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytesFast } from "../../src/crypto/random.js";

test("randomBytesFast returns fresh arrays of the asked length, never sharing bytes", () => {
  const seen = new Set<string>();
  // Enough draws to refill the pool several times.
  for (let i = 0; i < 3000; i++) {
    const b = randomBytesFast(8 + (i % 25));
    assert.equal(b.length, 8 + (i % 25));
    assert.equal(b.buffer.byteLength, b.length, "each result owns its buffer");
    const hex = Buffer.from(b).toString("hex");
    assert.ok(!seen.has(hex), "no repeated output");
    seen.add(hex);
  }
  const big = randomBytesFast(4096);
  assert.equal(big.length, 4096);
  assert.ok(big.some((x) => x !== 0));
});
