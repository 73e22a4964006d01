/**
 * HTTP/3 interop with ngtcp2 (nghttp3 underneath): tsquic's `fetch`
 * against gtlsserver, and gtlsclient against tsquic's `serve()` with a
 * static-file handler. Files are random; SHA-256 must match. gtlsclient
 * uses the QPACK dynamic table for its requests, so the second test also
 * proves our decoder on a real encoder's instructions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { openAsBlob, readFileSync, rmSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { H3Agent, serve } from "../../src/h3/http.js";
import { NGTCP2_CLIENT, NGTCP2_SERVER, requirePeer, tempCertificates } from "./peers.js";
import { assertDownloads, createFileSet, runNgtcp2Client, startNgtcp2Server, tail, tempOutputDir } from "./harness-files.js";

const SIZES = { "small.bin": 1024, "big.bin": 5_000_000 };

async function sha256OfBody(res: Response): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest("hex") };
}

test("tsquic fetch downloads 1 KB and 5 MB files intact from ngtcp2's gtlsserver", async () => {
  requirePeer(NGTCP2_SERVER);
  const certs = await tempCertificates();
  const files = createFileSet(SIZES);
  const server = await startNgtcp2Server({ root: files.dir, cert: certs.cert, key: certs.key });
  const agent = new H3Agent({ tls: { ca: readFileSync(certs.ca), serverName: "localhost" } });
  try {
    const base = `https://127.0.0.1:${server.port}`;
    // Both on one connection, concurrently.
    const results = await Promise.all(
      files.files.map(async (f) => {
        const res = await agent.fetch(`${base}/${f.name}`);
        assert.equal(res.status, 200, `${f.name}: status ${res.status}`);
        return { f, got: await sha256OfBody(res) };
      }),
    );
    for (const { f, got } of results) {
      assert.equal(got.size, f.size, `${f.name} size`);
      assert.equal(got.sha256, f.sha256, `${f.name} SHA-256`);
    }
    assert.equal(agent.connections, 1, "one pooled connection for the origin");
    const h3 = agent.connectionFor(base)!;
    assert.ok(h3.peerSettings, "the server's SETTINGS arrived");
    const missing = await agent.fetch(`${base}/missing.bin`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    // Once nghttp3 knows our SETTINGS it encodes responses with our dynamic table (server, content-type...): decoded fine.
    assert.ok(h3.qpackStats().decoderInsertCount > 0, "gtlsserver inserted entries into our QPACK dynamic table");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- gtlsserver output ---\n${tail(server.output())}`, { cause: e });
  } finally {
    await agent.closeAll();
    await server.stop();
    rmSync(certs.dir, { recursive: true, force: true });
    files.remove();
  }
});

test("ngtcp2's gtlsclient downloads 1 KB and 5 MB files intact from tsquic serve()", async () => {
  requirePeer(NGTCP2_CLIENT);
  const certs = await tempCertificates();
  const files = createFileSet(SIZES);
  const out = tempOutputDir();
  const out2 = tempOutputDir();
  const seen: string[] = [];
  let decoderInserts = 0;
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: readFileSync(certs.cert),
    key: readFileSync(certs.key),
    // A static-file handler: file bodies stream from disk (a Blob backed by the file).
    async fetch(req) {
      const name = decodeURIComponent(new URL(req.url).pathname.slice(1));
      seen.push(`${req.method} ${name} ${req.headers.get("user-agent") ?? ""}`);
      for (const c of server.h3Connections) decoderInserts = Math.max(decoderInserts, c.qpackStats().decoderInsertCount);
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return new Response("not found", { status: 404 });
      const path = join(files.dir, name);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        return new Response("not found", { status: 404 });
      }
      return new Response(await openAsBlob(path), { headers: { "content-length": String(size), "content-type": "application/octet-stream" } });
    },
  });
  await server.ready;
  try {
    const run = await runNgtcp2Client({ port: server.port, paths: files.paths(), outDir: out });
    assert.equal(run.code, 0, `gtlsclient exited with ${run.code}${run.timedOut ? " (timed out)" : ""}:\n${tail(run.output)}`);
    assertDownloads(files, out, undefined, run.output);
    assert.deepEqual(seen.map((s) => s.split(" ").slice(0, 2).join(" ")).sort(), ["GET big.bin", "GET small.bin"]);

    // Started at once, gtlsclient sends its requests before our SETTINGS
    // arrive, so with the default capacity of 0 (RFC 9204 section 3.2.3).
    // Delayed a little, it inserts :authority and user-agent into our
    // dynamic table and references them: the downloads must still be intact.
    seen.length = 0;
    const run2 = await runNgtcp2Client({ port: server.port, paths: files.paths(), outDir: out2, args: ["--delay-stream=100ms"] });
    assert.equal(run2.code, 0, `gtlsclient exited with ${run2.code}${run2.timedOut ? " (timed out)" : ""}:\n${tail(run2.output)}`);
    assertDownloads(files, out2, undefined, run2.output);
    assert.ok(decoderInserts > 0, "gtlsclient inserted entries into our QPACK dynamic table");
    assert.ok(seen.every((s) => s.endsWith("nghttp3/ngtcp2 client")), `user-agent decoded:\n${seen.join("\n")}`);
  } finally {
    await server.stop(true);
    for (const d of [out, out2, certs.dir]) rmSync(d, { recursive: true, force: true });
    files.remove();
  }
});
