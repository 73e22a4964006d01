/**
 * Protocol violations, one at a time, each ending the handshake with the
 * alert RFC 8446 / RFC 9001 name for it. Inputs are real captured messages,
 * decoded, changed and re-encoded, fed to engines in the matching state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AlertDescription, TlsAlertError } from "../../src/tls/alerts.js";
import { ExtensionType, HELLO_RETRY_REQUEST_RANDOM, HandshakeType, NamedGroup } from "../../src/tls/constants.js";
import { TlsClient, type TlsClientConfig } from "../../src/tls/client.js";
import { TlsServer, type TlsServerConfig } from "../../src/tls/server.js";
import type { TlsEvent } from "../../src/tls/engine.js";
import {
  decodeClientHello,
  decodeServerHello,
  encodeCertificate,
  encodeClientHello,
  encodeEncryptedExtensions,
  encodeKeyUpdate,
  encodeNewSessionTicket,
  encodeServerHello,
  frameHandshake,
  type ClientHello,
} from "../../src/tls/messages.js";
import { clientConfig, handshake, seededRandom, serverConfig } from "./helpers.js";

const NOW = Date.now();
const A = AlertDescription;

/** Splits concatenated handshake messages. */
function split(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; ) {
    const n = 4 + ((data[o + 1]! << 16) | (data[o + 2]! << 8) | data[o + 3]!);
    out.push(data.subarray(o, o + n));
    o += n;
  }
  return out;
}

function drain(e: { poll(): TlsEvent | undefined }): TlsEvent[] {
  const out: TlsEvent[] = [];
  for (let ev = e.poll(); ev; ev = e.poll()) out.push(ev);
  return out;
}

function expectAlert(fn: () => void, alert: number, pattern?: RegExp): TlsAlertError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TlsAlertError, `expected TlsAlertError, got ${String(caught)}`);
  assert.equal(caught.alert, alert, `alert ${caught.alert} (${caught.message}), expected ${alert}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

// One real handshake, replayable: the client is deterministic given its seed.
const CLIENT_SEED = "errors-client";
const captured = (() => {
  const r = handshake({ random: seededRandom(CLIENT_SEED) }, {}, { now: NOW });
  if (r.error) throw r.error.error;
  const initial = r.serverData.filter((d) => d.level === "initial").map((d) => d.data);
  const flight = split(r.serverData.find((d) => d.level === "handshake")!.data);
  return { clientHello: r.clientData[0]!.data, serverHello: initial[0]!, flight };
})();

function freshClient(extra: Partial<TlsClientConfig> = {}): TlsClient {
  const c = new TlsClient(clientConfig({ random: seededRandom(CLIENT_SEED), ...extra }));
  c.start(NOW);
  drain(c);
  return c;
}

/** A client that has processed the real ServerHello and waits for EncryptedExtensions. */
function clientAfterServerHello(): TlsClient {
  const c = freshClient();
  c.receive("initial", captured.serverHello, NOW);
  drain(c);
  return c;
}

function freshServer(extra: Partial<TlsServerConfig> = {}): TlsServer {
  return new TlsServer(serverConfig(extra));
}

/** The captured ClientHello, decoded for editing. */
function clientHelloFields(): ClientHello {
  const ch = decodeClientHello(captured.clientHello.subarray(4)) as ClientHello;
  delete ch.extensions;
  return ch;
}

/** Inserts a raw extension at the end of a ServerHello / EncryptedExtensions message. */
function withExtension(message: Uint8Array, type: number, data: Uint8Array): Uint8Array {
  const body = message.subarray(4);
  let extAt = 0;
  if (message[0] === HandshakeType.server_hello) extAt = 2 + 32 + 1 + body[34]! + 2 + 1;
  const extLen = (body[extAt]! << 8) | body[extAt + 1]!;
  const ext = new Uint8Array(4 + data.length);
  ext.set([type >>> 8, type & 0xff, data.length >>> 8, data.length & 0xff]);
  ext.set(data, 4);
  const out = new Uint8Array(body.length + ext.length);
  out.set(body);
  out.set(ext, body.length);
  out[extAt] = (extLen + ext.length) >>> 8;
  out[extAt + 1] = (extLen + ext.length) & 0xff;
  return frameHandshake(message[0]!, out);
}

// ---------------------------------------------------------------------------
// ClientHello into a server

test("ClientHello without TLS 1.3 in supported_versions is protocol_version", () => {
  const ch = clientHelloFields();
  ch.supportedVersions = [0x0303];
  expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.protocol_version);
  delete ch.supportedVersions;
  expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.protocol_version);
});

test("ClientHello compression other than [0] is illegal_parameter", () => {
  const ch = clientHelloFields();
  ch.compressionMethods = Uint8Array.of(1, 0);
  expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.illegal_parameter);
});

test("QUIC: a non-empty legacy_session_id is refused (RFC 9001 section 8.4)", () => {
  const ch = clientHelloFields();
  ch.legacySessionId = new Uint8Array(32).fill(7);
  const e = expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.illegal_parameter, /legacy_session_id/);
  assert.equal(e.code, "ERR_QUIC_PROTOCOL_VIOLATION");
  // TLS mode tolerates it (middlebox compatibility).
  const s = freshServer({ mode: "tls" });
  s.receive("initial", encodeClientHello(ch), NOW);
  const sh = drain(s).find((e) => e.type === "data")!;
  assert.ok(sh.type === "data");
  assert.deepEqual(decodeServerHello(sh.data.subarray(4)).legacySessionIdEcho, ch.legacySessionId);
});

test("QUIC: a ClientHello without quic_transport_parameters is missing_extension (109)", () => {
  const ch = clientHelloFields();
  delete ch.quicTransportParameters;
  const e = expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.missing_extension);
  assert.equal(e.alert, 109);
  // ... and fine over TLS.
  const s = freshServer({ mode: "tls" });
  s.receive("initial", encodeClientHello(ch), NOW);
});

test("missing supported_groups, key_share or signature_algorithms is missing_extension (RFC 8446 section 9.2)", () => {
  for (const field of ["supportedGroups", "keyShares", "signatureAlgorithms"] as const) {
    const ch = clientHelloFields();
    delete ch[field];
    expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.missing_extension, undefined);
  }
});

test("a duplicated extension is illegal_parameter", () => {
  const ch = clientHelloFields();
  ch.extraExtensions = [{ type: ExtensionType.supported_groups, data: Uint8Array.of(0, 2, 0, 0x1d) }];
  expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.illegal_parameter, /duplicate/);
});

test("key shares: unlisted group, duplicate group, wrong length, invalid point, zero x25519 are illegal_parameter", () => {
  const base = clientHelloFields();
  const share = base.keyShares![0]!;
  const cases: Array<ClientHello["keyShares"]> = [
    [{ group: NamedGroup.x448, keyExchange: new Uint8Array(56) }],
    [share, share],
    [{ group: share.group, keyExchange: share.keyExchange.subarray(1) }],
    [{ group: share.group, keyExchange: new Uint8Array(32) }],
  ];
  for (const keyShares of cases) {
    const ch = { ...base, keyShares };
    expectAlert(() => freshServer().receive("initial", encodeClientHello(ch), NOW), A.illegal_parameter);
  }
  const p256 = { ...base, supportedGroups: [NamedGroup.secp256r1], keyShares: [{ group: NamedGroup.secp256r1, keyExchange: Uint8Array.from([4, ...new Uint8Array(64).fill(1)]) }] };
  expectAlert(() => freshServer().receive("initial", encodeClientHello(p256), NOW), A.illegal_parameter, /curve/);
  const compressed = { ...p256, keyShares: [{ group: NamedGroup.secp256r1, keyExchange: new Uint8Array(33).fill(2) }] };
  expectAlert(() => freshServer().receive("initial", encodeClientHello(compressed), NOW), A.illegal_parameter);
});

test("the second ClientHello must keep random and carry the requested share", () => {
  const ch = clientHelloFields();
  ch.supportedGroups = [NamedGroup.x25519, NamedGroup.secp256r1];
  const s = freshServer({ groups: ["secp256r1"] });
  s.receive("initial", encodeClientHello(ch), NOW);
  const hrr = drain(s).find((e) => e.type === "data")!;
  assert.ok(hrr.type === "data");
  assert.deepEqual(decodeServerHello(hrr.data.subarray(4)).random, HELLO_RETRY_REQUEST_RANDOM);
  // Same ClientHello again: no share for secp256r1.
  expectAlert(() => s.receive("initial", encodeClientHello(ch), NOW), A.illegal_parameter);
  const s2 = freshServer({ groups: ["secp256r1"] });
  s2.receive("initial", encodeClientHello(ch), NOW);
  const changed = { ...ch, random: new Uint8Array(32), keyShares: [{ group: NamedGroup.secp256r1, keyExchange: new Uint8Array(65) }] };
  expectAlert(() => s2.receive("initial", encodeClientHello(changed), NOW), A.illegal_parameter, /random/);
});

test("out-of-order and wrong-level input is unexpected_message", () => {
  expectAlert(() => freshServer().receive("initial", frameHandshake(HandshakeType.finished, new Uint8Array(32)), NOW), A.unexpected_message);
  expectAlert(() => freshServer().receive("handshake", captured.clientHello, NOW), A.unexpected_message);
  expectAlert(() => freshServer().receive("zeroRtt", captured.clientHello, NOW), A.unexpected_message);
  // Bytes after the ClientHello in the same flight would span a key change (RFC 8446 section 5.1).
  const twice = new Uint8Array(captured.clientHello.length + 4);
  twice.set(captured.clientHello);
  twice.set([HandshakeType.finished, 0, 0, 0], captured.clientHello.length);
  expectAlert(() => freshServer().receive("initial", twice, NOW), A.unexpected_message, /key change/);
});

test("oversized and malformed messages are decode_error, before buffering the body", () => {
  expectAlert(() => freshServer().receive("initial", Uint8Array.of(1, 0x10, 0, 0), NOW), A.decode_error, /limit/);
  expectAlert(() => freshServer({ maxHandshakeMessageSize: 100 }).receive("initial", captured.clientHello, NOW), A.decode_error, /limit/);
  // A trailing byte inside the message.
  const body = captured.clientHello.subarray(4);
  const padded = frameHandshake(HandshakeType.client_hello, Uint8Array.from([...body, 0]));
  expectAlert(() => freshServer().receive("initial", padded, NOW), A.decode_error);
  // A truncated message just waits for more; nothing is emitted.
  const s = freshServer();
  s.receive("initial", captured.clientHello.subarray(0, 50), NOW);
  assert.equal(s.poll(), undefined);
  s.receive("initial", captured.clientHello.subarray(50), NOW);
  assert.ok(s.poll());
});

test("QUIC: KeyUpdate is unexpected_message on both sides (RFC 9001 section 6)", () => {
  const r = handshake();
  if (r.error) throw r.error.error;
  expectAlert(() => r.client.receive("oneRtt", encodeKeyUpdate(false), NOW), A.unexpected_message, /KeyUpdate/);
  expectAlert(() => r.server.receive("oneRtt", encodeKeyUpdate(true), NOW), A.unexpected_message, /KeyUpdate/);
  assert.throws(() => r.client.sendKeyUpdate(false));
});

test("QUIC: EndOfEarlyData is unexpected_message (RFC 9001 section 8.3)", () => {
  const s = freshServer();
  s.receive("initial", captured.clientHello, NOW);
  drain(s);
  expectAlert(() => s.receive("handshake", frameHandshake(HandshakeType.end_of_early_data, new Uint8Array(0)), NOW), A.unexpected_message);
});

// ---------------------------------------------------------------------------
// Server messages into a client

test("the captured flight replays into a fresh client (the fixture works)", () => {
  const c = clientAfterServerHello();
  for (const m of captured.flight) c.receive("handshake", m, NOW);
  assert.ok(c.handshakeComplete);
});

test("ServerHello: unoffered suite, bad echo, compression, versions", () => {
  const sh = decodeServerHello(captured.serverHello.subarray(4));
  const bad = (patch: Record<string, unknown>, alert: number) =>
    expectAlert(() => freshClient().receive("initial", encodeServerHello({ ...sh, ...patch }), NOW), alert);
  bad({ cipherSuite: 0x1304 }, A.illegal_parameter);
  bad({ legacySessionIdEcho: Uint8Array.of(1) }, A.illegal_parameter);
  bad({ supportedVersion: undefined }, A.protocol_version);
  bad({ supportedVersion: 0x0303 }, A.illegal_parameter);
  bad({ keyShare: undefined }, A.missing_extension);
  bad({ keyShare: { group: NamedGroup.secp256r1, keyExchange: new Uint8Array(65) } }, A.illegal_parameter);
  bad({ keyShare: { group: NamedGroup.x25519, keyExchange: new Uint8Array(32) } }, A.illegal_parameter);
  bad({ selectedIdentity: 0 }, A.unsupported_extension);
  const compressed = captured.serverHello.slice();
  compressed[4 + 2 + 32 + 1 + 2] = 1;
  expectAlert(() => freshClient().receive("initial", compressed, NOW), A.illegal_parameter);
});

test("ServerHello: a known extension not allowed there is illegal_parameter, an unknown one unsupported_extension", () => {
  expectAlert(() => freshClient().receive("initial", withExtension(captured.serverHello, ExtensionType.server_name, new Uint8Array(0)), NOW), A.illegal_parameter);
  expectAlert(() => freshClient().receive("initial", withExtension(captured.serverHello, 0xfafa, new Uint8Array(0)), NOW), A.unsupported_extension);
});

test("HelloRetryRequest: a second one is unexpected_message, one for the group already sent illegal_parameter", () => {
  const sh = decodeServerHello(captured.serverHello.subarray(4));
  const hrr = (group: number) =>
    encodeServerHello({ random: HELLO_RETRY_REQUEST_RANDOM, legacySessionIdEcho: sh.legacySessionIdEcho, cipherSuite: sh.cipherSuite, selectedGroup: group, supportedVersion: 0x0304 });
  expectAlert(() => freshClient().receive("initial", hrr(NamedGroup.x25519), NOW), A.illegal_parameter);
  expectAlert(() => freshClient().receive("initial", hrr(NamedGroup.x448), NOW), A.illegal_parameter);
  const c = freshClient();
  c.receive("initial", hrr(NamedGroup.secp256r1), NOW);
  const ch2 = drain(c).find((e) => e.type === "data")!;
  assert.ok(ch2.type === "data");
  assert.deepEqual(decodeClientHello(ch2.data.subarray(4)).keyShares!.map((k) => k.group), [NamedGroup.secp256r1]);
  expectAlert(() => c.receive("initial", hrr(NamedGroup.secp384r1), NOW), A.unexpected_message);
});

test("EncryptedExtensions: forbidden, unsolicited, missing transport parameters, bad ALPN", () => {
  const ee = captured.flight[0]!;
  expectAlert(() => clientAfterServerHello().receive("handshake", withExtension(ee, ExtensionType.key_share, new Uint8Array(0)), NOW), A.illegal_parameter);
  expectAlert(() => clientAfterServerHello().receive("handshake", withExtension(ee, 0xfafa, new Uint8Array(0)), NOW), A.unsupported_extension);
  const noTp = encodeEncryptedExtensions({ alpnProtocols: ["h3"] });
  expectAlert(() => clientAfterServerHello().receive("handshake", noTp, NOW), A.missing_extension, /quic_transport_parameters/);
  const otherAlpn = encodeEncryptedExtensions({ alpnProtocols: ["smtp"], quicTransportParameters: Uint8Array.of(0) });
  expectAlert(() => clientAfterServerHello().receive("handshake", otherAlpn, NOW), A.illegal_parameter);
  const noAlpn = encodeEncryptedExtensions({ quicTransportParameters: Uint8Array.of(0) });
  expectAlert(() => clientAfterServerHello().receive("handshake", noAlpn, NOW), A.no_application_protocol);
  const early = encodeEncryptedExtensions({ alpnProtocols: ["h3"], quicTransportParameters: Uint8Array.of(0), earlyData: true });
  expectAlert(() => clientAfterServerHello().receive("handshake", early, NOW), A.unsupported_extension);
});

test("Certificate: empty list is decode_error, request context illegal_parameter", () => {
  const c1 = clientAfterServerHello();
  c1.receive("handshake", captured.flight[0]!, NOW);
  expectAlert(() => c1.receive("handshake", encodeCertificate({ requestContext: new Uint8Array(0), entries: [] }), NOW), A.decode_error);
  const c2 = clientAfterServerHello();
  c2.receive("handshake", captured.flight[0]!, NOW);
  const realCert = captured.flight[1]!;
  const withContext = frameHandshake(HandshakeType.certificate, Uint8Array.from([1, 9, ...realCert.subarray(5)]));
  expectAlert(() => c2.receive("handshake", withContext, NOW), A.illegal_parameter);
});

test("skipping a message is unexpected_message; a wrong Finished is decrypt_error", () => {
  const c = clientAfterServerHello();
  c.receive("handshake", captured.flight[0]!, NOW);
  expectAlert(() => c.receive("handshake", captured.flight[3]!, NOW), A.unexpected_message);
  const d = clientAfterServerHello();
  for (const m of captured.flight.slice(0, 3)) d.receive("handshake", m, NOW);
  const fin = captured.flight[3]!.slice();
  fin[10]! ^= 1;
  expectAlert(() => d.receive("handshake", fin, NOW), A.decrypt_error);
  const e = clientAfterServerHello();
  for (const m of captured.flight.slice(0, 3)) e.receive("handshake", m, NOW);
  expectAlert(() => e.receive("handshake", frameHandshake(HandshakeType.finished, new Uint8Array(20)), NOW), A.decode_error);
});

test("a CertificateVerify with an unoffered scheme is illegal_parameter", () => {
  const c = clientAfterServerHello();
  for (const m of captured.flight.slice(0, 2)) c.receive("handshake", m, NOW);
  const cv = captured.flight[2]!.slice();
  cv[4] = 0x02;
  cv[5] = 0x01; // rsa_pkcs1_sha1
  expectAlert(() => c.receive("handshake", cv, NOW), A.illegal_parameter);
});

test("NewSessionTicket: lifetime above 7 days is illegal_parameter, empty ticket decode_error", () => {
  const r = handshake();
  if (r.error) throw r.error.error;
  const nst = encodeNewSessionTicket({ lifetime: 604801, ageAdd: 1, nonce: new Uint8Array(1), ticket: new Uint8Array(10) });
  expectAlert(() => r.client.receive("oneRtt", nst, NOW), A.illegal_parameter);
  const r2 = handshake();
  const empty = frameHandshake(HandshakeType.new_session_ticket, Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]));
  expectAlert(() => r2.client.receive("oneRtt", empty, NOW), A.decode_error);
});

test("a client receiving data before start() or a server message at 1-RTT during the handshake fails cleanly", () => {
  const c = new TlsClient(clientConfig());
  expectAlert(() => c.receive("initial", captured.serverHello, NOW), A.unexpected_message);
  const d = clientAfterServerHello();
  expectAlert(() => d.receive("oneRtt", captured.flight[0]!, NOW), A.unexpected_message);
});
