/**
 * (EC)DHE key shares for the supported groups (RFC 8446 section 4.2.8):
 * x25519 (RFC 7748) and the NIST curves secp256r1 / secp384r1 in
 * uncompressed form (RFC 8446 section 4.2.8.2). Private keys come from the
 * injected random source so handshakes can be replayed deterministically.
 */
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, type ECDH, type JsonWebKey, type KeyObject } from "node:crypto";
import { AlertDescription, TlsAlertError } from "./alerts.js";
import type { GroupName } from "./constants.js";

/** A source of random bytes. */
export type RandomSource = (length: number) => Uint8Array;

/** Our half of a key exchange. */
export interface KeyShare {
  /** Group of this share. */
  readonly group: GroupName;
  /** key_exchange bytes to send. */
  readonly publicKey: Uint8Array;
  /**
   * The shared secret with the peer's key_exchange bytes. An invalid peer
   * share (wrong length, point not on the curve, low-order point) is
   * illegal_parameter (RFC 8446 section 4.2.8, 7.4.2).
   */
  computeSecret(peer: Uint8Array): Uint8Array;
}

/** Public key length of each group (RFC 8446 section 4.2.8.2). */
export const KEY_SHARE_LENGTH: Record<GroupName, number> = { x25519: 32, secp256r1: 65, secp384r1: 97 };

function illegal(reason: string, cause?: unknown): TlsAlertError {
  return new TlsAlertError(AlertDescription.illegal_parameter, reason, { cause });
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/**
 * Raw X25519 keys enter node:crypto as JWK (RFC 8037 section 2): importing a
 * JWK is about ten times cheaper than the PKCS#8 / SPKI DER route, which
 * made key generation the largest cost of a server handshake. For a private
 * JWK node:crypto derives the public key from `d` and ignores `x`, but
 * requires the member to be a string.
 */
function x25519Jwk(key: Uint8Array, isPrivate: boolean): { key: JsonWebKey; format: "jwk" } {
  const b64 = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("base64url");
  return { key: isPrivate ? { kty: "OKP", crv: "X25519", d: b64, x: "" } : { kty: "OKP", crv: "X25519", x: b64 }, format: "jwk" };
}

class X25519Share implements KeyShare {
  readonly group = "x25519" as const;
  readonly publicKey: Uint8Array;
  private readonly privateKey: KeyObject;

  constructor(random: RandomSource) {
    this.privateKey = createPrivateKey(x25519Jwk(random(32), true));
    this.publicKey = new Uint8Array(Buffer.from(this.privateKey.export({ format: "jwk" }).x!, "base64url"));
  }

  computeSecret(peer: Uint8Array): Uint8Array {
    if (peer.length !== 32) throw illegal(`x25519 key share of ${peer.length} bytes`);
    let secret: Uint8Array;
    try {
      const publicKey = createPublicKey(x25519Jwk(peer, false));
      secret = new Uint8Array(diffieHellman({ privateKey: this.privateKey, publicKey }));
    } catch (e) {
      throw illegal("invalid x25519 key share", e);
    }
    // RFC 8446 section 7.4.2: abort on an all-zero X25519 output (low-order point).
    if (isZero(secret)) throw illegal("x25519 shared secret is zero");
    return secret;
  }
}

class EcdhShare implements KeyShare {
  readonly publicKey: Uint8Array;
  private readonly ecdh: ECDH;

  constructor(readonly group: "secp256r1" | "secp384r1", random: RandomSource) {
    this.ecdh = createECDH(group === "secp256r1" ? "prime256v1" : "secp384r1");
    const size = group === "secp256r1" ? 32 : 48;
    // A scalar outside [1, n-1] is rejected by OpenSSL; draw again (probability ~2^-32 for P-256).
    for (let attempt = 0; ; attempt++) {
      try {
        this.ecdh.setPrivateKey(Buffer.from(random(size)));
        break;
      } catch (e) {
        if (attempt > 16) throw e;
      }
    }
    this.publicKey = new Uint8Array(this.ecdh.getPublicKey(null, "uncompressed"));
  }

  computeSecret(peer: Uint8Array): Uint8Array {
    // UncompressedPointRepresentation: 0x04 || X || Y (RFC 8446 section 4.2.8.2).
    if (peer.length !== KEY_SHARE_LENGTH[this.group] || peer[0] !== 4) throw illegal(`malformed ${this.group} key share`);
    try {
      return new Uint8Array(this.ecdh.computeSecret(Buffer.from(peer)));
    } catch (e) {
      throw illegal(`${this.group} key share is not a point on the curve`, e);
    }
  }
}

/** Generates a fresh key share for `group`. */
export function generateKeyShare(group: GroupName, random: RandomSource): KeyShare {
  return group === "x25519" ? new X25519Share(random) : new EcdhShare(group, random);
}
