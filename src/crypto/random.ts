import { randomFillSync } from "node:crypto";

/** Random bytes drawn at once: each node:crypto call costs microseconds whatever its size. */
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * `length` fresh random bytes from the CSPRNG, in a new array. Small
 * requests (connection IDs, TLS randoms, key shares) are served from a pool
 * refilled in one call; every byte is handed out once.
 */
export function randomBytesFast(length: number): Uint8Array {
  if (length > POOL_SIZE / 8) return randomFillSync(new Uint8Array(length));
  if (POOL_SIZE - poolOffset < length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.slice(poolOffset, poolOffset + length);
  // Bytes handed out are wiped from the pool so no later reader of the pool sees them.
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
  return out;
}
