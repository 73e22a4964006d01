// tsquic raw QUIC client for the benchmarks. One mode per run:
// - download: one connection, one stream, `D <n>`; Gbit/s from the start of the connection to the last byte;
// - upload: one connection, one stream, `U <n>` then n bytes; Gbit/s until the server's count arrives;
// - handshakes: fresh connections for a while, each: handshake, one 1-byte echo, close; completed per second;
// - ttfb: `count` fresh connections one after another; ms from connect() to the first echoed byte;
// - connections: opens `count` idle connections from a few UDP sockets, reports, holds them until
//   stdin says "close" (the memory benchmark).
// Prints one {"result":{...}} line (connections mode: {"established":n} then {"closed":true}).
import { readFileSync } from "node:fs";
import { quic, type QuicSocket } from "../../src/index.js";
import { UdpEndpoint } from "../../src/driver/udp-endpoint.js";
import type { Connection } from "../../src/quic/connection.js";
import { childConfig, emit, emitResult, fail, median, now, onCommand, percentile, requestLine } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface ClientConfig {
  mode: "download" | "upload" | "handshakes" | "ttfb" | "connections";
  port: number;
  alpn: string;
  /** CA to verify the server with; absent: no verification (as peers' benchmark clients do). */
  ca?: string;
  bytes?: number;
  maxUdpPayloadSize?: number;
  durationMs?: number;
  concurrency?: number;
  count?: number;
  /** connections mode: connections per UDP socket. */
  perSocket?: number;
  /** Give up after this long (ms). */
  timeoutMs?: number;
}

const cfg = childConfig<ClientConfig>();
const TARGET = `127.0.0.1:${cfg.port}`;
const tls = cfg.ca ? { ca: readFileSync(cfg.ca, "utf8"), serverName: "localhost" } : { rejectUnauthorized: false };
const transport = cfg.maxUdpPayloadSize ? { maxUdpPayloadSize: cfg.maxUdpPayloadSize } : {};

/** Connects with handlers that route each stream's bytes to `onBytes`. */
function connect(onBytes: (bytes: Buffer) => void): Promise<QuicSocket> {
  return quic(TARGET, { tls, alpn: cfg.alpn, ...transport, data: (_s, b) => onBytes(b), error: () => {} });
}

async function download(): Promise<Record<string, unknown>> {
  const total = cfg.bytes!;
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = now();
  const socket = await connect((b) => {
    got += b.length;
    if (got >= total) done();
  });
  const tHandshake = now();
  socket.stream().end(requestLine("D", total));
  await finished;
  const seconds = (now() - t0) / 1000;
  const stats = socket.stats();
  socket.close();
  return { bytes: got, seconds, gbps: (got * 8) / seconds / 1e9, handshakeMs: tHandshake - t0, stats };
}

async function upload(): Promise<Record<string, unknown>> {
  const total = cfg.bytes!;
  let reply = "";
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = now();
  let drained: (() => void) | undefined;
  const socket = await quic(TARGET, {
    tls,
    alpn: cfg.alpn,
    ...transport,
    data: (_s, b) => {
      reply += b.toString();
      if (reply === String(total)) done();
    },
    drain: () => drained?.(),
    error: () => {},
  });
  const tHandshake = now();
  const stream = socket.stream();
  stream.write(requestLine("U", total));
  // One shared chunk, never modified (write() keeps a reference until acknowledged).
  const chunk = new Uint8Array(256 * 1024);
  let left = total;
  while (left > 0) {
    const n = Math.min(chunk.length, left);
    left -= n;
    const ok = left === 0 ? (stream.end(n === chunk.length ? chunk : chunk.subarray(0, n)), true) : stream.write(chunk);
    if (!ok) await new Promise<void>((r) => (drained = r));
  }
  await finished;
  const seconds = (now() - t0) / 1000;
  const stats = socket.stats();
  socket.close();
  return { bytes: total, seconds, gbps: (total * 8) / seconds / 1e9, handshakeMs: tHandshake - t0, stats };
}

/** One fresh connection: handshake, a 1-byte echo, close. Resolves with ms to the first echoed byte. */
async function echoOnce(): Promise<{ ttfbMs: number; handshakeMs: number }> {
  const t0 = now();
  let first!: () => void;
  const echoed = new Promise<void>((r) => (first = r));
  const socket = await connect(() => first());
  const tHandshake = now();
  const s = socket.stream();
  s.write(requestLine("E", 1));
  s.end("x");
  await echoed;
  const t1 = now();
  socket.close();
  return { ttfbMs: t1 - t0, handshakeMs: tHandshake - t0 };
}

async function handshakes(): Promise<Record<string, unknown>> {
  const end = now() + cfg.durationMs!;
  let completed = 0;
  let failed = 0;
  const t0 = now();
  const loop = async (): Promise<void> => {
    while (now() < end) {
      try {
        await echoOnce();
        completed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency ?? 8 }, loop));
  const seconds = (now() - t0) / 1000;
  return { completed, failed, seconds, perSecond: completed / seconds, concurrency: cfg.concurrency ?? 8 };
}

async function ttfb(): Promise<Record<string, unknown>> {
  const samples: number[] = [];
  const hs: number[] = [];
  // One unmeasured connection first: JIT warm-up and the first use of the crypto code.
  await echoOnce();
  for (let i = 0; i < cfg.count!; i++) {
    const r = await echoOnce();
    samples.push(r.ttfbMs);
    hs.push(r.handshakeMs);
  }
  return { samples, medianMs: median(samples), p90Ms: percentile(samples, 90), medianHandshakeMs: median(hs) };
}

/** Opens many idle connections over a few UDP sockets and holds them for the memory benchmark. */
async function connections(): Promise<void> {
  const count = cfg.count!;
  const perSocket = cfg.perSocket ?? 1000;
  const endpoints: UdpEndpoint[] = [];
  const conns: Connection[] = [];
  let established = 0;
  let closedEarly = 0;
  const opened = new Set<Connection>();
  const onActivity = (c: Connection): void => {
    for (let e = c.poll(); e; e = c.poll()) {
      if (e.type === "handshake_done" && !opened.has(c)) {
        opened.add(c);
        established++;
      } else if (e.type === "connection_closed") {
        closedEarly++;
      }
    }
  };
  const config = {
    alpn: [cfg.alpn],
    clientTls: { rejectUnauthorized: false },
    transport: { maxIdleTimeout: 0 },
    handshakeTimeout: 60_000,
  };
  // Open in waves so the server's handshake queue stays short (a burst of thousands of Initials would all time out together).
  const wave = 100;
  for (let i = 0; i < count; i += wave) {
    for (let j = i; j < Math.min(count, i + wave); j++) {
      if (j % perSocket === 0) endpoints.push(await UdpEndpoint.bind({ config, address: "127.0.0.1", port: 0, server: false }, onActivity));
      conns.push(endpoints[endpoints.length - 1]!.connect({ serverName: "localhost", remote: { address: "127.0.0.1", port: cfg.port } }));
    }
    const deadline = now() + 60_000;
    while (established + closedEarly < Math.min(count, i + wave) && now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (now() >= deadline) break;
  }
  // Let the last acknowledgements and HANDSHAKE_DONE exchanges settle: the server is measured idle.
  await new Promise((r) => setTimeout(r, 500));
  emit({ established, failed: closedEarly, sockets: endpoints.length });
  onCommand(async (command) => {
    if (command !== "close") return;
    for (const c of conns) c.close(0, "bench done");
    for (const ep of endpoints) ep.flushNow();
    await new Promise((r) => setTimeout(r, 200));
    for (const ep of endpoints) await ep.close();
    emit({ closed: true });
    process.exit(0);
  });
}

try {
  if (cfg.timeoutMs) setTimeout(() => fail(new Error(`${cfg.mode} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs).unref();
  if (cfg.mode === "connections") {
    await connections();
  } else {
    const result =
      cfg.mode === "download" ? await download() : cfg.mode === "upload" ? await upload() : cfg.mode === "handshakes" ? await handshakes() : await ttfb();
    emitResult(result);
    // Give close frames a moment to leave, then exit without waiting on anyone.
    setTimeout(() => process.exit(0), 100);
  }
} catch (e) {
  fail(e);
}
