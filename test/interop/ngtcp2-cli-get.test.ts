import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, createFileSet, startNgtcp2Server, assertDownloads, tempOutputDir, spawnProcess, tail, type FileSet, type Ngtcp2Knobs } from "./harness-files.js";
import { tempCertificates } from "./peers.js";

const TSQUIC = join(REPO_ROOT, "bin", "tsquic");

/** Runs `tsquic get` against a gtlsserver serving `set` with `knobs`; asserts exit 0 and intact files. */
async function getFrom(set: FileSet, names: string[], knobs: Ngtcp2Knobs, timeoutMs: number): Promise<void> {
  const certs = await tempCertificates();
  const server = await startNgtcp2Server({ root: set.dir, cert: certs.cert, key: certs.key, ...knobs });
  const out = tempOutputDir();
  try {
    const urls = names.map((n) => `https://127.0.0.1:${server.port}/${n}`);
    const p = spawnProcess(process.execPath, [TSQUIC, "get", "--ca", certs.ca, "--server-name", "localhost", "--output", out, ...urls]);
    const timer = setTimeout(() => void p.stop(), timeoutMs);
    const code = await p.exited;
    clearTimeout(timer);
    assert.equal(code, 0, `tsquic get exited with ${code}:\n${tail(p.output())}\n--- gtlsserver:\n${tail(server.output())}`);
    assertDownloads(set, out, names, "tsquic get from gtlsserver");
  } finally {
    await server.stop();
  }
}

const files = createFileSet({ "1k.bin": 1024, "5m.bin": 5 * 1024 * 1024, "50m.bin": 50 * 1024 * 1024 });
test.after(() => files.remove());

test("tsquic get downloads 1 KB, 5 MB and 50 MB intact from ngtcp2's server over one connection", async () => {
  await getFrom(files, ["1k.bin", "5m.bin", "50m.bin"], {}, 120_000);
});

test("tsquic get from ngtcp2 with 5% loss each way on the peer", async () => {
  await getFrom(files, ["1k.bin", "5m.bin", "50m.bin"], { txLoss: 0.05, rxLoss: 0.05 }, 180_000);
});

test("tsquic get from ngtcp2 restricted to ChaCha20-Poly1305", async () => {
  await getFrom(files, ["1k.bin", "5m.bin", "50m.bin"], { ciphers: "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305" }, 120_000);
});

test("tsquic get from ngtcp2 restricted to the secp256r1 group (HelloRetryRequest from our x25519 share)", async () => {
  await getFrom(files, ["1k.bin", "5m.bin", "50m.bin"], { groups: "-GROUP-ALL:+GROUP-SECP256R1" }, 120_000);
});
