// Benchmark 5: time to first byte of a fresh connection's first response
// on loopback: from the client's connect call to the first response byte.
import type { Row } from "../lib/report.js";
import {
  ALPN,
  bunPeer,
  nodePeer,
  reason,
  runClient,
  startBunServer,
  startNgtcp2Server,
  startQuicheServer,
  startTsquicServer,
  withServer,
  workPath,
  type Benchmark,
  type Context,
  type Server,
} from "../lib/context.js";
import { startTsquicH3Server, tsquicH3Client } from "./h3.js";

const COUNT = 20;

interface ServerSpec {
  name: string;
  start: () => Promise<Server>;
  missing?: string;
}
interface ClientSpec {
  name: string;
  command: (port: number) => { cmd: string; args: string[] };
  missing?: string;
}

async function matrix(ctx: Context, measurement: string, servers: ServerSpec[], clients: ClientSpec[], reference: [string, string]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const srv of servers) {
    for (const c of clients) if (srv.missing || c.missing) rows.push({ measurement, client: c.name, server: srv.name, value: null, unit: "ms", note: (srv.missing ?? c.missing)! });
    const runnable = clients.filter((c) => !c.missing && !srv.missing);
    if (runnable.length === 0) continue;
    try {
      await withServer(srv.start(), async (server) => {
        for (const c of runnable) {
          try {
            const r = await runClient(`${c.name} ttfb client`, c.command(server.port), 120_000);
            const samples = r.samples as number[];
            rows.push({
              measurement,
              client: c.name,
              server: srv.name,
              value: Number(r.medianMs),
              unit: "ms",
              detail: `median of ${samples.length} (after one unmeasured connection); p90 ${Number(r.p90Ms).toFixed(2)} ms${Number.isFinite(r.medianHandshakeMs) ? `; median handshake ${Number(r.medianHandshakeMs).toFixed(2)} ms` : ""}`,
              raw: r,
            });
          } catch (e) {
            rows.push({ measurement, client: c.name, server: srv.name, value: null, unit: "ms", note: `failed: ${reason(e)}` });
          }
        }
      });
    } catch (e) {
      for (const c of runnable) rows.push({ measurement, client: c.name, server: srv.name, value: null, unit: "ms", note: `server failed: ${reason(e)}` });
    }
  }
  const ref = rows.find((r) => r.client === reference[0] && r.server === reference[1] && r.value !== null);
  for (const row of rows) {
    if (row.value === null || !ref) continue;
    if (row === ref) row.reference = true;
    else row.ratios = { [`${reference[0]}→${reference[1]} time`]: row.value / ref.value! };
  }
  return rows.sort((a, b) => a.client.localeCompare(b.client));
}

export const ttfb: Benchmark = {
  name: "ttfb",
  title: "5. Time to first byte",
  description: `${COUNT} fresh connections one after another (after one unmeasured warm-up connection), each timed from the client's connect call to the first byte of the first response: a 1-byte echo on raw QUIC, a GET of a 1-byte body on HTTP/3. Full handshakes (no resumption, no 0-RTT: tsquic has no 0-RTT yet). Ratios are times, so below 1 is faster than the reference.`,
  async run(ctx) {
    const quicheMissing = ctx.peers.quiche ? {} : { missing: "not measured: @matrixai/quic is not installed" };
    const raw = await matrix(
      ctx,
      "raw QUIC, 1-byte echo",
      [
        { name: "tsquic", start: () => startTsquicServer(ctx, 300_000) },
        { name: "quiche", start: () => startQuicheServer(ctx, 300_000), ...quicheMissing },
      ],
      [
        { name: "tsquic", command: (port) => nodePeer("tsquic-client", { mode: "ttfb", port, alpn: ALPN, count: COUNT, timeoutMs: 100_000 }) },
        { name: "quiche", command: (port) => nodePeer("quiche-lean", { mode: "ttfb", port, alpn: ALPN, count: COUNT, timeoutMs: 100_000 }), ...quicheMissing },
      ],
      ["quiche", "quiche"],
    );
    const noH3 = { missing: `not measured: tsquic HTTP/3 not available yet (${ctx.h3.reason})` };
    const h3 = await matrix(
      ctx,
      "HTTP/3, GET of 1 byte",
      [
        { name: "ngtcp2", start: () => startNgtcp2Server(ctx, workPath(ctx, "www-empty"), 300_000), ...(ctx.peers.ngtcp2 ? {} : { missing: "not measured: ngtcp2 is not installed" }) },
        { name: "Bun node:quic", start: () => startBunServer(ctx, 300_000), ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }) },
        { name: "tsquic", start: () => startTsquicH3Server(ctx, 300_000), ...(ctx.h3.available ? {} : noH3) },
      ],
      [
        { name: "Bun node:quic", command: (port) => bunPeer("bun-h3", { mode: "ttfb", port, count: COUNT, timeoutMs: 100_000 }), ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }) },
        { name: "tsquic", command: (port) => tsquicH3Client({ mode: "ttfb", port, count: COUNT, timeoutMs: 100_000 }), ...(ctx.h3.available ? {} : noH3) },
      ],
      ["Bun node:quic", "Bun node:quic"],
    );
    return {
      sections: [
        { title: "Raw QUIC (ALPN tsquic-bench)", rows: raw },
        { title: "HTTP/3", rows: h3 },
      ],
      notes: [],
    };
  },
};
