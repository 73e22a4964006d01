import { test } from "node:test";
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../src/util/bytes.js";
import { DecodeError } from "../../../src/util/errors.js";
import { TLS_AES_128_GCM_SHA256 } from "../../../src/crypto/suites.js";
import {
  deriveInitialSecrets,
  getQuicVersion,
  greaseVersion,
  isReservedVersion,
  isSupportedVersion,
  LongPacketType,
  PacketProtection,
  PacketType,
  parsePacketHeader,
  patchLongHeaderLength,
  peekDestinationCid,
  QUIC_V1,
  QUIC_V2,
  writeLongHeader,
  writeShortHeader,
} from "../../../src/quic/packet/index.js";

const DCID = fromHex("0102030405060708");
const SCID = fromHex("a1a2a3a4");
const EMPTY = new Uint8Array(0);

test("version table answers support, type bits and labels in one place (RFC 9369 section 3)", () => {
  assert.equal(getQuicVersion(1), QUIC_V1);
  assert.equal(getQuicVersion(0x6b3343cf), QUIC_V2);
  assert.equal(getQuicVersion(0xff00001d), undefined);
  assert.ok(isSupportedVersion(0x6b3343cf));
  assert.ok(!isSupportedVersion(0));
  for (const v of [QUIC_V1, QUIC_V2]) {
    for (let t = 0; t < 4; t++) assert.equal(v.typeOfBits[v.typeBits[t]!], t);
  }
  assert.deepEqual([...QUIC_V2.typeBits], [0b01, 0b10, 0b11, 0b00]);
  assert.equal(QUIC_V2.kuLabel, "quicv2 ku");
});

test("greased versions have the 0x?a?a?a?a pattern (RFC 9000 section 15)", () => {
  for (const r of [0, 0xffffffff, 0x12345678]) {
    const g = greaseVersion(r);
    assert.ok(isReservedVersion(g));
    assert.ok(!isSupportedVersion(g));
  }
  assert.ok(!isReservedVersion(1));
  assert.equal(greaseVersion(0xffffffff), 0xfafafafa);
});

/** Builds an unprotected long-header packet with `payloadLength` payload bytes. */
function longPacket(
  buf: Uint8Array,
  offset: number,
  version: typeof QUIC_V1,
  type: LongPacketType,
  token: Uint8Array,
  payloadLength: number,
): number {
  const pnOffset = writeLongHeader(buf, offset, version, type, DCID, SCID, token, 7, 2);
  const end = pnOffset + 2 + payloadLength;
  buf.fill(0x01, pnOffset + 2, end);
  patchLongHeaderLength(buf, pnOffset, end);
  return end + 16; // room the tag would take
}

for (const version of [QUIC_V1, QUIC_V2]) {
  test(`${version.name}: each long header type round-trips through write and parse`, () => {
    for (const type of [LongPacketType.Initial, LongPacketType.ZeroRtt, LongPacketType.Handshake]) {
      const buf = new Uint8Array(200);
      const token = type === LongPacketType.Initial ? fromHex("cafe") : EMPTY;
      const end = longPacket(buf, 0, version, type, token, 30);
      const h = parsePacketHeader(buf, 0, buf.length, 8);
      assert.equal(h.type, type);
      assert.equal(h.longHeader, true);
      assert.equal(h.version, version.number);
      assert.equal(h.versionInfo, version);
      assert.equal(toHex(h.dcid), toHex(DCID));
      assert.equal(toHex(h.scid), toHex(SCID));
      assert.equal(toHex(h.token), toHex(token));
      assert.equal(h.length, 2 + 30 + 16);
      assert.equal(h.packetEnd, end);
      assert.equal(h.pnOffset, end - h.length);
      assert.equal((buf[0]! >>> 4) & 3, version.typeBits[type]);
      assert.equal(buf[0]! & 0x0f, 0x01, "reserved bits zero, 2-byte packet number");
    }
  });
}

test("coalesced packets are walked with packetEnd (RFC 9000 section 12.2)", () => {
  const buf = new Uint8Array(400);
  let o = longPacket(buf, 0, QUIC_V1, LongPacketType.Initial, EMPTY, 40);
  o = longPacket(buf, o, QUIC_V1, LongPacketType.Handshake, EMPTY, 20);
  const pnOffset = writeShortHeader(buf, o, DCID, 9, 1, 1, true);
  const end = pnOffset + 1 + 30;
  const seen: number[] = [];
  for (let off = 0; off < end; ) {
    const h = parsePacketHeader(buf, off, end, DCID.length);
    seen.push(h.type);
    if (h.type === PacketType.OneRtt) {
      assert.equal(h.pnOffset, pnOffset);
      assert.equal(h.firstByte, 0x40 | 0x20 | 0x04);
      assert.equal(toHex(h.dcid), toHex(DCID));
    }
    off = h.packetEnd;
  }
  assert.deepEqual(seen, [PacketType.Initial, PacketType.Handshake, PacketType.OneRtt]);
});

test("the Length field can be patched in 1, 2 or 4 bytes", () => {
  for (const size of [1, 2, 4] as const) {
    const buf = new Uint8Array(100);
    const pnOffset = writeLongHeader(buf, 0, QUIC_V2, LongPacketType.Handshake, DCID, SCID, undefined, 1, 1, size);
    patchLongHeaderLength(buf, pnOffset, pnOffset + 1 + 20, size);
    const h = parsePacketHeader(buf, 0, buf.length, 0);
    assert.equal(h.length, 37);
    assert.equal(h.pnOffset, pnOffset);
  }
  assert.throws(() => patchLongHeaderLength(new Uint8Array(100), 10, 80, 1), RangeError);
});

test("Version Negotiation and unsupported versions expose the invariant fields (RFC 8999 section 5.1)", () => {
  const vn = fromHex("c0 00000000 04 01020304 02 aabb 00000001");
  const h = parsePacketHeader(vn, 0, vn.length, 8);
  assert.equal(h.type, PacketType.VersionNegotiation);
  assert.equal(toHex(h.scid), "aabb");
  // A 30-byte CID is fine in an unknown version, so the server can answer it.
  const cid30 = "11".repeat(30);
  const unknown = fromHex(`c0 1a2a3a4a 1e ${cid30} 00 ` + "00".repeat(1200));
  const u = parsePacketHeader(unknown, 0, unknown.length, 8);
  assert.equal(u.type, PacketType.UnsupportedVersion);
  assert.equal(u.version, 0x1a2a3a4a);
  assert.equal(toHex(u.dcid), cid30);
  assert.equal(u.packetEnd, unknown.length);
  assert.equal(u.pnOffset, -1);
});

test("malformed headers are rejected with DecodeError", () => {
  const good = new Uint8Array(200);
  const end = longPacket(good, 0, QUIC_V1, LongPacketType.Initial, fromHex("0102"), 30);
  const cases: Array<[string, Uint8Array, number]> = [
    ["empty", new Uint8Array(0), 8],
    ["truncated version", good.subarray(0, 3), 8],
    ["truncated DCID", good.subarray(0, 9), 8],
    ["Length past the datagram", good.subarray(0, end - 1), 8],
    ["short header shorter than its DCID", fromHex("4001020304"), 8],
    // v1 with a 21-byte DCID (RFC 9000 section 17.2).
    ["21-byte CID", fromHex(`c0 00000001 15 ${"00".repeat(21)} 00 00 14 ${"00".repeat(40)}`), 8],
    // Token length larger than what is left.
    ["token past the end", fromHex("c0 00000001 00 00 50 0102"), 8],
    // Retry with only 15 bytes after the SCID.
    ["Retry without room for the tag", fromHex(`f0 00000001 00 00 ${"00".repeat(15)}`), 8],
  ];
  for (const [name, bytes, cidLen] of cases) {
    assert.throws(() => parsePacketHeader(bytes, 0, bytes.length, cidLen), DecodeError, name);
  }
});

test("a zero fixed bit drops the packet unless grease_quic_bit allows it (RFC 9000 section 17.2; RFC 9287 section 3)", () => {
  const buf = new Uint8Array(200);
  const end = longPacket(buf, 0, QUIC_V1, LongPacketType.Handshake, EMPTY, 30);
  buf[0]! &= ~0x40;
  assert.throws(() => parsePacketHeader(buf, 0, end, 8), DecodeError);
  assert.equal(parsePacketHeader(buf, 0, end, 8, true).type, PacketType.Handshake);
  const short = fromHex("01 0102030405060708 00112233445566778899aabbccddeeff00112233");
  assert.throws(() => parsePacketHeader(short, 0, short.length, 8), DecodeError);
  assert.equal(parsePacketHeader(short, 0, short.length, 8, true).type, PacketType.OneRtt);
});

test("a greased-fixed-bit packet still unprotects (the bit is not header-protected)", () => {
  const buf = new Uint8Array(200);
  const pnOffset = writeShortHeader(buf, 0, DCID, 3, 2, 0);
  buf[0]! &= ~0x40;
  buf.fill(1, pnOffset + 2, pnOffset + 2 + 20);
  const keys = deriveInitialSecrets(QUIC_V1, DCID);
  const end = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, keys.client, QUIC_V1).protect(buf, 0, pnOffset, 2, pnOffset + 22, 3);
  const h = parsePacketHeader(buf, 0, end, 8, true);
  const p = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, keys.client, QUIC_V1).unprotect(buf, 0, h.pnOffset, h.packetEnd, 2);
  assert.equal(p.packetNumber, 3);
});

test("peekDestinationCid reads the DCID of either form for routing (RFC 9000 section 5.2)", () => {
  const buf = new Uint8Array(200);
  longPacket(buf, 0, QUIC_V1, LongPacketType.Initial, EMPTY, 30);
  assert.equal(toHex(peekDestinationCid(buf, 0, buf.length, 4)!), toHex(DCID));
  const short = fromHex("41 0102030405060708 0011");
  assert.equal(toHex(peekDestinationCid(short, 0, short.length, 8)!), toHex(DCID));
  assert.equal(peekDestinationCid(short, 0, 5, 8), undefined);
  assert.equal(peekDestinationCid(fromHex("c000000001"), 0, 5, 8), undefined);
});

test("header writers refuse misuse with RangeError", () => {
  const buf = new Uint8Array(100);
  assert.throws(() => writeLongHeader(buf, 0, QUIC_V1, LongPacketType.Handshake, DCID, SCID, fromHex("01"), 0, 1), RangeError);
  assert.throws(() => writeLongHeader(buf, 0, QUIC_V1, LongPacketType.Retry, DCID, SCID, undefined, 0, 1), RangeError);
  assert.throws(() => writeLongHeader(buf, 0, 0x1a2a3a4a, LongPacketType.Initial, DCID, SCID, undefined, 0, 1), RangeError);
  assert.throws(() => writeLongHeader(buf, 0, QUIC_V1, LongPacketType.Initial, new Uint8Array(21), SCID, undefined, 0, 1), RangeError);
  assert.throws(() => writeLongHeader(new Uint8Array(10), 0, QUIC_V1, LongPacketType.Initial, DCID, SCID, undefined, 0, 1), RangeError);
  assert.throws(() => writeShortHeader(new Uint8Array(5), 0, DCID, 0, 1, 0), RangeError);
});
