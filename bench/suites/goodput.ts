// Benchmark 1: bulk goodput on one connection, and the ceilings that
// node:crypto puts on a JavaScript stack.
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { GNU_TIME, NGTCP2_CLIENT, NGTCP2_SERVER, ngtcp2HasOption, ROOT } from "../lib/env.js";
import { startProc } from "../lib/proc.js";
import type { Row, Section } from "../lib/report.js";
import {
  ALPN,
  MAX_UDP,
  median,
  nodePeer,
  reason,
  runClient,
  startNgtcp2Server,
  startQuicheServer,
  startQuicheWrapperServer,
  startTsquicServer,
  withServer,
  workPath,
  type Benchmark,
  type Context,
  type Server,
} from "../lib/context.js";
import { startTsquicH3Server, tsquicH3Client } from "./h3.js";

const MB = 1_000_000;

/** Writes a file of zeros (the body ngtcp2's server sends from disk; the page cache keeps it in memory). */
function writeZeros(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(MB);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
  } finally {
    closeSync(fd);
  }
}

/** A series of runs of one pairing, summarised as its median. */
interface Series {
  gbps: number[];
  seconds: number[];
  clientCpu: number[];
  serverCpu: number[];
  extra: string[];
}

function newSeries(): Series {
  return { gbps: [], seconds: [], clientCpu: [], serverCpu: [], extra: [] };
}

function describe(s: Series, bytes: number): string {
  const runs = s.gbps.map((g, i) => `${g.toFixed(3)} (${s.seconds[i]!.toFixed(2)} s)`).join(", ");
  const cpu = (xs: number[]): string => (xs.length ? median(xs).toFixed(2) + " s" : "?");
  return `${(bytes / MB).toFixed(0)} MB × ${s.gbps.length}: ${runs} Gbit/s; median CPU client ${cpu(s.clientCpu)}, server ${cpu(s.serverCpu)}${s.extra.length ? "; " + s.extra.join("; ") : ""}`;
}

function seriesRow(measurement: string, client: string, server: string, s: Series, bytes: number, reference = false): Row {
  return {
    measurement,
    client,
    server,
    value: s.gbps.length ? median(s.gbps) : null,
    unit: "Gbit/s",
    detail: describe(s, bytes),
    raw: s,
    ...(reference ? { reference } : {}),
  };
}

function missing(measurement: string, client: string, server: string, note: string): Row {
  return { measurement, client, server, value: null, unit: "Gbit/s", note };
}

/** Runs `runs` transfers of a client against one server, recording throughput and CPU. */
async function series(server: Server, runs: number, once: (s: Server) => Promise<{ gbps: number; seconds: number; clientCpu?: number; extra?: string }>): Promise<Series> {
  const out = newSeries();
  for (let i = 0; i < runs; i++) {
    const cpu0 = server.proc.cpuSeconds();
    const r = await once(server);
    const cpu1 = server.proc.cpuSeconds();
    out.gbps.push(r.gbps);
    out.seconds.push(r.seconds);
    if (r.clientCpu !== undefined) out.clientCpu.push(r.clientCpu);
    if (cpu0 !== undefined && cpu1 !== undefined) out.serverCpu.push(cpu1 - cpu0);
    if (r.extra && i === 0) out.extra.push(r.extra);
  }
  return out;
}

/** A node peer client's transfer result as a series sample. */
function sample(r: Record<string, unknown>): { gbps: number; seconds: number; clientCpu: number; extra?: string } {
  const stats = r.stats as { packetsLost?: number; lost?: number } | undefined;
  const lost = stats?.packetsLost ?? stats?.lost;
  return { gbps: Number(r.gbps), seconds: Number(r.seconds), clientCpu: Number(r.cpuSeconds), ...(lost !== undefined ? { extra: `first run lost ${lost} packets` } : {}) };
}

/** ngtcp2's client downloading `path` once; its process wall time is the transfer time (start-up is a few ms). */
async function ngtcp2Download(ctx: Context, port: number, path: string, bytes: number, timeoutMs: number): Promise<{ gbps: number; seconds: number; clientCpu?: number }> {
  const args = ["-q", "--exit-on-all-streams-close", `--max-udp-payload-size=${MAX_UDP}`, "127.0.0.1", String(port), `https://127.0.0.1:${port}${path}`];
  // Under GNU time when present, for the client's CPU seconds (it adds well under a millisecond).
  const proc = startProc({
    name: "ngtcp2 client",
    ...(GNU_TIME ? { cmd: GNU_TIME, args: ["-f", "BENCH-CPU %U %S", NGTCP2_CLIENT, ...args] } : { cmd: NGTCP2_CLIENT, args }),
    timeoutMs,
    cwd: ctx.work.dir,
  });
  const { code } = await proc.exited;
  if (code !== 0) throw new Error(`ngtcp2 client exited with ${code}${proc.timedOut ? " (time limit)" : ""}: ${proc.tail(400)}`);
  const seconds = proc.wallMs! / 1000;
  const cpu = /BENCH-CPU ([\d.]+) ([\d.]+)/.exec(proc.tail(2000));
  return { gbps: (bytes * 8) / seconds / 1e9, seconds, ...(cpu ? { clientCpu: Number(cpu[1]) + Number(cpu[2]) } : {}) };
}

/** Parses bench/packet-protect.ts's line for AES-128-GCM protect. */
async function tsquicProtectMicros(iterations: number): Promise<number> {
  const proc = startProc({ name: "packet-protect", cmd: process.execPath, args: [join(ROOT, "dist/bench/packet-protect.js"), String(iterations)], timeoutMs: 120_000 });
  await proc.exited;
  const m = /TLS_AES_128_GCM_SHA256 protect \(1200 B\)\s+([\d.]+)/.exec(proc.tail(5000));
  if (!m) throw new Error(`packet-protect printed no AES-128-GCM figure: ${proc.tail(300)}`);
  return Number(m[1]);
}

export const goodput: Benchmark = {
  name: "goodput",
  title: "1. Bulk goodput",
  description: [
    `One connection, one stream, client and server in separate processes on loopback, UDP payloads of at most ${MAX_UDP} bytes for every stack`,
    "(tsquic `maxUdpPayloadSize`, ngtcp2 `--max-udp-payload-size`, quiche `max_send_udp_payload_size`). Time runs from the start of the connection (handshake included) to the last byte;",
    "for ngtcp2's client it is the client process's wall time (it discards the body: no `--download`). Median of 3 runs. CPU is user + system seconds of each process over the transfer.",
    "Raw QUIC uses ALPN `tsquic-bench` and the request-line protocol of bench/lib/child.ts. The quiche reference is quiche's napi binding (from @matrixai/quic)",
    "driven by a minimal node:dgram loop (bench/peers/quiche-lean.ts); @matrixai/quic's own QUICServer/QUICClient are measured too, with a smaller transfer, because their per-packet JavaScript makes them far slower.",
  ].join(" "),
  async run(ctx) {
    const bytes = ctx.quick ? 20 * MB : 200 * MB;
    const wrapperBytes = ctx.quick ? 1 * MB : 4 * MB;
    const runs = 3;
    const limit = ctx.quick ? 60_000 : 120_000;
    const notes: string[] = [];
    const sections: Section[] = [];

    // Ceilings first, on an idle machine.
    const ceilingRows: Row[] = [];
    let ceiling: number | undefined;
    try {
      const r = await runClient("AES-GCM ceiling", nodePeer("aead-ceiling", { sizes: [1200, MAX_UDP], durationMs: ctx.quick ? 300 : 1000 }), 60_000);
      const res = r.results as Array<{ size: number; sealMicros: number; gbps: number }>;
      const a = res.find((x) => x.size === 1200)!;
      const b = res.find((x) => x.size === MAX_UDP)!;
      ceiling = a.gbps;
      ceilingRows.push({
        measurement: "AES-128-GCM seal via createCipheriv",
        client: "node:crypto",
        server: "one core",
        value: a.gbps,
        unit: "Gbit/s",
        reference: true,
        detail: `${a.sealMicros.toFixed(2)} µs per 1,200-byte packet; ${b.sealMicros.toFixed(2)} µs per ${MAX_UDP}-byte packet (${b.gbps.toFixed(2)} Gbit/s)`,
        raw: res,
      });
    } catch (e) {
      ceilingRows.push(missing("AES-128-GCM seal via createCipheriv", "node:crypto", "one core", `failed: ${reason(e)}`));
    }
    try {
      const us = await tsquicProtectMicros(ctx.quick ? 20_000 : 100_000);
      const gbps = (1200 * 8) / us / 1000;
      ceilingRows.push({
        measurement: "tsquic packet protection (AEAD + header)",
        client: "PacketProtection.protect",
        server: "one core",
        value: gbps,
        unit: "Gbit/s",
        ...(ceiling ? { ratios: { "AES-GCM ceiling": gbps / ceiling } } : {}),
        detail: `${us.toFixed(2)} µs per 1,200-byte packet (bench/packet-protect.ts)`,
      });
    } catch (e) {
      ceilingRows.push(missing("tsquic packet protection (AEAD + header)", "PacketProtection.protect", "one core", `failed: ${reason(e)}`));
    }

    // Downloads.
    const dl: Row[] = [];
    let reference: number | undefined;
    const www = workPath(ctx, "www-goodput");
    if (ctx.peers.ngtcp2) {
      if (!ngtcp2HasOption(NGTCP2_SERVER, "--max-udp-payload-size") || !ngtcp2HasOption(NGTCP2_CLIENT, "--max-udp-payload-size")) {
        notes.push("ngtcp2's binaries lack --max-udp-payload-size: they ran with their default payload size.");
      }
      try {
        await withServer(startNgtcp2Server(ctx, www, limit * 4, [`--max-udp-payload-size=${MAX_UDP}`]), async (srv) => {
          writeZeros(join(www, "bulk"), bytes);
          const s = await series(srv, runs, () => ngtcp2Download(ctx, srv.port, "/bulk", bytes, limit));
          reference = median(s.gbps);
          dl.push(seriesRow("download, HTTP/3", "ngtcp2", "ngtcp2", s, bytes, true));
        });
      } catch (e) {
        dl.push(missing("download, HTTP/3", "ngtcp2", "ngtcp2", `failed: ${reason(e)}`));
      }
    } else {
      dl.push(missing("download, HTTP/3", "ngtcp2", "ngtcp2", "not measured: ngtcp2 is not installed (scripts/setup.sh)"));
    }

    try {
      await withServer(startTsquicServer(ctx, limit * 4), async (srv) => {
        const s = await series(srv, runs, async (x) =>
          sample(await runClient("tsquic client", nodePeer("tsquic-client", { mode: "download", port: x.port, alpn: ALPN, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
        );
        dl.push(seriesRow("download, raw QUIC", "tsquic", "tsquic", s, bytes));
      });
    } catch (e) {
      dl.push(missing("download, raw QUIC", "tsquic", "tsquic", `failed: ${reason(e)}`));
    }

    // HTTP/3 pairings with tsquic, when its HTTP/3 layer exists.
    const h3Pairs: Array<[string, string]> = [
      ["tsquic", "tsquic"],
      ["tsquic", "ngtcp2"],
      ["ngtcp2", "tsquic"],
    ];
    if (!ctx.h3.available) {
      for (const [c, s] of h3Pairs) dl.push(missing("download, HTTP/3", c, s, `not measured: tsquic HTTP/3 not available yet (${ctx.h3.reason})`));
    } else {
      const path = `/${bytes}`;
      try {
        await withServer(startTsquicH3Server(ctx, limit * 4), async (srv) => {
          const s1 = await series(srv, runs, async (x) => sample(await runClient("tsquic h3 client", tsquicH3Client({ mode: "download", port: x.port, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)));
          dl.push(seriesRow("download, HTTP/3", "tsquic", "tsquic", s1, bytes));
          if (ctx.peers.ngtcp2) {
            const s2 = await series(srv, runs, () => ngtcp2Download(ctx, srv.port, path, bytes, limit));
            dl.push(seriesRow("download, HTTP/3", "ngtcp2", "tsquic", s2, bytes));
          }
        });
      } catch (e) {
        dl.push(missing("download, HTTP/3", "tsquic / ngtcp2", "tsquic", `failed: ${reason(e)}`));
      }
      if (ctx.peers.ngtcp2) {
        try {
          // ngtcp2 generates "/<n>" bodies itself; --max-dyn-length must allow the size.
          await withServer(startNgtcp2Server(ctx, workPath(ctx, "www-empty"), limit * 4, [`--max-udp-payload-size=${MAX_UDP}`, `--max-dyn-length=${bytes}`]), async (srv) => {
            const s = await series(srv, runs, async (x) => sample(await runClient("tsquic h3 client", tsquicH3Client({ mode: "download", port: x.port, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)));
            dl.push(seriesRow("download, HTTP/3", "tsquic", "ngtcp2", s, bytes));
          });
        } catch (e) {
          dl.push(missing("download, HTTP/3", "tsquic", "ngtcp2", `failed: ${reason(e)}`));
        }
      }
    }

    // Uploads, raw QUIC.
    const up: Row[] = [];
    let quicheRef: number | undefined;
    if (ctx.peers.quiche) {
      try {
        await withServer(startQuicheServer(ctx, limit * 8), async (srv) => {
          const q = await series(srv, runs, async (x) =>
            sample(await runClient("quiche client", nodePeer("quiche-lean", { mode: "upload", port: x.port, alpn: ALPN, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
          );
          quicheRef = median(q.gbps);
          up.push(seriesRow("upload, raw QUIC", "quiche", "quiche", q, bytes, true));
          const t = await series(srv, runs, async (x) =>
            sample(await runClient("tsquic client", nodePeer("tsquic-client", { mode: "upload", port: x.port, alpn: ALPN, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
          );
          up.push(seriesRow("upload, raw QUIC", "tsquic", "quiche", t, bytes));
        });
      } catch (e) {
        up.push(missing("upload, raw QUIC", "tsquic / quiche", "quiche", `failed: ${reason(e)}`));
      }
    } else {
      up.push(missing("upload, raw QUIC", "tsquic / quiche", "quiche", "not measured: @matrixai/quic is not installed (npm install)"));
    }
    try {
      await withServer(startTsquicServer(ctx, limit * 4), async (srv) => {
        const t = await series(srv, runs, async (x) =>
          sample(await runClient("tsquic client", nodePeer("tsquic-client", { mode: "upload", port: x.port, alpn: ALPN, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
        );
        up.push(seriesRow("upload, raw QUIC", "tsquic", "tsquic", t, bytes));
      });
    } catch (e) {
      up.push(missing("upload, raw QUIC", "tsquic", "tsquic", `failed: ${reason(e)}`));
    }
    if (ctx.peers.quiche) {
      try {
        await withServer(startQuicheWrapperServer(ctx, limit * 4), async (srv) => {
          const w = await series(srv, 1, async (x) =>
            sample(await runClient("@matrixai/quic client", nodePeer("quiche-wrapper", { mode: "upload", port: x.port, alpn: ALPN, bytes: wrapperBytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
          );
          up.push(seriesRow("upload, raw QUIC, @matrixai/quic API", "@matrixai/quic", "@matrixai/quic", w, wrapperBytes));
          const t = await series(srv, 1, async (x) =>
            sample(await runClient("tsquic client", nodePeer("tsquic-client", { mode: "upload", port: x.port, alpn: ALPN, bytes: wrapperBytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: limit }), limit)),
          );
          up.push(seriesRow("upload, raw QUIC, @matrixai/quic API", "tsquic", "@matrixai/quic", t, wrapperBytes));
        });
      } catch (e) {
        up.push(missing("upload, raw QUIC, @matrixai/quic API", "tsquic / @matrixai/quic", "@matrixai/quic", `failed: ${reason(e)}`));
      }
    }

    // Ratios: every row against ngtcp2↔ngtcp2; uploads also against quiche→quiche; tsquic rows against the AES-GCM ceiling.
    for (const row of [...dl, ...up]) {
      if (row.value === null || (row.reference && row.client === "ngtcp2")) continue;
      const ratios: Record<string, number> = {};
      if (reference) ratios["ngtcp2↔ngtcp2"] = row.value / reference;
      if (quicheRef && up.includes(row) && !(row.client === "quiche" && row.server === "quiche")) ratios["quiche→quiche"] = row.value / quicheRef;
      // The ceiling bounds tsquic's own work; rows limited by @matrixai/quic's wrapper say nothing about it.
      const wrapper = row.client === "@matrixai/quic" || row.server === "@matrixai/quic";
      if (ceiling && !wrapper && (row.client === "tsquic" || row.server === "tsquic")) ratios["AES-GCM ceiling"] = row.value / ceiling;
      row.ratios = ratios;
    }
    sections.push({ title: "Download, one connection", rows: dl });
    sections.push({ title: "Upload, one stream, raw QUIC", rows: up });
    sections.push({
      title: "Ceilings on one core",
      description: "What node:crypto allows at best: the AES-128-GCM seal of one packet through `createCipheriv` (a new cipher per packet, since the API binds the nonce at creation), and tsquic's whole packet protection (seal plus header protection) per packet. A JavaScript stack cannot send faster than these on one core.",
      rows: ceilingRows,
    });
    return { sections, notes };
  },
};
