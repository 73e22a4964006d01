/**
 * The TLS 1.3 cipher suites QUIC can use (RFC 8446 Appendix B.4; RFC 9001
 * section 5.3 and 5.4.3 for the header-protection ciphers), with everything
 * both the TLS key schedule and QUIC packet protection need to know of each.
 */
export interface CipherSuite {
  /** IANA code point (RFC 8446 Appendix B.4). */
  readonly id: number;
  /** IANA name, e.g. `TLS_AES_128_GCM_SHA256`. */
  readonly name: CipherSuiteName;
  /** HKDF / transcript hash. */
  readonly hash: "sha256" | "sha384";
  /** Output length of `hash` in bytes. */
  readonly hashLength: number;
  /** node:crypto AEAD name. */
  readonly aead: "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305";
  /** AEAD key length in bytes. */
  readonly keyLength: number;
  /** AEAD nonce length in bytes (RFC 8446 section 5.3: iv_length is 12 for all suites). */
  readonly ivLength: 12;
  /** AEAD tag length in bytes. */
  readonly tagLength: 16;
  /** Header protection cipher (RFC 9001 section 5.4.3 and 5.4.4). */
  readonly headerProtection: "aes-128-ecb" | "aes-256-ecb" | "chacha20";
  /**
   * Confidentiality limit: packets one key may protect (RFC 9001 section 6.6).
   * AES-GCM: 2^23; ChaCha20-Poly1305: greater than the packet-number space, so 2^62.
   */
  readonly confidentialityLimit: number;
  /** Integrity limit: forged packets tolerated per key (RFC 9001 section 6.6). */
  readonly integrityLimit: number;
}

/** The names of the supported cipher suites. */
export type CipherSuiteName = "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256";

/** TLS_AES_128_GCM_SHA256 = {0x13,0x01} (RFC 8446 Appendix B.4). */
export const TLS_AES_128_GCM_SHA256: CipherSuite = Object.freeze({
  id: 0x1301,
  name: "TLS_AES_128_GCM_SHA256",
  hash: "sha256",
  hashLength: 32,
  aead: "aes-128-gcm",
  keyLength: 16,
  ivLength: 12,
  tagLength: 16,
  headerProtection: "aes-128-ecb",
  confidentialityLimit: 2 ** 23,
  integrityLimit: 2 ** 52,
});

/** TLS_AES_256_GCM_SHA384 = {0x13,0x02} (RFC 8446 Appendix B.4). */
export const TLS_AES_256_GCM_SHA384: CipherSuite = Object.freeze({
  id: 0x1302,
  name: "TLS_AES_256_GCM_SHA384",
  hash: "sha384",
  hashLength: 48,
  aead: "aes-256-gcm",
  keyLength: 32,
  ivLength: 12,
  tagLength: 16,
  headerProtection: "aes-256-ecb",
  confidentialityLimit: 2 ** 23,
  integrityLimit: 2 ** 52,
});

/** TLS_CHACHA20_POLY1305_SHA256 = {0x13,0x03} (RFC 8446 Appendix B.4). */
export const TLS_CHACHA20_POLY1305_SHA256: CipherSuite = Object.freeze({
  id: 0x1303,
  name: "TLS_CHACHA20_POLY1305_SHA256",
  hash: "sha256",
  hashLength: 32,
  aead: "chacha20-poly1305",
  keyLength: 32,
  ivLength: 12,
  tagLength: 16,
  headerProtection: "chacha20",
  confidentialityLimit: 2 ** 62,
  integrityLimit: 2 ** 36,
});

/** All supported suites in tsquic's default preference order. */
export const CIPHER_SUITES: readonly CipherSuite[] = [
  TLS_AES_128_GCM_SHA256,
  TLS_AES_256_GCM_SHA384,
  TLS_CHACHA20_POLY1305_SHA256,
];

/** Looks a suite up by code point or name; undefined when unsupported. */
export function findCipherSuite(idOrName: number | string): CipherSuite | undefined {
  return CIPHER_SUITES.find((s) => s.id === idOrName || s.name === idOrName);
}
