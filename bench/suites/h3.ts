// tsquic's HTTP/3 in the benchmarks: whether it can be measured, and its
// server and client processes (bench/peers/tsquic-h3.ts). The HTTP/3 rows
// of every benchmark are reported as not measured, with the reason, until
// the layer exists and answers a request.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { peerScript, ROOT } from "../lib/env.js";
import { nodePeer, reason, runClient, startReadyServer, type Context, type H3Support, type Server } from "../lib/context.js";

/** Command line of the tsquic HTTP/3 peer. */
export function tsquicH3Client(config: Record<string, unknown>): { cmd: string; args: string[] } {
  return nodePeer("tsquic-h3", config);
}

/** tsquic's HTTP/3 server: "/<n>" answers n zero bytes, as ngtcp2's and the Bun peer do. */
export function startTsquicH3Server(ctx: Context, timeoutMs: number, extra: Record<string, unknown> = {}): Promise<Server> {
  return startReadyServer("tsquic h3 server", nodePeer("tsquic-h3", { mode: "server", cert: ctx.work.cert, key: ctx.work.key, ...extra }), timeoutMs);
}

/**
 * Checks that tsquic's HTTP/3 layer exists and works: the public API
 * exports `serve` and `fetch`, the peer script is built, and one request
 * from tsquic's client to tsquic's server returns its body.
 */
export async function detectH3(ctx: Context): Promise<H3Support> {
  try {
    const api = (await import(pathToFileURL(join(ROOT, "dist/src/index.js")).href)) as Record<string, unknown>;
    if (typeof api.serve !== "function" || typeof api.fetch !== "function") {
      return { available: false, reason: "the public API exports no serve()/fetch() yet" };
    }
  } catch (e) {
    return { available: false, reason: `dist/src/index.js does not load: ${reason(e)}` };
  }
  if (!existsSync(peerScript("tsquic-h3"))) return { available: false, reason: "bench/peers/tsquic-h3.ts is not written yet" };
  let server: Server | undefined;
  try {
    server = await startTsquicH3Server(ctx, 30_000);
    const r = await runClient("tsquic h3 smoke test", tsquicH3Client({ mode: "download", port: server.port, bytes: 1024, timeoutMs: 10_000 }), 15_000);
    if (Number(r.bytes) !== 1024) return { available: false, reason: `a 1 KB GET returned ${String(r.bytes)} bytes` };
    return { available: true, reason: "" };
  } catch (e) {
    return { available: false, reason: `smoke test failed: ${reason(e)}` };
  } finally {
    await server?.proc.stop();
  }
}
