/**
 * File-transfer harness for interop tests: a directory of random files with
 * known SHA-256, the peers that serve or fetch them (ngtcp2's gtlsserver
 * and gtlsclient, the Bun node:quic scripts beside this file), and a
 * comparison of what arrived. Every server binds 127.0.0.1; every process
 * started here has a `stop()` (or ends by itself within its timeout), and
 * a missing peer binary is an error that says how to install it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NGTCP2_CLIENT, NGTCP2_SERVER, freeUdpPort, requirePeer } from "./peers.js";

/** The repository root: the nearest parent directory of this module whose package.json is tsquic's (works from test/ and from dist/test/). */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "tsquic") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("harness-files: cannot find the tsquic repository root above " + fileURLToPath(import.meta.url));
    dir = up;
  }
})();

/** Bun, a dev dependency (its node:quic runs on lsquic). */
export const BUN = join(REPO_ROOT, "node_modules", ".bin", "bun");
/** The Bun HTTP/3 file server script. */
export const BUN_QUIC_SERVER = join(REPO_ROOT, "test", "interop", "bun-quic-server.mjs");
/** The Bun HTTP/3 download client script. */
export const BUN_QUIC_CLIENT = join(REPO_ROOT, "test", "interop", "bun-quic-client.mjs");

// ------------------------------------------------------------------ files

/** One file of a {@link FileSet}. */
export interface TestFile {
  /** File name (also the URL path without its leading "/"). */
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the content, hex. */
  readonly sha256: string;
  /** Absolute path. */
  readonly path: string;
}

/** A temporary directory of random files. */
export interface FileSet {
  readonly dir: string;
  readonly files: readonly TestFile[];
  /** The file called `name`; throws for an unknown name. */
  get(name: string): TestFile;
  /** URL paths ("/name") of all files, or of the named ones. */
  paths(names?: readonly string[]): string[];
  /** Removes the directory. */
  remove(): void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const CHUNK = 1 << 20;

/**
 * Creates a temporary directory holding one file of random bytes per entry
 * of `sizes` (name → bytes), hashing as it writes. Names are plain file
 * names, since gtlsclient and the Bun client name downloads after the last
 * path segment.
 */
export function createFileSet(sizes: Readonly<Record<string, number>>, parent: string = tmpdir()): FileSet {
  const dir = mkdtempSync(join(parent, "tsquic-files-"));
  const files: TestFile[] = [];
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const [name, size] of Object.entries(sizes)) {
    if (!NAME.test(name)) throw new Error(`createFileSet: "${name}" is not a plain file name`);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`createFileSet: bad size ${size} for ${name}`);
    const path = join(dir, name);
    const hash = createHash("sha256");
    const fd = openSync(path, "w");
    try {
      for (let left = size; left > 0; ) {
        const n = Math.min(left, CHUNK);
        randomFillSync(buf, 0, n);
        hash.update(buf.subarray(0, n));
        for (let o = 0; o < n; ) o += writeSync(fd, buf, o, n - o);
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    files.push({ name, size, sha256: hash.digest("hex"), path });
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  return {
    dir,
    files,
    get(name) {
      const f = byName.get(name);
      if (!f) throw new Error(`no file "${name}" in ${dir}`);
      return f;
    },
    paths(names) {
      return (names ?? files.map((f) => f.name)).map((n) => "/" + n);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SHA-256 of a file, hex, read in chunks. */
export function sha256OfFile(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (let n = readSync(fd, buf, 0, CHUNK, null); n > 0; n = readSync(fd, buf, 0, CHUNK, null)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * Compares `outDir/<name>` with the set's originals (all files, or the
 * named ones) and returns one line per problem: missing, wrong size, wrong
 * SHA-256. An empty list means every file arrived intact.
 */
export function compareDownloads(set: FileSet, outDir: string, names?: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of names ?? set.files.map((f) => f.name)) {
    const want = set.get(name);
    const got = join(outDir, name);
    if (!existsSync(got)) {
      problems.push(`${name}: missing in ${outDir}`);
      continue;
    }
    const size = statSync(got).size;
    if (size !== want.size) {
      problems.push(`${name}: ${size} bytes, expected ${want.size}`);
      continue;
    }
    const sha = sha256OfFile(got);
    if (sha !== want.sha256) problems.push(`${name}: SHA-256 ${sha}, expected ${want.sha256}`);
  }
  return problems;
}

/** Throws, with the problems and `context` (typically the peer's output), unless {@link compareDownloads} finds none. */
export function assertDownloads(set: FileSet, outDir: string, names?: readonly string[], context = ""): void {
  const problems = compareDownloads(set, outDir, names);
  if (problems.length > 0) throw new Error(`downloads differ from the originals:\n  ${problems.join("\n  ")}${context ? `\n--- peer output ---\n${tail(context)}` : ""}`);
}

/** A fresh empty directory for downloads. */
export function tempOutputDir(): string {
  return mkdtempSync(join(tmpdir(), "tsquic-out-"));
}

/** The last `max` characters of a log, for error messages. */
export function tail(text: string, max = 3000): string {
  return text.length <= max ? text : "..." + text.slice(-max);
}

// -------------------------------------------------------------- processes

/** A child process with its stdout kept apart (some peers report on it) and everything also collected in order. */
export interface HarnessProcess {
  readonly child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /** stdout and stderr so far, interleaved as received. */
  output(): string;
  /** Resolves with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Starts a process (stdin closed), collecting its output. */
export function spawnProcess(cmd: string, args: readonly string[], cwd?: string): HarnessProcess {
  const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let all = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    all += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => (all += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on("error", (e) => {
      all += `\n[spawn error] ${e.message}\n`;
      resolve(null);
    });
    child.on("close", (code) => resolve(code));
  });
  return {
    child,
    stdout: () => out,
    output: () => all,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 2000);
        await exited;
        clearTimeout(killer);
      }
      await exited;
    },
  };
}

/** What a finished client run produced. */
export interface ClientRun {
  /** Exit code; null when killed (see `timedOut`). */
  code: number | null;
  /** True when the harness killed it after its timeout. */
  timedOut: boolean;
  stdout: string;
  /** stdout and stderr interleaved. */
  output: string;
}

async function runToEnd(cmd: string, args: readonly string[], timeoutMs: number, cwd?: string): Promise<ClientRun> {
  const p = spawnProcess(cmd, args, cwd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop();
  }, timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, timedOut, stdout: p.stdout(), output: p.output() };
}

/** Resolves once `predicate(output)` holds; rejects if the process exits first or after `ms`. */
async function waitForOutput(p: HarnessProcess, predicate: (p: HarnessProcess) => boolean, ms: number, what: string): Promise<void> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  const start = Date.now();
  while (!predicate(p)) {
    if (exited) throw new Error(`${what}: the process exited first (code ${p.child.exitCode}):\n${tail(p.output())}`);
    if (Date.now() - start > ms) throw new Error(`${what}: not ready after ${ms} ms:\n${tail(p.output())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A running file server peer. */
export interface FileServerPeer {
  /** Its UDP port on 127.0.0.1. */
  readonly port: number;
  readonly process: HarnessProcess;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- ngtcp2

/** TLS and loss knobs both ngtcp2 binaries take (GnuTLS priority syntax for ciphers and groups). */
export interface Ngtcp2Knobs {
  /** e.g. "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305". */
  ciphers?: string;
  /** e.g. "-GROUP-ALL:+GROUP-SECP256R1". */
  groups?: string;
  /** Share of outgoing packets the peer drops (0..1). */
  txLoss?: number;
  /** Share of incoming packets the peer drops (0..1). */
  rxLoss?: number;
  /** Any further options, placed before the positional arguments. */
  args?: readonly string[];
  /** Keep the peer's debug output (default: -q, quiet). */
  verbose?: boolean;
}

function ngtcp2Args(k: Ngtcp2Knobs): string[] {
  return [
    ...(k.verbose ? [] : ["-q"]),
    ...(k.ciphers ? [`--ciphers=${k.ciphers}`] : []),
    ...(k.groups ? [`--groups=${k.groups}`] : []),
    ...(k.txLoss !== undefined ? [`--tx-loss=${k.txLoss}`] : []),
    ...(k.rxLoss !== undefined ? [`--rx-loss=${k.rxLoss}`] : []),
    ...(k.args ?? []),
  ];
}

/** Options of {@link startNgtcp2Server}. */
export interface Ngtcp2ServerOptions extends Ngtcp2Knobs {
  /** Directory served (a FileSet's `dir`). */
  root: string;
  /** Certificate and key files (PEM). */
  cert: string;
  key: string;
}

/**
 * Starts gtlsserver (HTTP/3, ALPN h3) on 127.0.0.1 serving `root`, on a
 * free port; resolves once it has announced its document root. A port
 * taken between the probe and the bind is retried.
 */
export async function startNgtcp2Server(options: Ngtcp2ServerOptions): Promise<FileServerPeer> {
  const bin = requirePeer(NGTCP2_SERVER);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpPort();
    const p = spawnProcess(bin, [...ngtcp2Args(options), "-d", options.root, "127.0.0.1", String(port), options.key, options.cert]);
    try {
      await waitForOutput(p, (q) => q.output().includes("Using document root"), 5000, "gtlsserver");
      // gtlsserver prints that line before binding: give a failed bind a moment to show as an exit.
      await new Promise((r) => setTimeout(r, 50));
      if (p.child.exitCode !== null) throw new Error(`gtlsserver exited with ${p.child.exitCode}:\n${tail(p.output())}`);
      return { port, process: p, output: p.output, stop: p.stop };
    } catch (e) {
      lastError = e;
      await p.stop();
    }
  }
  throw lastError;
}

/** Options of {@link runNgtcp2Client}. */
export interface Ngtcp2ClientOptions extends Ngtcp2Knobs {
  port: number;
  /** Address to connect to. Default 127.0.0.1. */
  host?: string;
  /** Authority in the URLs (and so SNI). Default "localhost". */
  authority?: string;
  /** URL paths ("/name"); each is one request on the same connection. */
  paths: readonly string[];
  /** Existing directory for the bodies (gtlsclient --download). */
  outDir: string;
  /** Kill the client after this many ms. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Runs gtlsclient with --exit-on-all-streams-close, fetching `paths` into
 * `outDir`, and resolves when it exits. Compare the results with
 * {@link compareDownloads}: gtlsclient exits 0 even after an error status.
 */
export async function runNgtcp2Client(options: Ngtcp2ClientOptions): Promise<ClientRun> {
  const bin = requirePeer(NGTCP2_CLIENT);
  const host = options.host ?? "127.0.0.1";
  const authority = `${options.authority ?? "localhost"}:${options.port}`;
  mkdirSync(options.outDir, { recursive: true });
  const args = [
    ...ngtcp2Args(options),
    "--exit-on-all-streams-close",
    `--download=${options.outDir}`,
    host,
    String(options.port),
    ...options.paths.map((p) => `https://${authority}${p}`),
  ];
  return runToEnd(bin, args, options.timeoutMs ?? 30_000);
}

// ------------------------------------------------------------------- Bun

/** Throws a clear error when Bun or the peer scripts are missing. */
export function requireBun(): string {
  requirePeer(BUN);
  for (const s of [BUN_QUIC_SERVER, BUN_QUIC_CLIENT]) if (!existsSync(s)) throw new Error(`Bun peer script ${s} is missing`);
  return BUN;
}

/**
 * TLS knobs of the Bun scripts (OpenSSL-style names, e.g. groups "P-256").
 * Bun 1.4.5 honours `groups` but ignores `ciphers` for TLS 1.3 (BoringSSL
 * fixes the suites): to force a cipher, restrict the other peer.
 */
export interface BunKnobs {
  ciphers?: string;
  groups?: string;
  /** Congestion control: "reno", "cubic" or "bbr". */
  cc?: string;
  /** Any further options. */
  args?: readonly string[];
}

function bunArgs(k: BunKnobs): string[] {
  return [...(k.ciphers ? ["--ciphers", k.ciphers] : []), ...(k.groups ? ["--groups", k.groups] : []), ...(k.cc ? ["--cc", k.cc] : []), ...(k.args ?? [])];
}

/** Options of {@link startBunServer}. */
export interface BunServerOptions extends BunKnobs {
  root: string;
  cert: string;
  key: string;
  /** Log each request on stderr. */
  verbose?: boolean;
}

/** Starts test/interop/bun-quic-server.mjs (HTTP/3 on lsquic) on 127.0.0.1 and a port it picks; resolves with that port once it listens. */
export async function startBunServer(options: BunServerOptions): Promise<FileServerPeer> {
  const bun = requireBun();
  const args = ["--no-warnings", BUN_QUIC_SERVER, "--root", options.root, "--cert", options.cert, "--key", options.key, "--host", "127.0.0.1", "--port", "0", ...(options.verbose ? ["--verbose"] : []), ...bunArgs(options)];
  const p = spawnProcess(bun, args);
  try {
    await waitForOutput(p, (q) => /^\d+\s*$/m.test(q.stdout()), 10_000, "bun-quic-server");
  } catch (e) {
    await p.stop();
    throw e;
  }
  const port = Number(/^(\d+)\s*$/m.exec(p.stdout())![1]);
  return { port, process: p, output: p.output, stop: p.stop };
}

/** One request's line from the Bun client. */
export interface BunClientResult {
  url: string;
  /** HTTP status; 0 when none arrived. */
  status: number;
  bytes: number;
  file?: string;
  error?: string;
}

/** Options of {@link runBunClient}. */
export interface BunClientOptions extends BunKnobs {
  port: number;
  /** Address to connect to. Default 127.0.0.1. */
  host?: string;
  /** URL paths ("/name") or full URLs. */
  paths: readonly string[];
  /** Directory for the bodies. */
  outDir?: string;
  /** CA file to verify the server; otherwise `insecure` must be set. */
  ca?: string;
  insecure?: boolean;
  /** SNI and :authority host. Default "localhost". */
  servername?: string;
  /** Kill the client after this many ms. Default 30 s. */
  timeoutMs?: number;
}

/** Runs test/interop/bun-quic-client.mjs and parses its per-URL JSON lines. */
export async function runBunClient(options: BunClientOptions): Promise<ClientRun & { results: BunClientResult[] }> {
  const bun = requireBun();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const args = [
    "--no-warnings",
    BUN_QUIC_CLIENT,
    `${options.host ?? "127.0.0.1"}:${options.port}`,
    ...options.paths,
    ...(options.outDir ? ["--out", options.outDir] : []),
    ...(options.ca ? ["--ca", options.ca] : []),
    ...(options.insecure ? ["--insecure"] : []),
    "--servername",
    options.servername ?? "localhost",
    // The script's own timer fires first, so it can report which requests were pending.
    "--timeout",
    String(Math.max(1000, timeoutMs - 1000)),
    ...bunArgs(options),
  ];
  const run = await runToEnd(bun, args, timeoutMs);
  const results: BunClientResult[] = [];
  for (const line of run.stdout.split("\n")) {
    if (line.startsWith("{")) results.push(JSON.parse(line) as BunClientResult);
  }
  return { ...run, results };
}
