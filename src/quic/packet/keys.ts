import { hkdfExtract, hkdfExpandLabel } from "../../crypto/hkdf.js";
import type { CipherSuite } from "../../crypto/suites.js";
import { resolveVersion, type QuicVersion } from "./version.js";

/** The two Initial secrets of a connection (RFC 9001 section 5.2). */
export interface InitialSecrets {
  /** Protects packets the client sends. */
  readonly client: Uint8Array;
  /** Protects packets the server sends. */
  readonly server: Uint8Array;
}

/** An AEAD key, its static IV and the header-protection key (RFC 9001 section 5.1). */
export interface PacketKeys {
  /** AEAD key ("quic key"), `suite.keyLength` bytes. */
  readonly key: Uint8Array;
  /** AEAD IV ("quic iv"), 12 bytes. */
  readonly iv: Uint8Array;
  /** Header-protection key ("quic hp"), `suite.keyLength` bytes. */
  readonly hp: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Length of each Initial secret: SHA-256 output (RFC 9001 section 5.2). */
const INITIAL_SECRET_LENGTH = 32;

/**
 * Derives the client and server Initial secrets from the Destination
 * Connection ID of the client's first Initial packet (or the one a Retry
 * chose), with the version's salt (RFC 9001 section 5.2; RFC 9369 section
 * 3.3.1). Throws RangeError for an unsupported version.
 */
export function deriveInitialSecrets(version: number | QuicVersion, dcid: Uint8Array): InitialSecrets {
  const v = resolveVersion(version);
  const initial = hkdfExtract("sha256", v.initialSalt, dcid);
  return {
    client: hkdfExpandLabel("sha256", initial, "client in", EMPTY, INITIAL_SECRET_LENGTH),
    server: hkdfExpandLabel("sha256", initial, "server in", EMPTY, INITIAL_SECRET_LENGTH),
  };
}

/**
 * Expands a traffic secret into the AEAD key, IV and header-protection key
 * of `suite`, with the version's labels and an empty context (RFC 9001
 * section 5.1; RFC 9369 section 3.3.2). The IV is 12 bytes for every TLS 1.3
 * suite (RFC 9001 section 5.1: the larger of 8 and the nonce length).
 */
export function derivePacketKeys(suite: CipherSuite, secret: Uint8Array, version: number | QuicVersion): PacketKeys {
  const v = resolveVersion(version);
  return {
    key: hkdfExpandLabel(suite.hash, secret, v.keyLabel, EMPTY, suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, v.ivLabel, EMPTY, suite.ivLength),
    // The HP key has the AEAD key's length for all three suites (RFC 9001 section 5.4.3 and 5.4.4).
    hp: hkdfExpandLabel(suite.hash, secret, v.hpLabel, EMPTY, suite.keyLength),
  };
}

/**
 * The 1-RTT secret of the next key phase: HKDF-Expand-Label(secret,
 * "quic ku", "", Hash.length) (RFC 9001 section 6.1; "quicv2 ku" in RFC
 * 9369 section 3.3.2). The header-protection key does not change
 * (RFC 9001 section 6.1), so only key and IV are derived from the result.
 */
export function nextKeyPhaseSecret(suite: CipherSuite, secret: Uint8Array, version: number | QuicVersion): Uint8Array {
  const v = resolveVersion(version);
  return hkdfExpandLabel(suite.hash, secret, v.kuLabel, EMPTY, suite.hashLength);
}
