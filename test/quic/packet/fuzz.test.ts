// Property tests: the header parser and unprotect, fed random and mutated
// datagrams, only ever return a result or throw one of the typed errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../../../src/util/errors.js";
import { QuicTransportError } from "../../../src/quic/errors.js";
import { TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 } from "../../../src/crypto/suites.js";
import {
  deriveInitialSecrets,
  LongPacketType,
  MAX_CID_LENGTH,
  PacketDecryptError,
  PacketProtection,
  PacketType,
  parsePacketHeader,
  parseVersionNegotiation,
  patchLongHeaderLength,
  QUIC_V1,
  QUIC_V2,
  UnprotectedPacket,
  writeLongHeader,
  writeShortHeader,
  type PacketHeader,
} from "../../../src/quic/packet/index.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const LOCAL_CID_LENGTH = 8;
const DCID = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const SCID = Uint8Array.from([9, 9, 9, 9]);

function isTyped(e: unknown): boolean {
  return e instanceof DecodeError || e instanceof PacketDecryptError || e instanceof QuicTransportError;
}

/** Runs `fn`, rethrowing anything that is not one of the typed errors. */
function typedOnly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!isTyped(e)) throw e;
    return undefined;
  }
}

function checkHeader(h: PacketHeader, offset: number, end: number): void {
  assert.ok(h.headerStart === offset);
  assert.ok(h.packetEnd > offset && h.packetEnd <= end);
  assert.ok(h.pnOffset === -1 || (h.pnOffset > offset && h.pnOffset <= h.packetEnd));
  if (h.versionInfo) {
    assert.ok(h.dcid.length <= MAX_CID_LENGTH && h.scid.length <= MAX_CID_LENGTH);
  }
}

// Keys shared by the sender and the receiver of the fuzzed datagram.
const initial = deriveInitialSecrets(QUIC_V1, DCID);
const handshakeSecret = new Uint8Array(32).fill(0x42);
const appSecret = new Uint8Array(32).fill(0x17);
const send = {
  initial: PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, initial.client, QUIC_V1),
  handshake: PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, handshakeSecret, QUIC_V1),
  app: PacketProtection.fromSecret(TLS_CHACHA20_POLY1305_SHA256, appSecret, QUIC_V1),
};
const recv = {
  initial: PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, initial.client, QUIC_V1),
  handshake: PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, handshakeSecret, QUIC_V1),
  app: PacketProtection.fromSecret(TLS_CHACHA20_POLY1305_SHA256, appSecret, QUIC_V1),
};

/** A valid datagram: an Initial, a Handshake and a 1-RTT packet coalesced. */
function validDatagram(): Uint8Array {
  const buf = new Uint8Array(1500);
  let o = 0;
  let pnOffset = writeLongHeader(buf, o, QUIC_V1, LongPacketType.Initial, DCID, SCID, Uint8Array.of(7, 7), 0, 1);
  buf.fill(0x01, pnOffset + 1, pnOffset + 41);
  patchLongHeaderLength(buf, pnOffset, pnOffset + 41);
  o = send.initial.protect(buf, o, pnOffset, 1, pnOffset + 41, 0);
  pnOffset = writeLongHeader(buf, o, QUIC_V1, LongPacketType.Handshake, DCID, SCID, undefined, 300, 2);
  buf.fill(0x01, pnOffset + 2, pnOffset + 32);
  patchLongHeaderLength(buf, pnOffset, pnOffset + 32);
  o = send.handshake.protect(buf, o, pnOffset, 2, pnOffset + 32, 300);
  pnOffset = writeShortHeader(buf, o, DCID, 70000, 3, 1);
  buf.fill(0x01, pnOffset + 3, pnOffset + 23);
  o = send.app.protect(buf, o, pnOffset, 3, pnOffset + 23, 70000);
  return buf.slice(0, o);
}

const VALID = validDatagram();
const scratch = new UnprotectedPacket();

/** What a receiver does with a datagram; returns the number of packets opened. */
function receive(datagram: Uint8Array): number {
  let opened = 0;
  for (let off = 0; off < datagram.length; ) {
    const h = typedOnly(() => parsePacketHeader(datagram, off, datagram.length, LOCAL_CID_LENGTH));
    if (!h) break; // the rest of the datagram is dropped
    checkHeader(h, off, datagram.length);
    const keys =
      h.type === PacketType.Initial ? recv.initial
      : h.type === PacketType.Handshake ? recv.handshake
      : h.type === PacketType.OneRtt ? recv.app
      : undefined;
    if (keys) {
      const p = typedOnly(() => keys.unprotect(datagram, off, h.pnOffset, h.packetEnd, 0, scratch));
      if (p) {
        assert.ok(p.payloadStart <= p.payloadEnd && p.payloadEnd + 16 === h.packetEnd);
        opened++;
      }
    }
    off = h.packetEnd;
  }
  return opened;
}

test("the unmodified coalesced datagram opens all three packets", () => {
  assert.equal(receive(VALID.slice()), 3);
});

test("property: parsing random bytes returns a sane header or throws DecodeError", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 120 }),
      fc.integer({ min: 0, max: 20 }),
      fc.boolean(),
      (bytes, cidLen, grease) => {
        const h = typedOnly(() => parsePacketHeader(bytes, 0, bytes.length, cidLen, grease));
        if (h) checkHeader(h, 0, bytes.length);
        typedOnly(() => parseVersionNegotiation(bytes));
      },
    ),
    { numRuns: RUNS },
  );
});

test("property: headers with a supported version and random fields parse or throw DecodeError", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0x80, max: 0xff }),
      fc.constantFrom(QUIC_V1.number, QUIC_V2.number, 0, 0x1a2a3a4a),
      fc.uint8Array({ minLength: 0, maxLength: 80 }),
      (first, version, rest) => {
        const bytes = new Uint8Array(5 + rest.length);
        bytes[0] = first;
        new DataView(bytes.buffer).setUint32(1, version);
        bytes.set(rest, 5);
        const h = typedOnly(() => parsePacketHeader(bytes, 0, bytes.length, LOCAL_CID_LENGTH));
        if (h) checkHeader(h, 0, bytes.length);
      },
    ),
    { numRuns: RUNS },
  );
});

test("property: mutated, truncated or extended datagrams only yield results or typed errors", () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat({ max: VALID.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      fc.nat({ max: VALID.length }),
      fc.uint8Array({ maxLength: 40 }),
      (flips, cut, tail) => {
        const d = new Uint8Array(Math.min(cut, VALID.length) + tail.length);
        d.set(VALID.subarray(0, Math.min(cut, VALID.length)));
        d.set(tail, Math.min(cut, VALID.length));
        for (const { at, xor } of flips) if (at < d.length) d[at]! ^= xor;
        receive(d);
      },
    ),
    { numRuns: RUNS },
  );
});

test("property: unprotect with arbitrary offsets only yields results or typed errors", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 100 }),
      fc.integer({ min: -2, max: 110 }),
      fc.integer({ min: -2, max: 110 }),
      fc.integer({ min: -2, max: 110 }),
      fc.integer({ min: -1, max: 2 ** 40 }),
      (bytes, start, pnOffset, end, largest) => {
        typedOnly(() => recv.app.unprotect(bytes, start, pnOffset, end, largest));
        typedOnly(() => recv.initial.unprotect(bytes, start, pnOffset, end, largest));
      },
    ),
    { numRuns: RUNS },
  );
});
