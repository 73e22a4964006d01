import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { toHex } from "../../../src/util/bytes.js";
import { DecodeError } from "../../../src/util/errors.js";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import { CIPHER_SUITES, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, type CipherSuite } from "../../../src/crypto/suites.js";
import {
  ChaChaHeaderProtection,
  LongPacketType,
  MIN_PN_AND_PAYLOAD_LENGTH,
  nextKeyPhaseSecret,
  PacketDecryptError,
  PacketProtection,
  parsePacketHeader,
  patchLongHeaderLength,
  QUIC_V1,
  QUIC_V2,
  UnprotectedPacket,
  writeLongHeader,
  writeShortHeader,
} from "../../../src/quic/packet/index.js";

const DCID = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]);
const SCID = Uint8Array.from([1, 2, 3]);

function secretFor(suite: CipherSuite): Uint8Array {
  return new Uint8Array(randomBytes(suite.hashLength));
}

/** Writes a long or short packet with `payload`; returns [pnOffset, payloadEnd]. */
function build(
  buf: Uint8Array,
  long: boolean,
  pn: number,
  pnLength: 1 | 2 | 3 | 4,
  payload: Uint8Array,
  keyPhase: 0 | 1 = 0,
): [number, number] {
  const pnOffset = long
    ? writeLongHeader(buf, 0, QUIC_V2, LongPacketType.Handshake, DCID, SCID, undefined, pn, pnLength)
    : writeShortHeader(buf, 0, DCID, pn, pnLength, keyPhase);
  buf.set(payload, pnOffset + pnLength);
  const payloadEnd = pnOffset + pnLength + payload.length;
  if (long) patchLongHeaderLength(buf, pnOffset, payloadEnd);
  return [pnOffset, payloadEnd];
}

for (const suite of CIPHER_SUITES) {
  for (const long of [true, false]) {
    test(`${suite.name} ${long ? "long" : "short"} header: protect then unprotect round-trips every packet-number length`, () => {
      const secret = secretFor(suite);
      const send = PacketProtection.fromSecret(suite, secret, QUIC_V1);
      const recv = PacketProtection.fromSecret(suite, secret, QUIC_V1);
      const out = new UnprotectedPacket();
      const buf = new Uint8Array(1500);
      for (const pnLength of [1, 2, 3, 4] as const) {
        for (const payloadLength of [MIN_PN_AND_PAYLOAD_LENGTH, 1162]) {
          const pn = 0x1234567 + pnLength;
          const payload = new Uint8Array(randomBytes(Math.max(1, payloadLength - (payloadLength < 10 ? pnLength : 0))));
          const [pnOffset, payloadEnd] = build(buf, long, pn, pnLength, payload);
          const header = buf.slice(0, pnOffset + pnLength);
          const end = send.protect(buf, 0, pnOffset, pnLength, payloadEnd, pn);
          assert.equal(end, payloadEnd + 16);

          const h = parsePacketHeader(buf, 0, end, DCID.length);
          assert.equal(h.pnOffset, pnOffset);
          const p = recv.unprotect(buf, 0, h.pnOffset, h.packetEnd, pn - 3, out);
          assert.equal(p.packetNumber, pn);
          assert.equal(p.pnLength, pnLength);
          assert.equal(p.longHeader, long);
          assert.equal(toHex(buf.subarray(0, p.payloadStart)), toHex(header));
          assert.equal(toHex(buf.subarray(p.payloadStart, p.payloadEnd)), toHex(payload));
        }
      }
      assert.equal(send.sealed, 8);
    });
  }
}

test("the key phase bit is exposed before the AEAD is opened, so the next keys can be chosen (RFC 9001 section 6)", () => {
  for (const suite of [TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256]) {
    const secret0 = secretFor(suite);
    const secret1 = nextKeyPhaseSecret(suite, secret0, QUIC_V1);
    const current = PacketProtection.fromSecret(suite, secret0, QUIC_V1);
    // The next phase shares the header-protection function (RFC 9001 section 6.1).
    const next = PacketProtection.fromSecret(suite, secret1, QUIC_V1, current.headerProtection);
    // The sender's next phase likewise keeps the header-protection key of phase 0.
    const sender0 = PacketProtection.fromSecret(suite, secret0, QUIC_V1);
    const sender = PacketProtection.fromSecret(suite, secret1, QUIC_V1, sender0.headerProtection);

    const buf = new Uint8Array(200);
    const [pnOffset, payloadEnd] = build(buf, false, 77, 2, Uint8Array.from([1, 0, 0, 0, 0]), 1);
    const end = sender.protect(buf, 0, pnOffset, 2, payloadEnd, 77);
    const received = buf.slice(0, end);

    const p = current.removeHeaderProtection(buf, 0, pnOffset, end, 70);
    assert.equal(p.keyPhase, 1);
    assert.equal(p.packetNumber, 77);
    // Trying the current key fails and leaves the datagram as received ...
    assert.throws(() => current.decryptPayload(buf, p), PacketDecryptError);
    assert.equal(toHex(buf.subarray(0, end)), toHex(received));
    assert.equal(current.authFailures, 1);
    // ... so the next key can still open it.
    const q = current.removeHeaderProtection(buf, 0, pnOffset, end, 70);
    next.decryptPayload(buf, q);
    assert.equal(buf[q.payloadStart], 1);
  }
});

test("a tampered packet throws PacketDecryptError and the buffer is restored", () => {
  const suite = TLS_AES_128_GCM_SHA256;
  const secret = secretFor(suite);
  const prot = PacketProtection.fromSecret(suite, secret, QUIC_V1);
  const buf = new Uint8Array(300);
  const [pnOffset, payloadEnd] = build(buf, true, 5, 1, new Uint8Array(50).fill(1));
  const end = prot.protect(buf, 0, pnOffset, 1, payloadEnd, 5);
  for (const i of [0, 3, pnOffset, pnOffset + 10, end - 1]) {
    const copy = buf.slice(0, end);
    copy[i]! ^= 0x10;
    const before = toHex(copy);
    assert.throws(() => prot.unprotect(copy, 0, pnOffset, end, 4), PacketDecryptError, `byte ${i}`);
    assert.equal(toHex(copy), before);
  }
});

test("packets too short for the header-protection sample are dropped with DecodeError (RFC 9001 section 5.4.2)", () => {
  const prot = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, secretFor(TLS_AES_128_GCM_SHA256), QUIC_V1);
  // Short header, no DCID: pn offset 1, sample needs bytes 5..20, so 21 bytes is the minimum (RFC 9000 section 10.3).
  assert.throws(() => prot.unprotect(new Uint8Array(20).fill(0x41), 0, 1, 20, 0), DecodeError);
  assert.throws(() => prot.unprotect(new Uint8Array(21).fill(0x41), 0, 1, 21, 0), PacketDecryptError);
  // A packet end beyond the buffer is refused too.
  assert.throws(() => prot.unprotect(new Uint8Array(30), 0, 1, 31, 0), DecodeError);
});

test("the sender refuses a packet too short to sample or without room for the tag", () => {
  const prot = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, secretFor(TLS_AES_128_GCM_SHA256), QUIC_V1);
  const buf = new Uint8Array(100);
  const pnOffset = writeShortHeader(buf, 0, DCID, 1, 1, 0);
  assert.throws(() => prot.protect(buf, 0, pnOffset, 1, pnOffset + 3, 1), RangeError);
  assert.equal(prot.protect(buf, 0, pnOffset, 1, pnOffset + 4, 1), pnOffset + 20);
  assert.throws(() => prot.protect(buf.subarray(0, pnOffset + 19), 0, pnOffset, 1, pnOffset + 4, 1), RangeError);
});

test("non-zero reserved bits after authentication are a PROTOCOL_VIOLATION (RFC 9000 section 17.2 and 17.3.1)", () => {
  for (const long of [true, false]) {
    const secret = secretFor(TLS_AES_128_GCM_SHA256);
    const prot = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, secret, QUIC_V1);
    const buf = new Uint8Array(200);
    const [pnOffset, payloadEnd] = build(buf, long, 1, 1, new Uint8Array(10).fill(1));
    buf[0]! |= long ? 0x08 : 0x10;
    const end = prot.protect(buf, 0, pnOffset, 1, payloadEnd, 1);
    assert.throws(
      () => prot.unprotect(buf, 0, pnOffset, end, 0),
      (e: unknown) => e instanceof QuicTransportError && e.errorCode === TransportErrorCode.PROTOCOL_VIOLATION,
    );
  }
});

test("an authenticated packet with no frames is a PROTOCOL_VIOLATION (RFC 9000 section 12.4)", () => {
  const prot = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, secretFor(TLS_AES_128_GCM_SHA256), QUIC_V1);
  const buf = new Uint8Array(100);
  const pnOffset = writeShortHeader(buf, 0, DCID, 1, 4, 0);
  const end = prot.protect(buf, 0, pnOffset, 4, pnOffset + 4, 1);
  assert.throws(() => prot.unprotect(buf, 0, pnOffset, end, 0), QuicTransportError);
});

test("ChaCha20 header protection in JavaScript matches node:crypto's chacha20 (RFC 9001 section 5.4.4)", () => {
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(32);
    const sample = randomBytes(16);
    if (i === 0) sample.writeUInt32LE(0xffffffff, 0); // counter at its largest
    const hp = new ChaChaHeaderProtection(key);
    const packet = new Uint8Array(40);
    packet.set(sample, 7);
    const ours = hp.mask(packet, 7).subarray(0, 5);
    const ref = createCipheriv("chacha20", key, sample).update(new Uint8Array(5));
    assert.equal(toHex(ours), toHex(ref));
  }
});

test("protection objects reject keys of the wrong length", () => {
  assert.throws(() => new PacketProtection(TLS_AES_128_GCM_SHA256, new Uint8Array(15), new Uint8Array(12), new Uint8Array(16)), RangeError);
  assert.throws(() => new PacketProtection(TLS_AES_128_GCM_SHA256, new Uint8Array(16), new Uint8Array(11), new Uint8Array(16)), RangeError);
  assert.throws(() => new PacketProtection(TLS_AES_128_GCM_SHA256, new Uint8Array(16), new Uint8Array(12), new Uint8Array(32)), RangeError);
  assert.throws(() => new ChaChaHeaderProtection(new Uint8Array(16)), RangeError);
  assert.throws(() => PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, new Uint8Array(32), 0xabcdef), RangeError);
  // The same secret gives different keys per version (RFC 9369 section 3.3.2).
  const s = new Uint8Array(32);
  const a = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s, QUIC_V1);
  const b = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s, QUIC_V2);
  const buf1 = new Uint8Array(64);
  const pnOffset = writeShortHeader(buf1, 0, DCID, 0, 1, 0);
  buf1.fill(1, pnOffset + 1, pnOffset + 10);
  const buf2 = buf1.slice();
  a.protect(buf1, 0, pnOffset, 1, pnOffset + 10, 0);
  b.protect(buf2, 0, pnOffset, 1, pnOffset + 10, 0);
  assert.notEqual(toHex(buf1), toHex(buf2));
});
