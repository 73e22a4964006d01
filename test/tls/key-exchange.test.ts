/** Key shares against published vectors, and rejection of bad peer shares. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyShare } from "../../src/tls/key-exchange.js";
import { TlsAlertError } from "../../src/tls/alerts.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// RFC 7748 section 6.1: Alice's and Bob's keys and their shared secret.
const ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

test("x25519 key share: public keys and shared secret of RFC 7748 section 6.1", () => {
  const alice = generateKeyShare("x25519", () => hex(ALICE_PRIVATE));
  const bob = generateKeyShare("x25519", () => hex(BOB_PRIVATE));
  assert.equal(toHex(alice.publicKey), ALICE_PUBLIC);
  assert.equal(toHex(bob.publicKey), BOB_PUBLIC);
  assert.equal(toHex(alice.computeSecret(hex(BOB_PUBLIC))), SHARED);
  assert.equal(toHex(bob.computeSecret(hex(ALICE_PUBLIC))), SHARED);
});

test("x25519 key share: a wrong-length or low-order peer share is illegal_parameter", () => {
  const share = generateKeyShare("x25519", () => hex(ALICE_PRIVATE));
  assert.throws(() => share.computeSecret(new Uint8Array(31)), TlsAlertError);
  // The all-zero point has order 1: the shared secret is zero (RFC 8446 section 7.4.2).
  assert.throws(() => share.computeSecret(new Uint8Array(32)), TlsAlertError);
});
