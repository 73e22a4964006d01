/**
 * CertificateVerify signatures (RFC 8446 section 4.4.3): which schemes a key
 * can produce, signing, and verifying with a certificate's public key.
 */
import { X509Certificate, constants, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { concatBytes } from "../util/bytes.js";
import { AlertDescription, TlsAlertError } from "./alerts.js";
import { DEFAULT_SIGNATURE_SCHEMES, SIGNATURE_SCHEMES, signatureSchemeCode as schemeCode, type SignatureSchemeName } from "./constants.js";

interface SchemeInfo {
  /** Digest for node:crypto (null: the algorithm hashes itself, Ed25519). */
  readonly hash: "sha256" | "sha384" | "sha512" | null;
  readonly keyType: "ec" | "rsa" | "ed25519";
  /** For ECDSA in TLS 1.3 the curve is bound to the scheme (RFC 8446 section 4.2.3). */
  readonly curve?: "prime256v1" | "secp384r1" | "secp521r1";
  readonly pss?: boolean;
}

const SCHEMES: Record<SignatureSchemeName, SchemeInfo> = {
  ecdsa_secp256r1_sha256: { hash: "sha256", keyType: "ec", curve: "prime256v1" },
  ecdsa_secp384r1_sha384: { hash: "sha384", keyType: "ec", curve: "secp384r1" },
  ecdsa_secp521r1_sha512: { hash: "sha512", keyType: "ec", curve: "secp521r1" },
  rsa_pss_rsae_sha256: { hash: "sha256", keyType: "rsa", pss: true },
  rsa_pss_rsae_sha384: { hash: "sha384", keyType: "rsa", pss: true },
  rsa_pss_rsae_sha512: { hash: "sha512", keyType: "rsa", pss: true },
  ed25519: { hash: null, keyType: "ed25519" },
};

const HASH_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

const SPACES = new Uint8Array(64).fill(0x20);
const SERVER_CONTEXT = new TextEncoder().encode("TLS 1.3, server CertificateVerify");
const CLIENT_CONTEXT = new TextEncoder().encode("TLS 1.3, client CertificateVerify");

/**
 * The content covered by a CertificateVerify signature (RFC 8446 section
 * 4.4.3): 64 spaces, the context string, a zero byte, the transcript hash.
 */
export function certificateVerifyContent(server: boolean, transcriptHash: Uint8Array): Uint8Array {
  return concatBytes(SPACES, server ? SERVER_CONTEXT : CLIENT_CONTEXT, Uint8Array.of(0), transcriptHash);
}

/** True when `key` (private or public) can be used with `scheme`. */
export function keyFitsScheme(key: KeyObject, scheme: SignatureSchemeName): boolean {
  const info = SCHEMES[scheme];
  if (key.asymmetricKeyType !== info.keyType) return false;
  if (info.keyType === "ec") return key.asymmetricKeyDetails?.namedCurve === info.curve;
  if (info.pss) {
    // EMSA-PSS needs emLen >= hLen + sLen + 2 with sLen = hLen (RFC 8017 section 9.1.1; RFC 8446 section 4.2.3).
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return Math.ceil((bits - 1) / 8) >= 2 * HASH_BYTES[info.hash!] + 2;
  }
  return true;
}

/** The schemes a private key can sign with, in `preference` order. */
export function schemesForKey(key: KeyObject, preference: readonly SignatureSchemeName[] = DEFAULT_SIGNATURE_SCHEMES): SignatureSchemeName[] {
  return preference.filter((s) => keyFitsScheme(key, s));
}

/** Signs `content` with `scheme`. */
export function signContent(scheme: SignatureSchemeName, key: KeyObject, content: Uint8Array): Uint8Array {
  const info = SCHEMES[scheme];
  if (info.pss) {
    return new Uint8Array(
      cryptoSign(info.hash, content, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[info.hash!] }),
    );
  }
  return new Uint8Array(cryptoSign(info.hash, content, { key, dsaEncoding: "der" }));
}

/** Verifies a signature; false for a wrong or malformed signature. */
export function verifyContent(scheme: SignatureSchemeName, key: KeyObject, content: Uint8Array, signature: Uint8Array): boolean {
  const info = SCHEMES[scheme];
  try {
    if (info.pss) {
      return cryptoVerify(
        info.hash,
        content,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[info.hash!] },
        signature,
      );
    }
    return cryptoVerify(info.hash, content, { key, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

/**
 * The public key of a DER certificate. A certificate node:crypto cannot
 * parse is bad_certificate (RFC 8446 section 6.2).
 */
export function certificatePublicKey(der: Uint8Array): KeyObject {
  // A client meets the same server certificate again and again; parsing one costs about a millisecond.
  const cacheKey = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("latin1");
  const cached = publicKeyCache.get(cacheKey);
  if (cached) return cached;
  let key: KeyObject;
  try {
    key = new X509Certificate(der).publicKey;
  } catch (e) {
    throw new TlsAlertError(AlertDescription.bad_certificate, "certificate cannot be parsed", { cause: e });
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.delete(publicKeyCache.keys().next().value!);
  publicKeyCache.set(cacheKey, key);
  return key;
}

/** Public keys of recently seen certificates, by their DER bytes (the key is a function of them). */
const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_LIMIT = 32;

/**
 * Checks a peer's CertificateVerify: the scheme must be one we offered
 * (illegal_parameter), fit the certificate's key (illegal_parameter), and the
 * signature must verify (decrypt_error) (RFC 8446 section 4.4.3).
 */
export function checkCertificateVerify(options: {
  scheme: number;
  signature: Uint8Array;
  offered: readonly SignatureSchemeName[];
  publicKey: KeyObject;
  server: boolean;
  transcriptHash: Uint8Array;
}): SignatureSchemeName {
  const name = SIGNATURE_SCHEMES.find((s) => schemeCode(s) === options.scheme);
  if (!name || !options.offered.includes(name))
    throw new TlsAlertError(AlertDescription.illegal_parameter, `CertificateVerify uses unoffered scheme 0x${options.scheme.toString(16)}`);
  if (!keyFitsScheme(options.publicKey, name))
    throw new TlsAlertError(AlertDescription.illegal_parameter, `${name} does not match the certificate's key`);
  const content = certificateVerifyContent(options.server, options.transcriptHash);
  if (!verifyContent(name, options.publicKey, content, options.signature))
    throw new TlsAlertError(AlertDescription.decrypt_error, "CertificateVerify signature does not verify");
  return name;
}
