/**
 * Client engine against server engine in memory: every cipher suite, group
 * (with and without HelloRetryRequest) and signature algorithm, ALPN,
 * transport parameters, fragmentation, and the pairwise equality of every
 * secret the two sides announce.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CIPHER_SUITES } from "../../src/crypto/suites.js";
import { toHex } from "../../src/util/bytes.js";
import { AlertDescription, TlsAlertError } from "../../src/tls/alerts.js";
import { HandshakeType, SUPPORTED_GROUPS, type GroupName, type SignatureSchemeName } from "../../src/tls/constants.js";
import type { HandshakeRecord } from "./helpers.js";
import { CLIENT_TP, SERVER_TP, alertOf, handshake, secretsOf, testPki } from "./helpers.js";

/** Asserts success and that every secret one side writes is the one the other side reads. */
function assertPaired(r: HandshakeRecord): void {
  if (r.error) throw r.error.error;
  assert.ok(r.client.handshakeComplete, "client complete");
  assert.ok(r.server.handshakeComplete, "server complete");
  const c = secretsOf(r.clientEvents);
  const s = secretsOf(r.serverEvents);
  for (const level of ["handshake", "oneRtt"]) {
    assert.ok(c.get(`${level}/write`), `client ${level} write secret`);
    assert.equal(toHex(c.get(`${level}/write`)!), toHex(s.get(`${level}/read`)!), `${level}: client write = server read`);
    assert.equal(toHex(c.get(`${level}/read`)!), toHex(s.get(`${level}/write`)!), `${level}: server write = client read`);
  }
  const suite = r.client.cipherSuite!;
  assert.equal(r.server.cipherSuite, suite);
  assert.equal(c.get("oneRtt/write")!.length, suite.hashLength);
  for (const e of [...r.clientEvents, ...r.serverEvents]) if (e.type === "secret") assert.equal(e.suite, suite);
}

/** Handshake message types in one side's data at a level. */
function messageTypes(data: HandshakeRecord["serverData"], level: string): number[] {
  const types: number[] = [];
  for (const d of data) {
    if (d.level !== level) continue;
    for (let o = 0; o < d.data.length; ) {
      types.push(d.data[o]!);
      o += 4 + ((d.data[o + 1]! << 16) | (d.data[o + 2]! << 8) | d.data[o + 3]!);
    }
  }
  return types;
}

test("a full handshake completes with every negotiated property on both sides", () => {
  const r = handshake();
  assertPaired(r);
  const { client, server } = r;
  assert.equal(client.alpnProtocol, "h3");
  assert.equal(server.alpnProtocol, "h3");
  assert.deepEqual(client.peerTransportParameters, SERVER_TP);
  assert.deepEqual(server.peerTransportParameters, CLIENT_TP);
  assert.equal(client.group, "x25519");
  assert.equal(server.group, "x25519");
  assert.equal(client.cipherSuite!.name, "TLS_AES_128_GCM_SHA256");
  assert.equal(client.signatureScheme, "ecdsa_secp256r1_sha256");
  assert.equal(server.signatureScheme, "ecdsa_secp256r1_sha256");
  assert.equal(client.serverName, "localhost");
  assert.equal(server.serverName, "localhost");
  assert.deepEqual(client.peerCertificates, [testPki().leaf["ecdsa-p256"].der]);
  assert.deepEqual(server.peerCertificates, []);
  assert.equal(client.resumed, false);
  assert.equal(client.earlyDataAccepted, false);
  // Server flight: EncryptedExtensions, Certificate, CertificateVerify, Finished.
  assert.deepEqual(messageTypes(r.serverData, "handshake"), [
    HandshakeType.encrypted_extensions,
    HandshakeType.certificate,
    HandshakeType.certificate_verify,
    HandshakeType.finished,
  ]);
  assert.deepEqual(messageTypes(r.clientData, "handshake"), [HandshakeType.finished]);
  // handshakeComplete comes after the client's Finished is queued.
  const ci = r.clientEvents.findIndex((e) => e.type === "handshakeComplete");
  const fi = r.clientEvents.findIndex((e) => e.type === "data" && e.level === "handshake");
  assert.ok(fi >= 0 && ci > fi);
  // Key log lines agree between the two sides.
  const lines = (evs: typeof r.clientEvents) => evs.flatMap((e) => (e.type === "keylog" ? [e.line] : [])).sort();
  const cl = lines(r.clientEvents);
  assert.deepEqual(cl, lines(r.serverEvents));
  for (const label of ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"])
    assert.ok(cl.some((l) => l.startsWith(label + " ")), label);
});

for (const suite of CIPHER_SUITES) {
  test(`cipher suite ${suite.name}`, () => {
    const r = handshake({ cipherSuites: [suite.name] });
    assertPaired(r);
    assert.equal(r.client.cipherSuite, suite);
  });
}

test("the server picks its preferred suite among the client's", () => {
  const r = handshake({}, { cipherSuites: ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"] });
  assertPaired(r);
  assert.equal(r.client.cipherSuite!.name, "TLS_CHACHA20_POLY1305_SHA256");
});

test("no suite in common is handshake_failure", () => {
  const e = alertOf(handshake({ cipherSuites: ["TLS_AES_256_GCM_SHA384"] }, { cipherSuites: ["TLS_AES_128_GCM_SHA256"] }));
  assert.equal(e.alert, AlertDescription.handshake_failure);
});

for (const group of SUPPORTED_GROUPS) {
  test(`group ${group} without HelloRetryRequest`, () => {
    const r = handshake({ groups: [group] });
    assertPaired(r);
    assert.equal(r.client.group, group);
    assert.equal(r.server.group, group);
    assert.deepEqual(messageTypes(r.serverData, "initial"), [HandshakeType.server_hello]);
  });

  test(`group ${group} after a HelloRetryRequest`, () => {
    const other = SUPPORTED_GROUPS.find((g) => g !== group)!;
    // The client lists both but sends a share for `other` only; the server supports only `group`.
    const r = handshake({ groups: [other, group] }, { groups: [group] });
    assertPaired(r);
    assert.equal(r.client.group, group);
    assert.deepEqual(messageTypes(r.clientData, "initial"), [HandshakeType.client_hello, HandshakeType.client_hello]);
    assert.deepEqual(messageTypes(r.serverData, "initial"), [HandshakeType.server_hello, HandshakeType.server_hello]);
  });
}

test("HelloRetryRequest with every suite (message_hash uses the suite's hash)", () => {
  for (const suite of CIPHER_SUITES) {
    const r = handshake({ groups: ["x25519", "secp384r1"], cipherSuites: [suite.name] }, { groups: ["secp384r1"] });
    assertPaired(r);
    assert.equal(r.client.cipherSuite, suite);
  }
});

test("the server prefers a group the client sent a share for over a HelloRetryRequest", () => {
  const r = handshake({ groups: ["secp256r1", "x25519"] }, { groups: ["x25519", "secp256r1"] });
  assertPaired(r);
  assert.equal(r.client.group, "secp256r1");
  assert.deepEqual(messageTypes(r.serverData, "initial"), [HandshakeType.server_hello]);
});

test("no group in common is handshake_failure", () => {
  const e = alertOf(handshake({ groups: ["x25519"] }, { groups: ["secp384r1"] }));
  assert.equal(e.alert, AlertDescription.handshake_failure);
});

const SIGNATURE_CASES: Array<{ keyType: "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "ed25519"; scheme: SignatureSchemeName }> = [
  { keyType: "ecdsa-p256", scheme: "ecdsa_secp256r1_sha256" },
  { keyType: "ecdsa-p384", scheme: "ecdsa_secp384r1_sha384" },
  { keyType: "rsa-2048", scheme: "rsa_pss_rsae_sha256" },
  { keyType: "rsa-2048", scheme: "rsa_pss_rsae_sha384" },
  { keyType: "rsa-2048", scheme: "rsa_pss_rsae_sha512" },
  { keyType: "ed25519", scheme: "ed25519" },
];

for (const { keyType, scheme } of SIGNATURE_CASES) {
  test(`server signature ${scheme} with a ${keyType} certificate`, () => {
    const leaf = testPki().leaf[keyType];
    const r = handshake({ signatureAlgorithms: [scheme] }, { cert: leaf.pem, key: leaf.key });
    assertPaired(r);
    assert.equal(r.client.signatureScheme, scheme);
    assert.equal(r.server.signatureScheme, scheme);
  });
}

test("a server key without a scheme the client accepts is handshake_failure", () => {
  const leaf = testPki().leaf["ed25519"];
  const e = alertOf(handshake({ signatureAlgorithms: ["ecdsa_secp256r1_sha256"] }, { cert: leaf.pem, key: leaf.keyPem }));
  assert.equal(e.alert, AlertDescription.handshake_failure);
});

test("ALPN: the server's preference wins", () => {
  const r = handshake({ alpnProtocols: ["h3-29", "h3", "hq-interop"] }, { alpnProtocols: ["hq-interop", "h3"] });
  assertPaired(r);
  assert.equal(r.client.alpnProtocol, "hq-interop");
});

test("ALPN mismatch is no_application_protocol (120)", () => {
  const r = handshake({ alpnProtocols: ["h3"] }, { alpnProtocols: ["smtp"] });
  const e = alertOf(r);
  assert.equal(r.error!.side, "server");
  assert.equal(e.alert, AlertDescription.no_application_protocol);
  assert.equal(e.alert, 120);
  assert.equal(e.quicErrorCode, 0x178);
});

test("QUIC requires ALPN: a client offering none is no_application_protocol", () => {
  const e = alertOf(handshake({ alpnProtocols: [] }));
  assert.equal(e.alert, AlertDescription.no_application_protocol);
});

test("receive() accepts any fragmentation (1 byte and 7 bytes at a time)", () => {
  for (const fragment of [1, 7]) {
    const r = handshake({}, {}, { fragment });
    assertPaired(r);
  }
});

test("a whole flight in one receive() call, then level changes take effect", () => {
  // Coalesce the server's handshake flight into one call (the default) and check its size is real.
  const r = handshake();
  assertPaired(r);
  const flight = r.serverData.filter((d) => d.level === "handshake");
  assert.equal(flight.length, 1);
});

test("SNI is not sent for an IP address, which is still verified", () => {
  const r = handshake({ serverName: "127.0.0.1" });
  assertPaired(r);
  assert.equal(r.server.serverName, undefined);
});

test("selectCertificate picks the chain by SNI", () => {
  const pki = testPki();
  const seen: Array<string | undefined> = [];
  const r = handshake(
    {},
    {
      cert: undefined,
      key: undefined,
      selectCertificate: (name) => {
        seen.push(name);
        return { cert: pki.leaf["ed25519"].pem, key: pki.leaf["ed25519"].keyPem };
      },
    },
  );
  assertPaired(r);
  assert.deepEqual(seen, ["localhost"]);
  assert.equal(r.client.signatureScheme, "ed25519");
});

test("TLS mode: no transport parameters needed, legacy_session_id echoed", () => {
  const r = handshake({ mode: "tls", quicTransportParameters: undefined }, { mode: "tls", quicTransportParameters: undefined });
  assertPaired(r);
  assert.equal(r.client.peerTransportParameters, undefined);
});

test("TLS mode KeyUpdate: both directions move to the next secret", () => {
  const r = handshake({ mode: "tls" }, { mode: "tls" });
  assertPaired(r);
  r.client.sendKeyUpdate(true);
  const events = [];
  for (let e = r.client.poll(); e; e = r.client.poll()) events.push(e);
  const data = events.find((e) => e.type === "data")!;
  assert.ok(data.type === "data" && data.level === "oneRtt");
  const newWrite = events.find((e) => e.type === "secret")!;
  r.server.receive("oneRtt", data.data, Date.now());
  const sEvents = [];
  for (let e = r.server.poll(); e; e = r.server.poll()) sEvents.push(e);
  const sRead = sEvents.find((e) => e.type === "secret" && e.direction === "read")!;
  const sWrite = sEvents.find((e) => e.type === "secret" && e.direction === "write")!;
  assert.ok(newWrite.type === "secret" && sRead.type === "secret" && sWrite.type === "secret");
  assert.deepEqual(sRead.secret, newWrite.secret);
  const reply = sEvents.find((e) => e.type === "data")!;
  assert.ok(reply.type === "data");
  r.client.receive("oneRtt", reply.data, Date.now());
  const cRead = [];
  for (let e = r.client.poll(); e; e = r.client.poll()) if (e.type === "secret") cRead.push(e);
  assert.equal(cRead.length, 1);
  assert.deepEqual(cRead[0]!.secret, sWrite.secret);
  assert.ok(sEvents.some((e) => e.type === "keylog" && e.line.startsWith("CLIENT_TRAFFIC_SECRET_1 ")));
});

test("an alert leaves the engine closed: later calls rethrow the same TlsAlertError", () => {
  const r = handshake({ alpnProtocols: ["h3"] }, { alpnProtocols: ["other"] });
  const e = alertOf(r);
  assert.ok(r.server.closed);
  assert.equal(r.server.error, e);
  assert.throws(() => r.server.receive("initial", new Uint8Array([1, 0, 0, 0]), Date.now()), (x) => x === e);
  assert.equal(r.server.poll(), undefined);
  assert.ok(e instanceof TlsAlertError);
});

test("groups listed by name are all implemented", () => {
  const names: GroupName[] = ["x25519", "secp256r1", "secp384r1"];
  assert.deepEqual([...SUPPORTED_GROUPS], names);
});

test("server credentials as PEM, DER, KeyObject and passphrase-protected PEM", () => {
  const leaf = testPki().leaf["ecdsa-p256"];
  const der = new Uint8Array(leaf.key.export({ type: "pkcs8", format: "der" }));
  const encrypted = leaf.key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" }) as string;
  const variants = [
    { cert: leaf.pem, key: leaf.keyPem },
    { cert: leaf.der, key: der },
    { cert: [leaf.der], key: leaf.key },
    { cert: leaf.pem, key: encrypted, passphrase: "secret" },
  ];
  for (const creds of variants) assertPaired(handshake({}, creds));
  // A wrong passphrase is a configuration problem, reported as internal_error.
  const e = alertOf(handshake({}, { cert: leaf.pem, key: encrypted, passphrase: "wrong" }));
  assert.equal(e.alert, AlertDescription.internal_error);
});
