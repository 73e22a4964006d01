// `tsquic get` and `tsquic serve` options checked end to end through the real executable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { REPO_ROOT } from "../interop/harness-files.js";

const TSQUIC = join(REPO_ROOT, "bin", "tsquic");

/** Runs `tsquic get ARGS`; resolves with its exit code, stderr and wall time. */
function get(args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TSQUIC, "get", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("exit", (code) => resolve({ code, stderr, ms: Date.now() - start }));
  });
}

test("--handshake-timeout gives up on a silent server after the time given", async () => {
  // A UDP socket that reads and never answers: the handshake cannot complete.
  const silent = createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  let datagrams = 0;
  silent.on("message", () => datagrams++);
  try {
    const r = await get(["--insecure", "--handshake-timeout", "1.5", `https://127.0.0.1:${silent.address().port}/x`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /handshake did not complete within 1500 ms/);
    assert.ok(datagrams >= 2, `the client should have sent its Initial and a probe, the server saw ${datagrams} datagrams`);
  } finally {
    silent.close();
  }
});

test("--handshake-timeout rejects a value that is not a positive number of seconds", async () => {
  for (const bad of ["0", "-1", "soon"]) {
    const r = await get(["--insecure", `--handshake-timeout=${bad}`, "https://127.0.0.1:9/x"]);
    assert.equal(r.code, 2, `--handshake-timeout ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--handshake-timeout takes a positive number of seconds/);
  }
});

test("tsquic serve --handshake-timeout rejects a value that is not a positive number of seconds", async () => {
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [TSQUIC, "serve", "--root", REPO_ROOT, "--port", "0", "--handshake-timeout", "never"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("exit", (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /tsquic serve: --handshake-timeout takes a positive number of seconds, not "never"/);
});
