/**
 * Malformed input: random mutations of real captured handshake messages,
 * fed (in random fragments) to engines in the state that expects them, end
 * either normally or with a TlsAlertError, never with another exception,
 * never with internal_error, never hanging. FUZZ_RUNS sets the case count
 * per target (default 1000, so about 11000 cases in all).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AlertDescription, TlsAlertError } from "../../src/tls/alerts.js";
import { TlsClient } from "../../src/tls/client.js";
import type { EncryptionLevel, TlsEvent } from "../../src/tls/engine.js";
import { TlsServer, type TlsServerConfig } from "../../src/tls/server.js";
import type { SessionTicket } from "../../src/tls/ticket.js";
import { clientConfig, handshake, seededRandom, serverConfig, testPki, type HandshakeRecord } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const NOW = Date.now();
const TICKET_KEY = new Uint8Array(32).fill(0x42);

function drain(e: { poll(): TlsEvent | undefined }): TlsEvent[] {
  const out: TlsEvent[] = [];
  for (let ev = e.poll(); ev; ev = e.poll()) out.push(ev);
  return out;
}

// Deterministic endpoints: seeded randomness, and an Ed25519 server key
// (deterministic signatures), so every replay reaches the same state.
function serverCfg(extra: Partial<TlsServerConfig> = {}): TlsServerConfig {
  const leaf = testPki().leaf.ed25519;
  return serverConfig({ cert: leaf.pem, key: leaf.keyPem, random: seededRandom("fuzz-server"), ticketKeys: TICKET_KEY, earlyData: true, ...extra });
}
const clientCfg = (ticket?: SessionTicket) =>
  clientConfig({
    random: seededRandom("fuzz-client"),
    cert: testPki().client.pem,
    key: testPki().client.keyPem,
    earlyData: true,
    ...(ticket ? { sessionTicket: ticket } : {}),
  });

function byLevel(data: HandshakeRecord["clientData"], level: EncryptionLevel): Uint8Array[] {
  return data.filter((d) => d.level === level).map((d) => d.data);
}

// Capture 1: full handshake with client authentication, then a ticket.
const full = (() => {
  const r = handshake(clientCfg(), serverCfg({ requestClientCertificate: true }), { now: NOW });
  if (r.error) throw r.error.error;
  r.server.sendSessionTicket(NOW);
  const nst = drain(r.server).find((e) => e.type === "data")!;
  assert.ok(nst.type === "data");
  r.client.receive("oneRtt", nst.data, NOW);
  const ev = drain(r.client).find((e) => e.type === "sessionTicket")!;
  assert.ok(ev.type === "sessionTicket");
  return {
    clientHello: byLevel(r.clientData, "initial")[0]!,
    serverHello: byLevel(r.serverData, "initial")[0]!,
    serverFlight: byLevel(r.serverData, "handshake")[0]!,
    clientFlight: byLevel(r.clientData, "handshake")[0]!,
    ticketMessage: nst.data,
    ticket: ev.ticket,
  };
})();

// Capture 2: resumption with 0-RTT (ClientHello with pre_shared_key and early_data).
const resumed = (() => {
  const r = handshake(clientCfg(full.ticket), serverCfg(), { now: NOW });
  if (r.error) throw r.error.error;
  assert.ok(r.server.earlyDataAccepted);
  return { clientHello: byLevel(r.clientData, "initial")[0]!, serverHello: byLevel(r.serverData, "initial")[0]!, serverFlight: byLevel(r.serverData, "handshake")[0]! };
})();

// Capture 3: HelloRetryRequest and the second ClientHello.
const retried = (() => {
  const r = handshake({ ...clientCfg(), groups: ["x25519", "secp256r1"] }, serverCfg({ groups: ["secp256r1"] }), { now: NOW });
  if (r.error) throw r.error.error;
  const ch = byLevel(r.clientData, "initial");
  const sh = byLevel(r.serverData, "initial");
  return { clientHello1: ch[0]!, clientHello2: ch[1]!, helloRetryRequest: sh[0]! };
})();

// Engines in the state where each captured input is expected.
const states = {
  serverStart: () => new TlsServer(serverCfg({ requestClientCertificate: true })),
  serverAfterHello: () => {
    const s = new TlsServer(serverCfg({ requestClientCertificate: true }));
    s.receive("initial", full.clientHello, NOW);
    drain(s);
    return s;
  },
  serverAfterRetry: () => {
    const s = new TlsServer(serverCfg({ groups: ["secp256r1"] }));
    s.receive("initial", retried.clientHello1, NOW);
    drain(s);
    return s;
  },
  clientStart: (ticket?: SessionTicket) => {
    const c = new TlsClient(clientCfg(ticket));
    c.start(NOW);
    drain(c);
    return c;
  },
  clientRetryStart: () => {
    const c = new TlsClient({ ...clientCfg(), groups: ["x25519", "secp256r1"] });
    c.start(NOW);
    drain(c);
    return c;
  },
  clientAfterHello: (ticket?: SessionTicket, serverHello = full.serverHello) => {
    const c = states.clientStart(ticket);
    c.receive("initial", serverHello, NOW);
    drain(c);
    return c;
  },
  clientConnected: () => {
    const c = states.clientAfterHello();
    c.receive("handshake", full.serverFlight, NOW);
    drain(c);
    return c;
  },
};

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "u16"; at: number; value: number }
  | { kind: "delete"; at: number; len: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "truncate"; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff) }),
  fc.record({ kind: fc.constant("u16" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0xff, 0x100, 0x7fff, 0xffff) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = input.slice();
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case "flip":
        b[at]! ^= 1 << m.bit;
        break;
      case "set":
        b[at] = m.value;
        break;
      case "u16":
        b[at] = m.value >>> 8;
        if (at + 1 < b.length) b[at + 1] = m.value & 0xff;
        break;
      case "delete":
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.len)]);
        break;
      case "insert":
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
        break;
      case "truncate":
        b = b.slice(0, at);
        break;
    }
  }
  return b;
}

/** Feeds `data` in pieces; only a non-internal TlsAlertError may come out, and a closed engine stays closed. */
function feed(engine: TlsClient | TlsServer, level: EncryptionLevel, data: Uint8Array, cuts: number[]): void {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  try {
    for (const p of [...points, data.length]) {
      engine.receive(level, data.subarray(prev, p), NOW);
      prev = p;
    }
    drain(engine);
  } catch (e) {
    if (!(e instanceof TlsAlertError)) throw e;
    assert.notEqual(e.alert, AlertDescription.internal_error, `internal_error: ${e.message}`);
    assert.ok(engine.closed);
    assert.throws(() => engine.receive(level, Uint8Array.of(1), NOW), (x) => x === e);
    assert.equal(engine.poll(), undefined);
  }
}

interface Target {
  name: string;
  input: Uint8Array;
  level: EncryptionLevel;
  engine: () => TlsClient | TlsServer;
}

const targets: Target[] = [
  { name: "ClientHello into a server", input: full.clientHello, level: "initial", engine: states.serverStart },
  { name: "ClientHello with PSK and early_data into a server", input: resumed.clientHello, level: "initial", engine: states.serverStart },
  { name: "second ClientHello into a server after HelloRetryRequest", input: retried.clientHello2, level: "initial", engine: states.serverAfterRetry },
  { name: "client Certificate/CertificateVerify/Finished into a server", input: full.clientFlight, level: "handshake", engine: states.serverAfterHello },
  { name: "ServerHello into a client", input: full.serverHello, level: "initial", engine: () => states.clientStart() },
  { name: "HelloRetryRequest into a client", input: retried.helloRetryRequest, level: "initial", engine: states.clientRetryStart },
  { name: "resumed ServerHello into a client", input: resumed.serverHello, level: "initial", engine: () => states.clientStart(full.ticket) },
  {
    name: "EncryptedExtensions/CertificateRequest/Certificate/CertificateVerify/Finished into a client",
    input: full.serverFlight,
    level: "handshake",
    engine: () => states.clientAfterHello(),
  },
  {
    name: "resumed EncryptedExtensions/Finished into a client",
    input: resumed.serverFlight,
    level: "handshake",
    engine: () => states.clientAfterHello(full.ticket, resumed.serverHello),
  },
  { name: "NewSessionTicket into a connected client", input: full.ticketMessage, level: "oneRtt", engine: states.clientConnected },
];

test("the unmutated captures replay to completion (fixture check)", () => {
  for (const t of targets) feed(t.engine(), t.level, t.input, []);
  const c = states.clientAfterHello();
  c.receive("handshake", full.serverFlight, NOW);
  assert.ok(c.handshakeComplete);
  const s = states.serverAfterHello();
  s.receive("handshake", full.clientFlight, NOW);
  assert.ok(s.handshakeComplete);
});

// FUZZ_RUNS is the case count of each property (as in the other property tests): ~11 properties.
const perTarget = Math.max(1, RUNS);

for (const t of targets) {
  test(`fuzz: ${t.name} (${perTarget} mutations)`, () => {
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 4 }), (mutations, cuts) => {
        feed(t.engine(), t.level, mutate(t.input, mutations), cuts);
      }),
      { numRuns: perTarget, seed: Number(process.env.FUZZ_SEED ?? 0x5eed) ^ t.name.length },
    );
  });
}

test(`fuzz: random bytes at every level into fresh engines (${perTarget} cases)`, () => {
  const levels: EncryptionLevel[] = ["initial", "zeroRtt", "handshake", "oneRtt"];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...levels), fc.boolean(), (bytes, level, server) => {
      feed(server ? states.serverStart() : states.clientStart(), level, bytes, [1, 4]);
    }),
    { numRuns: perTarget },
  );
});
