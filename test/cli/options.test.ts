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

/** Runs `tsquic get` against a UDP socket that reads and never answers; counts the datagrams it receives. */
async function getFromSilentServer(extra: string[]): Promise<{ code: number | null; stderr: string; datagrams: number }> {
  const silent = createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  let datagrams = 0;
  silent.on("message", () => datagrams++);
  try {
    const r = await get(["--insecure", ...extra, `https://127.0.0.1:${silent.address().port}/x`]);
    return { ...r, datagrams };
  } finally {
    silent.close();
  }
}

test("--handshake-timeout gives up on a silent server after the time given", async () => {
  const r = await getFromSilentServer(["--handshake-timeout", "1.5"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /handshake did not complete within 1500 ms/);
  // The Initial at 0 s and the probe after the first PTO (3 x 333 ms, RFC 9002 section 6.2.2).
  assert.ok(r.datagrams >= 2 && r.datagrams <= 3, `expected the Initial and one probe, the server saw ${r.datagrams} datagrams`);
});

test("--initial-rtt shortens the first probe timeouts", async () => {
  // PTO = 50 + 4 x 25 ms = 150 ms, doubling: probes at about 0.15, 0.45 and 1.05 s after the Initial.
  const r = await getFromSilentServer(["--handshake-timeout", "1.5", "--initial-rtt", "50"]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.datagrams >= 4, `expected the Initial and at least three probes, the server saw ${r.datagrams} datagrams`);
});

test("--handshake-timeout and --initial-rtt reject values that are not positive numbers", async () => {
  for (const bad of ["0", "-1", "soon"]) {
    const r = await get(["--insecure", `--handshake-timeout=${bad}`, "https://127.0.0.1:9/x"]);
    assert.equal(r.code, 2, `--handshake-timeout ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--handshake-timeout takes a positive number of seconds/);
  }
  const r = await get(["--insecure", "--initial-rtt", "fast", "https://127.0.0.1:9/x"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--initial-rtt takes a positive number of milliseconds, not "fast"/);
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
