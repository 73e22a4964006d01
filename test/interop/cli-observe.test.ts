import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./harness-files.js";
import { tempCertificates } from "./peers.js";
import { parseQlog } from "../quic/qlog-schema.js";

const TSQUIC = join(REPO_ROOT, "bin", "tsquic");

test("tsquic serve and get: --qlog-dir writes one trace per side named by the same original DCID, SSLKEYLOGFILE and --keylog the same secrets", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-cli-observe-"));
  const certs = await tempCertificates();
  const root = join(dir, "root");
  const serverQlog = join(dir, "server-qlog");
  const clientQlog = join(dir, "client-qlog");
  const serverKeys = join(dir, "server.keys");
  const clientKeys = join(dir, "client.keys");
  mkdirSync(root);
  writeFileSync(join(root, "hello.txt"), "hello from tsquic serve\n");
  const serve = spawn(process.execPath, [TSQUIC, "serve", "--root", root, "--host", "127.0.0.1", "--port", "0", "--cert", certs.cert, "--key", certs.key, "--qlog-dir", serverQlog, "--quiet"], {
    env: { ...process.env, SSLKEYLOGFILE: serverKeys },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  serve.stdout.on("data", (d) => (out += d));
  serve.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => serve.on("exit", (code) => r(code)));
  try {
    const start = Date.now();
    while (!/^\d+\n/.test(out)) {
      if (serve.exitCode !== null || Date.now() - start > 10_000) assert.fail(`tsquic serve did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = Number(out.trim());
    const get = await promisify(execFile)(
      process.execPath,
      [TSQUIC, "get", "--ca", certs.ca, "--server-name", "localhost", "--output", join(dir, "out"), "--keylog", clientKeys, "--qlog-dir", clientQlog, `https://127.0.0.1:${port}/hello.txt`],
      { timeout: 30_000 },
    );
    void get;
    assert.equal(readFileSync(join(dir, "out", "hello.txt"), "utf8"), "hello from tsquic serve\n");
  } finally {
    serve.kill("SIGTERM");
    await exited;
  }
  try {
    // The server writes its trace's last records when it exits.
    const [clientFile] = readdirSync(clientQlog);
    const [serverFile] = readdirSync(serverQlog);
    assert.ok(clientFile && serverFile, `traces: ${clientFile}, ${serverFile}`);
    const odcid = clientFile.split("_")[0];
    assert.equal(clientFile, `${odcid}_client.sqlog`);
    assert.equal(serverFile, `${odcid}_server.sqlog`);
    for (const f of [join(clientQlog, clientFile), join(serverQlog, serverFile)]) {
      const q = parseQlog(readFileSync(f, "utf8"));
      assert.ok(q.events.some((e) => e.name === "connectivity:connection_closed"), `${f} has no connection_closed`);
    }
    const lines = (f: string) => readFileSync(f, "utf8").trim().split("\n").sort();
    assert.ok(lines(clientKeys).length >= 4);
    assert.deepEqual(lines(clientKeys), lines(serverKeys));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(certs.dir, { recursive: true, force: true });
  }
});
