// Benchmark 3: handshakes per second a server completes. Each connection:
// handshake, one exchange (a 1-byte stream echo on raw QUIC, a GET of a
// 1-byte body on HTTP/3), close. 8 connections in flight, the same client
// driving each server.
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

const CONCURRENCY = 8;

interface Pairing {
  client: string;
  command: (port: number, durationMs: number) => { cmd: string; args: string[] };
  missing?: string;
}

interface ServerSpec {
  name: string;
  start: () => Promise<Server>;
  missing?: string;
}

/** Measures each client against each server; rows carry handshakes/s and the server's CPU per handshake. */
async function matrix(ctx: Context, measurement: string, servers: ServerSpec[], clients: Pairing[], referenceServers: string[]): Promise<Row[]> {
  const durationMs = ctx.quick ? 1500 : 4000;
  const rows: Row[] = [];
  const got = new Map<string, number>();
  for (const srv of servers) {
    for (const c of clients) {
      if (srv.missing || c.missing) rows.push({ measurement, client: c.client, server: srv.name, value: null, unit: "handshakes/s", note: (srv.missing ?? c.missing)! });
    }
    const runnable = clients.filter((c) => !c.missing && !srv.missing);
    if (runnable.length === 0) continue;
    try {
      await withServer(srv.start(), async (server) => {
        for (const c of runnable) {
          try {
            const cpu0 = server.proc.cpuSeconds();
            const r = await runClient(`${c.client} handshake client`, c.command(server.port, durationMs), durationMs + 60_000);
            const cpu1 = server.proc.cpuSeconds();
            const serverCpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
            const completed = Number(r.completed);
            const perCpu = serverCpu ? completed / serverCpu : undefined;
            got.set(`${c.client}|${srv.name}`, Number(r.perSecond));
            rows.push({
              measurement,
              client: c.client,
              server: srv.name,
              value: Number(r.perSecond),
              unit: "handshakes/s",
              detail: `${completed} in ${Number(r.seconds).toFixed(2)} s, ${Number(r.failed)} failed; CPU client ${Number(r.cpuSeconds).toFixed(2)} s, server ${serverCpu?.toFixed(2) ?? "?"} s${perCpu ? ` (${Math.round(perCpu)} per server CPU-second)` : ""}`,
              raw: { ...r, serverCpu, perServerCpuSecond: perCpu },
            });
          } catch (e) {
            rows.push({ measurement, client: c.client, server: srv.name, value: null, unit: "handshakes/s", note: `failed: ${reason(e)}` });
          }
        }
      });
    } catch (e) {
      for (const c of runnable) rows.push({ measurement, client: c.client, server: srv.name, value: null, unit: "handshakes/s", note: `server failed: ${reason(e)}` });
    }
  }
  for (const row of rows) {
    if (row.value === null) continue;
    const refs = referenceServers.map((s) => got.get(`${row.client}|${s}`)).filter((v): v is number => v !== undefined);
    if (refs.length === 0) continue;
    const best = Math.max(...refs);
    if (referenceServers.includes(row.server) && row.value === best) row.reference = true;
    else row.ratios = { [referenceServers.length > 1 ? "best peer server" : `${referenceServers[0]} server`]: row.value / best };
  }
  return rows.sort((a, b) => a.client.localeCompare(b.client));
}

export const handshakes: Benchmark = {
  name: "handshakes",
  title: "3. Handshakes per second",
  description: `Fresh connections back to back, ${CONCURRENCY} in flight, for a fixed time; each is a full handshake (no resumption; ECDSA P-256 certificate, clients do not verify it), one exchange and a close. The figure is what the pair achieves; the server's CPU seconds over the run give its cost per handshake (handshakes per server CPU-second is the one-core capacity). Both processes share the machine's 2 cores, so a slow client caps the figure.`,
  async run(ctx) {
    const raw = await matrix(
      ctx,
      "raw QUIC, 1-byte echo",
      [
        { name: "tsquic", start: () => startTsquicServer(ctx, 300_000) },
        { name: "quiche", start: () => startQuicheServer(ctx, 300_000), ...(ctx.peers.quiche ? {} : { missing: "not measured: @matrixai/quic is not installed" }) },
      ],
      [
        { client: "tsquic", command: (port, durationMs) => nodePeer("tsquic-client", { mode: "handshakes", port, alpn: ALPN, durationMs, concurrency: CONCURRENCY, timeoutMs: durationMs + 50_000 }) },
        {
          client: "quiche",
          command: (port, durationMs) => nodePeer("quiche-lean", { mode: "handshakes", port, alpn: ALPN, durationMs, concurrency: CONCURRENCY, timeoutMs: durationMs + 50_000 }),
          ...(ctx.peers.quiche ? {} : { missing: "not measured: @matrixai/quic is not installed" }),
        },
      ],
      ["quiche"],
    );
    const noH3 = `not measured: tsquic HTTP/3 not available yet (${ctx.h3.reason})`;
    const h3 = await matrix(
      ctx,
      "HTTP/3, GET of 1 byte",
      [
        { name: "ngtcp2", start: () => startNgtcp2Server(ctx, workPath(ctx, "www-empty"), 300_000), ...(ctx.peers.ngtcp2 ? {} : { missing: "not measured: ngtcp2 is not installed" }) },
        { name: "Bun node:quic", start: () => startBunServer(ctx, 300_000), ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }) },
        { name: "tsquic", start: () => startTsquicH3Server(ctx, 300_000), ...(ctx.h3.available ? {} : { missing: noH3 }) },
      ],
      [
        {
          client: "Bun node:quic",
          command: (port, durationMs) => bunPeer("bun-h3", { mode: "handshakes", port, durationMs, concurrency: CONCURRENCY, timeoutMs: durationMs + 50_000 }),
          ...(ctx.peers.bun ? {} : { missing: "not measured: Bun is not installed" }),
        },
        {
          client: "tsquic",
          command: (port, durationMs) => tsquicH3Client({ mode: "handshakes", port, durationMs, concurrency: CONCURRENCY, timeoutMs: durationMs + 50_000 }),
          ...(ctx.h3.available ? {} : { missing: noH3 }),
        },
      ],
      ["ngtcp2", "Bun node:quic"],
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
