// Benchmark 4: memory per idle established connection in one tsquic
// server process, with 1,000 and 10,000 connections.
import type { Row } from "../lib/report.js";
import { ALPN, nodePeer, reason, startTsquicServer, type Benchmark, type Context } from "../lib/context.js";
import { startProc, type Proc } from "../lib/proc.js";

/** Connections per client process, and per UDP socket inside it. */
const PER_PROCESS = 5000;
const PER_SOCKET = 1000;
const TARGET_BYTES = 32 * 1024;

interface Usage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

async function measureServer(server: Proc): Promise<{ memory: Usage; connections: number }> {
  server.send("measure");
  const m = await server.message((x) => "memory" in x, 30_000);
  return { memory: m.memory as Usage, connections: Number(m.connections) };
}

/** One round: a fresh server, a baseline, `count` idle connections, a second reading. */
async function round(ctx: Context, count: number, budgetMs: number): Promise<Row[]> {
  const measurement = `${count.toLocaleString("en-US")} idle connections`;
  const started = performance.now();
  const server = await startTsquicServer(ctx, budgetMs + 60_000, { memory: true, idleTimeout: 0, maxConnections: count * 2 }, ["--expose-gc"]);
  const clients: Proc[] = [];
  try {
    await new Promise((r) => setTimeout(r, 500));
    const before = await measureServer(server.proc);
    const processes = Math.ceil(count / PER_PROCESS);
    for (let i = 0; i < processes; i++) {
      const n = Math.min(PER_PROCESS, count - i * PER_PROCESS);
      clients.push(
        startProc({
          name: `tsquic connection client ${i + 1}`,
          ...nodePeer("tsquic-client", { mode: "connections", port: server.port, alpn: ALPN, count: n, perSocket: PER_SOCKET }),
          timeoutMs: budgetMs + 30_000,
        }),
      );
    }
    let established = 0;
    let failed = 0;
    const problems: string[] = [];
    const reports = await Promise.allSettled(clients.map((c) => c.message((x) => "established" in x, budgetMs)));
    for (const r of reports) {
      if (r.status === "fulfilled") {
        established += Number(r.value.established);
        failed += Number(r.value.failed);
      } else {
        problems.push(reason(r.reason));
      }
    }
    const elapsed = (performance.now() - started) / 1000;
    const after = await measureServer(server.proc);
    const n = after.connections;
    const note =
      established < count
        ? `only ${established} of ${count} connections established within the ${Math.round(budgetMs / 1000)} s budget${failed ? `, ${failed} closed early` : ""}${problems.length ? `: ${problems[0]}` : ""}`
        : undefined;
    if (n === 0) return [{ measurement, client: "tsquic", server: "tsquic", value: null, unit: "bytes/connection", note: note ?? "no connection was established" }];
    const d = (k: keyof Usage): number => (after.memory[k] - before.memory[k]) / n;
    const detail = `clients saw ${established} established, the server holds ${n}; RSS ${(before.memory.rss / 2 ** 20).toFixed(1)} → ${(after.memory.rss / 2 ** 20).toFixed(1)} MiB, heap used ${(before.memory.heapUsed / 2 ** 20).toFixed(1)} → ${(after.memory.heapUsed / 2 ** 20).toFixed(1)} MiB, external+arrayBuffers ${((d("external") + d("arrayBuffers")) / 1024).toFixed(1)} KiB/conn; set up in ${elapsed.toFixed(0)} s`;
    const raw = { count, established, failed, serverConnections: n, before: before.memory, after: after.memory, setupSeconds: elapsed };
    return [
      { measurement: `${measurement}: resident (RSS)`, client: "tsquic", server: "tsquic", value: d("rss"), unit: "bytes/connection", ratios: { "32 KiB target": d("rss") / TARGET_BYTES }, detail, raw, ...(note ? { note } : {}) },
      { measurement: `${measurement}: JS heap used`, client: "tsquic", server: "tsquic", value: d("heapUsed"), unit: "bytes/connection", ratios: { "32 KiB target": d("heapUsed") / TARGET_BYTES }, ...(note ? { note } : {}) },
    ];
  } finally {
    for (const c of clients) c.send("close");
    await Promise.all(clients.map((c) => Promise.race([c.exited, new Promise((r) => setTimeout(r, 3000))])));
    await Promise.all(clients.map((c) => c.stop()));
    await server.proc.stop();
  }
}

export const memory: Benchmark = {
  name: "memory",
  title: "4. Memory per idle connection",
  description: `One tsquic raw-QUIC server process (started with --expose-gc, idle timeout disabled) reports \`process.memoryUsage()\` after two full GCs, before and after clients open idle connections to it; the increase divided by the connections it holds is the cost of one. Clients are tsquic endpoints in separate processes, ${PER_SOCKET} connections per UDP socket, opened in waves of 100. A fresh server per round. The target is at most 32 KiB per idle connection.`,
  async run(ctx) {
    const notes: string[] = [];
    const rows: Row[] = [];
    const rounds = ctx.quick ? [1000] : [1000, 10_000];
    if (ctx.quick) notes.push("Quick mode: the 10,000-connection round is skipped.");
    for (const count of rounds) {
      // Setup time grows with the count: handshakes run at some hundreds per second on this machine.
      const budgetMs = count <= 1000 ? 60_000 : 240_000;
      try {
        rows.push(...(await round(ctx, count, budgetMs)));
      } catch (e) {
        rows.push({ measurement: `${count.toLocaleString("en-US")} idle connections`, client: "tsquic", server: "tsquic", value: null, unit: "bytes/connection", note: `failed: ${reason(e)}` });
      }
    }
    return { sections: [{ title: "tsquic server, raw QUIC", rows }], notes };
  },
};
