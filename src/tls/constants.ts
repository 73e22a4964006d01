/**
 * TLS 1.3 code points: handshake types, extension types, named groups,
 * signature schemes and the other small enums the engine needs. Each table
 * cites the registry it comes from.
 */

/** TLS 1.3 version number in supported_versions (RFC 8446 section 4.2.1). */
export const TLS13 = 0x0304;
/** legacy_version of every TLS 1.3 ClientHello and ServerHello (RFC 8446 section 4.1.2, 4.1.3). */
export const TLS12 = 0x0303;

/** HandshakeType (RFC 8446 section 4). */
export const HandshakeType = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  /** Synthetic message replacing ClientHello1 in the transcript after a HelloRetryRequest (RFC 8446 section 4.4.1). */
  message_hash: 254,
} as const;

/** Name of a handshake type for error messages. */
export function handshakeTypeName(type: number): string {
  for (const [name, value] of Object.entries(HandshakeType)) if (value === type) return name;
  return `handshake(${type})`;
}

/** ExtensionType (RFC 8446 section 4.2; RFC 9001 section 8.2 for quic_transport_parameters). */
export const ExtensionType = {
  server_name: 0,
  max_fragment_length: 1,
  status_request: 5,
  supported_groups: 10,
  signature_algorithms: 13,
  use_srtp: 14,
  heartbeat: 15,
  application_layer_protocol_negotiation: 16,
  signed_certificate_timestamp: 18,
  client_certificate_type: 19,
  server_certificate_type: 20,
  padding: 21,
  record_size_limit: 28,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  certificate_authorities: 47,
  oid_filters: 48,
  post_handshake_auth: 49,
  signature_algorithms_cert: 50,
  key_share: 51,
  /** RFC 9001 section 8.2. */
  quic_transport_parameters: 0x39,
} as const;

/** NamedGroup code points (RFC 8446 section 4.2.7). */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  secp521r1: 0x0019,
  x25519: 0x001d,
  x448: 0x001e,
} as const;

/** The key-exchange groups tsquic implements. */
export type GroupName = "x25519" | "secp256r1" | "secp384r1";

/** All implemented groups in default preference order. */
export const SUPPORTED_GROUPS: readonly GroupName[] = ["x25519", "secp256r1", "secp384r1"];

/** Code point of a group name. */
export function groupCode(name: GroupName): number {
  return NamedGroup[name];
}

/** Implemented group name of a code point, or undefined. */
export function groupName(code: number): GroupName | undefined {
  return SUPPORTED_GROUPS.find((g) => NamedGroup[g] === code);
}

/** SignatureScheme code points (RFC 8446 section 4.2.3). */
export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  ed448: 0x0808,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
} as const;

/** The signature schemes tsquic can produce and verify in CertificateVerify. */
export type SignatureSchemeName =
  | "ecdsa_secp256r1_sha256"
  | "ecdsa_secp384r1_sha384"
  | "ecdsa_secp521r1_sha512"
  | "rsa_pss_rsae_sha256"
  | "rsa_pss_rsae_sha384"
  | "rsa_pss_rsae_sha512"
  | "ed25519";

/** Default signature_algorithms, in preference order. */
export const DEFAULT_SIGNATURE_SCHEMES: readonly SignatureSchemeName[] = [
  "ecdsa_secp256r1_sha256",
  "ecdsa_secp384r1_sha384",
  "rsa_pss_rsae_sha256",
  "rsa_pss_rsae_sha384",
  "rsa_pss_rsae_sha512",
  "ed25519",
];

/** Every implemented CertificateVerify scheme. */
export const SIGNATURE_SCHEMES: readonly SignatureSchemeName[] = [...DEFAULT_SIGNATURE_SCHEMES, "ecdsa_secp521r1_sha512"];

/** Code point of a signature scheme name. */
export function signatureSchemeCode(name: SignatureSchemeName): number {
  return SignatureScheme[name];
}

/** Implemented scheme name of a code point, or undefined. */
export function signatureSchemeName(code: number): SignatureSchemeName | undefined {
  return SIGNATURE_SCHEMES.find((s) => SignatureScheme[s] === code);
}

/** PskKeyExchangeMode (RFC 8446 section 4.2.9). */
export const PskKeyExchangeMode = {
  psk_ke: 0,
  psk_dhe_ke: 1,
} as const;

/** KeyUpdateRequest (RFC 8446 section 4.6.3). */
export const KeyUpdateRequest = {
  update_not_requested: 0,
  update_requested: 1,
} as const;

/**
 * ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest")
 * (RFC 8446 section 4.1.3).
 */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16,
  0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** Longest ticket lifetime a server may announce: 7 days (RFC 8446 section 4.6.1). */
export const MAX_TICKET_LIFETIME_SECONDS = 604800;

/** max_early_data_size a QUIC server must announce (RFC 9001 section 4.6.1). */
export const QUIC_MAX_EARLY_DATA = 0xffffffff;
