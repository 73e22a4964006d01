import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError, TsquicError } from "../../src/util/errors.js";
import { decodeCertificate } from "../../src/pki/certificate.js";
import { loadCertificateChain, loadPrivateKey } from "../../src/pki/pem.js";
import { CertificateError, verifyCertificateChain } from "../../src/pki/verify.js";
import { makePki } from "./fixtures.js";

const runs = Number(process.env.FUZZ_RUNS ?? 300);
const pki = makePki();
const NOW = Date.now();

/** A list of edits: overwrite a byte, delete one, insert one, or truncate. */
const mutations = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat(), value: fc.constant(0) }),
  ),
  { minLength: 1, maxLength: 6 },
);

function mutate(input: Uint8Array, edits: Array<{ kind: "set" | "delete" | "insert" | "truncate"; at: number; value: number }>): Uint8Array {
  let bytes = Array.from(input);
  for (const { kind, at, value } of edits) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (kind === "set" && bytes.length) bytes[i] = value;
    else if (kind === "delete") bytes.splice(i, 1);
    else if (kind === "insert") bytes.splice(i, 0, value);
    else if (kind === "truncate") bytes = bytes.slice(0, i);
  }
  return Uint8Array.from(bytes);
}

/** Runs `fn`; it may return or throw an error of `type`, nothing else. */
function onlyThrows(type: new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof type, `unexpected ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

test("mutated certificates only ever give CertificateError from verifyCertificateChain", () => {
  fc.assert(
    fc.property(mutations, fc.boolean(), (edits, mutateIntermediate) => {
      const leaf = mutateIntermediate ? pki.leaf.der : mutate(pki.leaf.der, edits);
      const inter = mutateIntermediate ? mutate(pki.inter.der, edits) : pki.inter.der;
      onlyThrows(CertificateError, () => verifyCertificateChain([leaf, inter], { trust: pki.trust, host: "www.example.com", now: NOW, usage: "server" }));
    }),
    { numRuns: runs },
  );
});

test("mutated DER and PEM only ever give TsquicError from loadCertificateChain", () => {
  const pemBytes = new TextEncoder().encode(pki.leaf.pem + pki.inter.pem);
  fc.assert(
    fc.property(mutations, fc.boolean(), (edits, usePem) => {
      const input = mutate(usePem ? pemBytes : pki.leaf.der, edits);
      onlyThrows(TsquicError, () => loadCertificateChain(usePem ? new TextDecoder().decode(input) : input));
    }),
    { numRuns: runs },
  );
});

test("mutated keys only ever give TsquicError from loadPrivateKey", () => {
  const pem = new TextEncoder().encode(pki.leaf.keyPem);
  const der = new Uint8Array(pki.leaf.key.export({ type: "pkcs8", format: "der" }));
  fc.assert(
    fc.property(mutations, fc.boolean(), (edits, usePem) => {
      onlyThrows(TsquicError, () => loadPrivateKey(mutate(usePem ? pem : der, edits)));
    }),
    { numRuns: runs },
  );
});

test("random bytes only ever give DecodeError from decodeCertificate", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      onlyThrows(DecodeError, () => decodeCertificate(bytes));
    }),
    { numRuns: runs },
  );
});
