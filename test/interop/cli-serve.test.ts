import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  REPO_ROOT,
  assertDownloads,
  createFileSet,
  runBunClient,
  runNgtcp2Client,
  spawnProcess,
  startBunServer,
  tail,
  tempOutputDir,
  type HarnessProcess,
  type Ngtcp2Knobs,
} from "./harness-files.js";
import { tempCertificates } from "./peers.js";

const TSQUIC = join(REPO_ROOT, "bin", "tsquic");

/** Starts `tsquic serve --port 0` on `root`; resolves with its port once it printed it. */
async function startTsquicServe(root: string, cert: string, key: string): Promise<{ port: number; proc: HarnessProcess }> {
  const proc = spawnProcess(process.execPath, [TSQUIC, "serve", "--root", root, "--host", "127.0.0.1", "--port", "0", "--cert", cert, "--key", key, "--quiet"]);
  const start = Date.now();
  while (!/^\d+\n/.test(proc.stdout())) {
    if (proc.child.exitCode !== null) throw new Error(`tsquic serve exited: ${tail(proc.output())}`);
    if (Date.now() - start > 10_000) throw new Error(`tsquic serve did not start: ${tail(proc.output())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port: Number(proc.stdout().trim()), proc };
}

const files = createFileSet({ "1k.bin": 1024, "5m.bin": 5 * 1024 * 1024, "50m.bin": 50 * 1024 * 1024 });
test.after(() => files.remove());

async function ngtcp2From(names: string[], knobs: Ngtcp2Knobs): Promise<void> {
  const certs = await tempCertificates();
  const server = await startTsquicServe(files.dir, certs.cert, certs.key);
  const out = tempOutputDir();
  try {
    const run = await runNgtcp2Client({ port: server.port, paths: names.map((n) => `/${n}`), outDir: out, timeoutMs: 120_000, ...knobs });
    assert.equal(run.code, 0, `gtlsclient exited with ${run.code}${run.timedOut ? " (timed out)" : ""}:\n${tail(run.output)}\n--- tsquic serve:\n${tail(server.proc.output())}`);
    assertDownloads(files, out, names, "gtlsclient from tsquic serve");
  } finally {
    await server.proc.stop();
  }
}

test("ngtcp2's client downloads 1 KB, 5 MB and 50 MB intact from tsquic serve", async () => {
  await ngtcp2From(["1k.bin", "5m.bin", "50m.bin"], {});
});

test("ngtcp2's client from tsquic serve with 5% loss each way on the peer", async () => {
  await ngtcp2From(["1k.bin", "5m.bin", "50m.bin"], { txLoss: 0.05, rxLoss: 0.05 });
});

test("ngtcp2's client from tsquic serve restricted to ChaCha20-Poly1305", async () => {
  await ngtcp2From(["1k.bin", "5m.bin", "50m.bin"], { ciphers: "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305" });
});

test("ngtcp2's client from tsquic serve restricted to the secp256r1 group", async () => {
  await ngtcp2From(["1k.bin", "5m.bin", "50m.bin"], { groups: "-GROUP-ALL:+GROUP-SECP256R1" });
});

test("Bun's node:quic client (lsquic) fetches intact files from tsquic serve", async () => {
  const certs = await tempCertificates();
  const server = await startTsquicServe(files.dir, certs.cert, certs.key);
  const out = tempOutputDir();
  try {
    const run = await runBunClient({ port: server.port, paths: ["/1k.bin", "/5m.bin"], outDir: out, ca: certs.ca, servername: "localhost", timeoutMs: 60_000 });
    assert.equal(run.code, 0, `bun client exited with ${run.code}:\n${tail(run.output)}\n--- tsquic serve:\n${tail(server.proc.output())}`);
    assertDownloads(files, out, ["1k.bin", "5m.bin"], "Bun client from tsquic serve");
  } finally {
    await server.proc.stop();
  }
});

test("tsquic get fetches intact files from Bun's node:quic server (lsquic)", async () => {
  const certs = await tempCertificates();
  const server = await startBunServer({ root: files.dir, cert: certs.cert, key: certs.key });
  const out = tempOutputDir();
  try {
    const urls = ["1k.bin", "5m.bin"].map((n) => `https://127.0.0.1:${server.port}/${n}`);
    const p = spawnProcess(process.execPath, [TSQUIC, "get", "--ca", certs.ca, "--server-name", "localhost", "--output", out, ...urls]);
    const timer = setTimeout(() => void p.stop(), 60_000);
    const code = await p.exited;
    clearTimeout(timer);
    assert.equal(code, 0, `tsquic get exited with ${code}:\n${tail(p.output())}\n--- bun server:\n${tail(server.output())}`);
    assertDownloads(files, out, ["1k.bin", "5m.bin"], "tsquic get from the Bun server");
  } finally {
    await server.stop();
  }
});

test("tsquic get over hq-interop from tsquic serve, and a missing file fails the exit code", async () => {
  const certs = await tempCertificates();
  const server = await startTsquicServe(files.dir, certs.cert, certs.key);
  const out = tempOutputDir();
  try {
    const run = async (names: string[]): Promise<number | null> => {
      const urls = names.map((n) => `https://127.0.0.1:${server.port}/${n}`);
      const p = spawnProcess(process.execPath, [TSQUIC, "get", "--alpn", "hq-interop", "--ca", certs.ca, "--server-name", "localhost", "--output", out, ...urls]);
      return p.exited;
    };
    assert.equal(await run(["1k.bin", "5m.bin"]), 0);
    assertDownloads(files, out, ["1k.bin", "5m.bin"], "hq-interop from tsquic serve");
    assert.equal(await run(["1k.bin", "missing.bin"]), 1);
  } finally {
    await server.proc.stop();
  }
});
