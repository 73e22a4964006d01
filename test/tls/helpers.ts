/**
 * Shared fixtures for the TLS tests: a certificate authority with leaves of
 * every key type (generated once per process), a deterministic random
 * source, and an in-memory driver that runs a client engine against a server
 * engine by shuttling their handshake bytes.
 */
import { createHash } from "node:crypto";
import { createCertificate, type GeneratedCertificate, type KeyType } from "../../src/pki/generate.js";
import { TlsAlertError } from "../../src/tls/alerts.js";
import { TlsClient, type TlsClientConfig } from "../../src/tls/client.js";
import type { EncryptionLevel, TlsEvent } from "../../src/tls/engine.js";
import { TlsServer, type TlsServerConfig } from "../../src/tls/server.js";
import type { RandomSource } from "../../src/tls/key-exchange.js";

/** A deterministic random source: SHA-256 in counter mode over `seed`. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) {
      const block = createHash("sha256").update(`${seed}/${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - o)), o);
    }
    return out;
  };
}

/** Distinct transport parameter blobs so tests can check each side got the other's. */
export const CLIENT_TP = Uint8Array.from([0x01, 0x02, 0x43, 0x21]);
export const SERVER_TP = Uint8Array.from([0x01, 0x02, 0x67, 0x89, 0x0f, 0x00]);

/** Test PKI: one CA, leaves per key type for "localhost", plus a client leaf. */
export interface TestPki {
  ca: GeneratedCertificate;
  leaf: Record<KeyType, GeneratedCertificate>;
  client: GeneratedCertificate;
}

let pki: TestPki | undefined;

/** The process-wide test PKI (RSA key generation is slow, so it is made once). */
export function testPki(): TestPki {
  if (pki) return pki;
  const ca = createCertificate({ subject: { commonName: "tsquic test CA" }, isCA: true, keyType: "ecdsa-p256" });
  const leafFor = (keyType: KeyType) =>
    createCertificate({ subject: { commonName: "localhost" }, issuer: ca, keyType, subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] } });
  pki = {
    ca,
    leaf: { "ecdsa-p256": leafFor("ecdsa-p256"), "ecdsa-p384": leafFor("ecdsa-p384"), "rsa-2048": leafFor("rsa-2048"), ed25519: leafFor("ed25519") },
    client: createCertificate({ subject: { commonName: "tsquic client" }, issuer: ca, keyType: "ecdsa-p256" }),
  };
  return pki;
}

/** A QUIC-mode client config trusting the test CA. */
export function clientConfig(extra: Partial<TlsClientConfig> = {}): TlsClientConfig {
  return { serverName: "localhost", alpnProtocols: ["h3"], quicTransportParameters: CLIENT_TP, ca: testPki().ca.pem, ...extra };
}

/** A QUIC-mode server config with the P-256 leaf. */
export function serverConfig(extra: Partial<TlsServerConfig> = {}): TlsServerConfig {
  const leaf = testPki().leaf["ecdsa-p256"];
  return { cert: leaf.pem, key: leaf.keyPem, alpnProtocols: ["h3"], quicTransportParameters: SERVER_TP, ca: testPki().ca.pem, ...extra };
}

/** Everything that crossed between the engines. */
export interface HandshakeRecord {
  client: TlsClient;
  server: TlsServer;
  clientEvents: TlsEvent[];
  serverEvents: TlsEvent[];
  /** Handshake bytes each side sent, per level, in order. */
  clientData: Array<{ level: EncryptionLevel; data: Uint8Array }>;
  serverData: Array<{ level: EncryptionLevel; data: Uint8Array }>;
  /** The first error, and which side raised it. */
  error?: { side: "client" | "server"; error: unknown };
}

/** Options for {@link runHandshake}. */
export interface RunOptions {
  now?: number;
  /** Split every data event into pieces of at most this many bytes. */
  fragment?: number;
  /** Rewrites data on its way from one side to the other (return undefined to drop). */
  tamper?: (from: "client" | "server", level: EncryptionLevel, data: Uint8Array) => Uint8Array | undefined;
}

/** Runs a client and a server against each other until neither has output. */
export function runHandshake(client: TlsClient, server: TlsServer, options: RunOptions = {}): HandshakeRecord {
  const now = options.now ?? Date.now();
  const rec: HandshakeRecord = { client, server, clientEvents: [], serverEvents: [], clientData: [], serverData: [] };
  try {
    client.start(now);
  } catch (error) {
    rec.error = { side: "client", error };
    return rec;
  }
  pump(rec, options, now);
  return rec;
}

/** Moves pending events between the two engines until both are idle or one fails. */
export function pump(rec: HandshakeRecord, options: RunOptions = {}, now = options.now ?? Date.now()): void {
  for (let progress = true; progress && !rec.error; ) {
    progress = false;
    for (const from of ["client", "server"] as const) {
      const src = from === "client" ? rec.client : rec.server;
      const dst = from === "client" ? rec.server : rec.client;
      for (let ev = src.poll(); ev && !rec.error; ev = src.poll()) {
        progress = true;
        (from === "client" ? rec.clientEvents : rec.serverEvents).push(ev);
        if (ev.type !== "data") continue;
        (from === "client" ? rec.clientData : rec.serverData).push({ level: ev.level, data: ev.data });
        const data = options.tamper ? options.tamper(from, ev.level, ev.data) : ev.data;
        if (!data) continue;
        const step = options.fragment ?? data.length;
        try {
          for (let o = 0; o < data.length; o += step) dst.receive(ev.level, data.subarray(o, o + step), now);
        } catch (error) {
          rec.error = { side: from === "client" ? "server" : "client", error };
        }
      }
    }
  }
}

/** The secrets one side announced, keyed "level/direction" (latest wins). */
export function secretsOf(events: TlsEvent[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const e of events) if (e.type === "secret") m.set(`${e.level}/${e.direction}`, e.secret);
  return m;
}

/** Asserts the run failed with a TlsAlertError and returns it. */
export function alertOf(rec: HandshakeRecord): TlsAlertError {
  if (!rec.error) throw new Error("handshake unexpectedly succeeded");
  if (!(rec.error.error instanceof TlsAlertError)) throw rec.error.error;
  return rec.error.error;
}

/** Builds a client and a server and runs them. */
export function handshake(c: Partial<TlsClientConfig> = {}, s: Partial<TlsServerConfig> | TlsServerConfig = {}, options: RunOptions = {}): HandshakeRecord {
  return runHandshake(new TlsClient(clientConfig(c)), new TlsServer(serverConfig(s)), options);
}
