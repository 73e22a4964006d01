/**
 * hq-interop end to end: tsquic's hq client against tsquic's hq server
 * over real UDP on 127.0.0.1. Files are compared by SHA-256; refusals are
 * checked on both sides (the client's reset code, the server's record).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { quic } from "../../src/api/quic.js";
import { getHq, HQ_ALPN, HqErrorCode, serveHq, type HqFileResult, type HqRequestRecord, type HqServer, type HqServerOptions } from "../../src/hq/index.js";
import { createFileSet, sha256OfFile, type FileSet } from "../interop/harness-files.js";

const certs = createDevelopmentCertificates();
const clientTls = { ca: certs.ca.pem, serverName: "localhost" };

/** A file set, a server on it, and cleanup of both. */
async function withServer(sizes: Record<string, number>, options: Partial<HqServerOptions>, body: (ctx: { files: FileSet; server: HqServer; records: HqRequestRecord[]; origin: string }) => Promise<void>): Promise<void> {
  const files = createFileSet(sizes);
  const records: HqRequestRecord[] = [];
  const server = await serveHq({ root: files.dir, hostname: "127.0.0.1", port: 0, cert: certs.leaf.pem, key: certs.leaf.keyPem, onRequest: (r) => records.push(r), ...options });
  try {
    await body({ files, server, records, origin: `https://127.0.0.1:${server.port}` });
  } finally {
    await server.stop();
    files.remove();
  }
}

function byPath(results: HqFileResult[]): Map<string, HqFileResult> {
  return new Map(results.map((r) => [r.path, r]));
}

test("1 KB and 5 MB files download in parallel over one connection, SHA-256 intact", async () => {
  await withServer({ "small.bin": 1024, "big.bin": 5_000_000 }, {}, async ({ files, server, origin }) => {
    const out = mkdtempSync(join(tmpdir(), "tsquic-hq-out-"));
    try {
      let progressCalls = 0;
      const dl = await getHq(origin, ["/small.bin", "/big.bin"], { ...clientTls, outputDir: out, onProgress: () => progressCalls++ });
      const r = byPath(dl.files);
      for (const f of files.files) {
        const got = r.get("/" + f.name)!;
        assert.equal(got.status, "complete", `${f.name}: ${got.error?.message}`);
        assert.equal(got.bytes, f.size);
        assert.equal(got.sha256, f.sha256, `${f.name}: SHA-256 computed while receiving`);
        assert.equal(got.file, join(out, f.name));
        assert.equal(sha256OfFile(got.file!), f.sha256, `${f.name}: SHA-256 of the written file`);
      }
      assert.ok(progressCalls > 2);
      assert.equal(server.stats.served, 2);
      assert.equal(server.stats.bytesSent, 5_001_024);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

test("a missing file is reset with NOT_FOUND while the other files complete", async () => {
  await withServer({ "a.bin": 4096, "b.bin": 300_000 }, {}, async ({ files, records, origin }) => {
    const dl = await getHq(origin, ["/a.bin", "/missing.bin", "/b.bin", "/no/such/dir.bin"], clientTls);
    const r = byPath(dl.files);
    assert.equal(r.get("/a.bin")!.status, "complete");
    assert.equal(r.get("/a.bin")!.sha256, files.get("a.bin").sha256);
    assert.equal(r.get("/b.bin")!.status, "complete");
    assert.equal(r.get("/b.bin")!.sha256, files.get("b.bin").sha256);
    for (const p of ["/missing.bin", "/no/such/dir.bin"]) {
      assert.equal(r.get(p)!.status, "reset", p);
      assert.equal(r.get(p)!.errorCode, HqErrorCode.NOT_FOUND, p);
      assert.equal(r.get(p)!.bytes, 0);
    }
    assert.deepEqual(records.filter((x) => x.outcome === "not-found").map((x) => x.target).sort(), ["/missing.bin", "/no/such/dir.bin"]);
  });
});

test("traversal attempts are refused and nothing outside the root is served", async () => {
  const outside = mkdtempSync(join(tmpdir(), "tsquic-hq-outside-"));
  try {
    writeFileSync(join(outside, "secret.txt"), "not for you");
    await withServer({ "ok.bin": 2048 }, {}, async ({ files, records, origin }) => {
      const rootName = files.dir.slice(files.dir.lastIndexOf("/") + 1);
      const outsideName = outside.slice(outside.lastIndexOf("/") + 1);
      mkdirSync(join(files.dir, "sub"));
      // A link inside the root that points out of it: decoding is fine, the real path is not.
      symlinkSync(join(outside, "secret.txt"), join(files.dir, "link.txt"));
      const attacks = [
        "/../etc/passwd",
        `/../${outsideName}/secret.txt`,
        `/sub/../../${outsideName}/secret.txt`,
        `/%2e%2e/${outsideName}/secret.txt`,
        `/%2E%2E/${outsideName}/secret.txt`,
        `/.%2e/${outsideName}/secret.txt`,
        `/..%2f${outsideName}%2fsecret.txt`,
        `/sub%2f..%2f..%2f${outsideName}%2fsecret.txt`,
        `/..%5c${outsideName}%5csecret.txt`,
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%c0%ae%c0%ae/etc/passwd",
        "/ok.bin%00.txt",
        `/../${rootName}/ok.bin`,
      ];
      const dl = await getHq(origin, [...attacks, "/link.txt", "/ok.bin"], clientTls);
      const r = byPath(dl.files);
      for (const a of attacks) {
        const got = r.get(a)!;
        assert.equal(got.status, "reset", `${a} was not refused`);
        assert.equal(got.errorCode, HqErrorCode.BAD_REQUEST, a);
        assert.equal(got.bytes, 0, a);
      }
      assert.equal(r.get("/link.txt")!.status, "reset");
      assert.equal(r.get("/link.txt")!.errorCode, HqErrorCode.NOT_FOUND);
      assert.equal(r.get("/link.txt")!.bytes, 0);
      // The same connection still serves legitimate files.
      assert.equal(r.get("/ok.bin")!.status, "complete");
      assert.equal(r.get("/ok.bin")!.sha256, files.get("ok.bin").sha256);
      const refused = records.filter((x) => x.outcome === "bad-request");
      assert.equal(refused.length, attacks.length);
      for (const x of refused) assert.ok(x.reason === "unsafe-path" || x.reason === "encoding", `${x.target}: ${x.reason}`);
      assert.equal(records.filter((x) => x.outcome === "served").length, 1);
    });
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test("malformed request lines on raw streams are reset with BAD_REQUEST; the connection keeps serving", async () => {
  await withServer({ "f.bin": 1000 }, {}, async ({ files, server, records }) => {
    const resets = new Map<number, number>();
    const received = new Map<number, number>();
    const closed = new Set<number>();
    const socket = await quic(`127.0.0.1:${server.port}`, {
      alpn: HQ_ALPN,
      tls: clientTls,
      data(stream, buf) {
        received.set(stream.id, (received.get(stream.id) ?? 0) + buf.length);
      },
      error(stream, err) {
        resets.set(stream.id, (err as Error & { errorCode: number }).errorCode);
      },
      close(stream) {
        closed.add(stream.id);
      },
    });
    const bad = [
      "POST /f.bin\r\n",
      "GET f.bin\r\n",
      "GET /f.bin HTTP/1.1\r\n",
      "GET /f.bin\r\nHost: x\r\n",
      "GET /f\u0000.bin\r\n",
      "GET /f.bin?x=1\r\n",
      "GET /" + "a".repeat(5000) + "\r\n",
    ];
    const ids = bad.map((line) => {
      const s = socket.stream();
      s.end(Buffer.from(line, "latin1"));
      return s.id;
    });
    // A line sent in pieces, with the CRLF split across writes, is fine.
    const good = socket.stream();
    good.write("GET /f.");
    good.write("bin\r");
    good.end("\n");
    const deadline = Date.now() + 10_000;
    while (closed.size < ids.length + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const [i, id] of ids.entries()) assert.equal(resets.get(id), HqErrorCode.BAD_REQUEST, JSON.stringify(bad[i]!.slice(0, 40)));
    assert.equal(resets.has(good.id), false);
    assert.equal(received.get(good.id), files.get("f.bin").size);
    assert.deepEqual(records.filter((x) => x.outcome === "bad-request").map((x) => x.reason).sort(), ["method", "target", "target", "target", "target", "too-long", "trailing-data"]);
    socket.close();
  });
});

test("the client never writes outside outputDir: such paths are not requested", async () => {
  await withServer({ "x.bin": 10 }, {}, async ({ server, origin }) => {
    const out = mkdtempSync(join(tmpdir(), "tsquic-hq-out-"));
    try {
      const dl = await getHq(origin, ["/../escape.bin", "/%2e%2e/escape.bin", "/x.bin"], { ...clientTls, outputDir: out });
      const r = byPath(dl.files);
      assert.equal(r.get("/x.bin")!.status, "complete");
      for (const p of ["/../escape.bin", "/%2e%2e/escape.bin"]) {
        assert.equal(r.get(p)!.status, "failed");
        assert.match(r.get(p)!.error!.message, /dot segment/);
      }
      assert.equal(server.stats.requests, 1, "only the safe path reached the server");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

test("an output file that cannot be created fails that path only", async () => {
  await withServer({ "x.bin": 10 }, {}, async ({ files, origin }) => {
    const out = mkdtempSync(join(tmpdir(), "tsquic-hq-out-"));
    try {
      // A regular file where the client needs a directory.
      writeFileSync(join(out, "blocker"), "");
      const dl = await getHq(origin, ["/blocker/x.bin", "/x.bin"], { ...clientTls, outputDir: out });
      const r = byPath(dl.files);
      assert.equal(r.get("/blocker/x.bin")!.status, "failed");
      assert.match((r.get("/blocker/x.bin")!.error as NodeJS.ErrnoException).code ?? "", /^(EEXIST|ENOTDIR)$/);
      assert.equal(r.get("/x.bin")!.status, "complete");
      assert.equal(sha256OfFile(join(out, "x.bin")), files.get("x.bin").sha256);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

test("backpressure: when write() returns false the server waits for drain, and the file still arrives intact", async () => {
  // Chunks larger than the high-water mark make every write() return false, so each chunk waits for drain:
  // the file is never read ahead of what the stream has sent.
  await withServer({ "big.bin": 3_000_000 }, { highWaterMark: 64 * 1024, chunkSize: 256 * 1024 }, async ({ files, server, origin }) => {
    const dl = await getHq(origin, ["/big.bin"], clientTls);
    assert.equal(dl.files[0]!.status, "complete");
    assert.equal(dl.files[0]!.sha256, files.get("big.bin").sha256);
    assert.equal(server.stats.pauses, Math.ceil(3_000_000 / (256 * 1024)), `paused ${server.stats.pauses} times`);
  });
});

test("more paths than the server's stream limit all complete over one connection", async () => {
  const sizes: Record<string, number> = {};
  for (let i = 0; i < 40; i++) sizes[`f${i}.bin`] = 1000 + i * 997;
  await withServer(sizes, { transport: { initialMaxStreamsBidi: 4 } }, async ({ files, server, origin }) => {
    let maxConnections = 0;
    const dl = await getHq(origin, files.paths(), { ...clientTls, onProgress: () => (maxConnections = Math.max(maxConnections, server.connections)) });
    for (const f of files.files) {
      const got = dl.files.find((x) => x.path === "/" + f.name)!;
      assert.equal(got.status, "complete", f.name);
      assert.equal(got.sha256, f.sha256, f.name);
    }
    assert.equal(maxConnections, 1);
    assert.equal(server.stats.served, 40);
  });
});

test("stop() during a transfer closes the connection; the client reports the path failed", async () => {
  await withServer({ "big.bin": 20_000_000 }, { highWaterMark: 64 * 1024 }, async ({ server, origin }) => {
    let stopping: Promise<void> | undefined;
    const dl = await getHq(origin, ["/big.bin"], {
      ...clientTls,
      onProgress(p) {
        if (p.bytes > 100_000) stopping ??= server.stop();
      },
    });
    await stopping;
    const r = dl.files[0]!;
    assert.equal(r.status, "failed");
    assert.ok(r.bytes > 100_000 && r.bytes < 20_000_000, `${r.bytes} bytes`);
    assert.ok(r.error);
    assert.equal(server.stats.aborted, 1);
  });
});
