/** Shared helpers for the HTTP/3 and QPACK tests. */
import assert from "node:assert/strict";
import { H3Error } from "../../src/h3/errors.js";
import { fromHex, toHex } from "../../src/util/bytes.js";

/** Property-test case count: FUZZ_RUNS, default 1000. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** Bytes of a hex string with spaces (RFC examples). */
export const hex = (s: string): Uint8Array => fromHex(s);

/** Hex of bytes, for assertions that print well. */
export const h = (b: Uint8Array): string => toHex(b);

/** Asserts that `fn` throws an H3Error carrying `code`. */
export function assertH3Error(fn: () => unknown, code: number, message?: RegExp): H3Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof H3Error, `expected H3Error 0x${code.toString(16)}, got ${String(err)}`);
  assert.equal(err.errorCode, code, `expected code 0x${code.toString(16)}, got ${err.message}`);
  if (message) assert.match(err.message, message);
  return err;
}

/** Runs `fn`; rethrows anything that is not an H3Error (the only failure decoders may report). */
export function onlyH3Errors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof H3Error)) throw e;
  }
}

/** Splits `b` into pieces at the given cut points (sorted, in range). */
export function splitAt(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(b.length, Math.max(0, c))))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  out.push(b.subarray(prev));
  return out;
}

/** Concatenates byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
