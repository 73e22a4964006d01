// Where things are and what they are: repository paths, the peers'
// binaries, machine and version information recorded with every result,
// and the temporary working directory (certificates, served files).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, freemem, loadavg, release, tmpdir, totalmem, type as osType } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeDevelopmentCertificates } from "../../src/pki/generate.js";

/** Repository root (this file runs from dist/bench/lib/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** Node running the orchestrator; every Node child uses the same binary. */
export const NODE = process.execPath;
/** Bun from the dev dependencies. */
export const BUN = join(ROOT, "node_modules/.bin/bun");
/** ngtcp2's example HTTP/3 server and client (Debian packages ngtcp2-server, ngtcp2-client). */
export const NGTCP2_SERVER = "/usr/sbin/gtlsserver";
export const NGTCP2_CLIENT = "/usr/bin/gtlsclient";
/** Where results are written. */
export const RESULTS_DIR = join(ROOT, "bench/results");
/** The generated summary. */
export const DOCS_FILE = join(ROOT, "docs/benchmarks.md");

/** Path of a compiled peer script under dist/bench/peers. */
export function peerScript(name: string): string {
  return join(ROOT, "dist/bench/peers", `${name}.js`);
}

/** The machine and the software under test, recorded with every result. */
export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  freeMemoryBytes: number;
  /** 1-, 5- and 15-minute load averages when the benchmark started: other work on the machine skews figures. */
  loadAverage: number[];
  os: string;
  node: string;
  bun: string | null;
  ngtcp2: string | null;
  gnutls: string | null;
  matrixaiQuic: string | null;
  tsquic: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
}

function tryRun(cmd: string, args: string[]): string | null {
  try {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
    return r.status === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

function packageVersion(dir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Collects machine and version information. */
export function machineInfo(): MachineInfo {
  const dirty = tryRun("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"]);
  return {
    date: new Date().toISOString(),
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    os: `${osType()} ${release()}`,
    node: process.version,
    bun: existsSync(BUN) ? tryRun(BUN, ["--version"]) : null,
    ngtcp2: tryRun("dpkg-query", ["-W", "-f", "${Version}", "ngtcp2-server"]),
    gnutls: tryRun("dpkg-query", ["-W", "-f", "${Version}", "libgnutls30"]),
    matrixaiQuic: packageVersion(join(ROOT, "node_modules/@matrixai/quic")),
    tsquic: packageVersion(ROOT) ?? "unknown",
    gitCommit: tryRun("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    gitDirty: dirty === null ? null : dirty.length > 0,
  };
}

/** Which peers are installed; a benchmark row whose peer is missing is reported as not measured. */
export interface Peers {
  ngtcp2: boolean;
  bun: boolean;
  quiche: boolean;
}

/** Checks for the peers' binaries and packages. */
export function detectPeers(): Peers {
  return {
    ngtcp2: existsSync(NGTCP2_SERVER) && existsSync(NGTCP2_CLIENT),
    bun: existsSync(BUN),
    quiche: existsSync(join(ROOT, "node_modules/@matrixai/quic/package.json")),
  };
}

/** A temporary directory for one run, with development certificates. */
export interface WorkDir {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  remove(): void;
}

/** Creates the run's working directory (removed by `remove()` at the end of the run). */
export async function makeWorkDir(): Promise<WorkDir> {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-bench-"));
  const p = await writeDevelopmentCertificates(join(dir, "certs"));
  return {
    dir,
    ca: p.caPath,
    cert: p.certPath,
    key: p.keyPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** ngtcp2's help text lists its options; checked so a renamed flag fails loudly rather than silently. */
export function ngtcp2HasOption(binary: string, option: string): boolean {
  const r = spawnSync(binary, ["--help"], { encoding: "utf8", timeout: 10_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.includes(option);
}

/** GNU time, to read a native client's CPU seconds (absent: CPU is not reported). */
export const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
