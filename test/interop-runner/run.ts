/**
 * The interop runner: every case against every peer, then a table.
 *   node dist/test/interop-runner/run.js [case...] [--peer tsquic|ngtcp2-server|ngtcp2-client]
 * Exits 1 if any supported case failed.
 */
import { CASES, PEERS, runCase, type CaseResult, type Peer } from "./cases.js";

const args = process.argv.slice(2);
const peerArg = args.indexOf("--peer");
const peers: Peer[] = peerArg >= 0 ? [args[peerArg + 1] as Peer] : [...PEERS];
const names = args.filter((a, i) => !a.startsWith("--") && (peerArg < 0 || i !== peerArg + 1));
const cases = names.length ? CASES.filter((c) => names.includes(c.name)) : CASES;

const results = new Map<string, CaseResult>();
for (const c of cases) {
  for (const p of peers) {
    const t0 = Date.now();
    const r = await runCase(c.name, p);
    results.set(`${c.name}|${p}`, r);
    console.error(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${c.name} × ${p}: ${r.status}${r.detail ? `\n    ${r.detail.replace(/\n/g, "\n    ")}` : ""}`);
  }
}
const w = Math.max(...cases.map((c) => c.name.length), 4);
console.log(`\n${"case".padEnd(w)} | ${peers.map((p) => p.padEnd(13)).join(" | ")}`);
console.log(`${"-".repeat(w)}-|-${peers.map(() => "-".repeat(13)).join("-|-")}`);
for (const c of cases) console.log(`${c.name.padEnd(w)} | ${peers.map((p) => results.get(`${c.name}|${p}`)!.status.padEnd(13)).join(" | ")}`);
const failed = [...results.values()].filter((r) => r.status === "failed").length;
console.log(`\n${failed} failed, ${[...results.values()].filter((r) => r.status === "passed").length} passed, ${[...results.values()].filter((r) => r.status === "unsupported").length} unsupported`);
process.exit(failed ? 1 : 0);
