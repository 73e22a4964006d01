/**
 * Certificate handling through the engines: each chain failure reaches the
 * client as the PKI's named CertificateError with its alert, and
 * rejectUnauthorized:false lets it through; client certificates requested,
 * verified, optional, and missing when required.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCertificate, type GeneratedCertificate } from "../../src/pki/generate.js";
import { CertificateError } from "../../src/pki/errors.js";
import { AlertDescription } from "../../src/tls/alerts.js";
import { alertOf, handshake, secretsOf, testPki } from "./helpers.js";

const DAY = 86400000;

interface FailureCase {
  name: string;
  reason: string;
  alert: number;
  leaf: () => { cert: string | Uint8Array; key: GeneratedCertificate["key"] };
  clientOptions?: Record<string, unknown>;
}

function issued(extra: Partial<Parameters<typeof createCertificate>[0]>, issuer = testPki().ca): GeneratedCertificate {
  return createCertificate({ subject: { commonName: "localhost" }, issuer, subjectAltNames: { dns: ["localhost"] }, ...extra });
}

const CASES: FailureCase[] = [
  {
    name: "expired",
    reason: "expired",
    alert: AlertDescription.certificate_expired,
    leaf: () => {
      const c = issued({ notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
      return { cert: c.pem, key: c.key };
    },
  },
  {
    name: "not yet valid",
    reason: "not_yet_valid",
    alert: AlertDescription.bad_certificate,
    leaf: () => {
      const c = issued({ notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) });
      return { cert: c.pem, key: c.key };
    },
  },
  {
    name: "wrong host",
    reason: "hostname_mismatch",
    alert: AlertDescription.bad_certificate,
    leaf: () => {
      const c = issued({ subject: { commonName: "other.example" }, subjectAltNames: { dns: ["other.example"] } });
      return { cert: c.pem, key: c.key };
    },
  },
  {
    name: "unknown issuer",
    reason: "unknown_issuer",
    alert: AlertDescription.unknown_ca,
    leaf: () => {
      const otherCa = createCertificate({ subject: { commonName: "Other CA" }, isCA: true });
      const c = issued({}, otherCa);
      return { cert: c.pem, key: c.key };
    },
  },
  {
    name: "bad signature",
    reason: "bad_signature",
    alert: AlertDescription.bad_certificate,
    leaf: () => {
      const c = issued({});
      const der = c.der.slice();
      der[der.length - 2]! ^= 0x55; // inside the signature BIT STRING
      return { cert: der, key: c.key };
    },
  },
  {
    name: "self-signed",
    reason: "self_signed",
    alert: AlertDescription.unknown_ca,
    leaf: () => {
      const c = createCertificate({ subject: { commonName: "localhost" }, subjectAltNames: { dns: ["localhost"] } });
      return { cert: c.pem, key: c.key };
    },
  },
];

for (const c of CASES) {
  test(`server certificate ${c.name}: CertificateError(${c.reason}) with alert ${c.alert} on the client`, () => {
    const leaf = c.leaf();
    const r = handshake({}, { cert: leaf.cert, key: leaf.key });
    const e = alertOf(r);
    assert.equal(r.error!.side, "client");
    assert.ok(e instanceof CertificateError, `expected CertificateError, got ${e.name}: ${e.message}`);
    assert.equal(e.reason, c.reason);
    assert.equal(e.alert, c.alert);
    assert.equal(r.client.closed, true);
  });

  test(`server certificate ${c.name}: accepted with rejectUnauthorized:false`, () => {
    const leaf = c.leaf();
    const r = handshake({ rejectUnauthorized: false }, { cert: leaf.cert, key: leaf.key });
    if (r.error) throw r.error.error;
    assert.ok(r.client.handshakeComplete && r.server.handshakeComplete);
  });
}

test("the platform root store is the default and rejects the test CA", () => {
  const r = handshake({ ca: undefined });
  const e = alertOf(r);
  assert.ok(e instanceof CertificateError);
  assert.equal(e.alert, AlertDescription.unknown_ca);
});

test("a CertificateVerify by the wrong key fails even with rejectUnauthorized:false", () => {
  const pki = testPki();
  // Certificate of one key, signature by another.
  const r = handshake({ rejectUnauthorized: false }, { cert: pki.leaf["ecdsa-p256"].pem, key: pki.client.key });
  const e = alertOf(r);
  assert.equal(e.alert, AlertDescription.decrypt_error);
});

test("client certificate requested, sent, verified and signed", () => {
  const pki = testPki();
  const r = handshake({ cert: pki.client.pem, key: pki.client.keyPem }, { requestClientCertificate: true });
  if (r.error) throw r.error.error;
  assert.ok(r.server.handshakeComplete);
  assert.deepEqual(r.server.peerCertificates, [pki.client.der]);
  assert.equal(r.server.clientSignatureScheme, "ecdsa_secp256r1_sha256");
  assert.equal(r.client.clientSignatureScheme, "ecdsa_secp256r1_sha256");
  const c = secretsOf(r.clientEvents);
  const s = secretsOf(r.serverEvents);
  assert.deepEqual(c.get("oneRtt/write"), s.get("oneRtt/read"));
});

test("client certificates of every key type", () => {
  const pki = testPki();
  for (const keyType of ["ecdsa-p384", "rsa-2048", "ed25519"] as const) {
    const leaf = pki.leaf[keyType];
    const r = handshake({ cert: leaf.pem, key: leaf.key }, { requestClientCertificate: true });
    if (r.error) throw r.error.error;
    assert.deepEqual(r.server.peerCertificates, [leaf.der]);
  }
});

test("a required client certificate that is missing is certificate_required (116)", () => {
  const r = handshake({}, { requestClientCertificate: true });
  const e = alertOf(r);
  assert.equal(r.error!.side, "server");
  assert.equal(e.alert, AlertDescription.certificate_required);
});

test("an optional client certificate may be absent", () => {
  const r = handshake({}, { requestClientCertificate: true, requireClientCertificate: false });
  if (r.error) throw r.error.error;
  assert.ok(r.server.handshakeComplete);
  assert.deepEqual(r.server.peerCertificates, []);
});

test("a client certificate from an unknown CA is rejected by the server", () => {
  const stranger = createCertificate({ subject: { commonName: "stranger" } });
  const r = handshake({ cert: stranger.pem, key: stranger.key }, { requestClientCertificate: true });
  const e = alertOf(r);
  assert.equal(r.error!.side, "server");
  assert.ok(e instanceof CertificateError);
  assert.equal(e.alert, AlertDescription.unknown_ca);
});

test("an expired client certificate is rejected, and accepted with rejectUnauthorized:false", () => {
  const expired = issued({ notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
  const bad = handshake({ cert: expired.pem, key: expired.key }, { requestClientCertificate: true });
  assert.equal(alertOf(bad).alert, AlertDescription.certificate_expired);
  const ok = handshake({ cert: expired.pem, key: expired.key }, { requestClientCertificate: true, rejectUnauthorized: false });
  if (ok.error) throw ok.error.error;
  assert.ok(ok.server.handshakeComplete);
});

test("verification uses the `now` passed in, not the clock", () => {
  // A certificate valid today fails when the handshake says it is two years from now.
  const r = handshake({}, {}, { now: Date.now() + 2 * 365 * DAY });
  const e = alertOf(r);
  assert.ok(e instanceof CertificateError);
  assert.equal(e.reason, "expired");
});
