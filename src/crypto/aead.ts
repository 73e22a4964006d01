import { createCipheriv, createDecipheriv, type CipherGCMTypes, type CipherChaCha20Poly1305Types } from "node:crypto";
import type { CipherSuite } from "./suites.js";

/** Thrown by {@link Aead.open} when authentication fails; callers drop the packet or record. */
export class AeadAuthenticationError extends Error {
  constructor() {
    super("AEAD authentication failed");
    this.name = "AeadAuthenticationError";
  }
}

/**
 * One direction's AEAD key and static IV (RFC 8446 section 5.3; RFC 9001
 * section 5.3). The per-record nonce is the IV XORed with the left-padded
 * 64-bit sequence (packet) number.
 */
export class Aead {
  private readonly algorithm: CipherGCMTypes | CipherChaCha20Poly1305Types;
  private readonly nonce: Buffer;
  private readonly keyBuf: Buffer;

  constructor(readonly suite: CipherSuite, key: Uint8Array, readonly iv: Uint8Array) {
    this.algorithm = suite.aead;
    this.keyBuf = Buffer.from(key);
    this.nonce = Buffer.alloc(12);
  }

  /** Fills the reusable nonce for `sequence` (< 2^62, so JS numbers are exact to 2^53). */
  private nonceFor(sequence: number): Buffer {
    const n = this.nonce;
    const iv = this.iv;
    for (let i = 0; i < 12; i++) n[i] = iv[i]!;
    // XOR the 64-bit big-endian sequence into the last 8 bytes.
    let lo = sequence >>> 0;
    let hi = Math.floor(sequence / 0x100000000);
    for (let i = 11; i >= 8; i--, lo >>>= 8) n[i]! ^= lo & 0xff;
    for (let i = 7; i >= 4; i--, hi >>>= 8) n[i]! ^= hi & 0xff;
    return n;
  }

  /**
   * Encrypts `plaintext` with additional data `aad`; writes ciphertext and tag
   * into `out` at `outOffset` (it may alias `plaintext`) and returns the bytes written.
   */
  sealInto(sequence: number, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, outOffset: number): number {
    const c = createCipheriv(this.algorithm as CipherGCMTypes, this.keyBuf, this.nonceFor(sequence), { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const body = c.update(plaintext);
    const fin = c.final();
    out.set(body, outOffset);
    let n = body.length;
    if (fin.length) {
      out.set(fin, outOffset + n);
      n += fin.length;
    }
    out.set(c.getAuthTag(), outOffset + n);
    return n + 16;
  }

  /** Encrypts and returns a new array of ciphertext followed by the tag. */
  seal(sequence: number, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + 16);
    this.sealInto(sequence, aad, plaintext, out, 0);
    return out;
  }

  /**
   * Decrypts `ciphertext` (which ends with the 16-byte tag). Returns the
   * plaintext, or throws {@link AeadAuthenticationError}.
   */
  open(sequence: number, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length < 16) throw new AeadAuthenticationError();
    const d = createDecipheriv(this.algorithm as CipherGCMTypes, this.keyBuf, this.nonceFor(sequence), { authTagLength: 16 });
    const bodyLen = ciphertext.length - 16;
    d.setAuthTag(ciphertext.subarray(bodyLen));
    d.setAAD(aad, { plaintextLength: bodyLen });
    const body = d.update(ciphertext.subarray(0, bodyLen));
    try {
      const fin = d.final();
      return fin.length ? new Uint8Array(Buffer.concat([body, fin])) : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    } catch {
      throw new AeadAuthenticationError();
    }
  }
}
