/**
 * tsquic <-> tsquic cases that need the raw QUIC API (quic()/listen()):
 * keyupdate, resumption and clientmigration. A tiny file protocol: the client opens a
 * stream, sends "name\n"; the server answers with the file and FIN. The
 * client hashes what arrives and compares with the original's SHA-256.
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { listen, quic, type QuicSocket } from "../../src/api/quic.js";
import { UdpProxy, type ProxyConditions, type ProxyStats } from "../../src/testing/udp-proxy.js";
import { createFileSet, type FileSet } from "../interop/harness-files.js";
import { tempCertificates } from "../interop/peers.js";

const ALPN = "tsquic-interop-files";

interface Rig {
  set: FileSet;
  ca: Buffer;
  proxyPort: number;
  serverSockets: QuicSocket[];
  proxyStats(): ProxyStats;
  stop(): Promise<void>;
}

async function rig(files: Record<string, number>, conditions: ProxyConditions = {}): Promise<Rig> {
  const set = createFileSet(files);
  const certs = await tempCertificates();
  const serverSockets: QuicSocket[] = [];
  const pending = new Map<unknown, string>();
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    alpn: ALPN,
    quic: { cert: readFileSync(certs.cert), key: readFileSync(certs.key, "utf8") },
    open(socket) {
      serverSockets.push(socket as QuicSocket);
    },
    stream: {
      data(stream, buf) {
        const text = (pending.get(stream) ?? "") + Buffer.from(buf).toString();
        const nl = text.indexOf("\n");
        if (nl < 0) return void pending.set(stream, text);
        pending.delete(stream);
        const name = text.slice(0, nl);
        const f = set.files.find((x) => x.name === name);
        if (!f) return void stream.close();
        stream.write(readFileSync(join(set.dir, name)));
        stream.end();
      },
    },
  });
  await server.ready;
  const proxy = await UdpProxy.start({
    listen: { address: "127.0.0.1", port: 0 },
    target: { address: "127.0.0.1", port: server.port },
    clientToServer: conditions,
    serverToClient: conditions,
  });
  return {
    set,
    ca: readFileSync(certs.ca),
    proxyPort: proxy.address.port,
    serverSockets,
    proxyStats: () => proxy.stats,
    async stop() {
      await proxy.close();
      server.stop(true);
      set.remove();
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}

/** Connects through the proxy; `fetchFile(name)` resolves with the body's SHA-256 and length. */
async function connect(r: Rig, session?: unknown): Promise<{ socket: QuicSocket; fetchFile(name: string): Promise<{ sha256: string; bytes: number }> }> {
  const waiting = new Map<unknown, { hash: ReturnType<typeof createHash>; bytes: number; done: (v: { sha256: string; bytes: number }) => void; fail: (e: Error) => void }>();
  const socket = (await quic(`127.0.0.1:${r.proxyPort}`, {
    alpn: ALPN,
    tls: { ca: r.ca, serverName: "localhost", ...(session ? { session: session as Uint8Array } : {}) },
    stream: {
      data(stream, buf) {
        const w = waiting.get(stream);
        if (w) {
          w.hash.update(buf);
          w.bytes += buf.length;
        }
      },
      close(stream) {
        const w = waiting.get(stream);
        if (w) w.done({ sha256: w.hash.digest("hex"), bytes: w.bytes });
      },
      error(stream, err) {
        waiting.get(stream)?.fail(err as Error);
      },
    },
  })) as QuicSocket;
  return {
    socket,
    fetchFile(name) {
      return new Promise((done, fail) => {
        const s = socket.stream();
        waiting.set(s, { hash: createHash("sha256"), bytes: 0, done, fail });
        s.write(name + "\n");
        s.end();
      });
    },
  };
}

function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const start = Date.now();
  return new Promise((ok, fail) => {
    const tick = (): void => {
      if (pred()) ok();
      else if (Date.now() - start > ms) fail(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

function checkFile(set: FileSet, name: string, got: { sha256: string; bytes: number }): string[] {
  const f = set.get(name);
  return got.bytes === f.size && got.sha256 === f.sha256 ? [] : [`${name}: ${got.bytes} B sha ${got.sha256}, expected ${f.size} B sha ${f.sha256}`];
}

/** keyupdate: the client updates its keys once the handshake is confirmed, then downloads 3 MB; both sides must end sending with key phase 1. */
export async function keyupdateTsquic(): Promise<string[]> {
  const r = await rig({ "3m.bin": 3 * 1024 * 1024 });
  try {
    const c = await connect(r);
    try {
      await until(() => c.socket.connection.updateKey(), 5000, "Connection.updateKey() to be allowed");
      const problems = checkFile(r.set, "3m.bin", await c.fetchFile("3m.bin"));
      const server = r.serverSockets[0];
      if (!server) problems.push("no server connection");
      else {
        if (server.connection.keyPhase !== 1) problems.push(`server sends with key phase ${server.connection.keyPhase}, expected 1`);
        if (server.stats().keyUpdates < 1) problems.push("server counted no key update");
      }
      if (c.socket.connection.keyPhase !== 1) problems.push(`client sends with key phase ${c.socket.connection.keyPhase}, expected 1`);
      if (c.socket.stats().keyUpdates < 1) problems.push("client counted no key update");
      return problems;
    } finally {
      c.socket.close();
    }
  } finally {
    await r.stop();
  }
}

/**
 * clientmigration: 300 ms into a 5 MB download through a 2 MB/s proxy the
 * client moves to a new UDP socket (socket.migrate(), RFC 9000 section
 * 9.2); the proxy sees a second client, and the file must arrive intact.
 */
export async function clientMigrationTsquic(): Promise<string[]> {
  const MB = 1024 * 1024;
  const r = await rig({ "5m.bin": 5 * MB }, { bandwidth: 2 * MB });
  try {
    const c = await connect(r);
    try {
      let downloaded = false;
      const download = c.fetchFile("5m.bin").finally(() => (downloaded = true));
      await new Promise((ok) => setTimeout(ok, 300));
      const before = c.socket.localAddress;
      const path = await c.socket.migrate();
      const problems = downloaded ? ["the download ended before the migration was validated"] : [];
      problems.push(...checkFile(r.set, "5m.bin", await download));
      if (path.local?.port === before.port) problems.push(`the client still uses port ${before.port}`);
      if (r.proxyStats().clients < 2) problems.push("the proxy saw one client address: nothing moved");
      return problems;
    } finally {
      c.socket.close();
    }
  } finally {
    await r.stop();
  }
}

/** resumption: a first connection gets a ticket; the second resumes with it (PSK, so no Certificate), both downloading a file intact. */
export async function resumptionTsquic(): Promise<string[]> {
  const r = await rig({ "100k.bin": 100 * 1024 });
  try {
    const problems: string[] = [];
    const c1 = await connect(r);
    problems.push(...checkFile(r.set, "100k.bin", await c1.fetchFile("100k.bin")));
    try {
      await until(() => c1.socket.sessionTicket !== undefined, 5000, "a session ticket on the first connection");
    } finally {
      c1.socket.close();
    }
    const ticket = c1.socket.sessionTicket;
    const c2 = await connect(r, ticket);
    try {
      problems.push(...checkFile(r.set, "100k.bin", await c2.fetchFile("100k.bin")));
      // A resumed TLS client goes from EncryptedExtensions straight to Finished: a Certificate message would be a handshake failure (src/tls/client.ts).
      if (!c2.socket.connection.tls.resumed) problems.push("second connection: the client did not resume (full handshake with Certificate)");
      const s2 = r.serverSockets[1];
      if (!s2?.connection.tls.resumed) problems.push("second connection: the server did not accept the PSK");
      if (c1.socket.connection.tls.resumed) problems.push("first connection claims to be resumed");
    } finally {
      c2.socket.close();
    }
    return problems;
  } finally {
    await r.stop();
  }
}
