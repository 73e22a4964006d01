import { createCipheriv, type Cipher } from "node:crypto";
import type { CipherSuite } from "../../crypto/suites.js";

/** Bytes of ciphertext sampled for header protection (RFC 9001 section 5.4.2, 5.4.3, 5.4.4). */
export const HP_SAMPLE_LENGTH = 16;

/**
 * Computes header-protection masks for one header-protection key
 * (RFC 9001 section 5.4). One instance serves a direction for the whole
 * connection: the key does not change on key update (RFC 9001 section 6.1).
 */
export interface HeaderProtection {
  /**
   * Returns the mask for the 16-byte sample at `packet[sampleOffset..+16]`;
   * bytes 0..4 of the result are the mask. The array may be reused by the
   * next call. The caller has checked that the sample lies inside the packet.
   */
  mask(packet: Uint8Array, sampleOffset: number): Uint8Array;
  /**
   * Masks for `count` samples laid end to end in `samples` (16 bytes each):
   * bytes `16 * i .. 16 * i + 5` of the result are sample i's mask. Present
   * when one call for many samples is cheaper than a call per sample.
   */
  maskMany?(samples: Uint8Array, count: number): Uint8Array;
}

/**
 * AES-ECB header protection (RFC 9001 section 5.4.3): mask = AES-ECB(hp, sample).
 * One ECB cipher is created per key and fed one block per packet, so there is
 * no per-packet key schedule.
 */
export class AesHeaderProtection implements HeaderProtection {
  private readonly ecb: Cipher;

  constructor(algorithm: "aes-128-ecb" | "aes-256-ecb", hpKey: Uint8Array) {
    const want = algorithm === "aes-128-ecb" ? 16 : 32;
    if (hpKey.length !== want) throw new RangeError(`${algorithm} header-protection key must be ${want} bytes`);
    this.ecb = createCipheriv(algorithm, hpKey, null);
    // ECB without padding turns each 16-byte update into exactly one block.
    this.ecb.setAutoPadding(false);
  }

  mask(packet: Uint8Array, sampleOffset: number): Uint8Array {
    return this.ecb.update(packet.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH));
  }

  /** Each 16-byte sample is one ECB block, so one update masks them all: one native call instead of `count`. */
  maskMany(samples: Uint8Array, count: number): Uint8Array {
    return this.ecb.update(samples.subarray(0, count * HP_SAMPLE_LENGTH));
  }
}

// "expand 32-byte k" as four little-endian words (RFC 8439 section 2.3).
const SIGMA0 = 0x61707865;
const SIGMA1 = 0x3320646e;
const SIGMA2 = 0x79622d32;
const SIGMA3 = 0x6b206574;

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * ChaCha20 header protection (RFC 9001 section 5.4.4): the first 4 sample
 * bytes are the little-endian block counter, the other 12 the nonce, and
 * the mask is the first 5 keystream bytes. node:crypto can only take a new
 * counter and nonce through a new cipher object (about 2.6 µs each here), so
 * this computes the one ChaCha20 block in JavaScript (RFC 8439 section 2.3),
 * which is several times faster.
 */
export class ChaChaHeaderProtection implements HeaderProtection {
  private readonly k: Uint32Array;
  private readonly out = new Uint8Array(8);

  constructor(hpKey: Uint8Array) {
    if (hpKey.length !== 32) throw new RangeError("chacha20 header-protection key must be 32 bytes");
    this.k = new Uint32Array(8);
    for (let i = 0; i < 8; i++) this.k[i] = le32(hpKey, 4 * i);
  }

  mask(packet: Uint8Array, sampleOffset: number): Uint8Array {
    const k = this.k;
    const s = sampleOffset;
    // Initial state (RFC 8439 section 2.3): constants, key, counter, nonce.
    let x0 = SIGMA0, x1 = SIGMA1, x2 = SIGMA2, x3 = SIGMA3;
    let x4 = k[0]!, x5 = k[1]!, x6 = k[2]!, x7 = k[3]!, x8 = k[4]!, x9 = k[5]!, x10 = k[6]!, x11 = k[7]!;
    let x12 = le32(packet, s), x13 = le32(packet, s + 4), x14 = le32(packet, s + 8), x15 = le32(packet, s + 12);
    let t: number;
    // 20 rounds = 10 double rounds of column then diagonal quarter rounds
    // (RFC 8439 section 2.1 and 2.3). Written out by hand so V8 keeps every
    // word in a register; `| 0` keeps the additions in 32 bits.
    for (let i = 0; i < 10; i++) {
      // Column round: QR(0,4,8,12) QR(1,5,9,13) QR(2,6,10,14) QR(3,7,11,15).
      x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 16) | (t >>> 16);
      x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 12) | (t >>> 20);
      x0 = (x0 + x4) | 0; t = x12 ^ x0; x12 = (t << 8) | (t >>> 24);
      x8 = (x8 + x12) | 0; t = x4 ^ x8; x4 = (t << 7) | (t >>> 25);

      x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 16) | (t >>> 16);
      x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 12) | (t >>> 20);
      x1 = (x1 + x5) | 0; t = x13 ^ x1; x13 = (t << 8) | (t >>> 24);
      x9 = (x9 + x13) | 0; t = x5 ^ x9; x5 = (t << 7) | (t >>> 25);

      x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 16) | (t >>> 16);
      x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 12) | (t >>> 20);
      x2 = (x2 + x6) | 0; t = x14 ^ x2; x14 = (t << 8) | (t >>> 24);
      x10 = (x10 + x14) | 0; t = x6 ^ x10; x6 = (t << 7) | (t >>> 25);

      x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 16) | (t >>> 16);
      x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 12) | (t >>> 20);
      x3 = (x3 + x7) | 0; t = x15 ^ x3; x15 = (t << 8) | (t >>> 24);
      x11 = (x11 + x15) | 0; t = x7 ^ x11; x7 = (t << 7) | (t >>> 25);

      // Diagonal round: QR(0,5,10,15) QR(1,6,11,12) QR(2,7,8,13) QR(3,4,9,14).
      x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 16) | (t >>> 16);
      x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 12) | (t >>> 20);
      x0 = (x0 + x5) | 0; t = x15 ^ x0; x15 = (t << 8) | (t >>> 24);
      x10 = (x10 + x15) | 0; t = x5 ^ x10; x5 = (t << 7) | (t >>> 25);

      x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 16) | (t >>> 16);
      x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 12) | (t >>> 20);
      x1 = (x1 + x6) | 0; t = x12 ^ x1; x12 = (t << 8) | (t >>> 24);
      x11 = (x11 + x12) | 0; t = x6 ^ x11; x6 = (t << 7) | (t >>> 25);

      x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 16) | (t >>> 16);
      x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 12) | (t >>> 20);
      x2 = (x2 + x7) | 0; t = x13 ^ x2; x13 = (t << 8) | (t >>> 24);
      x8 = (x8 + x13) | 0; t = x7 ^ x8; x7 = (t << 7) | (t >>> 25);

      x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 16) | (t >>> 16);
      x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 12) | (t >>> 20);
      x3 = (x3 + x4) | 0; t = x14 ^ x3; x14 = (t << 8) | (t >>> 24);
      x9 = (x9 + x14) | 0; t = x4 ^ x9; x4 = (t << 7) | (t >>> 25);
    }
    // Only keystream words 0 and 1 are needed for a 5-byte mask.
    const w0 = (x0 + SIGMA0) | 0;
    const w1 = (x1 + SIGMA1) | 0;
    const o = this.out;
    o[0] = w0;
    o[1] = w0 >>> 8;
    o[2] = w0 >>> 16;
    o[3] = w0 >>> 24;
    o[4] = w1;
    o[5] = w1 >>> 8;
    o[6] = w1 >>> 16;
    o[7] = w1 >>> 24;
    return o;
  }
}

/** The header-protection function of `suite` keyed with `hpKey` (RFC 9001 section 5.4.3 and 5.4.4). */
export function createHeaderProtection(suite: CipherSuite, hpKey: Uint8Array): HeaderProtection {
  return suite.headerProtection === "chacha20"
    ? new ChaChaHeaderProtection(hpKey)
    : new AesHeaderProtection(suite.headerProtection, hpKey);
}
