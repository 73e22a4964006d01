import { fromHex } from "../../util/bytes.js";

/**
 * The four long-header packet types that carry a version-specific type
 * code (RFC 9000 section 17.2, Table 5). Their wire encoding differs per
 * version, so headers are built and parsed through {@link QuicVersion}.
 */
export const LongPacketType = {
  Initial: 0,
  ZeroRtt: 1,
  Handshake: 2,
  Retry: 3,
} as const;

/** One of {@link LongPacketType}. */
export type LongPacketType = (typeof LongPacketType)[keyof typeof LongPacketType];

/**
 * Everything the packet layer needs to know about one QUIC version: its wire
 * number, the salt of its Initial secrets, its HKDF labels, its Retry
 * integrity key and nonce, and how its long-header type bits map to packet
 * types. The rest of the stack asks this table rather than testing version
 * numbers itself.
 */
export interface QuicVersion {
  /** The 32-bit version number carried in long headers. */
  readonly number: number;
  /** Short human name, e.g. `v1`. */
  readonly name: string;
  /** Salt for HKDF-Extract of the Initial secret (RFC 9001 section 5.2; RFC 9369 section 3.3.1). */
  readonly initialSalt: Uint8Array;
  /** Label of the AEAD key (RFC 9001 section 5.1; RFC 9369 section 3.3.2). */
  readonly keyLabel: string;
  /** Label of the AEAD IV (RFC 9001 section 5.1; RFC 9369 section 3.3.2). */
  readonly ivLabel: string;
  /** Label of the header-protection key (RFC 9001 section 5.4; RFC 9369 section 3.3.2). */
  readonly hpLabel: string;
  /** Label of the key-update secret (RFC 9001 section 6.1; RFC 9369 section 3.3.2). */
  readonly kuLabel: string;
  /** AES-128-GCM key of the Retry Integrity Tag (RFC 9001 section 5.8; RFC 9369 section 3.3.3). */
  readonly retryKey: Uint8Array;
  /** Nonce of the Retry Integrity Tag (RFC 9001 section 5.8; RFC 9369 section 3.3.3). */
  readonly retryNonce: Uint8Array;
  /** Wire type bits (0..3) of each {@link LongPacketType}, indexed by it. */
  readonly typeBits: readonly [number, number, number, number];
  /** {@link LongPacketType} of each wire type-bits value (0..3), indexed by it. */
  readonly typeOfBits: readonly [LongPacketType, LongPacketType, LongPacketType, LongPacketType];
}

/** QUIC version 1 (RFC 9000 section 15). */
export const QUIC_V1: QuicVersion = Object.freeze<QuicVersion>({
  number: 0x00000001,
  name: "v1",
  // RFC 9001 section 5.2.
  initialSalt: fromHex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
  // RFC 9001 section 5.1 and 6.1.
  keyLabel: "quic key",
  ivLabel: "quic iv",
  hpLabel: "quic hp",
  kuLabel: "quic ku",
  // RFC 9001 section 5.8 (derived from secret 0xd9c9943e...6fca8e with "quic key"/"quic iv").
  retryKey: fromHex("be0c690b9f66575a1d766b54e368c84e"),
  retryNonce: fromHex("461599d35d632bf2239825bb"),
  // RFC 9000 section 17.2, Table 5: Initial 0, 0-RTT 1, Handshake 2, Retry 3.
  typeBits: [0, 1, 2, 3],
  typeOfBits: [0, 1, 2, 3],
});

/** QUIC version 2 (RFC 9369). */
export const QUIC_V2: QuicVersion = Object.freeze<QuicVersion>({
  // RFC 9369 section 3.1.
  number: 0x6b3343cf,
  name: "v2",
  // RFC 9369 section 3.3.1.
  initialSalt: fromHex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
  // RFC 9369 section 3.3.2.
  keyLabel: "quicv2 key",
  ivLabel: "quicv2 iv",
  hpLabel: "quicv2 hp",
  kuLabel: "quicv2 ku",
  // RFC 9369 section 3.3.3 (derived from secret 0xc4dd2484...155e9f with "quicv2 key"/"quicv2 iv").
  retryKey: fromHex("8fb4b01b56ac48e260fbcbcead7ccc92"),
  retryNonce: fromHex("d86969bc2d7c6d9990efb04a"),
  // RFC 9369 section 3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
  typeBits: [1, 2, 3, 0],
  typeOfBits: [3, 0, 1, 2],
});

/** Versions this stack speaks, in order of preference (RFC 9369 section 4: v2 endpoints keep v1). */
export const SUPPORTED_VERSIONS: readonly QuicVersion[] = Object.freeze([QUIC_V1, QUIC_V2]);

/** The version number that marks a Version Negotiation packet (RFC 9000 section 15 and 17.2.1). */
export const VERSION_NEGOTIATION = 0x00000000;

/** The table entry of version number `v`, or undefined when unsupported. */
export function getQuicVersion(v: number): QuicVersion | undefined {
  // Two entries: a switch beats a Map lookup on the per-packet path.
  switch (v) {
    case 0x00000001:
      return QUIC_V1;
    case 0x6b3343cf:
      return QUIC_V2;
    default:
      return undefined;
  }
}

/** True when version number `v` is one this stack supports. */
export function isSupportedVersion(v: number): boolean {
  return getQuicVersion(v) !== undefined;
}

/**
 * True for the reserved versions 0x?a?a?a?a that exist to exercise version
 * negotiation (RFC 9000 section 15 and 6.3).
 */
export function isReservedVersion(v: number): boolean {
  return ((v & 0x0f0f0f0f) >>> 0) === 0x0a0a0a0a;
}

/**
 * A reserved (greased) version number 0x?a?a?a?a built from the high
 * nibbles of `random` (RFC 9000 section 6.3 and 15). Pass a random 32-bit
 * value; the result never names a real version.
 */
export function greaseVersion(random: number): number {
  return (((random & 0xf0f0f0f0) | 0x0a0a0a0a) >>> 0);
}

/** Resolves a version given as a number or a table entry; throws RangeError when unsupported. */
export function resolveVersion(version: number | QuicVersion): QuicVersion {
  if (typeof version !== "number") return version;
  const v = getQuicVersion(version);
  if (!v) throw new RangeError(`unsupported QUIC version 0x${(version >>> 0).toString(16).padStart(8, "0")}`);
  return v;
}
