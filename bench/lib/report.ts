// Results: the JSON written per benchmark, the console summary, and the
// regeneration of docs/benchmarks.md (which keeps its hand-written
// "What changed" log across regenerations).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { MachineInfo } from "./env.js";

/** One measured figure and what it is compared with. */
export interface Row {
  /** What was measured, e.g. "200 MB download, raw QUIC". */
  measurement: string;
  client: string;
  server: string;
  /** The figure, or null when not measured (see `note`). */
  value: number | null;
  unit: string;
  /** Ratios to references, keyed by the reference's name: value / reference. */
  ratios?: Record<string, number>;
  /** The raw figures behind the value, in words (runs, times, CPU). */
  detail?: string;
  /** Raw figures, machine-readable. */
  raw?: unknown;
  /** Why the row has no value, or a caveat. */
  note?: string;
  /** A reference row: the thing others are compared with. */
  reference?: boolean;
}

/** A table of rows. */
export interface Section {
  title: string;
  description?: string;
  rows: Row[];
}

/** Profile entries of one process. */
export interface ProfileSide {
  side: string;
  /** Sampled ms, idle excluded. */
  busyMs: number;
  idleMs: number;
  entries: Array<{ function: string; location: string; selfMs: number; percent: number }>;
  /** Self time summed by source file. */
  files: Array<{ file: string; selfMs: number; percent: number }>;
}

/** Everything one benchmark produced. */
export interface BenchResult {
  benchmark: string;
  /** Heading, e.g. "1. Bulk goodput". */
  title: string;
  mode: "full" | "quick";
  machine: MachineInfo;
  durationSeconds: number;
  description: string;
  sections: Section[];
  notes: string[];
  profile?: ProfileSide[];
}

/** Formats a figure in its unit's customary precision. */
export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return "—";
  switch (unit) {
    case "Gbit/s":
      return `${value.toFixed(3)} Gbit/s`;
    case "ms":
      return `${value.toFixed(2)} ms`;
    case "bytes/connection":
      return `${(value / 1024).toFixed(1)} KiB/conn`;
    default:
      return `${Math.round(value).toLocaleString("en-US")} ${unit}`;
  }
}

function formatRatios(r: Row): string {
  if (!r.ratios) return r.reference ? "reference" : "";
  const parts = Object.entries(r.ratios).map(([k, v]) => `${v.toFixed(2)}× ${k}`);
  if (r.reference) parts.unshift("reference");
  return parts.join("; ");
}

/** Prints a result to the console. */
export function printResult(r: BenchResult): void {
  console.log(`\n== ${r.title} (${r.mode}, ${r.durationSeconds.toFixed(0)} s)`);
  for (const s of r.sections) {
    console.log(`-- ${s.title}`);
    for (const row of s.rows) {
      const who = `${row.client} → ${row.server}`;
      console.log(
        `  ${row.measurement.padEnd(34)} ${who.padEnd(34)} ${formatValue(row.value, row.unit).padStart(20)}  ${formatRatios(row)}${row.note ? `  [${row.note}]` : ""}`,
      );
      if (row.detail) console.log(`  ${"".padEnd(34)} ${"".padEnd(34)} ${row.detail}`);
    }
  }
  for (const n of r.notes) console.log(`  note: ${n}`);
  if (r.profile) {
    for (const side of r.profile) {
      console.log(`-- profile: ${side.side} (${side.busyMs.toFixed(0)} ms busy, ${side.idleMs.toFixed(0)} ms idle)`);
      for (const e of side.entries.slice(0, 12)) console.log(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.function}  ${e.location}`);
    }
  }
}

/** Writes a result as JSON (creating the folder). */
export function writeResult(path: string, r: BenchResult): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(r, null, 2) + "\n");
}

/** Reads every full-mode result in `dir`, in benchmark order. */
export function readResults(dir: string, order: string[]): BenchResult[] {
  if (!existsSync(dir)) return [];
  const out: BenchResult[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".json")) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as BenchResult;
      if (r.benchmark && r.mode === "full") out.push(r);
    } catch {
      // A broken file is skipped; the next run rewrites it.
    }
  }
  const rank = (b: string): number => (order.includes(b) ? order.indexOf(b) : order.length);
  return out.sort((a, b) => rank(a.benchmark) - rank(b.benchmark));
}

const LOG_HEADING = "## What changed";

const DEFAULT_LOG = `${LOG_HEADING}

Newest first. One entry per change that moved a figure: the date, the commit, what changed and what it bought (with the before and after figures from the tables above). Append here by hand; \`npm run bench\` keeps this section as it is.

- ${new Date().toISOString().slice(0, 10)}: benchmark harness (\`npm run bench\`) added; the tables above are the baseline.
`;

function esc(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GiB`;
}

/** Regenerates the markdown summary from the results, keeping the existing "What changed" section. */
export function renderDocs(results: BenchResult[], previous: string | undefined): string {
  const lines: string[] = [];
  lines.push("# Benchmarks");
  lines.push("");
  lines.push(
    "Generated by `npm run bench` (bench/run.ts) from `bench/results/*.json`; only the last section is edited by hand. Every figure is measured beside its peers in the same run on the same machine, client and server in separate processes on loopback (127.0.0.1). Absolute figures drift on shared machines; the ratios are what to compare.",
  );
  lines.push("");
  lines.push("```sh");
  lines.push("npm run bench                       # everything (5 to 10 minutes on the 2-core machine), then this file is regenerated");
  lines.push("npm run bench -- goodput ttfb       # a subset: goodput, rps, handshakes, memory, ttfb, profile");
  lines.push("npm run bench -- --quick            # smaller sizes, about 1 minute; writes bench/results/quick/ and leaves this file alone");
  lines.push("```");
  lines.push("");
  if (results.length === 0) {
    lines.push("No results yet: run `npm run bench`.");
    lines.push("");
  } else {
    const newest = [...results].sort((a, b) => b.machine.date.localeCompare(a.machine.date))[0]!;
    const m = newest.machine;
    lines.push("## Machine and versions");
    lines.push("");
    lines.push("| | |");
    lines.push("| --- | --- |");
    lines.push(`| CPU | ${esc(m.cpuModel)}, ${m.cores} cores |`);
    lines.push(`| memory | ${mib(m.memoryBytes)} |`);
    lines.push(`| OS | ${esc(m.os)} |`);
    lines.push(`| Node.js | ${m.node} |`);
    lines.push(`| Bun (node:quic on lsquic) | ${m.bun ?? "not installed"} |`);
    lines.push(`| ngtcp2 (gtlsserver / gtlsclient, GnuTLS ${m.gnutls ?? "?"}) | ${m.ngtcp2 ?? "not installed"} |`);
    lines.push(`| @matrixai/quic (quiche) | ${m.matrixaiQuic ?? "not installed"} |`);
    lines.push(`| tsquic | ${m.tsquic}, commit ${m.gitCommit ?? "?"}${m.gitDirty ? " with uncommitted changes" : ""} |`);
    lines.push("");
    lines.push("| benchmark | run at | load average at start | duration |");
    lines.push("| --- | --- | --- | --- |");
    for (const r of results) {
      const differs = r.machine.cpuModel !== m.cpuModel || r.machine.cores !== m.cores ? ` (on ${esc(r.machine.cpuModel)}, ${r.machine.cores} cores)` : "";
      const load = r.machine.loadAverage ? r.machine.loadAverage.map((x) => x.toFixed(2)).join(" ") : "?";
      lines.push(`| ${esc(r.title)} | ${r.machine.date.replace("T", " ").slice(0, 19)} UTC, commit ${r.machine.gitCommit ?? "?"}${r.machine.gitDirty ? "+" : ""}${differs} | ${load} | ${r.durationSeconds.toFixed(0)} s |`);
    }
    lines.push("");
    lines.push("A commit followed by + had uncommitted changes. A load average near or above the core count means other work shared the machine during the run.");
    lines.push("");
    for (const r of results) {
      lines.push(`## ${r.title}`);
      lines.push("");
      lines.push(r.description);
      lines.push("");
      for (const s of r.sections) {
        lines.push(`### ${s.title}`);
        lines.push("");
        if (s.description) {
          lines.push(s.description);
          lines.push("");
        }
        lines.push("| measurement | client → server | result | ratio | raw figures |");
        lines.push("| --- | --- | --- | --- | --- |");
        for (const row of s.rows) {
          const raw = [row.detail, row.note].filter(Boolean).join("; ");
          lines.push(
            `| ${esc(row.measurement)} | ${esc(row.client)} → ${esc(row.server)} | ${row.reference ? "**" : ""}${formatValue(row.value, row.unit)}${row.reference ? "**" : ""} | ${esc(formatRatios(row))} | ${esc(raw)} |`,
          );
        }
        lines.push("");
      }
      for (const n of r.notes) lines.push(`- ${n}`);
      if (r.notes.length) lines.push("");
      if (r.profile) {
        for (const side of r.profile) {
          lines.push(`#### ${side.side}`);
          lines.push("");
          lines.push(`${side.busyMs.toFixed(0)} ms of samples on the CPU (${side.idleMs.toFixed(0)} ms idle, excluded). Self time by function:`);
          lines.push("");
          lines.push("| self time | function | where (for Node and V8 internals: the tsquic frame that called them) |");
          lines.push("| --- | --- | --- |");
          for (const e of side.entries) lines.push(`| ${e.percent.toFixed(1)} % | \`${esc(e.function)}\` | ${esc(e.location)} |`);
          lines.push("");
          lines.push("By file: " + side.files.slice(0, 10).map((f) => `${f.file} ${f.percent.toFixed(1)} %`).join(", ") + ".");
          lines.push("");
        }
      }
    }
  }
  const i = previous?.indexOf(LOG_HEADING) ?? -1;
  lines.push(i >= 0 ? previous!.slice(i).trimEnd() + "\n" : DEFAULT_LOG);
  return lines.join("\n");
}
