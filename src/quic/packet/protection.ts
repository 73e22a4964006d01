import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  type CipherGCMTypes,
  type KeyObject,
} from "node:crypto";
import type { CipherSuite } from "../../crypto/suites.js";
import { DecodeError } from "../../util/errors.js";
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { PacketDecryptError } from "./errors.js";
import { createHeaderProtection, HP_SAMPLE_LENGTH, type HeaderProtection } from "./header-protection.js";
import { derivePacketKeys } from "./keys.js";
import { decodePacketNumber } from "./packet-number.js";
import type { QuicVersion } from "./version.js";

/** AEAD expansion of every QUIC cipher suite (RFC 9001 section 5.3; RFC 8446 section 5.2). */
export const AEAD_TAG_LENGTH = 16;

/**
 * The sample starts 4 bytes after the packet-number offset, as if the
 * packet number were 4 bytes long (RFC 9001 section 5.4.2).
 */
export const SAMPLE_OFFSET_FROM_PN = 4;

/**
 * Shortest packet-number-plus-plaintext a sender may protect: the sample
 * must fit, so pn_length + payload >= 4 (RFC 9001 section 5.4.2). Pad with
 * PADDING frames to reach it.
 */
export const MIN_PN_AND_PAYLOAD_LENGTH = SAMPLE_OFFSET_FROM_PN + HP_SAMPLE_LENGTH - AEAD_TAG_LENGTH;

// One options object for every cipher, rather than a literal per packet.
const AEAD_OPTIONS = { authTagLength: AEAD_TAG_LENGTH };

/**
 * What {@link PacketProtection.unprotect} learned about a packet. One
 * instance can be reused for every packet to avoid an allocation each.
 * Offsets are absolute positions in the datagram buffer.
 */
export class UnprotectedPacket {
  /** True for a long header (bit 0x80 of the first byte). */
  longHeader = false;
  /** The first byte with header protection removed. */
  firstByte = 0;
  /** Length in bytes of the Packet Number field (1..4). */
  pnLength: 1 | 2 | 3 | 4 = 1;
  /** The Packet Number field's value as sent. */
  truncatedPacketNumber = 0;
  /** The full packet number recovered with RFC 9000 Appendix A.3. */
  packetNumber = 0;
  /**
   * Key Phase bit of a short header, 0 or 1 (RFC 9001 section 6); 0 for long
   * headers. Valid after header protection is removed, before the AEAD is
   * opened, so the caller can pick the old, current or next keys.
   */
  keyPhase: 0 | 1 = 0;
  /** Start of the packet (its first byte). */
  headerStart = 0;
  /** Start of the Packet Number field. */
  pnOffset = 0;
  /** Start of the payload (after the packet number). */
  payloadStart = 0;
  /** End of the plaintext payload once opened (the tag follows it). */
  payloadEnd = 0;
  /** End of the packet in the datagram. */
  packetEnd = 0;
  /** The first byte as received, to restore the buffer when the AEAD fails. */
  protectedFirstByte = 0;
  /** The packet-number bytes as received (big-endian, `pnLength` bytes), for the same purpose. */
  protectedPacketNumber = 0;
}

/** Sets `nonce` to iv XOR the 62-bit packet number, left-padded (RFC 9001 section 5.3). */
function fillNonce(nonce: Buffer, iv: Uint8Array, packetNumber: number): void {
  for (let i = 0; i < 12; i++) nonce[i] = iv[i]!;
  let lo = packetNumber % 0x100000000;
  let hi = Math.floor(packetNumber / 0x100000000);
  for (let i = 11; i >= 8; i--) {
    nonce[i] = nonce[i]! ^ (lo & 0xff);
    lo >>>= 8;
  }
  for (let i = 7; i >= 4; i--) {
    nonce[i] = nonce[i]! ^ (hi & 0xff);
    hi >>>= 8;
  }
}

/**
 * Packet protection for one direction at one encryption level and key
 * phase (RFC 9001 section 5): the AEAD key and IV plus the header-protection
 * function. Both operations work in place on the caller's buffer.
 *
 * node:crypto cannot re-key or re-nonce an AEAD context, so each packet
 * still creates one cipher; the key is imported once as a KeyObject and the
 * nonce buffer is reused. The header-protection cipher is created once.
 */
export class PacketProtection {
  /** The header-protection function; shared by every key phase of the direction (RFC 9001 section 6.1). */
  readonly headerProtection: HeaderProtection;
  /** Packets protected with this key, for the confidentiality limit (RFC 9001 section 6.6). */
  sealed = 0;
  /** Packets that failed authentication with this key, for the integrity limit (RFC 9001 section 6.6). */
  authFailures = 0;

  private readonly algorithm: CipherGCMTypes;
  private readonly key: KeyObject;
  private readonly iv: Uint8Array;
  private readonly nonce = Buffer.alloc(12);

  /**
   * @param suite the negotiated cipher suite (AES-128-GCM for Initial packets)
   * @param key AEAD key, `suite.keyLength` bytes
   * @param iv AEAD IV, 12 bytes
   * @param hp the header-protection key, or an existing function to share
   */
  constructor(readonly suite: CipherSuite, key: Uint8Array, iv: Uint8Array, hp: Uint8Array | HeaderProtection) {
    if (key.length !== suite.keyLength) throw new RangeError(`${suite.name} key must be ${suite.keyLength} bytes`);
    if (iv.length !== 12) throw new RangeError("packet protection IV must be 12 bytes");
    // The GCM and ChaCha20-Poly1305 calls share one shape; the cast only satisfies the overloads.
    this.algorithm = suite.aead as CipherGCMTypes;
    this.key = createSecretKey(key);
    this.iv = iv.slice();
    this.headerProtection = hp instanceof Uint8Array ? createHeaderProtection(suite, hp) : hp;
  }

  /**
   * Packet protection from a traffic secret (RFC 9001 section 5.1). Pass the
   * current phase's `headerProtection` when building the next key phase, whose
   * header-protection key is unchanged (RFC 9001 section 6.1).
   */
  static fromSecret(
    suite: CipherSuite,
    secret: Uint8Array,
    version: number | QuicVersion,
    headerProtection?: HeaderProtection,
  ): PacketProtection {
    const k = derivePacketKeys(suite, secret, version);
    return new PacketProtection(suite, k.key, k.iv, headerProtection ?? k.hp);
  }

  /**
   * Protects a packet in place (RFC 9001 section 5.3 and 5.4.1). The header
   * (with its Length field final and the truncated packet number written)
   * occupies `buf[headerStart..pnOffset+pnLength]` and the plaintext follows
   * up to `payloadEnd`. Encrypts the payload, appends the 16-byte tag, then
   * applies header protection. Returns the packet's end (`payloadEnd + 16`).
   *
   * Throws RangeError when the buffer lacks room for the tag or the packet is
   * too short to sample (pad to {@link MIN_PN_AND_PAYLOAD_LENGTH}).
   */
  protect(
    buf: Uint8Array,
    headerStart: number,
    pnOffset: number,
    pnLength: number,
    payloadEnd: number,
    packetNumber: number,
  ): number {
    const packetEnd = this.seal(buf, headerStart, pnOffset, pnLength, payloadEnd, packetNumber);
    applyHeaderMask(buf, headerStart, pnOffset, pnLength, this.headerProtection.mask(buf, pnOffset + SAMPLE_OFFSET_FROM_PN), 0);
    return packetEnd;
  }

  /**
   * {@link protect} with the header protection left to `batch`: the packet
   * is sealed now and masked when the batch is flushed, together with the
   * other packets of the burst. It must not leave before that.
   */
  protectDeferred(
    buf: Uint8Array,
    headerStart: number,
    pnOffset: number,
    pnLength: number,
    payloadEnd: number,
    packetNumber: number,
    batch: HeaderProtectionBatch,
  ): number {
    const packetEnd = this.seal(buf, headerStart, pnOffset, pnLength, payloadEnd, packetNumber);
    batch.add(this.headerProtection, buf, headerStart, pnOffset, pnLength);
    return packetEnd;
  }

  /** The AEAD half of {@link protect}: encrypts the payload in place and appends the tag (RFC 9001 section 5.3). */
  private seal(buf: Uint8Array, headerStart: number, pnOffset: number, pnLength: number, payloadEnd: number, packetNumber: number): number {
    const payloadStart = pnOffset + pnLength;
    const packetEnd = payloadEnd + AEAD_TAG_LENGTH;
    if (pnLength < 1 || pnLength > 4 || headerStart >= pnOffset || payloadStart > payloadEnd) {
      throw new RangeError("invalid packet layout");
    }
    if (payloadEnd - pnOffset < MIN_PN_AND_PAYLOAD_LENGTH) {
      throw new RangeError(`packet number plus payload must be at least ${MIN_PN_AND_PAYLOAD_LENGTH} bytes for the header-protection sample`);
    }
    if (packetEnd > buf.length) throw new RangeError("no room for the AEAD tag");

    fillNonce(this.nonce, this.iv, packetNumber);
    const c = createCipheriv(this.algorithm, this.key, this.nonce, AEAD_OPTIONS);
    c.setAAD(buf.subarray(headerStart, payloadStart));
    const body = c.update(buf.subarray(payloadStart, payloadEnd));
    // `update` returns a new buffer, so writing it back over its input is safe.
    buf.set(body, payloadStart);
    const fin = c.final();
    if (fin.length !== 0) buf.set(fin, payloadStart + body.length);
    buf.set(c.getAuthTag(), payloadEnd);
    this.sealed++;
    return packetEnd;
  }

  /**
   * Removes header protection in place and recovers the packet number
   * (RFC 9001 section 5.4.1 and 5.4.2; RFC 9000 Appendix A.3), without
   * touching the payload. Afterwards `out.keyPhase` tells which 1-RTT key
   * to open it with through {@link decryptPayload}.
   *
   * @param pnOffset from the header parser
   * @param packetEnd end of this packet (the datagram's end for short headers)
   * @param largestPn largest packet number processed in this space, or -1
   * @throws DecodeError when the packet is too short to hold the sample (the packet is dropped)
   */
  removeHeaderProtection(
    buf: Uint8Array,
    headerStart: number,
    pnOffset: number,
    packetEnd: number,
    largestPn: number,
    out: UnprotectedPacket = new UnprotectedPacket(),
  ): UnprotectedPacket {
    const sampleOffset = pnOffset + SAMPLE_OFFSET_FROM_PN;
    // RFC 9001 section 5.4.2: discard packets too short to contain a complete sample.
    if (headerStart < 0 || pnOffset <= headerStart || packetEnd > buf.length || sampleOffset + HP_SAMPLE_LENGTH > packetEnd) {
      throw new DecodeError("packet too short for the header-protection sample");
    }
    const mask = this.headerProtection.mask(buf, sampleOffset);
    const protectedFirst = buf[headerStart]!;
    const longHeader = (protectedFirst & 0x80) !== 0;
    const first = protectedFirst ^ (mask[0]! & (longHeader ? 0x0f : 0x1f));
    const pnLength = ((first & 0x03) + 1) as 1 | 2 | 3 | 4;
    let truncated = 0;
    let original = 0;
    for (let i = 0; i < pnLength; i++) {
      const b = buf[pnOffset + i]!;
      const clear = b ^ mask[1 + i]!;
      original = original * 256 + b;
      truncated = truncated * 256 + clear;
      buf[pnOffset + i] = clear;
    }
    buf[headerStart] = first;

    out.longHeader = longHeader;
    out.firstByte = first;
    out.pnLength = pnLength;
    out.truncatedPacketNumber = truncated;
    out.packetNumber = decodePacketNumber(largestPn, truncated, (pnLength * 8) as 8 | 16 | 24 | 32);
    out.keyPhase = longHeader ? 0 : (((first >>> 2) & 1) as 0 | 1);
    out.headerStart = headerStart;
    out.pnOffset = pnOffset;
    out.payloadStart = pnOffset + pnLength;
    out.payloadEnd = packetEnd - AEAD_TAG_LENGTH;
    out.packetEnd = packetEnd;
    out.protectedFirstByte = protectedFirst;
    out.protectedPacketNumber = original;
    return out;
  }

  /**
   * Opens the payload of a packet whose header protection was removed by
   * {@link removeHeaderProtection} (possibly by another key phase's object),
   * writing the plaintext over the ciphertext (RFC 9001 section 5.3).
   * `packet.payloadStart..payloadEnd` is then the plaintext.
   *
   * @throws PacketDecryptError when authentication fails; the buffer is first
   *   restored to its received bytes so another key may be tried
   * @throws QuicTransportError PROTOCOL_VIOLATION when the authenticated packet
   *   has non-zero reserved bits (RFC 9000 section 17.2 and 17.3.1) or no
   *   payload (RFC 9000 section 12.4)
   */
  decryptPayload(buf: Uint8Array, packet: UnprotectedPacket): UnprotectedPacket {
    const { headerStart, payloadStart, payloadEnd } = packet;
    fillNonce(this.nonce, this.iv, packet.packetNumber);
    const d = createDecipheriv(this.algorithm, this.key, this.nonce, AEAD_OPTIONS);
    d.setAuthTag(buf.subarray(payloadEnd, packet.packetEnd));
    d.setAAD(buf.subarray(headerStart, payloadStart));
    const body = d.update(buf.subarray(payloadStart, payloadEnd));
    try {
      d.final();
    } catch {
      this.authFailures++;
      restoreHeaderProtection(buf, packet);
      throw new PacketDecryptError();
    }
    // Only authenticated plaintext is written into the caller's buffer.
    buf.set(body, payloadStart);

    const reserved = packet.firstByte & (packet.longHeader ? 0x0c : 0x18);
    if (reserved !== 0) {
      // RFC 9000 section 17.2 / 17.3.1: checked only after authentication (RFC 9001 section 9.5).
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "reserved header bits are not zero");
    }
    if (payloadEnd === payloadStart) {
      throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "packet contains no frames");
    }
    return packet;
  }

  /**
   * Removes header and packet protection in place (RFC 9001 section 5):
   * {@link removeHeaderProtection} followed by {@link decryptPayload} with
   * this same key. Use the two steps separately for 1-RTT packets, whose key
   * phase must be read before choosing the AEAD key.
   */
  unprotect(
    buf: Uint8Array,
    headerStart: number,
    pnOffset: number,
    packetEnd: number,
    largestPn: number,
    out: UnprotectedPacket = new UnprotectedPacket(),
  ): UnprotectedPacket {
    this.removeHeaderProtection(buf, headerStart, pnOffset, packetEnd, largestPn, out);
    return this.decryptPayload(buf, out);
  }
}

/**
 * Applies a header-protection mask (`mask[at..at+5]`) to a sealed packet:
 * 4 bits of a long header's first byte, 5 of a short header's, then the
 * packet-number bytes (RFC 9001 section 5.4.1).
 */
function applyHeaderMask(buf: Uint8Array, headerStart: number, pnOffset: number, pnLength: number, mask: Uint8Array, at: number): void {
  const first = buf[headerStart]!;
  buf[headerStart] = first ^ (mask[at]! & ((first & 0x80) !== 0 ? 0x0f : 0x1f));
  for (let i = 0; i < pnLength; i++) buf[pnOffset + i] = buf[pnOffset + i]! ^ mask[at + 1 + i]!;
}

/**
 * Header protection for a burst of sealed packets, applied in one go
 * (RFC 9001 section 5.4). With AES, each packet's mask is one AES-ECB block
 * of its sample, and node:crypto charges about a microsecond per call
 * whatever the length: one call for the whole burst replaces one per
 * packet. A sender seals packets with {@link PacketProtection.protectDeferred}
 * and calls {@link flush} before any of them leaves.
 */
export class HeaderProtectionBatch {
  private hps: HeaderProtection[] = [];
  private bufs: Uint8Array[] = [];
  /** Per packet: header start, packet-number offset and packet-number length. */
  private layout: number[] = [];
  private samples = new Uint8Array(64 * HP_SAMPLE_LENGTH);

  /** Packets waiting for their mask. */
  get pending(): number {
    return this.hps.length;
  }

  /** Queues a sealed packet; its sample (RFC 9001 section 5.4.2) is copied now, the mask applied at {@link flush}. */
  add(hp: HeaderProtection, buf: Uint8Array, headerStart: number, pnOffset: number, pnLength: number): void {
    const n = this.hps.length;
    if ((n + 1) * HP_SAMPLE_LENGTH > this.samples.length) {
      const grown = new Uint8Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    const sampleOffset = pnOffset + SAMPLE_OFFSET_FROM_PN;
    this.samples.set(buf.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH), n * HP_SAMPLE_LENGTH);
    this.hps.push(hp);
    this.bufs.push(buf);
    this.layout.push(headerStart, pnOffset, pnLength);
  }

  /** Masks every queued packet: one call per run of packets sharing a header-protection key. */
  flush(): void {
    const n = this.hps.length;
    let i = 0;
    while (i < n) {
      const hp = this.hps[i]!;
      let j = i + 1;
      while (j < n && this.hps[j] === hp) j++;
      if (hp.maskMany && j - i > 1) {
        const masks = hp.maskMany(this.samples.subarray(i * HP_SAMPLE_LENGTH), j - i);
        for (let k = i; k < j; k++) this.apply(k, masks, (k - i) * HP_SAMPLE_LENGTH);
      } else {
        for (let k = i; k < j; k++) this.apply(k, hp.mask(this.samples, k * HP_SAMPLE_LENGTH), 0);
      }
      i = j;
    }
    this.hps.length = 0;
    this.bufs.length = 0;
    this.layout.length = 0;
  }

  private apply(k: number, mask: Uint8Array, at: number): void {
    const l = this.layout;
    applyHeaderMask(this.bufs[k]!, l[3 * k]!, l[3 * k + 1]!, l[3 * k + 2]!, mask, at);
  }
}

/**
 * Puts back the header bytes that {@link PacketProtection.removeHeaderProtection}
 * unmasked, leaving the buffer exactly as received.
 */
export function restoreHeaderProtection(buf: Uint8Array, packet: UnprotectedPacket): void {
  buf[packet.headerStart] = packet.protectedFirstByte;
  let v = packet.protectedPacketNumber;
  for (let i = packet.pnLength - 1; i >= 0; i--) {
    buf[packet.pnOffset + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}
