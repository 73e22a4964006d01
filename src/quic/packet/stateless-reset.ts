import { createHmac, randomFillSync } from "node:crypto";
import { FIXED_BIT } from "./header.js";

/** Length of a stateless reset token (RFC 9000 section 10.3). */
export const STATELESS_RESET_TOKEN_LENGTH = 16;

/**
 * Smallest Stateless Reset: 5 bytes that look like a short header (at least
 * 38 unpredictable bits after the 2 fixed ones) plus the token
 * (RFC 9000 section 10.3).
 */
export const MIN_STATELESS_RESET_LENGTH = 21;

/**
 * Size of a Stateless Reset that answers a received packet of
 * `receivedLength` bytes, or 0 when none may be sent. It is always smaller
 * than the trigger, so two endpoints cannot loop (RFC 9000 section 10.3.3),
 * one byte smaller for packets of 43 bytes or less (RFC 9000 section 10.3),
 * and at most `maxLength` otherwise.
 */
export function statelessResetLength(receivedLength: number, maxLength = 43): number {
  const n = Math.min(receivedLength - 1, Math.max(maxLength, MIN_STATELESS_RESET_LENGTH));
  return n >= MIN_STATELESS_RESET_LENGTH ? n : 0;
}

/**
 * The stateless reset token of connection ID `cid`: HMAC-SHA256 under the
 * endpoint's static key, truncated to 16 bytes (RFC 9000 section 10.3.2).
 * An endpoint that lost state recomputes it from the DCID of a packet.
 */
export function statelessResetToken(staticKey: Uint8Array, cid: Uint8Array): Uint8Array {
  const mac = createHmac("sha256", staticKey).update(cid).digest();
  return new Uint8Array(mac.buffer, mac.byteOffset, STATELESS_RESET_TOKEN_LENGTH).slice();
}

/**
 * Builds a Stateless Reset of `length` bytes (RFC 9000 section 10.3): the
 * first byte is 0b01 followed by random bits so it reads as a short header,
 * the middle is random, and the last 16 bytes are the token. Throws
 * RangeError below {@link MIN_STATELESS_RESET_LENGTH}.
 */
export function buildStatelessReset(token: Uint8Array, length: number): Uint8Array {
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH) throw new RangeError("stateless reset token must be 16 bytes");
  if (!Number.isInteger(length) || length < MIN_STATELESS_RESET_LENGTH) {
    throw new RangeError(`a Stateless Reset is at least ${MIN_STATELESS_RESET_LENGTH} bytes`);
  }
  const out = new Uint8Array(length);
  randomFillSync(out, 0, length - STATELESS_RESET_TOKEN_LENGTH);
  // Header Form 0, Fixed Bit 1; the other six bits stay random.
  out[0] = (out[0]! & 0x3f) | FIXED_BIT;
  out.set(token, length - STATELESS_RESET_TOKEN_LENGTH);
  return out;
}

/**
 * Index in `tokens` of the stateless reset token that `datagram` ends with,
 * or -1 (RFC 9000 section 10.3.1). Any datagram of at least 21 bytes is
 * checked whatever its header form, since other versions may use long
 * headers. Every token is compared in full and in constant time, so timing
 * reveals nothing about their values (RFC 9000 section 10.3.1).
 */
export function matchStatelessReset(datagram: Uint8Array, tokens: readonly Uint8Array[]): number {
  const n = datagram.length;
  if (n < MIN_STATELESS_RESET_LENGTH) return -1;
  const at = n - STATELESS_RESET_TOKEN_LENGTH;
  let found = -1;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t]!;
    if (token.length !== STATELESS_RESET_TOKEN_LENGTH) continue;
    let diff = 0;
    for (let i = 0; i < STATELESS_RESET_TOKEN_LENGTH; i++) diff |= datagram[at + i]! ^ token[i]!;
    // No early exit: the loop runs the same for matching and non-matching tokens.
    if (diff === 0 && found < 0) found = t;
  }
  return found;
}

/** True when `datagram` ends with `token` (constant-time; RFC 9000 section 10.3.1). */
export function isStatelessReset(datagram: Uint8Array, token: Uint8Array): boolean {
  return matchStatelessReset(datagram, [token]) === 0;
}
