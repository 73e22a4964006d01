import { createCipheriv, randomInt } from "node:crypto";
import { equalBytes } from "../../util/bytes.js";
import { FIXED_BIT, HEADER_FORM_LONG, MAX_CID_LENGTH, PacketType, RETRY_INTEGRITY_TAG_LENGTH, type PacketHeader } from "./header.js";
import { LongPacketType, resolveVersion, type QuicVersion } from "./version.js";

/**
 * The Retry Integrity Tag: AES-128-GCM with the version's fixed key and
 * nonce over an empty plaintext, whose associated data is the Retry
 * Pseudo-Packet — ODCID Length, ODCID, then the Retry packet without its
 * tag (RFC 9001 section 5.8; RFC 9369 section 3.3.3).
 *
 * @param retryWithoutTag the Retry packet from its first byte up to the tag
 */
export function retryIntegrityTag(
  version: number | QuicVersion,
  originalDcid: Uint8Array,
  retryWithoutTag: Uint8Array,
): Uint8Array {
  const v = resolveVersion(version);
  if (originalDcid.length > 255) throw new RangeError("original DCID longer than 255 bytes");
  const pseudo = new Uint8Array(1 + originalDcid.length + retryWithoutTag.length);
  pseudo[0] = originalDcid.length;
  pseudo.set(originalDcid, 1);
  pseudo.set(retryWithoutTag, 1 + originalDcid.length);
  const c = createCipheriv("aes-128-gcm", v.retryKey, v.retryNonce, { authTagLength: RETRY_INTEGRITY_TAG_LENGTH });
  c.setAAD(pseudo);
  c.final();
  return new Uint8Array(c.getAuthTag());
}

/**
 * Builds a Retry packet (RFC 9000 section 17.2.5; RFC 9001 section 5.8).
 *
 * @param dcid the client's Source Connection ID (RFC 9000 section 17.2.5.1)
 * @param scid the connection ID the server chose; must differ from `originalDcid`
 * @param originalDcid the DCID of the client's Initial, covered by the tag
 * @param token the address-validation token; must not be empty (RFC 9000 section 17.2.5.2)
 * @param unusedBits the 4 Unused bits of the first byte, arbitrary (random by default)
 */
export function buildRetry(
  version: number | QuicVersion,
  dcid: Uint8Array,
  scid: Uint8Array,
  originalDcid: Uint8Array,
  token: Uint8Array,
  unusedBits: number = randomInt(16),
): Uint8Array {
  const v = resolveVersion(version);
  if (dcid.length > MAX_CID_LENGTH || scid.length > MAX_CID_LENGTH) throw new RangeError("connection ID longer than 20 bytes");
  if (token.length === 0) throw new RangeError("a Retry token must not be empty");
  if (equalBytes(scid, originalDcid)) throw new RangeError("Retry SCID must differ from the original DCID");
  const headerLength = 1 + 4 + 1 + dcid.length + 1 + scid.length;
  const out = new Uint8Array(headerLength + token.length + RETRY_INTEGRITY_TAG_LENGTH);
  let o = 0;
  out[o++] = HEADER_FORM_LONG | FIXED_BIT | (v.typeBits[LongPacketType.Retry]! << 4) | (unusedBits & 0x0f);
  const n = v.number;
  out[o++] = n >>> 24;
  out[o++] = n >>> 16;
  out[o++] = n >>> 8;
  out[o++] = n;
  out[o++] = dcid.length;
  out.set(dcid, o);
  o += dcid.length;
  out[o++] = scid.length;
  out.set(scid, o);
  o += scid.length;
  out.set(token, o);
  o += token.length;
  out.set(retryIntegrityTag(v, originalDcid, out.subarray(0, o)), o);
  return out;
}

/**
 * Checks a received Retry packet the way a client must before acting on it
 * (RFC 9000 section 17.2.5.1 and 17.2.5.2; RFC 9001 section 5.8): the
 * integrity tag verifies against the DCID of the client's first Initial,
 * the token is not empty, and the SCID differs from that DCID. Returns
 * false when the packet must be discarded. Whether a Retry was already
 * accepted, and the version matching the Initial's, are the connection's
 * to check (RFC 9000 section 17.2.5.2; RFC 9369 section 4.1).
 *
 * @param header the Retry's header from {@link parsePacketHeader}
 */
export function validateRetry(datagram: Uint8Array, header: PacketHeader, originalDcid: Uint8Array): boolean {
  if (header.type !== PacketType.Retry || !header.versionInfo) return false;
  if (header.token.length === 0) return false;
  if (equalBytes(header.scid, originalDcid)) return false;
  const tagStart = header.packetEnd - RETRY_INTEGRITY_TAG_LENGTH;
  if (tagStart < header.headerStart) return false;
  const expected = retryIntegrityTag(header.versionInfo, originalDcid, datagram.subarray(header.headerStart, tagStart));
  // Constant-time comparison, so timing reveals nothing about the tag.
  return equalBytes(expected, datagram.subarray(tagStart, header.packetEnd));
}
