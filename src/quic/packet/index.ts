/**
 * The QUIC packet layer: versions, header codec, packet numbers, packet and
 * header protection, Retry, Version Negotiation and Stateless Reset
 * (RFC 9000 section 17, RFC 9001 section 5, RFC 9369).
 */
export * from "./version.js";
export * from "./errors.js";
export * from "./packet-number.js";
export * from "./keys.js";
export * from "./header-protection.js";
export * from "./protection.js";
export * from "./header.js";
export * from "./retry.js";
export * from "./version-negotiation.js";
export * from "./stateless-reset.js";
