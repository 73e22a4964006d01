import { test } from "node:test";
import assert from "node:assert/strict";
import { rootCertificates } from "node:tls";
import { AlertDescription as A } from "../../src/tls/alerts.js";
import { TsquicError } from "../../src/util/errors.js";
import { createCertificate, createDevelopmentCertificates, type GeneratedCertificate } from "../../src/pki/generate.js";
import { CertificateError, loadTrustStore, verifyCertificateChain, type TrustStore } from "../../src/pki/verify.js";
import { expectFailure, keyFor, makePki } from "./fixtures.js";

const NOW = Date.now();
const DAY = 86_400_000;

function verify(chain: Array<GeneratedCertificate | Uint8Array>, trust: TrustStore, host?: string, extra: { now?: number; usage?: "server" | "client" } = {}) {
  const ders = chain.map((c) => (c instanceof Uint8Array ? c : c.der));
  verifyCertificateChain(ders, { trust, now: extra.now ?? NOW, usage: extra.usage ?? "server", ...(host !== undefined && { host }) });
}

test("a chain with an intermediate verifies whatever the order of the extras", () => {
  const { root, inter, leaf, trust } = makePki();
  const stranger = createCertificate({ subject: { commonName: "Unrelated CA" }, isCA: true });
  verify([leaf, inter], trust, "www.example.com");
  verify([leaf, stranger, inter], trust, "www.example.com");
  verify([leaf, root, inter], trust, "www.example.com"); // the anchor may be sent too
  verify([leaf, inter, inter, root, stranger], trust, "www.example.com");
  verify([leaf, inter], trust); // no host: no name check (as for client certificates)
});

test("every key type verifies, as issuer and as leaf", () => {
  for (const keyType of ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519"] as const) {
    const root = createCertificate({ subject: { commonName: `Root ${keyType}` }, isCA: true, ...keyFor(keyType, 0) });
    const inter = createCertificate({ subject: { commonName: `Inter ${keyType}` }, issuer: root, isCA: true, keyType: "ecdsa-p256" });
    const leaf = createCertificate({ subject: { commonName: "k.test" }, issuer: inter, subjectAltNames: { dns: ["k.test"] }, ...keyFor(keyType, 1) });
    verify([leaf, inter], loadTrustStore(root.der), "k.test");
  }
});

test("a leaf that is itself a trust anchor is accepted", () => {
  const self = createCertificate({ subject: { commonName: "pinned.test" }, subjectAltNames: { dns: ["pinned.test"] } });
  verify([self], loadTrustStore(self.pem), "pinned.test");
  // Still subject to the name check.
  expectFailure(() => verify([self], loadTrustStore(self.pem), "other.test"), "hostname_mismatch", A.bad_certificate);
});

test("expired: leaf, intermediate or anchor out of date gives certificate_expired", () => {
  const { inter, trust } = makePki();
  const old = createCertificate({ subject: { commonName: "old.test" }, issuer: inter, subjectAltNames: { dns: ["old.test"] }, notBefore: new Date(NOW - 30 * DAY), notAfter: new Date(NOW - DAY) });
  const e = expectFailure(() => verify([old, inter], trust, "old.test"), "expired", A.certificate_expired);
  assert.match(e.message, /certificate_expired \(45\).*"CN=old\.test" expired on \d{4}-/);
  assert.equal(e.certificate?.subject, "CN=old.test");
  // Far in the future everything expired; the intermediate is found first while building the path.
  const later = expectFailure(() => verify([old, inter], trust, "old.test", { now: NOW + 20 * 365 * DAY }), "expired", A.certificate_expired);
  assert.equal(later.certificate?.subject, "CN=Test Intermediate");
  const expiredRoot = createCertificate({ subject: { commonName: "Expired Root" }, isCA: true, notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW - DAY) });
  const leaf = createCertificate({ subject: { commonName: "x" }, issuer: expiredRoot });
  expectFailure(() => verify([leaf], loadTrustStore(expiredRoot.pem)), "expired", A.certificate_expired);
});

test("not yet valid gives bad_certificate with its own reason", () => {
  const { inter, trust } = makePki();
  const future = createCertificate({ subject: { commonName: "future.test" }, issuer: inter, notBefore: new Date(NOW + DAY), notAfter: new Date(NOW + 2 * DAY) });
  const e = expectFailure(() => verify([future, inter], trust), "not_yet_valid", A.bad_certificate);
  assert.match(e.message, /not valid until/);
});

test("validity bounds are inclusive (RFC 5280 section 4.1.2.5)", () => {
  const { inter, trust } = makePki();
  const notBefore = new Date(Math.floor(NOW / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + 60_000);
  const c = createCertificate({ subject: { commonName: "edge" }, issuer: inter, notBefore, notAfter });
  verify([c, inter], trust, undefined, { now: notBefore.getTime() });
  verify([c, inter], trust, undefined, { now: notAfter.getTime() });
  expectFailure(() => verify([c, inter], trust, undefined, { now: notAfter.getTime() + 1 }), "expired", A.certificate_expired);
  expectFailure(() => verify([c, inter], trust, undefined, { now: notBefore.getTime() - 1 }), "not_yet_valid", A.bad_certificate);
});

test("hostname mismatch gives bad_certificate naming the host and the certificate's names", () => {
  const { inter, leaf, trust } = makePki();
  const e = expectFailure(() => verify([leaf, inter], trust, "evil.example.org"), "hostname_mismatch", A.bad_certificate);
  assert.match(e.message, /not valid for host "evil\.example\.org"/);
  assert.match(e.message, /DNS:www\.example\.com/);
});

test("DNS SANs: exact, case-insensitive and single-label wildcards", () => {
  const { inter, leaf, trust } = makePki();
  for (const host of ["www.example.com", "WWW.EXAMPLE.COM", "www.example.com.", "v1.api.example.com"]) verify([leaf, inter], trust, host);
  for (const host of ["example.com", "api.example.com", "a.v1.api.example.com", "wwwexample.com"]) {
    expectFailure(() => verify([leaf, inter], trust, host), "hostname_mismatch", A.bad_certificate);
  }
});

test("IP SANs: IPv4 and IPv6 in any textual form, never via DNS entries", () => {
  const { inter, leaf, trust } = makePki();
  for (const host of ["192.0.2.1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "[2001:db8::1]", "2001:db8:0::0:1"]) verify([leaf, inter], trust, host);
  for (const host of ["192.0.2.2", "::1", "2001:db8::2", "::ffff:192.0.2.1"]) expectFailure(() => verify([leaf, inter], trust, host), "hostname_mismatch", A.bad_certificate);
  // An IP written as a dNSName does not count for an IP host (RFC 6125 section 6.2.1: IPs use iPAddress).
  const dnsIp = createCertificate({ subject: { commonName: "192.0.2.9" }, issuer: inter, subjectAltNames: { dns: ["192.0.2.9"] } });
  expectFailure(() => verify([dnsIp, inter], trust, "192.0.2.9"), "hostname_mismatch", A.bad_certificate);
});

test("the common name is used only when there is no subjectAltName", () => {
  const { inter, trust } = makePki();
  const cnOnly = createCertificate({ subject: { commonName: "cn.example.com" }, issuer: inter });
  verify([cnOnly, inter], trust, "cn.example.com");
  expectFailure(() => verify([cnOnly, inter], trust, "other.example.com"), "hostname_mismatch", A.bad_certificate);
  expectFailure(() => verify([cnOnly, inter], trust, "192.0.2.1"), "hostname_mismatch", A.bad_certificate);
  const withSan = createCertificate({ subject: { commonName: "cn.example.com" }, issuer: inter, subjectAltNames: { dns: ["san.example.com"] } });
  verify([withSan, inter], trust, "san.example.com");
  expectFailure(() => verify([withSan, inter], trust, "cn.example.com"), "hostname_mismatch", A.bad_certificate);
  // IP-only SANs still switch the common name off.
  const ipOnly = createCertificate({ subject: { commonName: "cn.example.com" }, issuer: inter, subjectAltNames: { ip: ["192.0.2.5"] } });
  expectFailure(() => verify([ipOnly, inter], trust, "cn.example.com"), "hostname_mismatch", A.bad_certificate);
});

test("unknown issuer: missing intermediate, or a root that is not trusted, gives unknown_ca", () => {
  const { root, inter, leaf } = makePki();
  const otherTrust = loadTrustStore(createCertificate({ subject: { commonName: "Other Root" }, isCA: true }).pem);
  const e = expectFailure(() => verify([leaf, inter], otherTrust, "www.example.com"), "unknown_issuer", A.unknown_ca);
  assert.match(e.message, /Test Root/);
  expectFailure(() => verify([leaf], loadTrustStore(root.pem), "www.example.com"), "unknown_issuer", A.unknown_ca);
  const sentRoot = expectFailure(() => verify([leaf, inter, root], otherTrust, "www.example.com"), "unknown_issuer", A.unknown_ca);
  assert.match(sentRoot.message, /self-signed root that is not among the trusted/);
});

test("self-signed leaf not in the store gives unknown_ca with reason self_signed", () => {
  const { trust } = makePki();
  const self = createCertificate({ subject: { commonName: "self.test" }, subjectAltNames: { dns: ["self.test"] } });
  const e = expectFailure(() => verify([self], trust, "self.test"), "self_signed", A.unknown_ca);
  assert.match(e.message, /self-signed/);
  expectFailure(() => verify([self], loadTrustStore(createCertificate({ subject: { commonName: "self.test" } }).pem), "self.test"), "self_signed", A.unknown_ca);
});

test("bad signature: a tampered certificate, or an issuer with the right name and the wrong key", () => {
  const { root, inter, leaf, trust } = makePki();
  const tampered = leaf.der.slice();
  tampered[tampered.length - 1] ^= 0x01; // the last byte is inside the ECDSA signature
  expectFailure(() => verify([tampered, inter], trust, "www.example.com"), "bad_signature", A.bad_certificate);
  // Tampering inside the signed part breaks the signature too.
  const body = leaf.der.slice();
  const at = Buffer.from(body).indexOf("www.example.com");
  body[at] = "W".charCodeAt(0);
  expectFailure(() => verify([body, inter], trust), "bad_signature", A.bad_certificate);
  // An impostor root: same name as the real one, another key.
  const impostor = createCertificate({ subject: { commonName: "Test Root", organization: "tsquic tests" }, isCA: true });
  const e = expectFailure(() => verify([leaf, inter], loadTrustStore(impostor.pem), "www.example.com"), "bad_signature", A.bad_certificate);
  assert.match(e.message, /does not verify with the key of its issuer "O=tsquic tests, CN=Test Root"/);
  // With the real root as well, the path through it is found.
  verify([leaf, inter], loadTrustStore([impostor.pem, root.pem]), "www.example.com");
});

test("not a CA: a leaf used as an issuer, or a path longer than pathLength", () => {
  const { inter, trust } = makePki();
  const notCa = createCertificate({ subject: { commonName: "Not A CA" }, issuer: inter });
  const leaf = createCertificate({ subject: { commonName: "under.test" }, issuer: notCa });
  const e = expectFailure(() => verify([leaf, notCa, inter], trust), "not_ca", A.bad_certificate);
  assert.match(e.message, /"CN=Not A CA" issued "CN=under\.test" but is not a CA/);
  // inter has pathLength 0, so it may not certify another CA that issues leaves.
  const sub = createCertificate({ subject: { commonName: "Sub CA" }, issuer: inter, isCA: true });
  const deep = createCertificate({ subject: { commonName: "deep.test" }, issuer: sub });
  const p = expectFailure(() => verify([deep, sub, inter], trust), "not_ca", A.bad_certificate);
  assert.match(p.message, /allows 0 intermediate/);
  // Directly under inter is fine.
  verify([createCertificate({ subject: { commonName: "ok" }, issuer: sub }), sub], loadTrustStore(sub.pem));
});

test("malformed certificates give bad_certificate", () => {
  const { inter, leaf, trust } = makePki();
  expectFailure(() => verify([Uint8Array.of(1, 2, 3)], trust), "malformed", A.bad_certificate);
  expectFailure(() => verify([leaf.der.subarray(0, leaf.der.length - 5)], trust), "malformed", A.bad_certificate);
  expectFailure(() => verify([leaf, inter.der.subarray(1)], trust), "malformed", A.bad_certificate);
  expectFailure(() => verify([new Uint8Array(0)], trust), "malformed", A.bad_certificate);
});

test("an empty chain: certificate_required from a client, decode_error from a server", () => {
  const { trust } = makePki();
  expectFailure(() => verifyCertificateChain([], { trust, now: NOW, usage: "client" }), "empty_chain", A.certificate_required);
  expectFailure(() => verifyCertificateChain([], { trust, now: NOW, usage: "server", host: "x" }), "empty_chain", A.decode_error);
});

test("key usage: extKeyUsage must allow the role, keyUsage must allow signing", () => {
  const { inter, trust } = makePki();
  const clientOnly = createCertificate({ subject: { commonName: "client" }, issuer: inter, extendedKeyUsage: ["clientAuth"] });
  verify([clientOnly, inter], trust, undefined, { usage: "client" });
  const e = expectFailure(() => verify([clientOnly, inter], trust), "bad_usage", A.unsupported_certificate);
  assert.match(e.message, /serverAuth/);
  const serverOnly = createCertificate({ subject: { commonName: "server" }, issuer: inter, extendedKeyUsage: ["serverAuth"] });
  expectFailure(() => verify([serverOnly, inter], trust, undefined, { usage: "client" }), "bad_usage", A.unsupported_certificate);
  const any = createCertificate({ subject: { commonName: "any" }, issuer: inter });
  verify([any, inter], trust, undefined, { usage: "client" });
  verify([any, inter], trust, undefined, { usage: "server" });
  // A CA certificate (keyCertSign only) cannot be a TLS leaf.
  const subCa = createCertificate({ subject: { commonName: "leafy CA" }, isCA: true });
  expectFailure(() => verify([subCa], loadTrustStore(subCa.pem)), "bad_usage", A.unsupported_certificate);
});

test("unrecognised critical extensions are rejected, non-critical ones ignored", () => {
  const { inter, trust } = makePki();
  const value = Uint8Array.of(0x05, 0x00);
  const critical = createCertificate({ subject: { commonName: "c" }, issuer: inter, extraExtensions: [{ oid: "1.3.6.1.4.1.99999.1", critical: true, value }] });
  expectFailure(() => verify([critical, inter], trust), "unsupported", A.unsupported_certificate);
  const plain = createCertificate({ subject: { commonName: "c" }, issuer: inter, extraExtensions: [{ oid: "1.3.6.1.4.1.99999.1", value }] });
  verify([plain, inter], trust);
  const criticalCa = createCertificate({ subject: { commonName: "Crit CA" }, issuer: inter, isCA: true, extraExtensions: [{ oid: "2.5.29.30", critical: true, value: Uint8Array.of(0x30, 0x00) }] });
  const below = createCertificate({ subject: { commonName: "below" }, issuer: criticalCa });
  expectFailure(() => verify([below, criticalCa], loadTrustStore(criticalCa.pem)), "unsupported", A.unsupported_certificate);
});

test("paths are bounded: a chain of 12 CAs is rejected, not walked", () => {
  let issuer = createCertificate({ subject: { commonName: "Deep Root" }, isCA: true });
  const trust = loadTrustStore(issuer.pem);
  const chain: GeneratedCertificate[] = [];
  for (let i = 0; i < 12; i++) {
    issuer = createCertificate({ subject: { commonName: `Deep ${i}` }, issuer, isCA: true });
    chain.unshift(issuer);
  }
  const leaf = createCertificate({ subject: { commonName: "deep leaf" }, issuer });
  const e = expectFailure(() => verify([leaf, ...chain], trust), "unknown_issuer", A.unknown_ca);
  assert.match(e.message, /within 10 certificates/);
  // Eight intermediates fit in the bound of 10 (leaf + 8 + anchor).
  verify([leaf, ...chain.slice(0, 8)], loadTrustStore(chain[8]!.pem));
});

test("many same-named impostors do not make the search explode", () => {
  const { inter, leaf, trust } = makePki();
  const impostors = Array.from({ length: 30 }, () => createCertificate({ subject: { commonName: "Test Intermediate" }, isCA: true }).der);
  const start = performance.now();
  verify([leaf, ...impostors.slice(0, 15), inter], trust, "www.example.com");
  expectFailure(() => verify([leaf, ...impostors], trust), "bad_signature", A.bad_certificate);
  assert.ok(performance.now() - start < 2000);
});

test("the platform root store loads lazily, once, and does not trust our development CA", () => {
  const store = loadTrustStore();
  assert.equal(loadTrustStore(), store);
  assert.equal(store.size, rootCertificates.length);
  const { leaf } = createDevelopmentCertificates();
  expectFailure(() => verify([leaf], store, "localhost"), "unknown_issuer", A.unknown_ca);
});

test("loadTrustStore: a given ca replaces the platform roots; bad input is a TsquicError", () => {
  const { root, inter } = makePki();
  const store = loadTrustStore([root.pem, inter.der]);
  assert.equal(store.size, 2);
  assert.throws(() => loadTrustStore("garbage"), (e: unknown) => e instanceof TsquicError && !(e instanceof CertificateError));
});

test("CertificateError is a TlsAlertError carrying the QUIC error code", () => {
  const { trust } = makePki();
  const e = expectFailure(() => verify([Uint8Array.of(0)], trust), "malformed", A.bad_certificate);
  assert.equal(e.quicErrorCode, 0x100 + A.bad_certificate);
  assert.equal(e.name, "CertificateError");
});

test("signature algorithms outside the accepted list (here ECDSA with SHA-224) are unsupported", () => {
  const { inter, leaf, trust } = makePki();
  // Swap ecdsa-with-SHA256 (1.2.840.10045.4.3.2) for ecdsa-with-SHA224 (...4.3.1), same length, in both places.
  const hex = Buffer.from(leaf.der).toString("hex").replaceAll("06082a8648ce3d040302", "06082a8648ce3d040301");
  const e = expectFailure(() => verify([Buffer.from(hex, "hex"), inter], trust), "unsupported", A.unsupported_certificate);
  assert.match(e.message, /1\.2\.840\.10045\.4\.3\.1/);
});
