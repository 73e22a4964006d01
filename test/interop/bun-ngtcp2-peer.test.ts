/**
 * Proves the interop harness itself before tsquic's HTTP/3 relies on it:
 * Bun's node:quic (lsquic) scripts and ngtcp2's binaries exchange files
 * both ways, and the harness's comparison catches what it must (an error
 * status, a corrupted file). tsquic is not involved here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempCertificates } from "./peers.js";
import { assertDownloads, compareDownloads, createFileSet, runBunClient, runNgtcp2Client, startBunServer, startNgtcp2Server, tail, tempOutputDir } from "./harness-files.js";

const SIZES = { "small.bin": 1024, "big.bin": 5_000_000 };

test("Bun's node:quic client downloads 1 KB and 5 MB files intact from ngtcp2's gtlsserver", async () => {
  const certs = await tempCertificates();
  const files = createFileSet(SIZES);
  const out = tempOutputDir();
  const out404 = tempOutputDir();
  const server = await startNgtcp2Server({ root: files.dir, cert: certs.cert, key: certs.key });
  try {
    const run = await runBunClient({ port: server.port, paths: files.paths(), outDir: out, ca: certs.ca });
    assert.equal(run.code, 0, `bun-quic-client exited with ${run.code}${run.timedOut ? " (timed out)" : ""}:\n${tail(run.output)}`);
    // One JSON line per URL, in completion order.
    const seen = run.results.map((r) => [r.url, r.status, r.bytes, r.error]).sort();
    assert.deepEqual(seen, [
      ["/big.bin", 200, 5_000_000, undefined],
      ["/small.bin", 200, 1024, undefined],
    ]);
    assertDownloads(files, out, undefined, run.output);

    // The client's exit code is not vacuous: a 404 among the requests makes it fail, and says so.
    const bad = await runBunClient({ port: server.port, paths: ["/small.bin", "/missing.bin"], outDir: out404, ca: certs.ca });
    assert.equal(bad.code, 1, tail(bad.output));
    assert.equal(bad.results.find((r) => r.url === "/missing.bin")?.status, 404);
    assert.equal(bad.results.find((r) => r.url === "/small.bin")?.status, 200);
  } finally {
    await server.stop();
    for (const d of [out, out404, certs.dir]) rmSync(d, { recursive: true, force: true });
    files.remove();
  }
});

test("ngtcp2's gtlsclient downloads 1 KB and 5 MB files intact from the Bun node:quic server", async () => {
  const certs = await tempCertificates();
  const files = createFileSet(SIZES);
  const out = tempOutputDir();
  const out2 = tempOutputDir();
  const server = await startBunServer({ root: files.dir, cert: certs.cert, key: certs.key });
  try {
    const run = await runNgtcp2Client({ port: server.port, paths: files.paths(), outDir: out });
    assert.equal(run.code, 0, `gtlsclient exited with ${run.code}${run.timedOut ? " (timed out)" : ""}:\n${tail(run.output)}`);
    assertDownloads(files, out, undefined, run.output + server.output());

    // The harness's knobs reach the peers: ChaCha20-Poly1305 and P-256 only, on gtlsclient's side.
    const tuned = await runNgtcp2Client({
      port: server.port,
      paths: files.paths(["small.bin"]),
      outDir: out2,
      ciphers: "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305",
      groups: "-GROUP-ALL:+GROUP-SECP256R1",
      verbose: true,
      args: ["--no-quic-dump", "--no-http-dump"],
    });
    assert.equal(tuned.code, 0, tail(tuned.output));
    assert.match(tuned.output, /TLS_CHACHA20_POLY1305_SHA256|CHACHA20-POLY1305/i, "the negotiated cipher should show in gtlsclient's log");
    assertDownloads(files, out2, ["small.bin"], tuned.output);

    // And the comparison is not vacuous: an extra byte and a missing file are both reported.
    appendFileSync(join(out2, "small.bin"), "x");
    const problems = compareDownloads(files, out2, ["small.bin", "big.bin"]);
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.match(problems[0]!, /small\.bin: 1025 bytes/);
    assert.match(problems[1]!, /big\.bin: missing/);
  } finally {
    await server.stop();
    for (const d of [out, out2, certs.dir]) rmSync(d, { recursive: true, force: true });
    files.remove();
  }
});
