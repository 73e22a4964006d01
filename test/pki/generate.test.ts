import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { TsquicError } from "../../src/util/errors.js";
import { decodeCertificate, KeyUsage } from "../../src/pki/certificate.js";
import {
  createCertificate,
  createDevelopmentCertificates,
  writeDevelopmentCertificates,
  type GeneratedCertificate,
  type KeyType,
} from "../../src/pki/generate.js";
import { OID } from "../../src/pki/oids.js";
import { loadTrustStore, verifyCertificateChain } from "../../src/pki/verify.js";
import { keyFor } from "./fixtures.js";

const KEY_TYPES: KeyType[] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "ed25519"];

test("a generated CA and leaf carry the requested fields", () => {
  const notBefore = new Date("2024-01-01T00:00:00Z");
  const notAfter = new Date("2051-06-01T12:00:00Z"); // after 2049: GeneralizedTime
  const ca = createCertificate({ subject: { commonName: "Fields CA", organization: "Org" }, isCA: true, pathLength: 2, notBefore, notAfter });
  const leaf = createCertificate({
    subject: { commonName: "host.test" },
    issuer: ca,
    subjectAltNames: { dns: ["host.test", "*.host.test"], ip: ["10.1.2.3", "fe80::1"] },
    extendedKeyUsage: ["serverAuth", "clientAuth"],
    serialNumber: Uint8Array.from([0xff, 0x01, 0x02]),
    notBefore,
    notAfter,
  });
  const caX = new X509Certificate(ca.der);
  const x = new X509Certificate(leaf.der);
  assert.equal(caX.subject, "O=Org\nCN=Fields CA");
  assert.equal(caX.issuer, caX.subject);
  assert.equal(caX.ca, true);
  assert.equal(x.ca, false);
  assert.equal(x.subject, "CN=host.test");
  assert.equal(x.issuer, "O=Org\nCN=Fields CA");
  assert.equal(x.serialNumber, "FF0102"); // OpenSSL prints the magnitude; the DER has a leading 0x00
  assert.equal(x.subjectAltName, "DNS:host.test, DNS:*.host.test, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:0:1");
  assert.deepEqual(x.keyUsage, [OID.serverAuth, OID.clientAuth]);
  assert.equal(new Date(x.validFrom).getTime(), notBefore.getTime());
  assert.equal(new Date(x.validTo).getTime(), notAfter.getTime());
  assert.ok(x.checkIssued(caX));
  assert.ok(x.verify(caX.publicKey));
  assert.ok(caX.verify(caX.publicKey));
  assert.equal(ca.pem, caX.toString());
  assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);

  const caInfo = decodeCertificate(ca.der);
  const info = decodeCertificate(leaf.der);
  assert.equal(info.version, 2);
  assert.deepEqual(caInfo.basicConstraints, { ca: true, pathLength: 2 });
  assert.deepEqual(info.basicConstraints, { ca: false });
  assert.equal(caInfo.keyUsage, KeyUsage.keyCertSign | KeyUsage.cRLSign);
  assert.equal(info.keyUsage, KeyUsage.digitalSignature);
  assert.equal(caInfo.extensions.get(OID.basicConstraints)?.critical, true);
  assert.equal(info.extensions.get(OID.keyUsage)?.critical, true);
  assert.equal(info.extensions.get(OID.subjectAltName)?.critical, false);
  assert.deepEqual(info.authorityKeyIdentifier, caInfo.subjectKeyIdentifier);
  assert.equal(caInfo.authorityKeyIdentifier, undefined, "self-signed: no authorityKeyIdentifier");
  assert.equal(info.subjectKeyIdentifier?.length, 20);
  assert.deepEqual(info.issuer, caInfo.subject);
  assert.equal(info.signatureAlgorithm, OID.ecdsaWithSHA256);
});

test("signature algorithms follow the issuer's key", () => {
  const expected: Record<KeyType, string> = {
    "ecdsa-p256": OID.ecdsaWithSHA256,
    "ecdsa-p384": OID.ecdsaWithSHA384,
    "rsa-2048": OID.sha256WithRSAEncryption,
    ed25519: OID.ed25519,
  };
  for (const keyType of KEY_TYPES) {
    const ca = createCertificate({ subject: { commonName: `CA ${keyType}` }, isCA: true, ...keyFor(keyType) });
    assert.equal(ca.keyType, keyType);
    // An issued leaf of a different key type is still signed with the issuer's algorithm.
    const leaf = createCertificate({ subject: { commonName: "leaf" }, issuer: ca, keyType: "ecdsa-p256" });
    assert.equal(decodeCertificate(ca.der).signatureAlgorithm, expected[keyType]);
    assert.equal(decodeCertificate(leaf.der).signatureAlgorithm, expected[keyType]);
    assert.ok(new X509Certificate(leaf.der).verify(new X509Certificate(ca.der).publicKey), keyType);
  }
});

test("random serials are positive and distinct", () => {
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const info = decodeCertificate(createCertificate({ subject: { commonName: "s" } }).der);
    assert.equal(info.serialNumber[0]! & 0x80, 0);
    assert.ok(info.serialNumber.length <= 20);
    serials.add(Buffer.from(info.serialNumber).toString("hex"));
  }
  assert.equal(serials.size, 20);
});

test("unusable options are TsquicErrors", () => {
  const bad = (opts: Partial<Parameters<typeof createCertificate>[0]>) =>
    assert.throws(() => createCertificate({ subject: { commonName: "x" }, ...opts }), (e: unknown) => e instanceof TsquicError && e.code === "ERR_PKI_INVALID_OPTIONS");
  bad({ subjectAltNames: { ip: ["300.1.1.1"] } });
  bad({ subjectAltNames: { ip: ["1::2::3"] } });
  bad({ subjectAltNames: { dns: ["bücher.example"] } });
  bad({ serialNumber: new Uint8Array(21).fill(1) });
  bad({ serialNumber: new Uint8Array(3) });
  bad({ pathLength: 1 }); // pathLength without isCA
  bad({ notBefore: new Date("2030-01-01"), notAfter: new Date("2029-01-01") });
  bad({ notAfter: new Date(NaN) });
  bad({ keyType: "dsa" as KeyType });
});

test("development certificates: a P-256 CA and a leaf for localhost, 127.0.0.1 and ::1", () => {
  const { ca, leaf } = createDevelopmentCertificates();
  assert.equal(ca.keyType, "ecdsa-p256");
  assert.equal(leaf.keyType, "ecdsa-p256");
  const x = new X509Certificate(leaf.der);
  assert.equal(x.subjectAltName, "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
  const trust = loadTrustStore(ca.pem);
  for (const host of ["localhost", "127.0.0.1", "::1"]) {
    verifyCertificateChain([leaf.der], { trust, host, now: Date.now(), usage: "server" });
    verifyCertificateChain([leaf.der], { trust, now: Date.now(), usage: "client" });
  }
  const custom = createDevelopmentCertificates({ hosts: ["dev.test", "[::2]"] });
  assert.equal(new X509Certificate(custom.leaf.der).subjectAltName, "DNS:dev.test, IP Address:0:0:0:0:0:0:0:2");
});

test("writeDevelopmentCertificates writes ca.pem, cert.pem and a private key.pem", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tsquic-pki-"));
  try {
    const out = await writeDevelopmentCertificates(join(dir, "nested"));
    assert.deepEqual(out, { caPath: join(dir, "nested", "ca.pem"), certPath: join(dir, "nested", "cert.pem"), keyPath: join(dir, "nested", "key.pem") });
    const [caPem, certPem, keyPem] = await Promise.all([readFile(out.caPath, "utf8"), readFile(out.certPath, "utf8"), readFile(out.keyPath, "utf8")]);
    assert.match(caPem, /^-----BEGIN CERTIFICATE-----/);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
    if (process.platform !== "win32") assert.equal((await stat(out.keyPath)).mode & 0o777, 0o600);
    verifyCertificateChain([new X509Certificate(certPem).raw], { trust: loadTrustStore(caPem), host: "localhost", now: Date.now(), usage: "server" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A TLS 1.3 handshake through node:tls with our certificates; resolves with what the client concluded. */
async function nodeTlsHandshake(ca: GeneratedCertificate, leaf: GeneratedCertificate, servername: string) {
  const server = tls.createServer({ key: leaf.keyPem, cert: leaf.pem, minVersion: "TLSv1.3" }, (socket) => socket.end());
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<{ authorized: boolean; error: unknown; protocol: string | null }>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: ca.pem, servername, minVersion: "TLSv1.3", rejectUnauthorized: false }, () => {
        resolve({ authorized: socket.authorized, error: socket.authorizationError, protocol: socket.getProtocol() });
        socket.destroy();
      });
      socket.on("error", reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

for (const keyType of KEY_TYPES) {
  test(`node:tls accepts a generated ${keyType} CA and leaf over TLS 1.3`, async () => {
    const ca = createCertificate({ subject: { commonName: `Interop CA ${keyType}` }, isCA: true, ...keyFor(keyType, 0) });
    const leaf = createCertificate({
      subject: { commonName: "localhost" },
      issuer: ca,
      subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] },
      extendedKeyUsage: ["serverAuth"],
      ...keyFor(keyType, 1),
    });
    const result = await nodeTlsHandshake(ca, leaf, "localhost");
    assert.equal(result.error, null);
    assert.equal(result.authorized, true);
    assert.equal(result.protocol, "TLSv1.3");
  });
}

test("node:tls rejects the generated leaf for another host name (the check is real)", async () => {
  const { ca, leaf } = createDevelopmentCertificates();
  const result = await nodeTlsHandshake(ca, leaf, "example.com");
  assert.equal(result.authorized, false);
  assert.equal(result.error, "ERR_TLS_CERT_ALTNAME_INVALID");
});
