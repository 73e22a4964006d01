import { DecodeError } from "../../util/errors.js";
import { ByteReader } from "../../util/bytes.js";
import { putVarint, readVarint } from "../varint.js";
import { writePacketNumber } from "./packet-number.js";
import { getQuicVersion, LongPacketType, resolveVersion, VERSION_NEGOTIATION, type QuicVersion } from "./version.js";
import { AEAD_TAG_LENGTH } from "./protection.js";

/** Longest connection ID in QUIC v1 and v2 (RFC 9000 section 17.2; RFC 9369 section 3). */
export const MAX_CID_LENGTH = 20;

/**
 * Longest connection ID any version may use: the invariants give it an
 * 8-bit length (RFC 8999 section 5.1), so a server can still answer an
 * unknown version with Version Negotiation (RFC 9000 section 17.2).
 */
export const MAX_INVARIANT_CID_LENGTH = 255;

/**
 * Smallest UDP payload that may carry a client's Initial packet, and that a
 * server must receive before answering an unknown version (RFC 9000 section
 * 14.1 and 5.2.2). Enforcing it is the endpoint's job; it is here so the
 * endpoint and connection share one constant.
 */
export const MIN_INITIAL_DATAGRAM_SIZE = 1200;

/** Length of the Retry Integrity Tag (RFC 9001 section 5.8). */
export const RETRY_INTEGRITY_TAG_LENGTH = 16;

/** Header form bit (RFC 9000 section 17.2 and 17.3). */
export const HEADER_FORM_LONG = 0x80;
/** Fixed bit (RFC 9000 section 17.2 and 17.3.1). */
export const FIXED_BIT = 0x40;
/** Spin bit of a short header (RFC 9000 section 17.4). */
export const SPIN_BIT = 0x20;
/** Key Phase bit of a short header, protected (RFC 9000 section 17.3.1). */
export const KEY_PHASE_BIT = 0x04;

/**
 * Every kind of packet the parser recognises. The first four are
 * {@link LongPacketType} values so the two can be compared directly.
 */
export const PacketType = {
  Initial: LongPacketType.Initial,
  ZeroRtt: LongPacketType.ZeroRtt,
  Handshake: LongPacketType.Handshake,
  Retry: LongPacketType.Retry,
  /** Long header with Version 0 (RFC 9000 section 17.2.1). */
  VersionNegotiation: 4,
  /** Short header (RFC 9000 section 17.3.1). */
  OneRtt: 5,
  /**
   * Long header of a version this stack does not support: only the
   * version-independent fields are known (RFC 8999 section 5.1), which is
   * what a server needs to send Version Negotiation.
   */
  UnsupportedVersion: 6,
} as const;

/** One of {@link PacketType}. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType];

const EMPTY = new Uint8Array(0);

/**
 * A parsed packet header. Byte fields are views into the datagram (not
 * copies): copy what must outlive it. Offsets are absolute positions in
 * the datagram buffer.
 */
export interface PacketHeader {
  /** The kind of packet. */
  type: PacketType;
  /** True for the long header form. */
  longHeader: boolean;
  /**
   * The Version field; 0 for Version Negotiation; 0 for short headers, whose
   * version is the connection's.
   */
  version: number;
  /** The version's table entry; undefined for short headers, VN and unsupported versions. */
  versionInfo: QuicVersion | undefined;
  /** The first byte as received (still header-protected for protected packets). */
  firstByte: number;
  /** Offset of the first byte. */
  headerStart: number;
  /** Destination Connection ID. */
  dcid: Uint8Array;
  /** Source Connection ID; empty for short headers. */
  scid: Uint8Array;
  /** Initial: the Token field; Retry: the Retry Token; otherwise empty. */
  token: Uint8Array;
  /**
   * The Length field of Initial, 0-RTT and Handshake packets (packet number
   * plus payload); for short headers the bytes from `pnOffset` to the end;
   * 0 for other types.
   */
  length: number;
  /** Start of the Packet Number field; -1 for Retry, VN and unsupported versions. */
  pnOffset: number;
  /**
   * End of this packet. Another packet may follow it in the same datagram
   * (RFC 9000 section 12.2) only after Initial, 0-RTT and Handshake packets;
   * for the other types it is the end of the datagram.
   */
  packetEnd: number;
}

/**
 * Parses the packet header at `buf[offset..end]` (RFC 9000 section 17).
 *
 * Validation done here: truncation anywhere, connection IDs over 20 bytes in
 * supported versions (RFC 9000 section 17.2: drop), the fixed bit (RFC 9000
 * section 17.2 and 17.3.1: drop when zero, unless `allowClearedFixedBit` is
 * set because this endpoint advertised grease_quic_bit, RFC 9287 section 3),
 * a Length running past the datagram, and a Retry too short for its tag.
 * The protected bits are not interpreted: remove header protection next.
 *
 * @param shortDcidLength length of this endpoint's connection IDs, needed to
 *   find the end of a short header's DCID (RFC 9000 section 5.1)
 * @throws DecodeError on malformed input; the caller drops the rest of the datagram
 * @throws RangeError when `shortDcidLength` is not 0..20 (a caller bug, not input)
 */
export function parsePacketHeader(
  buf: Uint8Array,
  offset: number,
  end: number,
  shortDcidLength: number,
  allowClearedFixedBit = false,
): PacketHeader {
  if (!(shortDcidLength >= 0 && shortDcidLength <= MAX_CID_LENGTH)) throw new RangeError("invalid local connection ID length");
  if (offset < 0 || end > buf.length || offset >= end) throw new DecodeError("empty packet");
  const first = buf[offset]!;

  if ((first & HEADER_FORM_LONG) === 0) {
    // Short header (RFC 9000 section 17.3.1).
    if ((first & FIXED_BIT) === 0 && !allowClearedFixedBit) throw new DecodeError("fixed bit is zero");
    const pnOffset = offset + 1 + shortDcidLength;
    if (pnOffset > end) throw new DecodeError("short header truncated");
    return {
      type: PacketType.OneRtt,
      longHeader: false,
      version: 0,
      versionInfo: undefined,
      firstByte: first,
      headerStart: offset,
      dcid: buf.subarray(offset + 1, pnOffset),
      scid: EMPTY,
      token: EMPTY,
      length: end - pnOffset,
      pnOffset,
      packetEnd: end,
    };
  }

  // Long header: version-independent part first (RFC 8999 section 5.1).
  const r = new ByteReader(buf, offset + 1, end);
  const version = r.u32();
  const dcidLen = r.u8();
  const dcid = r.bytesView(dcidLen);
  const scidLen = r.u8();
  const scid = r.bytesView(scidLen);
  const header: PacketHeader = {
    type: PacketType.UnsupportedVersion,
    longHeader: true,
    version,
    versionInfo: undefined,
    firstByte: first,
    headerStart: offset,
    dcid,
    scid,
    token: EMPTY,
    length: 0,
    pnOffset: -1,
    packetEnd: end,
  };

  if (version === VERSION_NEGOTIATION) {
    // The Unused bits, fixed bit included, carry no meaning (RFC 9000 section 17.2.1).
    header.type = PacketType.VersionNegotiation;
    return header;
  }
  const v = getQuicVersion(version);
  if (!v) return header;

  header.versionInfo = v;
  // RFC 9000 section 17.2: endpoints drop v1 long headers with CIDs over 20 bytes (v2 inherits it).
  if (dcidLen > MAX_CID_LENGTH || scidLen > MAX_CID_LENGTH) throw new DecodeError("connection ID longer than 20 bytes");
  if ((first & FIXED_BIT) === 0 && !allowClearedFixedBit) throw new DecodeError("fixed bit is zero");
  const type = v.typeOfBits[(first >>> 4) & 0x03]!;
  header.type = type;

  if (type === LongPacketType.Retry) {
    // Retry Token fills the space up to the 16-byte integrity tag (RFC 9000 section 17.2.5).
    if (r.remaining < RETRY_INTEGRITY_TAG_LENGTH) throw new DecodeError("Retry packet shorter than its integrity tag");
    header.token = buf.subarray(r.offset, end - RETRY_INTEGRITY_TAG_LENGTH);
    return header;
  }
  if (type === LongPacketType.Initial) {
    // Token Length and Token (RFC 9000 section 17.2.2); bytesView checks the length against the input.
    const tokenLength = readVarint(r);
    if (tokenLength > r.remaining) throw new DecodeError("Initial token runs past the datagram");
    header.token = r.bytesView(tokenLength);
  }
  const length = readVarint(r);
  // The Length field covers packet number and payload (RFC 9000 section 17.2).
  if (length > r.remaining) throw new DecodeError("packet Length runs past the datagram");
  header.length = length;
  header.pnOffset = r.offset;
  header.packetEnd = r.offset + length;
  return header;
}

/**
 * Reads just the Destination Connection ID of the packet at `buf[offset..end]`
 * for routing a datagram to its connection (RFC 9000 section 5.2), without
 * building a header. Returns a view, or undefined when it cannot be read.
 */
export function peekDestinationCid(buf: Uint8Array, offset: number, end: number, shortDcidLength: number): Uint8Array | undefined {
  if (offset < 0 || end > buf.length || offset >= end) return undefined;
  if ((buf[offset]! & HEADER_FORM_LONG) === 0) {
    const e = offset + 1 + shortDcidLength;
    return e <= end ? buf.subarray(offset + 1, e) : undefined;
  }
  if (offset + 6 > end) return undefined;
  const len = buf[offset + 5]!;
  const e = offset + 6 + len;
  return e <= end ? buf.subarray(offset + 6, e) : undefined;
}

/**
 * Writes a long header for an Initial, 0-RTT or Handshake packet at
 * `buf[offset..]` (RFC 9000 section 17.2.2-17.2.4): first byte with the
 * version's type bits, reserved bits 0 and the packet-number length;
 * Version; both CIDs; the token (Initial only); a Length field of
 * `lengthSize` bytes left for {@link patchLongHeaderLength}; and the
 * truncated packet number. Returns the packet-number offset; the payload
 * starts `pnLength` bytes after it.
 *
 * Throws RangeError on misuse (a token outside Initial, a CID over 20 bytes,
 * no room in `buf`).
 */
export function writeLongHeader(
  buf: Uint8Array,
  offset: number,
  version: number | QuicVersion,
  type: LongPacketType,
  dcid: Uint8Array,
  scid: Uint8Array,
  token: Uint8Array | undefined,
  packetNumber: number,
  pnLength: 1 | 2 | 3 | 4,
  lengthSize: 1 | 2 | 4 = 2,
): number {
  const v = resolveVersion(version);
  if (type === LongPacketType.Retry) throw new RangeError("use buildRetry for Retry packets");
  if (dcid.length > MAX_CID_LENGTH || scid.length > MAX_CID_LENGTH) throw new RangeError("connection ID longer than 20 bytes");
  const tokenLength = token?.length ?? 0;
  if (tokenLength !== 0 && type !== LongPacketType.Initial) throw new RangeError("only Initial packets carry a token");
  const tokenLenSize = type === LongPacketType.Initial ? (tokenLength < 0x40 ? 1 : tokenLength < 0x4000 ? 2 : 4) : 0;
  const need = 1 + 4 + 1 + dcid.length + 1 + scid.length + tokenLenSize + tokenLength + lengthSize + pnLength;
  if (offset + need > buf.length) throw new RangeError("no room for the long header");

  let o = offset;
  buf[o++] = HEADER_FORM_LONG | FIXED_BIT | (v.typeBits[type]! << 4) | (pnLength - 1);
  const n = v.number;
  buf[o++] = n >>> 24;
  buf[o++] = n >>> 16;
  buf[o++] = n >>> 8;
  buf[o++] = n;
  buf[o++] = dcid.length;
  buf.set(dcid, o);
  o += dcid.length;
  buf[o++] = scid.length;
  buf.set(scid, o);
  o += scid.length;
  if (type === LongPacketType.Initial) {
    o = putVarint(buf, o, tokenLength, tokenLenSize as 1 | 2 | 4);
    if (token && tokenLength !== 0) {
      buf.set(token, o);
      o += tokenLength;
    }
  }
  // Placeholder Length: the minimum-size value of the chosen encoding, patched later.
  o = putVarint(buf, o, 0, lengthSize);
  return writePacketNumber(buf, o, packetNumber, pnLength) - pnLength;
}

/**
 * Fills the Length field that {@link writeLongHeader} reserved, once the
 * plaintext ends at `payloadEnd`: packet number + payload + the 16-byte AEAD
 * tag that protection will append (RFC 9000 section 17.2). Call before
 * protecting, since the Length field is authenticated. `lengthSize` must
 * match the one given to writeLongHeader.
 */
export function patchLongHeaderLength(buf: Uint8Array, pnOffset: number, payloadEnd: number, lengthSize: 1 | 2 | 4 = 2): void {
  const length = payloadEnd - pnOffset + AEAD_TAG_LENGTH;
  const max = lengthSize === 1 ? 0x3f : lengthSize === 2 ? 0x3fff : 0x3fffffff;
  if (length > max) throw new RangeError(`Length ${length} does not fit a ${lengthSize}-byte varint`);
  putVarint(buf, pnOffset - lengthSize, length, lengthSize);
}

/**
 * Writes a short (1-RTT) header at `buf[offset..]` (RFC 9000 section 17.3.1):
 * fixed bit, spin bit, reserved bits 0, key phase and packet-number length,
 * the DCID and the truncated packet number. Returns the packet-number offset.
 */
export function writeShortHeader(
  buf: Uint8Array,
  offset: number,
  dcid: Uint8Array,
  packetNumber: number,
  pnLength: 1 | 2 | 3 | 4,
  keyPhase: 0 | 1,
  spin = false,
): number {
  const pnOffset = offset + 1 + dcid.length;
  if (dcid.length > MAX_CID_LENGTH) throw new RangeError("connection ID longer than 20 bytes");
  if (pnOffset + pnLength > buf.length) throw new RangeError("no room for the short header");
  buf[offset] = FIXED_BIT | (spin ? SPIN_BIT : 0) | (keyPhase << 2) | (pnLength - 1);
  buf.set(dcid, offset + 1);
  writePacketNumber(buf, pnOffset, packetNumber, pnLength);
  return pnOffset;
}
