/**
 * QUIC interop-runner test cases (handshake, transfer, longrtt, ...), each
 * checking every byte (SHA-256) of every file. Peers:
 *   tsquic        tsquic client (getHq, or `tsquic get` for http3) <-> tsquic server (serveHq / `tsquic serve`)
 *   ngtcp2-server `tsquic get` (HTTP/3) -> gtlsserver
 *   ngtcp2-client gtlsclient -> `tsquic serve` (HTTP/3)
 * Every impairment goes through UdpProxy on 127.0.0.1. Every server, proxy
 * and process is stopped before a case returns.
 */
import { existsSync, mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { clientMigrationTsquic, keyupdateTsquic, resumptionTsquic } from "./raw.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UdpProxy, type ProxyConditions, type UdpProxyOptions } from "../../src/testing/udp-proxy.js";
import { serveHq, getHq } from "../../src/hq/index.js";
import { createCertificate } from "../../src/pki/generate.js";
import { REPO_ROOT, createFileSet, compareDownloads, startNgtcp2Server, runNgtcp2Client, spawnProcess, tempOutputDir, tail, type FileSet, type HarnessProcess } from "../interop/harness-files.js";
import { freeUdpPort, tempCertificates } from "../interop/peers.js";

export type Peer = "tsquic" | "ngtcp2-server" | "ngtcp2-client";
export const PEERS: readonly Peer[] = ["tsquic", "ngtcp2-server", "ngtcp2-client"];
export type Status = "passed" | "failed" | "unsupported";
export interface CaseResult {
  status: Status;
  detail: string;
}

const TSQUIC = join(REPO_ROOT, "bin", "tsquic");
const CHACHA = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305";
const CHACHA_TLS = "TLS_CHACHA20_POLY1305_SHA256";
const MB = 1024 * 1024;

interface Certs {
  ca: string;
  cert: string;
  key: string;
  dir: string;
}

/** A long chain: root -> 6 RSA intermediates -> leaf (about 6 KB of certificates). */
function longChainCertificates(): Certs {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-longchain-"));
  const root = createCertificate({ subject: { commonName: "interop root" }, isCA: true, pathLength: 10 });
  let issuer = root;
  const inters = [];
  for (let i = 0; i < 6; i++) {
    issuer = createCertificate({ subject: { commonName: `interop intermediate ${i}` }, issuer, isCA: true, pathLength: 10 - i - 1, keyType: "rsa-2048" });
    inters.unshift(issuer);
  }
  const leaf = createCertificate({ subject: { commonName: "localhost" }, issuer, subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] }, extendedKeyUsage: ["serverAuth"] });
  const ca = join(dir, "ca.pem");
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  writeFileSync(ca, root.pem);
  writeFileSync(cert, [leaf.pem, ...inters.map((c) => c.pem)].join("\n"));
  writeFileSync(key, leaf.keyPem, { mode: 0o600 });
  return { ca, cert, key, dir };
}

/** What a scenario asks for; a case builds one per peer. */
interface Scenario {
  files: Record<string, number>;
  c2s?: ProxyConditions;
  s2c?: ProxyConditions;
  rebind?: UdpProxyOptions["rebind"];
  /** Connections to make one after another (each fetching all files). */
  connections?: number;
  /** Connections in flight at once. */
  parallel?: number;
  timeoutMs: number;
  longChain?: boolean;
  /** tsquic <-> tsquic: use the CLI (HTTP/3) instead of hq-interop. */
  h3?: boolean;
  tsquicServer?: Parameters<typeof serveHq>[0] extends infer O ? Partial<O> : never;
  tsquicClient?: Parameters<typeof getHq>[2];
  /** gtlsserver options; "{freePort}" in one becomes a free UDP port. */
  ngtcp2ServerArgs?: string[];
  /** Extra `tsquic serve` options. */
  tsquicServeArgs?: string[];
  /** Extra `tsquic get` options. */
  tsquicGetArgs?: string[];
  ngtcp2ClientArgs?: string[];
  ngtcp2Ciphers?: string;
  /** Called with the proxy, after all transfers; returns problems. */
  check?: (p: ProxyRecorder) => string[];
}

/** Watches the proxy: bytes forwarded each way, Retry seen, amplification. */
class ProxyRecorder {
  c2sBytes = 0;
  s2cBytes = 0;
  /** Every byte the proxy forwarded from the server, handshake or not. */
  s2cTotal = 0;
  retrySeen = false;
  rebinds = 0;
  /** Client addresses the proxy saw. */
  clients = 0;
  clientHandshakeSeen = false;
  /** Worst ratio (server bytes sent before validation) / (client bytes received), and a violation note. */
  amplificationViolations: string[] = [];
  onForward = (dir: "clientToServer" | "serverToClient", p: Uint8Array): void => {
    const b = p[0] ?? 0;
    const long = (b & 0x80) !== 0;
    const type = (b & 0x30) >> 4; // QUIC v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry
    if (dir === "clientToServer") {
      this.c2sBytes += p.length;
      if (long && type === 2) this.clientHandshakeSeen = true;
    } else {
      this.s2cTotal += p.length;
      if (long && type === 3) this.retrySeen = true;
      if (!this.clientHandshakeSeen) {
        this.s2cBytes += p.length;
        if (this.s2cBytes > 3 * this.c2sBytes)
          this.amplificationViolations.push(`server sent ${this.s2cBytes} B before validation, having received ${this.c2sBytes} B`);
      }
    }
  };
}

async function withProxy<T>(targetPort: number, s: Scenario, rec: ProxyRecorder, fn: (port: number) => Promise<T>): Promise<T> {
  const proxy = await UdpProxy.start({
    listen: { address: "127.0.0.1", port: 0 },
    target: { address: "127.0.0.1", port: targetPort },
    clientToServer: s.c2s ?? {},
    serverToClient: s.s2c ?? {},
    seed: 7,
    ...(s.rebind ? { rebind: s.rebind } : {}),
    onForward: (d, p) => rec.onForward(d, p),
  });
  try {
    return await fn(proxy.address.port);
  } finally {
    rec.rebinds = proxy.stats.rebinds;
    rec.clients = proxy.stats.clients;
    await proxy.close();
  }
}

async function runPool(n: number, parallel: number, job: (i: number) => Promise<string[]>): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) {
        const i = next++;
        problems.push(...(await job(i)).map((p) => `connection ${i + 1}: ${p}`));
      }
    }),
  );
  return problems;
}

async function runProcess(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  const p = spawnProcess(cmd, args);
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    void p.stop();
  }, timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  return { code, out: p.output(), timedOut };
}

async function startTsquicServe(root: string, certs: Certs, extra: string[] = []): Promise<HarnessProcess & { port: number }> {
  const p = spawnProcess(process.execPath, [TSQUIC, "serve", "--root", root, "--port", "0", "--host", "127.0.0.1", "--cert", certs.cert, "--key", certs.key, ...extra]);
  const start = Date.now();
  while (!/^\d+\s*$/m.test(p.stdout())) {
    if (p.child.exitCode !== null || Date.now() - start > 10_000) {
      await p.stop();
      throw new Error(`tsquic serve did not start:\n${tail(p.output())}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return Object.assign(p, { port: Number(/^(\d+)\s*$/m.exec(p.stdout())![1]) });
}

/** Runs a scenario against one peer; resolves with the problems found (empty: passed). */
async function runScenario(s: Scenario, peer: Peer): Promise<string[]> {
  const set: FileSet = createFileSet(s.files);
  const certs: Certs = s.longChain ? longChainCertificates() : await tempCertificates();
  const rec = new ProxyRecorder();
  const names = set.files.map((f) => f.name);
  const n = s.connections ?? 1;
  const parallel = s.parallel ?? 1;
  const outDirs: string[] = [];
  const newOut = (): string => {
    const d = tempOutputDir();
    outDirs.push(d);
    return d;
  };
  try {
    let problems: string[];
    if (peer === "tsquic" && !s.h3) {
      const server = await serveHq({ root: set.dir, cert: readFileSync(certs.cert), key: readFileSync(certs.key, "utf8"), hostname: "127.0.0.1", port: 0, ...(s.tsquicServer ?? {}) });
      try {
        problems = await withProxy(server.port, s, rec, (port) =>
          runPool(n, parallel, async () => {
            const out = newOut();
            const job = getHq(`https://127.0.0.1:${port}`, set.paths(), { ca: readFileSync(certs.ca), serverName: "localhost", outputDir: out, ...(s.tsquicClient ?? {}) });
            let timer: NodeJS.Timeout | undefined;
            const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${s.timeoutMs} ms`)), s.timeoutMs)));
            try {
              const r = await Promise.race([job, timeout]);
              const bad = r.files.filter((f) => f.status !== "complete").map((f) => `${f.path}: ${f.status} ${f.error?.message ?? ""}`);
              return [...bad.slice(0, 5), ...compareDownloads(set, out).slice(0, 5)];
            } catch (e) {
              job.catch(() => {});
              return [String((e as Error).message)];
            } finally {
              clearTimeout(timer);
            }
          }),
        );
      } finally {
        await server.stop();
      }
    } else if (peer === "tsquic" || peer === "ngtcp2-server") {
      // tsquic get (HTTP/3) against tsquic serve or gtlsserver.
      const server =
        peer === "tsquic"
          ? await startTsquicServe(set.dir, certs, s.tsquicServeArgs)
          : await startNgtcp2Server({ root: set.dir, cert: certs.cert, key: certs.key, ...(s.ngtcp2Ciphers ? { ciphers: s.ngtcp2Ciphers } : {}), args: await withFreePorts(s.ngtcp2ServerArgs ?? []) }).then((p) =>
              Object.assign(p.process, { port: p.port }),
            );
      try {
        problems = await withProxy(server.port, s, rec, (port) =>
          runPool(n, parallel, async () => {
            const out = newOut();
            const urls = names.map((x) => `https://127.0.0.1:${port}/${x}`);
            const r = await runProcess(process.execPath, [TSQUIC, "get", "--ca", certs.ca, "--server-name", "localhost", "--output", out, ...(s.tsquicGetArgs ?? []), ...urls], s.timeoutMs);
            const p = compareDownloads(set, out).slice(0, 5);
            if (r.code !== 0) p.unshift(`tsquic get exited ${r.code}${r.timedOut ? " (timed out)" : ""}: ${tail(r.out, 600)}`);
            return p;
          }),
        );
      } finally {
        await server.stop();
      }
    } else {
      const server = await startTsquicServe(set.dir, certs, s.tsquicServeArgs);
      try {
        problems = await withProxy(server.port, s, rec, (port) =>
          runPool(n, parallel, async () => {
            const out = newOut();
            const r = await runNgtcp2Client({ port, paths: set.paths(), outDir: out, timeoutMs: s.timeoutMs, ...(s.ngtcp2Ciphers ? { ciphers: s.ngtcp2Ciphers } : {}), args: s.ngtcp2ClientArgs ?? [] });
            const p = compareDownloads(set, out).slice(0, 5);
            if (p.length) p.unshift(`gtlsclient exited ${r.code}${r.timedOut ? " (timed out)" : ""}: ${tail(r.output, 600)}`);
            return p;
          }),
        );
      } finally {
        await server.stop();
      }
    }
    return [...problems, ...(s.check ? s.check(rec) : [])];
  } finally {
    set.remove();
    rmSync(certs.dir, { recursive: true, force: true });
    for (const d of outDirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Replaces "{freePort}" in arguments with a free UDP port each. */
async function withFreePorts(args: string[]): Promise<string[]> {
  return Promise.all(args.map(async (a) => (a.includes("{freePort}") ? a.replace("{freePort}", String(await freeUdpPort())) : a)));
}

/** A case: a scenario per peer, or a reason the peer (or tsquic) cannot run it. */
export interface InteropCase {
  name: string;
  scenario(peer: Peer): Scenario | string | (() => Promise<string[]>);
}

function smallFiles(count: number, size: number): Record<string, number> {
  const r: Record<string, number> = {};
  for (let i = 0; i < count; i++) r[`f${i}.bin`] = size;
  return r;
}

const one = { "1k.bin": 1024 };
const BLACKHOLE = { blackhole: { everyMs: 5000, durationMs: 2000, startMs: 200 } };
const small = { initialMaxData: 64 * 1024, initialMaxStreamDataBidiLocal: 32 * 1024, initialMaxStreamDataBidiRemote: 32 * 1024, initialMaxStreamDataUni: 32 * 1024 };
const smallNgtcp2 = ["--max-data=65536", "--max-stream-data-bidi-local=32768", "--max-stream-data-bidi-remote=32768", "--max-stream-data-uni=32768"];

const rebound = (r: ProxyRecorder): string[] => (r.rebinds >= 1 ? [] : ["the proxy never rebound during the transfer"]);
/** The client moved to a new socket: the proxy saw a second client address. */
const migrated = (r: ProxyRecorder): string[] => (r.clients >= 2 ? [] : ["the proxy saw one client address: the client never moved"]);
/** The client reached the server's preferred address directly: most of the file did not cross the proxy (RFC 9000 section 9.6). */
const movedPastProxy = (r: ProxyRecorder): string[] =>
  r.s2cTotal < MB ? [] : [`the client did not move to the preferred address: ${r.s2cTotal} B of the 5 MB file came through the proxy`];

/**
 * 50 handshakes at 30 % loss or corruption. With the defaults (initial RTT
 * 333 ms, so a first PTO of 1 s that doubles: RFC 9002 section 6.2.2.1, and
 * a 10 s handshake timeout) a client sends its Initial only 4 times (at 0,
 * 1, 3 and 7 s); all 4 are lost with probability 0.3^4 = 0.8 %, so one of 50
 * connections fails in a third of the runs whatever the server does. Seen
 * with gtlsclient against tsquic: the server's qlog showed that no Initial
 * arrived intact before the client gave up, or before its 30 s idle timeout
 * once the handshake timeout was longer. On loopback (an RTT well under
 * 1 ms) every endpoint may assume 100 ms instead (section 6.2.2 allows a
 * value known for the path) and wait 60 s: 8 Initials in the first 40 s,
 * 0.3^8 = 0.007 % per connection. The case is about recovering from loss,
 * not about default timers.
 */
const PATIENT_HANDSHAKES = {
  connections: 50,
  parallel: 10,
  timeoutMs: 90_000,
  ngtcp2ClientArgs: ["--handshake-timeout=60s", "--initial-rtt=100ms"],
  ngtcp2ServerArgs: ["--handshake-timeout=60s", "--initial-rtt=100ms"],
  tsquicServeArgs: ["--handshake-timeout", "60", "--initial-rtt", "100"],
  tsquicGetArgs: ["--handshake-timeout", "60", "--initial-rtt", "100"],
  tsquicClient: { handshakeTimeout: 60_000, initialRtt: 100 },
  tsquicServer: { handshakeTimeout: 60_000, initialRtt: 100 },
} as const;

export const CASES: InteropCase[] = [
  { name: "handshake", scenario: () => ({ files: one, timeoutMs: 20_000 }) },
  {
    name: "transfer",
    scenario: (peer) => ({
      files: { "2m.bin": 2 * MB, "3m.bin": 3 * MB, "5m.bin": 5 * MB },
      timeoutMs: 60_000,
      tsquicServer: { transport: small },
      tsquicClient: { transport: small },
      ...(peer === "ngtcp2-server" ? { ngtcp2ServerArgs: smallNgtcp2 } : {}),
      ...(peer === "ngtcp2-client" ? { ngtcp2ClientArgs: smallNgtcp2 } : {}),
    }),
  },
  { name: "longrtt", scenario: () => ({ files: { "1m.bin": MB }, c2s: { delay: 375 }, s2c: { delay: 375 }, timeoutMs: 90_000 }) },
  {
    name: "chacha20",
    scenario: (peer) =>
      peer === "tsquic"
        ? // Both sides offer ChaCha20-Poly1305 alone: a completed transfer used it.
          { files: { "1m.bin": MB }, h3: true, tsquicServeArgs: ["--ciphers", CHACHA_TLS], tsquicGetArgs: ["--ciphers", CHACHA_TLS], timeoutMs: 30_000 }
        : { files: { "1m.bin": MB }, ngtcp2Ciphers: CHACHA, timeoutMs: 30_000 },
  },
  {
    name: "multiplexing",
    scenario: (peer) => ({
      files: smallFiles(2000, 32),
      timeoutMs: 120_000,
      tsquicServer: { transport: { initialMaxStreamsBidi: 1000 } },
      tsquicClient: { maxConcurrentStreams: 1000 },
      ...(peer === "ngtcp2-server" ? { ngtcp2ServerArgs: ["--max-streams-bidi=1000"] } : {}),
    }),
  },
  {
    name: "retry",
    scenario: (peer) =>
      ({
        files: one,
        timeoutMs: 20_000,
        tsquicServer: { validateAddress: true },
        ...(peer === "ngtcp2-server" ? { ngtcp2ServerArgs: ["-V"] } : {}),
        ...(peer === "ngtcp2-client" ? { tsquicServeArgs: ["--retry"] } : {}),
        check: (r: ProxyRecorder) => (r.retrySeen ? [] : ["no Retry packet crossed the proxy"]),
      }),
  },
  {
    name: "resumption",
    scenario: (peer) =>
      peer === "tsquic"
        ? resumptionTsquic
        : peer === "ngtcp2-client"
          ? () => resumptionNgtcp2Client()
          : () => twoGets("ngtcp2-server", false),
  },
  {
    name: "zerortt",
    scenario: (peer) => (peer === "ngtcp2-client" ? () => zeroRttNgtcp2Client() : () => twoGets(peer, true)),
  },
  { name: "http3", scenario: () => ({ files: { "1k.bin": 1024, "100k.bin": 100 * 1024, "1m.bin": MB }, h3: true, timeoutMs: 30_000 }) },
  { name: "blackhole", scenario: () => ({ files: { "5m.bin": 5 * MB }, c2s: BLACKHOLE, s2c: BLACKHOLE, timeoutMs: 90_000 }) },
  {
    name: "keyupdate",
    scenario: (peer) =>
      peer === "ngtcp2-client"
        ? { files: { "3m.bin": 3 * MB }, ngtcp2ClientArgs: ["--key-update=10ms"], timeoutMs: 30_000 }
        : peer === "tsquic"
          ? keyupdateTsquic
          : // tsquic get --key-update exits 1 unless the update completed: both sides sending in key phase 1.
            { files: { "3m.bin": 3 * MB }, tsquicGetArgs: ["--key-update"], timeoutMs: 30_000 },
  },
  {
    name: "amplificationlimit",
    scenario: () => ({
      files: one,
      longChain: true,
      c2s: { dropIndices: [[2, 7]] },
      timeoutMs: 30_000,
      check: (r) => (r.amplificationViolations.length ? [r.amplificationViolations[0]!] : []),
    }),
  },
  { name: "handshakeloss", scenario: () => ({ files: one, c2s: { loss: 0.3 }, s2c: { loss: 0.3 }, ...PATIENT_HANDSHAKES }) },
  { name: "transferloss", scenario: () => ({ files: { "2m.bin": 2 * MB }, c2s: { loss: 0.02 }, s2c: { loss: 0.02 }, timeoutMs: 60_000 }) },
  { name: "handshakecorruption", scenario: () => ({ files: one, c2s: { corrupt: 0.3 }, s2c: { corrupt: 0.3 }, ...PATIENT_HANDSHAKES }) },
  { name: "transfercorruption", scenario: () => ({ files: { "2m.bin": 2 * MB }, c2s: { corrupt: 0.02 }, s2c: { corrupt: 0.02 }, timeoutMs: 60_000 }) },
  { name: "rebind-port", scenario: () => ({ files: { "5m.bin": 5 * MB }, c2s: { bandwidth: 2 * MB }, s2c: { bandwidth: 2 * MB }, rebind: { everyMs: 1000 }, timeoutMs: 30_000, check: rebound }) },
  { name: "rebind-addr", scenario: () => ({ files: { "5m.bin": 5 * MB }, c2s: { bandwidth: 2 * MB }, s2c: { bandwidth: 2 * MB }, rebind: { everyMs: 1000, newAddress: true }, timeoutMs: 30_000, check: rebound }) },
  {
    name: "connectionmigration",
    scenario: () => ({
      files: { "5m.bin": 5 * MB },
      timeoutMs: 30_000,
      tsquicServer: { preferredAddress: { ipv4: { address: "127.0.0.1", port: 0 } } },
      tsquicServeArgs: ["--preferred-address", "127.0.0.1:0"],
      ngtcp2ServerArgs: ["--preferred-ipv4-addr=127.0.0.1:{freePort}"],
      check: movedPastProxy,
    }),
  },
  {
    // Not an interop-runner case: the client moves to a new socket on its own (RFC 9000 section 9.2), mid-transfer.
    name: "clientmigration",
    scenario: (peer) =>
      peer === "tsquic"
        ? clientMigrationTsquic
        : peer === "ngtcp2-client"
          ? { files: { "5m.bin": 5 * MB }, c2s: { bandwidth: 2 * MB }, s2c: { bandwidth: 2 * MB }, ngtcp2ClientArgs: ["--change-local-addr=300ms"], timeoutMs: 30_000, check: migrated }
          : "tsquic's HTTP/3 clients (tsquic get, fetch) have no migrate(); tsquic's client migration is checked against tsquic here and against gtlsserver's preferred address in connectionmigration",
  },
];

/** Runs one case against one peer. */
export async function runCase(name: string, peer: Peer): Promise<CaseResult> {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  const s = c.scenario(peer);
  if (typeof s === "string") return { status: "unsupported", detail: s };
  try {
    const problems = typeof s === "function" ? await s() : await runScenario(s, peer);
    return problems.length ? { status: "failed", detail: problems.slice(0, 6).join("\n") } : { status: "passed", detail: "" };
  } catch (e) {
    if (e instanceof Unsupported) return { status: "unsupported", detail: e.message };
    return { status: "failed", detail: String((e as Error).stack ?? e) };
  }
}

/** Thrown by a case that finds at run time that it cannot check files. */
class Unsupported extends Error {}

/** What each connection of {@link twoConnections} gets. */
interface ResumeRun {
  set: FileSet;
  certs: Certs;
  port: number;
  /** A fresh output directory. */
  out: string;
  /** Where the client keeps its session between the two connections. */
  session: string;
}

/**
 * A 100 KB file, certificates, the server `startServer` starts, and two
 * connections made by `connect` one after the other, the second resuming
 * the session the first left in `session`. Resolves with the problems
 * found, each prefixed with its connection; everything is removed after.
 */
async function twoConnections(
  startServer: (set: FileSet, certs: Certs) => Promise<{ port: number; stop(): Promise<void> }>,
  connect: (i: number, run: ResumeRun) => Promise<string[]>,
): Promise<string[]> {
  const set = createFileSet({ "100k.bin": 100 * 1024 });
  const certs = await tempCertificates();
  const session = join(certs.dir, "session");
  const outs: string[] = [];
  const server = await startServer(set, certs);
  try {
    const problems: string[] = [];
    for (let i = 0; i < 2; i++) {
      const out = tempOutputDir();
      outs.push(out);
      problems.push(...(await connect(i, { set, certs, port: server.port, out, session })).map((x) => `connection ${i + 1}: ${x}`));
      if (i === 0 && !existsSync(session)) {
        problems.push("the client saved no session after the first connection (no NewSessionTicket arrived)");
        break;
      }
    }
    return problems;
  } finally {
    await server.stop();
    set.remove();
    rmSync(certs.dir, { recursive: true, force: true });
    for (const d of outs) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * `tsquic get --session-file` twice through the proxy, against `tsquic
 * serve --early-data` or gtlsserver: the second connection must resume (the
 * server selected our PSK in its ServerHello, so no Certificate follows:
 * tsquic's TLS client refuses one when resumed) and, for `zeroRtt`, have its
 * GET accepted in 0-RTT; every file intact both times.
 */
function twoGets(server: "tsquic" | "ngtcp2-server", zeroRtt: boolean): Promise<string[]> {
  return twoConnections(
    (set, certs) =>
      server === "tsquic"
        ? startTsquicServe(set.dir, certs, ["--early-data"])
        : startNgtcp2Server({ root: set.dir, cert: certs.cert, key: certs.key }).then((p) => Object.assign(p.process, { port: p.port })),
    (i, { set, certs, port, out, session }) =>
      withProxy(port, { files: {}, timeoutMs: 20_000 }, new ProxyRecorder(), async (proxyPort) => {
        const args = ["--session-file", session, ...(zeroRtt ? [] : ["--disable-early-data"])];
        const r = await runProcess(process.execPath, [TSQUIC, "get", "--ca", certs.ca, "--server-name", "localhost", "--output", out, ...args, `https://127.0.0.1:${proxyPort}/100k.bin`], 20_000);
        const q = compareDownloads(set, out);
        if (r.code !== 0) q.unshift(`tsquic get exited ${r.code}: ${tail(r.out, 600)}`);
        // tsquic get reports how each connection started when given --session-file.
        const resumed = /: resumed, 0-RTT (\w+)/.exec(r.out);
        const expected = zeroRtt ? "accepted" : "none";
        if (i === 1 && !resumed) q.push(`not resumed: ${tail(r.out, 300)}`);
        if (i === 1 && resumed && resumed[1] !== expected) q.push(`0-RTT ${resumed[1]}, expected ${expected}`);
        return q;
      }),
  );
}

/**
 * gtlsclient twice with --session-file and --tp-file against `tsquic serve
 * --early-data`: the second run must send its request in 0-RTT and not
 * again in 1-RTT (ngtcp2 resends rejected early data), files intact.
 */
function zeroRttNgtcp2Client(): Promise<string[]> {
  return twoConnections(
    (set, certs) => startTsquicServe(set.dir, certs, ["--early-data"]),
    async (i, { set, port, out, session }) => {
      const args = [`--session-file=${session}`, `--tp-file=${session}.tp`];
      const r = await runNgtcp2Client({ port, paths: set.paths(), outDir: out, timeoutMs: 20_000, verbose: true, args });
      const q = compareDownloads(set, out);
      if (q.length) q.unshift(`gtlsclient exited ${r.code}: ${tail(r.output, 600)}`);
      if (i === 1) {
        // ngtcp2's frame log: the request on stream 0 sent in a 0-RTT packet, and never again in 1-RTT.
        if (!/frm tx \d+ 0RTT STREAM\(0x0b\) id=0x0 fin=1 offset=0/.test(r.output)) q.push("gtlsclient sent no request in 0-RTT");
        if (/frm tx \d+ 1RTT STREAM\(0x0[8-f]\) id=0x0 fin=1 offset=0/.test(r.output)) q.push("gtlsclient sent its request again in 1-RTT: 0-RTT was rejected");
      }
      return q;
    },
  );
}

/**
 * gtlsclient -> tsquic serve twice with --session-file: the first run must
 * leave a ticket in the file; the second resumes, so the server's
 * Handshake-level CRYPTO data (in ngtcp2's frame log) must lose the
 * Certificate and CertificateVerify (at least `certBytes` shorter).
 */
async function resumptionNgtcp2Client(): Promise<string[]> {
  const flights: number[] = [];
  let certBytes = 0;
  const problems = await twoConnections(
    (set, certs) => startTsquicServe(set.dir, certs),
    async (_i, { set, certs, port, out, session }) => {
      const r = await runNgtcp2Client({ port, paths: set.paths(), outDir: out, timeoutMs: 20_000, verbose: true, args: [`--session-file=${session}`] });
      const q = compareDownloads(set, out);
      if (q.length) q.unshift(`gtlsclient: ${tail(r.output, 600)}`);
      flights.push(handshakeCryptoLength(r.output));
      certBytes = readFileSync(certs.cert, "utf8").length * 0.7; // DER is about 3/4 of PEM
      return q;
    },
  );
  if (flights.length === 2 && !(flights[1]! < flights[0]! - certBytes))
    problems.push(`second connection not resumed: the server's Handshake CRYPTO data was ${flights[1]} B vs ${flights[0]} B the first time`);
  return problems;
}

/** Length of the server's Handshake-level CRYPTO stream in a verbose gtlsclient log (retransmissions counted once). */
function handshakeCryptoLength(log: string): number {
  let end = 0;
  for (const m of log.matchAll(/frm rx \d+ Handshake CRYPTO\(0x06\) offset=(\d+) len=(\d+)/g)) end = Math.max(end, Number(m[1]) + Number(m[2]));
  return end;
}

