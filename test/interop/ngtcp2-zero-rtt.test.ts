/**
 * Resumption and 0-RTT with ngtcp2, through the library: `fetch()` resuming
 * gtlsserver with a GET in 0-RTT, and gtlsclient resuming `serve()` with
 * its request in 0-RTT (--session-file and --tp-file), seen as early by
 * the server. (The command-line tools do the same in the interop-runner's
 * zerortt case.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { H3Agent, serve } from "../../src/h3/http.js";
import { staticFileHandler } from "../../src/cli/static-files.js";
import { NGTCP2_CLIENT, NGTCP2_SERVER, requirePeer, tempCertificates, waitFor } from "./peers.js";
import { compareDownloads, createFileSet, runNgtcp2Client, startNgtcp2Server, tail, tempOutputDir } from "./harness-files.js";

test("fetch() resumes gtlsserver and sends its GET in 0-RTT, which ngtcp2 accepts", async () => {
  requirePeer(NGTCP2_SERVER);
  const certs = await tempCertificates();
  const files = createFileSet({ "10k.bin": 10 * 1024 });
  const server = await startNgtcp2Server({ root: files.dir, cert: certs.cert, key: certs.key });
  const agent = new H3Agent({ tls: { ca: readFileSync(certs.ca), serverName: "localhost" } });
  const base = `https://127.0.0.1:${server.port}`;
  try {
    const first = await agent.fetch(`${base}/10k.bin`);
    assert.equal((await first.arrayBuffer()).byteLength, 10 * 1024);
    await waitFor(() => agent.getSession(base) !== undefined, 5000, "a session ticket from gtlsserver");
    await agent.closeAll();
    const second = await agent.fetch(`${base}/10k.bin`);
    assert.equal(second.status, 200);
    assert.equal(Buffer.from(await second.arrayBuffer()).equals(readFileSync(join(files.dir, "10k.bin"))), true, "the body differs");
    const t = agent.connectionFor(base)!.transport;
    assert.ok(t.tls.resumed, "not resumed");
    assert.equal(t.earlyDataStatus, "accepted");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- gtlsserver output ---\n${tail(server.output())}`, { cause: e });
  } finally {
    await agent.closeAll();
    await server.stop();
    files.remove();
    rmSync(certs.dir, { recursive: true, force: true });
  }
});

test("gtlsclient resumes serve() with --session-file and --tp-file and its request arrives in 0-RTT", async () => {
  requirePeer(NGTCP2_CLIENT);
  const certs = await tempCertificates();
  const files = createFileSet({ "10k.bin": 10 * 1024 });
  const early: boolean[] = [];
  const serveFiles = staticFileHandler(files.dir);
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: readFileSync(certs.cert),
    key: readFileSync(certs.key),
    earlyData: true,
    fetch: (req, s) => {
      early.push(s.isEarlyRequest(req));
      return serveFiles(req);
    },
  });
  await server.ready;
  const state = [`--session-file=${join(certs.dir, "session.pem")}`, `--tp-file=${join(certs.dir, "tp.txt")}`];
  const outs: string[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const out = tempOutputDir();
      outs.push(out);
      const r = await runNgtcp2Client({ port: server.port, paths: files.paths(), outDir: out, timeoutMs: 20_000, args: state });
      assert.deepEqual(compareDownloads(files, out), [], `connection ${i + 1}: gtlsclient exited ${r.code}:\n${tail(r.output)}`);
    }
    assert.deepEqual(early, [false, true], "the resumed request did not arrive in 0-RTT");
  } finally {
    await server.stop(true);
    files.remove();
    rmSync(certs.dir, { recursive: true, force: true });
    for (const d of outs) rmSync(d, { recursive: true, force: true });
  }
});
