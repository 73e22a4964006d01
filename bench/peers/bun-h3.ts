// Bun's `node:quic` (lsquic underneath) as an HTTP/3 server and as the
// common HTTP/3 client of the benchmarks. Run with Bun only. A request for
// "/<n>" is answered with n zero bytes, as ngtcp2's example server does for
// numeric paths, so one client drives every server alike.
//
// Modes: server (prints {"ready":true,"port":N}); rps, handshakes, ttfb clients.
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, listen, type QuicSession, type QuicStream } from "node:quic";
import { childConfig, emit, emitResult, fail, median, now, onCommand, percentile } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface BunConfig {
  mode: "server" | "rps" | "handshakes" | "ttfb";
  port?: number;
  cert?: string;
  key?: string;
  /** Response body size the client asks for. */
  size?: number;
  durationMs?: number;
  warmupMs?: number;
  inflight?: number;
  concurrency?: number;
  count?: number;
  timeoutMs?: number;
}

const cfg = childConfig<BunConfig>();

async function server(): Promise<void> {
  const bodies = new Map<number, Uint8Array>();
  const endpoint = await listen(
    (session) => {
      // node:quic rejects `closed` when a peer closes with H3_NO_ERROR (0x100), as tsquic's client does; unhandled, that would end the process.
      void session.closed.catch(() => {});
      session.onstream = (s) => void s.closed.catch(() => {});
    },
    {
      sni: { "*": { keys: [createPrivateKey(readFileSync(cfg.key!))], certs: [readFileSync(cfg.cert!)] } },
      onheaders(this: QuicStream, headers) {
        const n = Number(/^\/(\d+)$/.exec(String(headers[":path"] ?? ""))?.[1] ?? 0);
        let body = bodies.get(n);
        if (!body) bodies.set(n, (body = new Uint8Array(n)));
        this.sendHeaders({ ":status": "200", "content-length": String(n) });
        if (n > 0) this.writer.writeSync(body);
        this.writer.endSync();
      },
    },
  );
  onCommand(() => {});
  emit({ ready: true, port: endpoint.address.port });
}

async function open(): Promise<QuicSession> {
  const session = await connect({ address: "127.0.0.1", port: cfg.port! }, { servername: "localhost", verifyPeer: "manual" });
  // A server's close with H3_NO_ERROR rejects `closed`; that is a normal end here.
  void session.closed.catch(() => {});
  return session;
}

/** One GET on `session`; resolves with the body length once the response is complete. */
async function get(session: QuicSession, size: number, onFirstByte?: () => void): Promise<number> {
  let status = "";
  const stream = await session.createBidirectionalStream({
    headers: { ":method": "GET", ":path": `/${size}`, ":scheme": "https", ":authority": "localhost" },
    onheaders(h) {
      status = String(h[":status"]);
      if (size === 0) onFirstByte?.();
    },
  });
  let n = 0;
  for await (const batch of stream) {
    for (const chunk of batch) {
      if (n === 0 && chunk.byteLength > 0) onFirstByte?.();
      n += chunk.byteLength;
    }
  }
  await stream.closed;
  if (status !== "200" || n !== size) throw new Error(`GET /${size}: status ${status}, ${n} body bytes`);
  return n;
}

async function rps(): Promise<Record<string, unknown>> {
  const session = await open();
  await session.opened;
  const size = cfg.size ?? 0;
  let counting = false;
  let done = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      await get(session, size);
      if (counting) done++;
    }
  };
  const workers = Array.from({ length: cfg.inflight ?? 50 }, worker);
  // Warm-up (JIT, congestion window, QPACK state), then count for the measured period.
  await new Promise((r) => setTimeout(r, cfg.warmupMs ?? 500));
  counting = true;
  const t0 = now();
  await new Promise((r) => setTimeout(r, cfg.durationMs!));
  const seconds = (now() - t0) / 1000;
  const completed = done;
  stop = true;
  await Promise.all(workers);
  session.destroy();
  return { completed, seconds, perSecond: completed / seconds, inflight: cfg.inflight ?? 50, size };
}

/** One fresh connection: handshake, GET /1, close. Resolves with ms to the first body byte. */
async function fetchOnce(): Promise<{ ttfbMs: number; handshakeMs: number }> {
  const t0 = now();
  const session = await open();
  await session.opened;
  const tHandshake = now();
  let tFirst = 0;
  await get(session, 1, () => (tFirst ||= now()));
  void session.close().catch(() => {});
  return { ttfbMs: tFirst - t0, handshakeMs: tHandshake - t0 };
}

async function handshakes(): Promise<Record<string, unknown>> {
  const end = now() + cfg.durationMs!;
  let completed = 0;
  let failed = 0;
  const t0 = now();
  const loop = async (): Promise<void> => {
    while (now() < end) {
      try {
        await fetchOnce();
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
  await fetchOnce(); // warm-up, unmeasured
  const samples: number[] = [];
  const hs: number[] = [];
  for (let i = 0; i < cfg.count!; i++) {
    const r = await fetchOnce();
    samples.push(r.ttfbMs);
    hs.push(r.handshakeMs);
  }
  return { samples, medianMs: median(samples), p90Ms: percentile(samples, 90), medianHandshakeMs: median(hs) };
}

try {
  if (cfg.timeoutMs) setTimeout(() => fail(new Error(`${cfg.mode} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs).unref();
  if (cfg.mode === "server") {
    await server();
  } else {
    const result = cfg.mode === "rps" ? await rps() : cfg.mode === "handshakes" ? await handshakes() : await ttfb();
    emitResult(result);
    setTimeout(() => process.exit(0), 100);
  }
} catch (e) {
  fail(e);
}
