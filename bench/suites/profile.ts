// "Where the time goes": one tsquic raw-QUIC download with both processes
// under `node --cpu-prof`, summarised as the top functions by self time
// (mapped back to src/*.ts through the source maps).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { summarizeProfile } from "../lib/cpuprofile.js";
import { ROOT } from "../lib/env.js";
import type { ProfileSide, Row } from "../lib/report.js";
import { ALPN, MAX_UDP, nodePeer, reason, runClient, startTsquicServer, workPath, type Benchmark } from "../lib/context.js";

export const profile: Benchmark = {
  name: "profile",
  title: "Where the time goes",
  description:
    "One tsquic raw-QUIC download (tsquic client ← tsquic server, one stream) with both processes under `node --cpu-prof`, then a tsquic server under the profiler while a tsquic client opens connections back to back (benchmark 3's raw-QUIC handshake run). Self time per function, idle excluded, as a share of each process's busy samples; locations are TypeScript lines through the source maps. Profiling slows the run; the goodput figure here is not comparable with the table above. `(garbage collector)`, `(program)` and native entries such as `writeGeneric` or `send` are V8 and libuv time.",
  async run(ctx) {
    const bytes = ctx.quick ? 20_000_000 : 100_000_000;
    const dir = workPath(ctx, "profiles");
    mkdirSync(dir, { recursive: true });
    const args = (name: string): string[] => ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
    const server = await startTsquicServer(ctx, 300_000, {}, args("server"));
    let result: Record<string, unknown>;
    try {
      result = await runClient(
        "tsquic client (profiled)",
        nodePeer("tsquic-client", { mode: "download", port: server.port, alpn: ALPN, bytes, maxUdpPayloadSize: MAX_UDP, timeoutMs: 120_000 }, args("client")),
        130_000,
      );
    } finally {
      // The profile is written when the process exits on its own; closing stdin asks it to.
      await server.proc.finish(10_000);
    }
    const sides: ProfileSide[] = [];
    const notes: string[] = [];
    for (const [file, side] of [
      ["server.cpuprofile", "Server (sending side)"],
      ["client.cpuprofile", "Client (receiving side)"],
    ] as const) {
      const path = join(dir, file);
      if (existsSync(path)) sides.push(summarizeProfile(path, side, ROOT, 20));
      else notes.push(`${side}: no profile was written.`);
    }
    // The handshake path too: the server under the profiler while a tsquic client opens connections back to back.
    const hsServer = await startTsquicServer(ctx, 300_000, {}, args("handshake-server"));
    let hs: Record<string, unknown> | undefined;
    try {
      const durationMs = ctx.quick ? 1500 : 4000;
      hs = await runClient("tsquic handshake client", nodePeer("tsquic-client", { mode: "handshakes", port: hsServer.port, alpn: ALPN, durationMs, concurrency: 8, timeoutMs: durationMs + 50_000 }), durationMs + 60_000);
    } catch (e) {
      notes.push(`handshake profile: the client failed: ${reason(e)}`);
    } finally {
      await hsServer.proc.finish(10_000);
    }
    const hsPath = join(dir, "handshake-server.cpuprofile");
    if (existsSync(hsPath)) sides.push(summarizeProfile(hsPath, "Server during handshakes (tsquic client, 8 in flight)", ROOT, 20));
    else notes.push("Server during handshakes: no profile was written.");
    const row: Row = {
      measurement: `${bytes / 1_000_000} MB download, raw QUIC, profiled`,
      client: "tsquic",
      server: "tsquic",
      value: Number(result.gbps),
      unit: "Gbit/s",
      detail: `${Number(result.seconds).toFixed(2)} s under the profiler`,
    };
    const rows: Row[] = [row];
    if (hs) {
      rows.push({
        measurement: "handshakes, raw QUIC, profiled",
        client: "tsquic",
        server: "tsquic",
        value: Number(hs.perSecond),
        unit: "handshakes/s",
        detail: `${Number(hs.completed)} in ${Number(hs.seconds).toFixed(2)} s under the profiler`,
      });
    }
    return { sections: [{ title: "The profiled runs", rows }], notes, profile: sides };
  },
};
