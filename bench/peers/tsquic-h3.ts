// tsquic's HTTP/3 (`serve()` and `fetch()` / `H3Agent`) as a benchmark
// server and client. The layer is being written while this harness is; the
// API is loaded from the public entry point at run time and typed here by
// the little this peer uses, so the harness builds whatever state it is in
// and bench/suites/h3.ts reports HTTP/3 rows as not measured until a smoke
// test through this file passes.
//
// Modes: server ("/<n>" answers n zero bytes; prints {"ready":true,"port":N});
// download, rps, handshakes and ttfb clients, as the other peers.
import { readFileSync } from "node:fs";
import { childConfig, emit, emitResult, fail, median, now, onCommand, percentile } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface H3PeerConfig {
  mode: "server" | "download" | "rps" | "handshakes" | "ttfb";
  port?: number;
  cert?: string;
  key?: string;
  bytes?: number;
  size?: number;
  maxUdpPayloadSize?: number;
  durationMs?: number;
  warmupMs?: number;
  inflight?: number;
  concurrency?: number;
  count?: number;
  timeoutMs?: number;
}

/** The part of tsquic's HTTP/3 API this peer uses. */
interface H3Api {
  serve(options: {
    hostname: string;
    port: number;
    cert: string;
    key: string;
    maxUdpPayloadSize?: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { ready: Promise<unknown>; port: number };
  H3Agent: new (options?: { tls?: { rejectUnauthorized?: boolean }; idleTimeout?: number }) => {
    fetch(url: string, init?: RequestInit): Promise<Response>;
    closeAll(): Promise<void>;
  };
}

const cfg = childConfig<H3PeerConfig>();
const CHUNK = new Uint8Array(256 * 1024);

async function loadApi(): Promise<H3Api> {
  const api = (await import("../../src/index.js")) as unknown as Partial<H3Api>;
  if (typeof api.serve !== "function" || typeof api.H3Agent !== "function") throw new Error("tsquic's public API has no serve() / H3Agent yet");
  return api as H3Api;
}

/** A body of n zero bytes: small ones whole (with Content-Length), large ones streamed from one shared chunk. */
function body(n: number): Uint8Array | ReadableStream<Uint8Array> {
  if (n <= CHUNK.length) return CHUNK.subarray(0, n);
  let left = n;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const k = Math.min(CHUNK.length, left);
      left -= k;
      // The shared chunk is never modified, so handing it out repeatedly is safe.
      controller.enqueue(k === CHUNK.length ? CHUNK : CHUNK.subarray(0, k));
      if (left === 0) controller.close();
    },
  });
}

async function server(api: H3Api): Promise<void> {
  const s = api.serve({
    hostname: "127.0.0.1",
    port: cfg.port ?? 0,
    cert: readFileSync(cfg.cert!, "utf8"),
    key: readFileSync(cfg.key!, "utf8"),
    ...(cfg.maxUdpPayloadSize ? { maxUdpPayloadSize: cfg.maxUdpPayloadSize } : {}),
    fetch(request) {
      const n = Number(/^\/(\d+)$/.exec(new URL(request.url).pathname)?.[1] ?? 0);
      const b = body(n);
      return new Response(b as BodyInit, { status: 200, headers: b instanceof Uint8Array ? { "content-length": String(n) } : {} });
    },
  });
  await s.ready;
  onCommand(() => {});
  emit({ ready: true, port: s.port });
}

/** Reads a response body to the end; returns its length; `onFirst` fires with the first body byte. */
async function drain(res: Response, onFirst?: () => void): Promise<number> {
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  let n = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (n === 0 && value.byteLength > 0) onFirst?.();
    n += value.byteLength;
  }
  return n;
}

function url(n: number): string {
  return `https://127.0.0.1:${cfg.port}/${n}`;
}

async function download(api: H3Api): Promise<Record<string, unknown>> {
  const agent = new api.H3Agent({ tls: { rejectUnauthorized: false } });
  const total = cfg.bytes!;
  const t0 = now();
  const got = await drain(await agent.fetch(url(total)));
  const seconds = (now() - t0) / 1000;
  await agent.closeAll();
  if (got !== total) throw new Error(`received ${got} of ${total} bytes`);
  return { bytes: got, seconds, gbps: (got * 8) / seconds / 1e9 };
}

async function rps(api: H3Api): Promise<Record<string, unknown>> {
  const agent = new api.H3Agent({ tls: { rejectUnauthorized: false } });
  const size = cfg.size ?? 0;
  let counting = false;
  let stop = false;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const n = await drain(await agent.fetch(url(size)));
      if (n !== size) throw new Error(`GET /${size} returned ${n} bytes`);
      if (counting) done++;
    }
  };
  const workers = Array.from({ length: cfg.inflight ?? 50 }, worker);
  await new Promise((r) => setTimeout(r, cfg.warmupMs ?? 500));
  counting = true;
  const t0 = now();
  await new Promise((r) => setTimeout(r, cfg.durationMs!));
  const seconds = (now() - t0) / 1000;
  const completed = done;
  stop = true;
  await Promise.all(workers);
  await agent.closeAll();
  return { completed, seconds, perSecond: completed / seconds, inflight: cfg.inflight ?? 50, size };
}

/** A fresh connection (its own agent): handshake, GET /1, close. */
async function fetchOnce(api: H3Api): Promise<{ ttfbMs: number }> {
  const agent = new api.H3Agent({ tls: { rejectUnauthorized: false } });
  const t0 = now();
  let t1 = 0;
  await drain(await agent.fetch(url(1)), () => (t1 ||= now()));
  void agent.closeAll();
  return { ttfbMs: t1 - t0 };
}

async function handshakes(api: H3Api): Promise<Record<string, unknown>> {
  const end = now() + cfg.durationMs!;
  let completed = 0;
  let failed = 0;
  const t0 = now();
  const loop = async (): Promise<void> => {
    while (now() < end) {
      try {
        await fetchOnce(api);
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

async function ttfb(api: H3Api): Promise<Record<string, unknown>> {
  await fetchOnce(api); // warm-up, unmeasured
  const samples: number[] = [];
  for (let i = 0; i < cfg.count!; i++) samples.push((await fetchOnce(api)).ttfbMs);
  return { samples, medianMs: median(samples), p90Ms: percentile(samples, 90), medianHandshakeMs: NaN };
}

try {
  if (cfg.timeoutMs) setTimeout(() => fail(new Error(`${cfg.mode} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs).unref();
  const api = await loadApi();
  if (cfg.mode === "server") {
    await server(api);
  } else {
    const result =
      cfg.mode === "download" ? await download(api) : cfg.mode === "rps" ? await rps(api) : cfg.mode === "handshakes" ? await handshakes(api) : await ttfb(api);
    emitResult(result);
    setTimeout(() => process.exit(0), 100);
  }
} catch (e) {
  fail(e);
}
