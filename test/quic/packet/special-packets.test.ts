// Retry, Version Negotiation and Stateless Reset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../src/util/bytes.js";
import { DecodeError } from "../../../src/util/errors.js";
import {
  buildRetry,
  buildStatelessReset,
  buildVersionNegotiation,
  isReservedVersion,
  isStatelessReset,
  matchStatelessReset,
  MIN_STATELESS_RESET_LENGTH,
  PacketType,
  parsePacketHeader,
  parseVersionNegotiation,
  QUIC_V1,
  QUIC_V2,
  statelessResetLength,
  statelessResetToken,
  validateRetry,
} from "../../../src/quic/packet/index.js";

const CLIENT_DCID = fromHex("8394c8f03e515708");
const CLIENT_SCID = fromHex("c1c2c3c4");
const SERVER_CID = fromHex("5555666677778888");

test("Retry rules: empty token and SCID equal to the original DCID are refused (RFC 9000 section 17.2.5)", () => {
  const token = fromHex("0102030405");
  assert.throws(() => buildRetry(QUIC_V1, CLIENT_SCID, SERVER_CID, CLIENT_DCID, new Uint8Array(0)), RangeError);
  assert.throws(() => buildRetry(QUIC_V1, CLIENT_SCID, CLIENT_DCID, CLIENT_DCID, token), RangeError);

  // A peer's Retry that breaks those rules fails validation even with a good tag.
  const r = buildRetry(QUIC_V2, CLIENT_SCID, SERVER_CID, CLIENT_DCID, token);
  const h = parsePacketHeader(r, 0, r.length, 4);
  assert.equal(h.type, PacketType.Retry);
  assert.equal(validateRetry(r, h, CLIENT_DCID), true);
  assert.equal(validateRetry(r, { ...h, token: new Uint8Array(0) }, CLIENT_DCID), false);
  assert.equal(validateRetry(r, h, SERVER_CID), false);
  assert.equal(validateRetry(r, { ...h, type: PacketType.Initial }, CLIENT_DCID), false);
  // A v1 Retry does not validate as v2: the keys differ (RFC 9369 section 3.3.3).
  const r1 = buildRetry(QUIC_V1, CLIENT_SCID, SERVER_CID, CLIENT_DCID, token, r[0]! & 0x0f);
  assert.notEqual(toHex(r1.subarray(r1.length - 16)), toHex(r.subarray(r.length - 16)));
});

test("Version Negotiation round-trips with a greased version (RFC 9000 section 6.3 and 17.2.1)", () => {
  const vn = buildVersionNegotiation(CLIENT_SCID, CLIENT_DCID, [QUIC_V1.number, QUIC_V2.number]);
  assert.equal(vn[0]! & 0xc0, 0xc0, "long header with the fixed bit set");
  const h = parsePacketHeader(vn, 0, vn.length, 8);
  assert.equal(h.type, PacketType.VersionNegotiation);
  const p = parseVersionNegotiation(vn);
  assert.equal(toHex(p.dcid), toHex(CLIENT_SCID));
  assert.equal(toHex(p.scid), toHex(CLIENT_DCID));
  assert.equal(p.versions.length, 3);
  assert.deepEqual(p.versions.slice(0, 2), [1, 0x6b3343cf]);
  assert.ok(isReservedVersion(p.versions[2]!));

  const plain = parseVersionNegotiation(buildVersionNegotiation(CLIENT_SCID, CLIENT_DCID, [1], false));
  assert.deepEqual(plain.versions, [1]);
});

test("malformed Version Negotiation packets throw DecodeError", () => {
  for (const hex of [
    "",
    "40 00000000 00 00", // short header form
    "c0 00000001 00 00 00000001", // not version 0
    "c0 00000000 04 0102", // truncated DCID
    "c0 00000000 00 00 000000", // list not a multiple of 4
  ]) {
    assert.throws(() => parseVersionNegotiation(fromHex(hex)), DecodeError, hex);
  }
  assert.deepEqual(parseVersionNegotiation(fromHex("80 00000000 00 00")).versions, []);
});

test("stateless reset token is HMAC of the CID under a static key (RFC 9000 section 10.3.2)", () => {
  const key = fromHex("00112233445566778899aabbccddeeff");
  const t1 = statelessResetToken(key, SERVER_CID);
  assert.equal(t1.length, 16);
  assert.equal(toHex(statelessResetToken(key, SERVER_CID)), toHex(t1));
  assert.notEqual(toHex(statelessResetToken(key, CLIENT_DCID)), toHex(t1));
  assert.notEqual(toHex(statelessResetToken(fromHex("01"), SERVER_CID)), toHex(t1));
});

test("a Stateless Reset looks like a short header, ends with the token and is detected (RFC 9000 section 10.3)", () => {
  const token = statelessResetToken(fromHex("aa"), SERVER_CID);
  const other = statelessResetToken(fromHex("bb"), SERVER_CID);
  for (const len of [MIN_STATELESS_RESET_LENGTH, 43, 1200]) {
    const reset = buildStatelessReset(token, len);
    assert.equal(reset.length, len);
    assert.equal(reset[0]! & 0xc0, 0x40);
    assert.equal(toHex(reset.subarray(len - 16)), toHex(token));
    assert.equal(isStatelessReset(reset, token), true);
    assert.equal(isStatelessReset(reset, other), false);
    assert.equal(matchStatelessReset(reset, [other, token]), 1);
    assert.equal(matchStatelessReset(reset, []), -1);
  }
  // Random bits differ between two resets.
  assert.notEqual(toHex(buildStatelessReset(token, 100)), toHex(buildStatelessReset(token, 100)));
  // Too-short datagrams are never a reset.
  assert.equal(isStatelessReset(token, token), false);
  assert.throws(() => buildStatelessReset(token, 20), RangeError);
  assert.throws(() => buildStatelessReset(new Uint8Array(15), 30), RangeError);
});

test("stateless reset size is smaller than the trigger and never below 21 bytes (RFC 9000 section 10.3 and 10.3.3)", () => {
  assert.equal(statelessResetLength(21), 0);
  assert.equal(statelessResetLength(22), 21);
  assert.equal(statelessResetLength(43), 42);
  assert.equal(statelessResetLength(1200), 43);
  assert.equal(statelessResetLength(1200, 100), 100);
});
