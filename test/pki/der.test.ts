import { test } from "node:test";
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../src/util/bytes.js";
import { DecodeError } from "../../src/util/errors.js";
import {
  DerReader,
  Tag,
  bitString,
  boolean,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeTime,
  encodeLength,
  explicit,
  implicit,
  integer,
  namedBitString,
  nullValue,
  octetString,
  oid,
  printableString,
  readElement,
  sequence,
  setOf,
  time,
  utf8String,
} from "../../src/pki/der.js";

test("lengths use the short form below 128 and minimal long forms above", () => {
  assert.equal(toHex(encodeLength(0)), "00");
  assert.equal(toHex(encodeLength(127)), "7f");
  assert.equal(toHex(encodeLength(128)), "8180");
  assert.equal(toHex(encodeLength(256)), "820100");
  assert.equal(toHex(encodeLength(70000)), "83011170");
});

test("INTEGER: minimal two's complement, and unsigned magnitudes stay positive", () => {
  assert.equal(toHex(integer(0)), "020100");
  assert.equal(toHex(integer(127)), "02017f");
  assert.equal(toHex(integer(128)), "02020080");
  assert.equal(toHex(integer(-1)), "0201ff");
  assert.equal(toHex(integer(-128)), "020180");
  assert.equal(toHex(integer(-129)), "0202ff7f");
  assert.equal(toHex(integer(2n ** 64n)), "0209010000000000000000");
  // Serial numbers: unsigned magnitudes with the top bit set gain a 0x00; leading zeros go.
  assert.equal(toHex(integer(fromHex("ff01"))), "020300ff01");
  assert.equal(toHex(integer(fromHex("0000017f"))), "0202017f");
  assert.equal(toHex(integer(new Uint8Array(0))), "020100");
  for (const v of [0n, 1n, -1n, 255n, -256n, 2n ** 159n - 1n, -(2n ** 100n)]) {
    assert.equal(decodeInteger(readElement(integer(v), Tag.INTEGER, "i").content), v);
  }
  assert.throws(() => decodeInteger(fromHex("0001")), DecodeError);
  assert.throws(() => decodeInteger(fromHex("ff80")), DecodeError);
  assert.throws(() => decodeInteger(new Uint8Array(0)), DecodeError);
});

test("OBJECT IDENTIFIER round-trips, including large arcs", () => {
  assert.equal(toHex(oid("1.2.840.113549.1.1.11")), "06092a864886f70d01010b");
  assert.equal(toHex(oid("2.5.29.17")), "0603551d11");
  for (const o of ["2.5.4.3", "1.3.101.112", "2.999.1", "2.25.329800735698586629295641978511506172918", "0.0"]) {
    assert.equal(decodeOid(readElement(oid(o), Tag.OID, "oid").content), o);
  }
  assert.throws(() => oid("3.1"), TypeError);
  assert.throws(() => oid("1.40"), TypeError);
  assert.throws(() => oid("1"), TypeError);
  assert.throws(() => oid("1.2.x"), TypeError);
  assert.throws(() => decodeOid(fromHex("2a80")), DecodeError); // truncated
  assert.throws(() => decodeOid(fromHex("2a8001")), DecodeError); // non-minimal
});

test("BIT STRING and named bits follow DER (trailing zero bits dropped)", () => {
  assert.equal(toHex(bitString(fromHex("abcd"))), "030300abcd");
  assert.equal(toHex(namedBitString([0])), "03020780"); // digitalSignature
  assert.equal(toHex(namedBitString([5, 6])), "03020106"); // keyCertSign, cRLSign
  assert.equal(toHex(namedBitString([8])), "0303070080"); // decipherOnly
  assert.deepEqual(decodeBitString(fromHex("0106")), { unusedBits: 1, bytes: fromHex("06") });
  assert.throws(() => decodeBitString(fromHex("08ff")), DecodeError);
  assert.throws(() => decodeBitString(fromHex("01")), DecodeError);
});

test("strings, BOOLEAN, NULL, OCTET STRING and SET OF ordering", () => {
  assert.equal(toHex(utf8String("é")), "0c02c3a9");
  assert.equal(toHex(printableString("Ab 1")), "130441622031");
  assert.throws(() => printableString("a@b"), TypeError);
  assert.equal(toHex(boolean(true)), "0101ff");
  assert.equal(toHex(boolean(false)), "010100");
  assert.equal(decodeBoolean(fromHex("ff")), true);
  assert.throws(() => decodeBoolean(fromHex("01")), DecodeError);
  assert.equal(toHex(nullValue()), "0500");
  assert.equal(toHex(octetString(fromHex("0102"))), "04020102");
  assert.equal(toHex(setOf(integer(2), integer(1))), "3106020101020102");
});

test("context-specific tags: explicit wraps, implicit retags", () => {
  assert.equal(toHex(explicit(0, integer(2))), "a003020102");
  assert.equal(toHex(implicit(2, new TextEncoder().encode("a"))), "820161");
  assert.equal(toHex(implicit(1, fromHex("0101ff"), true)), "a1030101ff");
  assert.throws(() => explicit(31, integer(1)), RangeError);
});

test("times: UTCTime through 2049, GeneralizedTime from 2050 and before 1950 (RFC 5280 4.1.2.5)", () => {
  const cases: Array<[string, string]> = [
    ["2024-02-29T12:34:56.789Z", "170d3234303232393132333435365a"],
    ["1950-01-01T00:00:00Z", "170d3530303130313030303030305a"],
    ["2049-12-31T23:59:59Z", "170d3439313233313233353935395a"],
    ["2050-01-01T00:00:00Z", "180f32303530303130313030303030305a"],
    ["1949-12-31T23:59:59Z", "180f31393439313233313233353935395a"],
  ];
  for (const [iso, hex] of cases) {
    const enc = time(new Date(iso));
    assert.equal(toHex(enc), hex, iso);
    const el = new DerReader(enc).next();
    assert.equal(decodeTime(el), Math.floor(new Date(iso).getTime() / 1000) * 1000);
  }
  const bad = (tag: number, s: string) => () => decodeTime({ tag, content: new TextEncoder().encode(s), encoded: new Uint8Array(0) });
  assert.throws(bad(Tag.UTCTime, "2402301200Z0"), DecodeError); // wrong length
  assert.throws(bad(Tag.UTCTime, "240230120000Z"), DecodeError); // 30 February
  assert.throws(bad(Tag.UTCTime, "241301120000Z"), DecodeError); // month 13
  assert.throws(bad(Tag.UTCTime, "240101240000Z"), DecodeError); // hour 24
  assert.throws(bad(Tag.GeneralizedTime, "20240101120000.5Z"), DecodeError); // fractions
  assert.throws(bad(Tag.GeneralizedTime, "240101120000Z"), DecodeError); // UTCTime form under the wrong tag
  assert.throws(() => time(new Date(NaN)), RangeError);
});

test("the reader rejects truncation, indefinite and non-minimal lengths, and trailing data", () => {
  const ok = sequence(integer(1), boolean(true));
  const r = new DerReader(ok).sequence("seq");
  assert.equal(decodeInteger(r.expect(Tag.INTEGER, "int").content), 1n);
  assert.equal(r.optional(Tag.INTEGER, "absent"), undefined);
  assert.ok(r.optional(Tag.BOOLEAN, "bool"));
  r.end("seq");
  assert.throws(() => readElement(ok.subarray(0, ok.length - 1), Tag.SEQUENCE, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("3080020101 0000"), Tag.SEQUENCE, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("30 8103 020101"), Tag.SEQUENCE, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("30 850000000001 00"), Tag.SEQUENCE, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("3000 00"), Tag.SEQUENCE, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("1f8101 00"), 0x1f, "s"), DecodeError);
  assert.throws(() => readElement(fromHex("0500"), Tag.SEQUENCE, "s"), /expected s/);
  assert.throws(() => new DerReader(new Uint8Array(0)).next("thing"), /missing thing/);
});
