/**
 * Session tickets, PSK resumption and 0-RTT between our client and server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { toHex } from "../../src/util/bytes.js";
import { AlertDescription } from "../../src/tls/alerts.js";
import { HandshakeType } from "../../src/tls/constants.js";
import { TlsClient, type TlsClientConfig } from "../../src/tls/client.js";
import { TlsServer, type TlsServerConfig } from "../../src/tls/server.js";
import { decodeSessionTicket, encodeSessionTicket, type SessionTicket } from "../../src/tls/ticket.js";
import { alertOf, clientConfig, handshake, runHandshake, secretsOf, serverConfig, type HandshakeRecord } from "./helpers.js";

const TICKET_KEY = new Uint8Array(randomBytes(32));

/** Runs a full handshake, has the server issue a ticket, and returns what the client got. */
function firstConnection(c: Partial<TlsClientConfig> = {}, s: Partial<TlsServerConfig> = {}, now = Date.now()): { ticket: SessionTicket; record: HandshakeRecord } {
  const record = handshake(c, { ticketKeys: TICKET_KEY, ...s }, { now });
  if (record.error) throw record.error.error;
  assert.equal(record.server.sendSessionTicket(now), true);
  const nst = record.server.poll();
  assert.ok(nst && nst.type === "data" && nst.level === "oneRtt");
  assert.equal(nst.data[0], HandshakeType.new_session_ticket);
  record.client.receive("oneRtt", nst.data, now);
  const ev = record.client.poll();
  assert.ok(ev && ev.type === "sessionTicket", "client emitted a sessionTicket event");
  return { ticket: ev.ticket, record };
}

function handshakeTypes(data: HandshakeRecord["serverData"], level: string): number[] {
  const out: number[] = [];
  for (const d of data)
    if (d.level === level)
      for (let o = 0; o < d.data.length; o += 4 + ((d.data[o + 1]! << 16) | (d.data[o + 2]! << 8) | d.data[o + 3]!)) out.push(d.data[o]!);
  return out;
}

test("resumption: no Certificate, resumed on both sides, secrets paired", () => {
  const { ticket, record: first } = firstConnection();
  assert.equal(ticket.cipherSuite, "TLS_AES_128_GCM_SHA256");
  assert.equal(ticket.alpnProtocol, "h3");
  assert.equal(ticket.serverName, "localhost");
  assert.equal(ticket.maxEarlyDataSize, 0);
  const r = handshake({ sessionTicket: ticket }, { ticketKeys: TICKET_KEY });
  if (r.error) throw r.error.error;
  assert.equal(r.client.resumed, true);
  assert.equal(r.server.resumed, true);
  assert.deepEqual(handshakeTypes(r.serverData, "handshake"), [HandshakeType.encrypted_extensions, HandshakeType.finished]);
  assert.equal(r.client.signatureScheme, undefined);
  // The client still reports the server chain it verified originally.
  assert.deepEqual(r.client.peerCertificates, first.client.peerCertificates);
  const c = secretsOf(r.clientEvents);
  const s = secretsOf(r.serverEvents);
  for (const k of ["handshake", "oneRtt"]) {
    assert.deepEqual(c.get(`${k}/write`), s.get(`${k}/read`));
    assert.deepEqual(c.get(`${k}/read`), s.get(`${k}/write`));
  }
  assert.deepEqual(r.client.peerTransportParameters, first.client.peerTransportParameters);
});

test("a ticket survives encodeSessionTicket / decodeSessionTicket and resumes from bytes", () => {
  const { ticket } = firstConnection();
  const bytes = encodeSessionTicket(ticket);
  assert.deepEqual(decodeSessionTicket(bytes), ticket);
  const r = handshake({ sessionTicket: bytes }, { ticketKeys: TICKET_KEY });
  if (r.error) throw r.error.error;
  assert.equal(r.server.resumed, true);
});

test("resumption with every suite, keeping the ticket's suite", () => {
  for (const suite of ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"] as const) {
    const { ticket } = firstConnection({ cipherSuites: [suite] });
    const r = handshake({ sessionTicket: ticket }, { ticketKeys: TICKET_KEY });
    if (r.error) throw r.error.error;
    assert.equal(r.server.resumed, true);
    assert.equal(r.client.cipherSuite!.name, suite);
  }
});

test("servers sharing ticketKeys resume each other's tickets; other keys fall back to a full handshake", () => {
  const { ticket } = firstConnection();
  const other = handshake({ sessionTicket: ticket }, { ticketKeys: new Uint8Array(randomBytes(32)) });
  if (other.error) throw other.error.error;
  assert.equal(other.server.resumed, false);
  assert.equal(other.client.resumed, false);
  assert.ok(handshakeTypes(other.serverData, "handshake").includes(HandshakeType.certificate));
  // Key rotation: a new key first, the old one still accepted.
  const rotated = handshake({ sessionTicket: ticket }, { ticketKeys: [new Uint8Array(randomBytes(32)), TICKET_KEY] });
  if (rotated.error) throw rotated.error.error;
  assert.equal(rotated.server.resumed, true);
});

test("connections sharing one config object share the default ticket key", () => {
  const config = serverConfig();
  const now = Date.now();
  const first = runHandshake(new TlsClient(clientConfig()), new TlsServer(config), { now });
  if (first.error) throw first.error.error;
  first.server.sendSessionTicket(now);
  const nst = first.server.poll()!;
  assert.ok(nst.type === "data");
  first.client.receive("oneRtt", nst.data, now);
  const ev = first.client.poll()!;
  assert.ok(ev.type === "sessionTicket");
  const second = runHandshake(new TlsClient(clientConfig({ sessionTicket: ev.ticket })), new TlsServer(config), { now });
  if (second.error) throw second.error.error;
  assert.equal(second.server.resumed, true);
});

test("an expired ticket is not offered; one the server considers expired is ignored", () => {
  const now = Date.now();
  const { ticket } = firstConnection({}, { ticketLifetime: 10 }, now);
  const late = handshake({ sessionTicket: ticket }, { ticketKeys: TICKET_KEY }, { now: now + 11_000 });
  if (late.error) throw late.error.error;
  assert.equal(late.client.resumed, false);
  // Client clock thinks the ticket is fresh, the server does not.
  const skewed = handshake({ sessionTicket: { ...ticket, receivedAt: now + 11_000 } }, { ticketKeys: TICKET_KEY }, { now: now + 11_000 });
  if (skewed.error) throw skewed.error.error;
  assert.equal(skewed.server.resumed, false);
});

test("a ticket for another server name is not used", () => {
  const { ticket } = firstConnection();
  const r = handshake({ sessionTicket: ticket, serverName: "127.0.0.1" }, { ticketKeys: TICKET_KEY });
  if (r.error) throw r.error.error;
  assert.equal(r.client.resumed, false);
});

test("a wrong PSK binder is decrypt_error", () => {
  const { ticket } = firstConnection();
  const r = handshake({ sessionTicket: { ...ticket, psk: new Uint8Array(ticket.psk.length) } }, { ticketKeys: TICKET_KEY });
  const e = alertOf(r);
  assert.equal(r.error!.side, "server");
  assert.equal(e.alert, AlertDescription.decrypt_error);
});

test("pre_shared_key must be the last extension (illegal_parameter)", () => {
  const { ticket } = firstConnection();
  const client = new TlsClient(clientConfig({ sessionTicket: ticket }));
  const server = new TlsServer(serverConfig({ ticketKeys: TICKET_KEY }));
  // Re-encode the ClientHello with an extra extension after pre_shared_key.
  const r = runHandshake(client, server, {
    tamper: (from, level, data) => {
      if (from !== "client" || level !== "initial") return data;
      const out = new Uint8Array(data.length + 4);
      out.set(data);
      out.set([0xff, 0x00, 0x00, 0x00], data.length); // extension 0xff00, empty
      const len = data.length + 4 - 4;
      out[1] = len >>> 16;
      out[2] = len >>> 8;
      out[3] = len;
      // Patch the extensions block length: it sits after the fixed fields.
      let o = 4 + 2 + 32;
      o += 1 + out[o]!;
      o += 2 + ((out[o]! << 8) | out[o + 1]!);
      o += 1 + out[o]!;
      const extLen = ((out[o]! << 8) | out[o + 1]!) + 4;
      out[o] = extLen >>> 8;
      out[o + 1] = extLen;
      return out;
    },
  });
  const e = alertOf(r);
  assert.equal(e.alert, AlertDescription.illegal_parameter);
  assert.match(e.message, /last extension/);
});

test("resumption after a HelloRetryRequest (binder over message_hash + HRR)", () => {
  const { ticket } = firstConnection();
  const r = handshake({ sessionTicket: ticket, groups: ["secp256r1", "x25519"], earlyData: true }, { ticketKeys: TICKET_KEY, groups: ["x25519"], earlyData: true });
  if (r.error) throw r.error.error;
  assert.equal(r.server.resumed, true);
  assert.equal(r.client.resumed, true);
  assert.equal(r.client.earlyDataAccepted, false);
  assert.equal(handshakeTypes(r.clientData, "initial").length, 2);
});

test("0-RTT: the client's early write secret is the server's early read secret", () => {
  const { ticket } = firstConnection({}, { earlyData: true });
  assert.equal(ticket.maxEarlyDataSize, 0xffffffff);
  const r = handshake({ sessionTicket: ticket, earlyData: true }, { ticketKeys: TICKET_KEY, earlyData: true });
  if (r.error) throw r.error.error;
  assert.equal(r.client.earlyDataAccepted, true);
  assert.equal(r.server.earlyDataAccepted, true);
  const c = secretsOf(r.clientEvents);
  const s = secretsOf(r.serverEvents);
  assert.ok(c.get("zeroRtt/write"));
  assert.equal(toHex(c.get("zeroRtt/write")!), toHex(s.get("zeroRtt/read")!));
  // The 0-RTT secret follows the ClientHello on the client and precedes the ServerHello on the server.
  const ci = r.clientEvents.findIndex((e) => e.type === "secret" && e.level === "zeroRtt");
  assert.ok(ci > r.clientEvents.findIndex((e) => e.type === "data"));
  const si = r.serverEvents.findIndex((e) => e.type === "secret" && e.level === "zeroRtt");
  assert.ok(si < r.serverEvents.findIndex((e) => e.type === "data"));
  assert.ok(r.clientEvents.some((e) => e.type === "keylog" && e.line.startsWith("CLIENT_EARLY_TRAFFIC_SECRET ")));
  // QUIC has no EndOfEarlyData (RFC 9001 section 8.3).
  assert.ok(!r.clientData.some((d) => d.level === "zeroRtt"));
});

test("0-RTT refused: server not configured, ALPN changed, hook says no, stale age", () => {
  const now = Date.now();
  const { ticket } = firstConnection({ alpnProtocols: ["h3", "hq"] }, { earlyData: true }, now);
  const refused = (c: Partial<TlsClientConfig>, s: Partial<TlsServerConfig>, at = now) => {
    const r = handshake({ sessionTicket: ticket, earlyData: true, alpnProtocols: ["h3", "hq"], ...c }, { ticketKeys: TICKET_KEY, earlyData: true, ...s }, { now: at });
    if (r.error) throw r.error.error;
    assert.equal(r.client.resumed, true);
    assert.equal(r.client.earlyDataAccepted, false);
    assert.equal(r.server.earlyDataAccepted, false);
    assert.equal(secretsOf(r.serverEvents).get("zeroRtt/read"), undefined);
    assert.ok(secretsOf(r.clientEvents).get("zeroRtt/write"), "the client did offer 0-RTT");
  };
  refused({}, { earlyData: false });
  refused({}, { alpnProtocols: ["hq", "h3"] });
  let asked = 0;
  refused({}, { acceptEarlyData: () => (asked++, false) });
  assert.equal(asked, 1);
  // The client's age says 0 s, ours 60 s: outside the 10 s window (RFC 8446 section 8.3).
  refused({ sessionTicket: { ...ticket, receivedAt: now + 60_000 } }, {}, now + 60_000);
});

test("0-RTT acceptance hook sees the ticket's appData", () => {
  const now = Date.now();
  const r0 = handshake({}, { ticketKeys: TICKET_KEY, earlyData: true }, { now });
  if (r0.error) throw r0.error.error;
  r0.server.sendSessionTicket(now, { appData: Uint8Array.of(9, 8, 7) });
  const nst = r0.server.poll()!;
  assert.ok(nst.type === "data");
  r0.client.receive("oneRtt", nst.data, now);
  const ev = r0.client.poll()!;
  assert.ok(ev.type === "sessionTicket");
  let seen: Uint8Array | undefined;
  const r = handshake(
    { sessionTicket: ev.ticket, earlyData: true },
    { ticketKeys: TICKET_KEY, earlyData: true, acceptEarlyData: (req) => ((seen = req.appData), true) },
    { now: now + 500 },
  );
  if (r.error) throw r.error.error;
  assert.deepEqual(seen, Uint8Array.of(9, 8, 7));
  assert.equal(r.server.earlyDataAccepted, true);
});

test("TLS mode 0-RTT: EndOfEarlyData is sent at the 0-RTT level and expected there", () => {
  const tls = { mode: "tls" as const };
  const { ticket } = firstConnection(tls, { ...tls, earlyData: true });
  assert.equal(ticket.maxEarlyDataSize, 16384);
  const r = handshake({ ...tls, sessionTicket: ticket, earlyData: true }, { ...tls, ticketKeys: TICKET_KEY, earlyData: true });
  if (r.error) throw r.error.error;
  assert.equal(r.server.earlyDataAccepted, true);
  assert.deepEqual(handshakeTypes(r.clientData, "zeroRtt"), [HandshakeType.end_of_early_data]);
  assert.ok(r.server.handshakeComplete);
});

test("QUIC client rejects a ticket with max_early_data_size other than 0xffffffff", () => {
  const tlsServer = { mode: "tls" as const, earlyData: true };
  const r = handshake({}, { ...tlsServer, quicTransportParameters: serverConfig().quicTransportParameters!, ticketKeys: TICKET_KEY });
  // A TLS-mode server still talks to the QUIC client here (it sends transport parameters).
  if (r.error) throw r.error.error;
  r.server.sendSessionTicket(Date.now());
  const nst = r.server.poll()!;
  assert.ok(nst.type === "data");
  assert.throws(
    () => r.client.receive("oneRtt", nst.data, Date.now()),
    (e: any) => e.alert === AlertDescription.illegal_parameter && e.code === "ERR_QUIC_PROTOCOL_VIOLATION",
  );
});
