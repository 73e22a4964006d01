import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "../../src/util/bytes.js";
import { matchesDnsName, parseIpAddress, referenceIdentity } from "../../src/pki/hostname.js";

test("IPv4 and IPv6 literals parse to bytes", () => {
  const hex = (s: string) => {
    const b = parseIpAddress(s);
    return b && toHex(b);
  };
  assert.equal(hex("127.0.0.1"), "7f000001");
  assert.equal(hex("255.255.255.255"), "ffffffff");
  assert.equal(hex("::1"), "00000000000000000000000000000001");
  assert.equal(hex("::"), "00000000000000000000000000000000");
  assert.equal(hex("2001:db8::1"), "20010db8000000000000000000000001");
  assert.equal(hex("2001:DB8:0:0:0:0:0:1"), "20010db8000000000000000000000001");
  assert.equal(hex("fe80::"), "fe800000000000000000000000000000");
  assert.equal(hex("::ffff:192.0.2.1"), "00000000000000000000ffffc0000201");
  assert.equal(hex("1:2:3:4:5:6:7::"), "00010002000300040005000600070000");
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "::g", "1.2.3.4::", "::1.2.3", ":1", "1:"]) {
    assert.equal(parseIpAddress(bad), undefined, bad);
  }
});

test("reference identities: brackets, zones, case and trailing dots", () => {
  assert.deepEqual(referenceIdentity("WWW.Example.COM."), { kind: "dns", name: "www.example.com" });
  assert.equal(referenceIdentity("[::1]").kind, "ip");
  assert.equal(referenceIdentity("fe80::1%eth0").kind, "ip");
  assert.equal(referenceIdentity("192.0.2.1").kind, "ip");
  assert.equal(referenceIdentity("1.2.3.4.example").kind, "dns");
});

test("DNS name matching follows RFC 6125 section 6.4.3", () => {
  const yes: Array<[string, string]> = [
    ["www.example.com", "www.example.com"],
    ["WWW.Example.com", "www.example.com"],
    ["www.example.com.", "www.example.com"],
    ["*.example.com", "foo.example.com"],
    ["*.Example.com", "foo.example.com"],
  ];
  const no: Array<[string, string]> = [
    ["www.example.com", "example.com"],
    ["*.example.com", "example.com"], // the wildcard matches exactly one label
    ["*.example.com", "a.b.example.com"],
    ["*.com", "example.com"], // too broad
    ["*", "localhost"],
    ["f*.example.com", "foo.example.com"], // partial-label wildcards are not honoured
    ["*oo.example.com", "foo.example.com"],
    ["www.*.example.com", "www.a.example.com"],
    ["*.*.example.com", "a.b.example.com"],
    ["", ""],
    ["a..com", "a..com"],
  ];
  for (const [p, h] of yes) assert.ok(matchesDnsName(p, h), `${p} should match ${h}`);
  for (const [p, h] of no) assert.ok(!matchesDnsName(p, h), `${p} should not match ${h}`);
});
