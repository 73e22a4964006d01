/** Shared helpers for the PKI tests: cached slow keys, a standard chain, and failure assertions. */
import assert from "node:assert/strict";
import type { KeyObject } from "node:crypto";
import { createCertificate, generateKey, type GeneratedCertificate, type KeyType } from "../../src/pki/generate.js";
import { CertificateError, loadTrustStore, type CertificateFailure, type TrustStore } from "../../src/pki/verify.js";

const rsaKeys: KeyObject[] = [];

/** An RSA-2048 key, generated once per process per index (RSA key generation is slow). */
export function rsaKey(index = 0): KeyObject {
  return (rsaKeys[index] ??= generateKey("rsa-2048"));
}

/** Key options for a key type, reusing cached RSA keys. */
export function keyFor(keyType: KeyType, index = 0): { keyType: KeyType } | { key: KeyObject } {
  return keyType === "rsa-2048" ? { key: rsaKey(index) } : { keyType };
}

/** A root, an intermediate (pathLength 0) and a server leaf for www.example.com, with a store trusting the root. */
export interface TestPki {
  root: GeneratedCertificate;
  inter: GeneratedCertificate;
  leaf: GeneratedCertificate;
  trust: TrustStore;
}

export function makePki(leafOptions: Partial<Parameters<typeof createCertificate>[0]> = {}): TestPki {
  const root = createCertificate({ subject: { commonName: "Test Root", organization: "tsquic tests" }, isCA: true });
  const inter = createCertificate({ subject: { commonName: "Test Intermediate" }, issuer: root, isCA: true, pathLength: 0 });
  const leaf = createCertificate({
    subject: { commonName: "www.example.com" },
    issuer: inter,
    subjectAltNames: { dns: ["www.example.com", "*.api.example.com"], ip: ["192.0.2.1", "2001:db8::1"] },
    extendedKeyUsage: ["serverAuth"],
    ...leafOptions,
  });
  return { root, inter, leaf, trust: loadTrustStore(root.pem) };
}

/** Runs `fn` and checks it throws a CertificateError with this reason and alert; returns the error. */
export function expectFailure(fn: () => unknown, reason: CertificateFailure, alert: number): CertificateError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CertificateError, `expected CertificateError(${reason}), got ${String(caught)}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.alert, alert, caught.message);
  assert.equal(caught.code, `ERR_TLS_CERT_${reason.toUpperCase()}`);
  return caught;
}
