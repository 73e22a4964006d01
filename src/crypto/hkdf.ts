import { createHash, createHmac } from "node:crypto";

/** A hash usable by the TLS 1.3 key schedule. */
export type HashName = "sha256" | "sha384";

/** Output length in bytes of each hash. */
export const HASH_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48 };

/** HKDF-Extract (RFC 5869 section 2.2). An empty salt means HashLen zero bytes. */
export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  const key = salt.length === 0 ? new Uint8Array(HASH_LENGTH[hash]) : salt;
  return new Uint8Array(createHmac(hash, key).update(ikm).digest());
}

/** HKDF-Expand (RFC 5869 section 2.3). */
export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const hashLen = HASH_LENGTH[hash];
  if (length > 255 * hashLen) throw new RangeError("HKDF-Expand output too long");
  const out = new Uint8Array(length);
  let prev: Uint8Array = new Uint8Array(0);
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    const h = createHmac(hash, prk);
    h.update(prev);
    h.update(info);
    h.update(Uint8Array.of(i));
    prev = h.digest();
    out.set(prev.subarray(0, Math.min(hashLen, length - filled)), filled);
    filled += hashLen;
  }
  return out;
}

const LABEL_PREFIX = "tls13 ";
/** Encoded HkdfLabel prefixes ("tls13 " + label) by label: the key schedule uses a handful of constant labels. */
const labelCache = new Map<string, Uint8Array>();

function encodedLabel(label: string): Uint8Array {
  let bytes = labelCache.get(label);
  if (!bytes) {
    bytes = new TextEncoder().encode(LABEL_PREFIX + label);
    // Labels are compile-time constants; the bound only guards against misuse.
    if (labelCache.size < 256) labelCache.set(label, bytes);
  }
  return bytes;
}

/**
 * HKDF-Expand-Label (RFC 8446 section 7.1):
 * struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }.
 * Every output of TLS 1.3 and QUIC fits one hash block, which takes one HMAC
 * over HkdfLabel || 0x01 (RFC 5869 section 2.3, T(1)).
 */
export function hkdfExpandLabel(
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const labelBytes = encodedLabel(label);
  const infoLength = 2 + 1 + labelBytes.length + 1 + context.length;
  const oneBlock = length <= HASH_LENGTH[hash];
  // One buffer holds HkdfLabel and, on the one-block path, the counter byte.
  const info = new Uint8Array(infoLength + (oneBlock ? 1 : 0));
  let o = 0;
  info[o++] = length >>> 8;
  info[o++] = length & 0xff;
  info[o++] = labelBytes.length;
  info.set(labelBytes, o);
  o += labelBytes.length;
  info[o++] = context.length;
  info.set(context, o);
  if (!oneBlock) return hkdfExpand(hash, secret, info, length);
  info[infoLength] = 1;
  const t1 = createHmac(hash, secret).update(info).digest();
  return new Uint8Array(t1.buffer, t1.byteOffset, length);
}

/** Derive-Secret(Secret, Label, Messages) given the transcript hash (RFC 8446 section 7.1). */
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, HASH_LENGTH[hash]);
}

/** Hash of `data` as bytes. */
export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(data).digest());
}
