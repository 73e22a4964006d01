import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDevelopmentCertificates } from "../../src/pki/generate.js";

/** Paths of the ngtcp2 example binaries installed by scripts/setup.sh (Debian packages ngtcp2-client, ngtcp2-server). */
export const NGTCP2_SERVER = "/usr/sbin/gtlsserver";
export const NGTCP2_CLIENT = "/usr/bin/gtlsclient";

/** Throws a clear error when a peer binary is missing: an interop test must never pass without its peer. */
export function requirePeer(path: string): string {
  if (!existsSync(path)) throw new Error(`interop peer ${path} is not installed; run scripts/setup.sh (it installs ngtcp2-client and ngtcp2-server)`);
  return path;
}

/** A free UDP port on 127.0.0.1 (bound and released; fine for tests on loopback). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A temporary directory with a development CA and a localhost certificate. */
export async function tempCertificates(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-interop-"));
  const p = await writeDevelopmentCertificates(dir);
  return { dir, ca: p.caPath, cert: p.certPath, key: p.keyPath };
}

/** A running peer process with its collected output. */
export interface PeerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or null when killed). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts a peer process, collecting stdout and stderr. */
export function startPeer(cmd: string, args: string[], cwd?: string): PeerProcess {
  const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Waits until `predicate` holds, polling; rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** gtlsserver (HTTP/3) on a free loopback port with fresh certificates, once it is listening. Stop `peer` when done. */
export async function startNgtcp2Server(args: string[] = []): Promise<{ peer: PeerProcess; port: number; certs: Awaited<ReturnType<typeof tempCertificates>> }> {
  const server = requirePeer(NGTCP2_SERVER);
  const certs = await tempCertificates();
  const port = await freeUdpPort();
  const peer = startPeer(server, [...args, "127.0.0.1", String(port), certs.key, certs.cert], certs.dir);
  try {
    await waitFor(() => peer.output().includes("Using document root"), 5000, "gtlsserver to start");
  } catch (e) {
    await peer.stop();
    throw e;
  }
  return { peer, port, certs };
}
