import { randomInt } from "node:crypto";
import { DecodeError } from "../../util/errors.js";
import { ByteReader } from "../../util/bytes.js";
import { FIXED_BIT, HEADER_FORM_LONG, MAX_INVARIANT_CID_LENGTH } from "./header.js";
import { greaseVersion, VERSION_NEGOTIATION } from "./version.js";

/** The content of a Version Negotiation packet (RFC 9000 section 17.2.1). */
export interface VersionNegotiation {
  /** Destination Connection ID: the SCID of the client's packet. View into the datagram. */
  dcid: Uint8Array;
  /** Source Connection ID: the DCID of the client's packet. View into the datagram. */
  scid: Uint8Array;
  /** The Supported Version list, greased entries included. */
  versions: number[];
}

function random32(): number {
  // randomInt's range is limited to 2^48; two halves make 32 random bits.
  return ((randomInt(0x10000) << 16) | randomInt(0x10000)) >>> 0;
}

/**
 * Builds a Version Negotiation packet in answer to a packet of an
 * unsupported version (RFC 9000 section 6.1 and 17.2.1). The CIDs are
 * echoed swapped: pass the received packet's SCID as `dcid` and its DCID as
 * `scid`. The first byte has the fixed bit set (RFC 9000 section 17.2.1:
 * SHOULD, for multiplexing with other protocols) and random Unused bits; a
 * reserved version 0x?a?a?a?a is added unless `grease` is false
 * (RFC 9000 section 6.3).
 */
export function buildVersionNegotiation(
  dcid: Uint8Array,
  scid: Uint8Array,
  supported: readonly number[],
  grease = true,
): Uint8Array {
  if (dcid.length > MAX_INVARIANT_CID_LENGTH || scid.length > MAX_INVARIANT_CID_LENGTH) {
    throw new RangeError("connection ID longer than 255 bytes");
  }
  const list = grease ? [...supported, greaseVersion(random32())] : supported;
  const out = new Uint8Array(1 + 4 + 1 + dcid.length + 1 + scid.length + 4 * list.length);
  let o = 0;
  out[o++] = HEADER_FORM_LONG | FIXED_BIT | randomInt(0x40);
  // Version 0 marks Version Negotiation (RFC 9000 section 17.2.1); bytes 1..4 stay zero.
  o += 4;
  out[o++] = dcid.length;
  out.set(dcid, o);
  o += dcid.length;
  out[o++] = scid.length;
  out.set(scid, o);
  o += scid.length;
  for (const v of list) {
    out[o++] = v >>> 24;
    out[o++] = v >>> 16;
    out[o++] = v >>> 8;
    out[o++] = v;
  }
  return out;
}

/**
 * Parses a Version Negotiation packet occupying `buf[offset..end]` — the
 * whole rest of the datagram (RFC 9000 section 17.2.1). Throws DecodeError
 * when it is not one, is truncated, or its version list is not a whole
 * number of 32-bit entries. Whether the list names the version the client
 * offered (then it is discarded, RFC 9000 section 6.2) is the caller's check.
 */
export function parseVersionNegotiation(buf: Uint8Array, offset = 0, end = buf.length): VersionNegotiation {
  const r = new ByteReader(buf, offset, end);
  const first = r.u8();
  if ((first & HEADER_FORM_LONG) === 0) throw new DecodeError("not a long header");
  if (r.u32() !== VERSION_NEGOTIATION) throw new DecodeError("not a Version Negotiation packet");
  const dcid = r.vec8();
  const scid = r.vec8();
  if (r.remaining % 4 !== 0) throw new DecodeError("Version Negotiation list is not a multiple of 4 bytes");
  // The list length is bounded by the bytes actually present.
  const versions = new Array<number>(r.remaining / 4);
  for (let i = 0; i < versions.length; i++) versions[i] = r.u32();
  return { dcid, scid, versions };
}
