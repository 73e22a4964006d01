import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { TsquicError } from "../../src/util/errors.js";
import { createCertificate } from "../../src/pki/generate.js";
import { decodePem, derToPem, loadCertificateChain, loadPrivateKey } from "../../src/pki/pem.js";
import { rsaKey } from "./fixtures.js";

function isCode(code: string) {
  return (e: unknown) => e instanceof TsquicError && e.code === code;
}

/** Proves two keys are the same by signing with one and verifying with the other. */
function sameKey(a: KeyObject, b: KeyObject): void {
  const data = Buffer.from("tsquic");
  const hash = a.asymmetricKeyType === "ed25519" ? null : "sha256";
  assert.ok(verify(hash, data, b, sign(hash, data, a)));
}

test("loadCertificateChain reads PEM bundles, DER, concatenated DER and arrays", () => {
  const a = createCertificate({ subject: { commonName: "a" } });
  const b = createCertificate({ subject: { commonName: "b" } });
  const bundle = `leading text\n${a.pem}\nbetween\n${b.pem}\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
  assert.deepEqual(loadCertificateChain(bundle), [a.der, b.der]);
  assert.deepEqual(loadCertificateChain(a.pem.replace(/\n/g, "\r\n")), [a.der]);
  assert.deepEqual(loadCertificateChain(a.der), [a.der]);
  assert.deepEqual(loadCertificateChain(Buffer.concat([a.der, b.der])), [a.der, b.der]);
  assert.deepEqual(loadCertificateChain(new TextEncoder().encode(bundle)), [a.der, b.der]);
  assert.deepEqual(loadCertificateChain([a.pem, b.der]), [a.der, b.der]);
});

test("loadCertificateChain rejects bad input with TsquicErrors", () => {
  const a = createCertificate({ subject: { commonName: "a" } });
  assert.throws(() => loadCertificateChain("no pem here"), isCode("ERR_PKI_INVALID_CERTIFICATE"));
  assert.throws(() => loadCertificateChain([]), isCode("ERR_PKI_INVALID_CERTIFICATE"));
  assert.throws(() => loadCertificateChain(a.pem.replace("-----END CERTIFICATE-----", "")), isCode("ERR_PKI_INVALID_PEM"));
  assert.throws(() => loadCertificateChain(a.pem.replace(/\n([A-Za-z0-9])/, "\n!$1")), isCode("ERR_PKI_INVALID_PEM"));
  assert.throws(() => loadCertificateChain(a.der.subarray(0, 50)), isCode("ERR_PKI_INVALID_CERTIFICATE"));
  assert.throws(() => loadCertificateChain(derToPem(Uint8Array.of(0x30, 0x00))), isCode("ERR_PKI_INVALID_CERTIFICATE"));
  assert.throws(() => loadCertificateChain(42 as unknown as string), isCode("ERR_PKI_INVALID_CERTIFICATE"));
});

test("derToPem wraps at 64 characters and round-trips through decodePem", () => {
  const der = Uint8Array.from({ length: 100 }, (_, i) => i);
  const pem = derToPem(der, "TEST DATA");
  const lines = pem.trim().split("\n");
  assert.equal(lines[0], "-----BEGIN TEST DATA-----");
  assert.equal(lines[1]!.length, 64);
  assert.equal(lines.at(-1), "-----END TEST DATA-----");
  const [block] = decodePem(pem);
  assert.equal(block?.label, "TEST DATA");
  assert.deepEqual(block?.der, der);
});

test("loadPrivateKey reads PKCS#8, SEC1 and PKCS#1, as PEM or DER, and KeyObjects", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const ed = generateKeyPairSync("ed25519").privateKey;
  const rsa = rsaKey();
  const forms: Array<[KeyObject, string | Buffer]> = [
    [ec, ec.export({ type: "pkcs8", format: "pem" })],
    [ec, ec.export({ type: "sec1", format: "pem" })],
    [ec, ec.export({ type: "pkcs8", format: "der" })],
    [ec, ec.export({ type: "sec1", format: "der" })],
    [ed, ed.export({ type: "pkcs8", format: "pem" })],
    [rsa, rsa.export({ type: "pkcs1", format: "pem" })],
    [rsa, rsa.export({ type: "pkcs1", format: "der" })],
    [rsa, rsa.export({ type: "pkcs8", format: "der" })],
  ];
  for (const [key, encoded] of forms) sameKey(key, loadPrivateKey(typeof encoded === "string" ? encoded : new Uint8Array(encoded)));
  // PEM given as bytes, and a certificate + key in one file.
  const cert = createCertificate({ subject: { commonName: "k" }, key: ec });
  sameKey(ec, loadPrivateKey(new TextEncoder().encode(cert.pem + cert.keyPem)));
  assert.equal(loadPrivateKey(ec), ec);
});

test("loadPrivateKey decrypts encrypted keys with the passphrase, and names a wrong or missing one", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const encrypted = {
    pkcs8Pem: ec.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" }) as string,
    pkcs8Der: new Uint8Array(ec.export({ type: "pkcs8", format: "der", cipher: "aes-256-cbc", passphrase: "correct horse" })),
    legacySec1: ec.export({ type: "sec1", format: "pem", cipher: "aes-128-cbc", passphrase: "correct horse" }) as string,
  };
  assert.match(encrypted.pkcs8Pem, /BEGIN ENCRYPTED PRIVATE KEY/);
  assert.match(encrypted.legacySec1, /Proc-Type: 4,ENCRYPTED/);
  for (const [form, key] of Object.entries(encrypted)) {
    sameKey(ec, loadPrivateKey(key, "correct horse"));
    assert.throws(() => loadPrivateKey(key, "wrong"), (e: unknown) => {
      assert.ok(e instanceof TsquicError, form);
      assert.equal(e.code, "ERR_PKI_KEY_BAD_PASSPHRASE", form);
      assert.match(e.message, /wrong passphrase/);
      return true;
    });
    assert.throws(() => loadPrivateKey(key), isCode("ERR_PKI_KEY_PASSPHRASE_REQUIRED"), form);
  }
});

test("loadPrivateKey rejects public keys, certificates and garbage", () => {
  const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const cert = createCertificate({ subject: { commonName: "c" } });
  assert.throws(() => loadPrivateKey(pair.publicKey), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey(pair.publicKey.export({ type: "spki", format: "pem" }) as string), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey(cert.pem), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey(cert.der), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey(Uint8Array.of(1, 2, 3)), isCode("ERR_PKI_INVALID_KEY"));
  assert.throws(() => loadPrivateKey(null as unknown as string), isCode("ERR_PKI_INVALID_KEY"));
  // Sanity: the same key text unmangled loads.
  assert.ok(loadPrivateKey(createPrivateKey(cert.keyPem)));
});
