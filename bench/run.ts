// `npm run bench`: runs the benchmarks of issue 6, each beside its peers in
// one run, prints ratios with the raw figures, writes
// bench/results/<benchmark>.json and regenerates docs/benchmarks.md.
//
//   node dist/bench/run.js [--quick] [--no-docs] [goodput] [rps] [handshakes] [memory] [ttfb] [profile]
//
// --quick uses smaller sizes and shorter runs (about 1 minute), writes
// bench/results/quick/ and leaves docs/benchmarks.md alone; a full run
// takes 5 to 10 minutes on the 2-core machine (the limit is 15). Every process a benchmark starts is stopped when
// it ends, and all of them when this process exits or is interrupted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { detectPeers, DOCS_FILE, machineInfo, makeWorkDir, peerScript, RESULTS_DIR } from "./lib/env.js";
import { stopAll } from "./lib/proc.js";
import { printResult, readResults, renderDocs, writeResult, type BenchResult } from "./lib/report.js";
import type { Benchmark, Context } from "./lib/context.js";
import { goodput } from "./suites/goodput.js";
import { detectH3 } from "./suites/h3.js";
import { handshakes } from "./suites/handshakes.js";
import { memory } from "./suites/memory.js";
import { profile } from "./suites/profile.js";
import { rps } from "./suites/rps.js";
import { ttfb } from "./suites/ttfb.js";

const ALL: Benchmark[] = [goodput, rps, handshakes, memory, ttfb, profile];
const ORDER = ALL.map((b) => b.name);

function usage(): never {
  console.error(`usage: npm run bench -- [--quick] [--no-docs] [${ORDER.join("] [")}]`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const noDocs = args.includes("--no-docs");
  const names = args.filter((a) => !a.startsWith("--"));
  if (args.some((a) => a.startsWith("--") && a !== "--quick" && a !== "--no-docs")) usage();
  for (const n of names) if (!ORDER.includes(n)) usage();
  const selected = names.length ? ALL.filter((b) => names.includes(b.name)) : ALL;

  if (!existsSync(peerScript("tsquic-server"))) {
    console.error("dist/bench is missing: build first (npm run build), or use npm run bench");
    process.exit(1);
  }
  const started = performance.now();
  const work = await makeWorkDir();
  // Also on Ctrl-C (lib/proc.ts exits from its signal handlers): the directory may hold a 200 MB file.
  process.on("exit", () => work.remove());
  const peers = detectPeers();
  const log = (m: string): void => console.log(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}`);
  const ctx: Context = { quick, work, peers, h3: { available: false, reason: "not checked" }, log };
  let failures = 0;
  try {
    const machine = machineInfo();
    log(`${machine.cpuModel}, ${machine.cores} cores; Node ${machine.node}, Bun ${machine.bun ?? "missing"}, ngtcp2 ${machine.ngtcp2 ?? "missing"}, @matrixai/quic ${machine.matrixaiQuic ?? "missing"}; ${quick ? "quick" : "full"} mode`);
    if (machine.loadAverage[0]! >= machine.cores) {
      log(`warning: load average ${machine.loadAverage.join(" ")} on ${machine.cores} cores: other work shares the machine and will depress the figures (the load is recorded with each result)`);
    }
    ctx.h3 = await detectH3(ctx);
    log(ctx.h3.available ? "tsquic HTTP/3: available" : `tsquic HTTP/3: not available (${ctx.h3.reason})`);
    const outDir = quick ? join(RESULTS_DIR, "quick") : RESULTS_DIR;
    for (const b of selected) {
      log(`${b.title} ...`);
      const t0 = performance.now();
      let result: BenchResult;
      try {
        const out = await b.run(ctx);
        result = { benchmark: b.name, title: b.title, mode: quick ? "quick" : "full", machine: machineInfo(), durationSeconds: (performance.now() - t0) / 1000, description: b.description, ...out };
      } catch (e) {
        failures++;
        console.error(`${b.name} failed:`, e);
        await stopAll();
        continue;
      }
      // Whatever a benchmark left running (it should have stopped everything) goes now.
      await stopAll();
      printResult(result);
      writeResult(join(outDir, `${b.name}.json`), result);
      log(`${b.title}: ${result.durationSeconds.toFixed(0)} s, written to ${join(outDir, `${b.name}.json`)}`);
    }
    if (!quick && !noDocs) {
      const previous = existsSync(DOCS_FILE) ? readFileSync(DOCS_FILE, "utf8") : undefined;
      mkdirSync(dirname(DOCS_FILE), { recursive: true });
      writeFileSync(DOCS_FILE, renderDocs(readResults(RESULTS_DIR, ORDER), previous));
      log(`regenerated ${DOCS_FILE}`);
    }
  } finally {
    await stopAll();
    work.remove();
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s${failures ? `, ${failures} benchmark(s) failed` : ""}`);
  process.exit(failures ? 1 : 0);
}

main().catch(async (e) => {
  console.error(e);
  await stopAll();
  process.exit(1);
});
