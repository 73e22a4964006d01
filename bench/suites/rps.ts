// Benchmark 2: HTTP/3 requests per second on one connection, 50 in
// flight, empty and 1 KB bodies, the same client driving every server.
import type { Row } from "../lib/report.js";
import { bunPeer, reason, runClient, startBunServer, startNgtcp2Server, withServer, workPath, type Benchmark, type Context, type Server } from "../lib/context.js";
import { startTsquicH3Server, tsquicH3Client } from "./h3.js";

const INFLIGHT = 50;
const SIZES = [0, 1024];

type ClientKind = "Bun node:quic" | "tsquic";

/** One measurement: `client` against `server`, one body size. */
async function measure(ctx: Context, client: ClientKind, server: Server, size: number): Promise<{ rps: number; detail: string; raw: unknown }> {
  const durationMs = ctx.quick ? 1000 : 3000;
  const config = { mode: "rps", port: server.port, size, durationMs, warmupMs: ctx.quick ? 300 : 500, inflight: INFLIGHT, timeoutMs: durationMs + 30_000 };
  const cpu0 = server.proc.cpuSeconds();
  const r = await runClient(`${client} rps client`, client === "tsquic" ? tsquicH3Client(config) : bunPeer("bun-h3", config), durationMs + 30_000);
  const cpu1 = server.proc.cpuSeconds();
  const serverCpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  const rps = Number(r.perSecond);
  return {
    rps,
    detail: `${Number(r.completed).toLocaleString("en-US")} requests in ${Number(r.seconds).toFixed(2)} s after a warm-up; CPU client ${Number(r.cpuSeconds).toFixed(2)} s (incl. warm-up), server ${serverCpu?.toFixed(2) ?? "?"} s`,
    raw: { ...r, serverCpu },
  };
}

function missing(size: number, client: string, server: string, note: string): Row {
  return { measurement: label(size), client, server, value: null, unit: "req/s", note };
}

function label(size: number): string {
  return size === 0 ? "GET, empty body" : `GET, ${size / 1024} KB body`;
}

export const rps: Benchmark = {
  name: "rps",
  title: "2. HTTP/3 requests per second",
  description:
    "One connection, 50 requests in flight, each a GET of `/<n>` answered with n bytes (ngtcp2's example server generates such bodies; the Bun and tsquic peers do the same). Requests complete when the whole response has arrived; the count starts after a warm-up. The common client is Bun's `node:quic` (lsquic), the one client known to work with every server; tsquic's client runs against each server too once tsquic has HTTP/3. Ratios compare each server with the best of ngtcp2's and Bun's servers under the same client.",
  async run(ctx) {
    const notes: string[] = [];
    const rows: Row[] = [];
    const servers: Array<{ name: string; start: () => Promise<Server>; missing?: string }> = [
      {
        name: "ngtcp2",
        start: () => startNgtcp2Server(ctx, workPath(ctx, "www-empty"), 300_000),
        ...(ctx.peers.ngtcp2 ? {} : { missing: "not measured: ngtcp2 is not installed" }),
      },
      { name: "Bun node:quic", start: () => startBunServer(ctx, 300_000), ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }) },
      {
        name: "tsquic",
        start: () => startTsquicH3Server(ctx, 300_000),
        ...(ctx.h3.available ? {} : { missing: `not measured: tsquic HTTP/3 not available yet (${ctx.h3.reason})` }),
      },
    ];
    const clients: Array<{ name: ClientKind; missing?: string }> = [
      { name: "Bun node:quic", ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }) },
      { name: "tsquic", ...(ctx.h3.available ? {} : { missing: `not measured: tsquic HTTP/3 not available yet (${ctx.h3.reason})` }) },
    ];
    // results[client][server][size]
    const got = new Map<string, number>();
    for (const srv of servers) {
      const runnable = clients.filter((c) => !c.missing && !srv.missing);
      for (const c of clients) {
        if (c.missing || srv.missing) for (const size of SIZES) rows.push(missing(size, c.name, srv.name, (srv.missing ?? c.missing)!));
      }
      if (runnable.length === 0) continue;
      try {
        await withServer(srv.start(), async (server) => {
          for (const c of runnable) {
            for (const size of SIZES) {
              try {
                const m = await measure(ctx, c.name, server, size);
                got.set(`${c.name}|${srv.name}|${size}`, m.rps);
                rows.push({ measurement: label(size), client: c.name, server: srv.name, value: m.rps, unit: "req/s", detail: m.detail, raw: m.raw });
              } catch (e) {
                rows.push(missing(size, c.name, srv.name, `failed: ${reason(e)}`));
              }
            }
          }
        });
      } catch (e) {
        for (const c of runnable) for (const size of SIZES) rows.push(missing(size, c.name, srv.name, `server failed: ${reason(e)}`));
      }
    }
    // Ratio to the best peer server with the same client and body size.
    for (const row of rows) {
      if (row.value === null) continue;
      const size = row.measurement === label(0) ? 0 : 1024;
      const peers = ["ngtcp2", "Bun node:quic"].map((s) => got.get(`${row.client}|${s}|${size}`)).filter((v): v is number => v !== undefined);
      if (peers.length === 0) continue;
      const best = Math.max(...peers);
      if (row.server !== "tsquic" && row.value === best) row.reference = true;
      else row.ratios = { "best peer server": row.value / best };
    }
    // Stable order: by body size, then client, then server.
    rows.sort((a, b) => SIZES.indexOf(a.measurement === label(0) ? 0 : 1024) - SIZES.indexOf(b.measurement === label(0) ? 0 : 1024) || a.client.localeCompare(b.client));
    return { sections: [{ title: `One connection, ${INFLIGHT} requests in flight`, rows }], notes };
  },
};
