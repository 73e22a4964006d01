// Connection migration over real UDP sockets: socket.migrate() and the server's preferred address.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { quic, type QuicServer, type QuicSocket, type QuicStream } from "../../src/index.js";
import { clientTls, startServer, until } from "./helpers.js";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** An echo server that remembers its connections. */
async function echoServer(options: Parameters<typeof startServer>[0] = {}): Promise<{ server: QuicServer; sockets: QuicSocket[] }> {
  const sockets: QuicSocket[] = [];
  const server = await startServer({
    open: (s: QuicSocket) => void sockets.push(s),
    stream: {
      data: (stream: QuicStream, buf: Buffer) => void stream.write(Buffer.from(buf)),
      end: (stream: QuicStream) => stream.end(),
    },
    ...options,
  });
  return { server, sockets };
}

/** A client whose streams collect what comes back; `echo` sends bytes and resolves with their echo. */
async function echoClient(port: number, options: Parameters<typeof quic>[1] = {}): Promise<{ socket: QuicSocket; echo: (bytes: Uint8Array) => Promise<Buffer> }> {
  const received = new Map<number, { chunks: Buffer[]; done: (b: Buffer) => void }>();
  const socket = await quic(`127.0.0.1:${port}`, {
    tls: clientTls,
    data: (stream, buf) => void received.get(stream.id)?.chunks.push(Buffer.from(buf)),
    end: (stream) => {
      const r = received.get(stream.id);
      r?.done(Buffer.concat(r.chunks));
    },
    ...options,
  });
  const echo = (bytes: Uint8Array): Promise<Buffer> =>
    new Promise((resolve) => {
      const s = socket.stream();
      received.set(s.id, { chunks: [], done: resolve });
      s.end(bytes);
    });
  return { socket, echo };
}

test("socket.migrate() moves a client to a new UDP socket in the middle of a transfer; every byte arrives", { timeout: 30_000 }, async () => {
  const { server, sockets } = await echoServer();
  const { socket, echo } = await echoClient(server.port);
  try {
    const before = socket.localAddress;
    const data = new Uint8Array(randomBytes(2 * 1024 * 1024));
    const transfer = echo(data);
    const path = await socket.migrate();
    assert.notEqual(path.local?.port, before.port);
    assert.equal(socket.localAddress.port, path.local?.port);
    assert.equal(sha(await transfer), sha(data));
    await until(() => sockets[0]?.address.port === path.local?.port, 5_000, "the server to see the new port");
    const small = new Uint8Array(randomBytes(10_000));
    assert.equal(sha(await echo(small)), sha(small));
  } finally {
    socket.close();
    server.stop(true);
  }
});

test("socket.migrate({ natRebinding: true }) changes the port without validation and the server follows", { timeout: 30_000 }, async () => {
  const { server, sockets } = await echoServer();
  const { socket, echo } = await echoClient(server.port);
  try {
    const path = await socket.migrate({ natRebinding: true });
    const data = new Uint8Array(randomBytes(200_000));
    assert.equal(sha(await echo(data)), sha(data));
    await until(() => sockets[0]?.address.port === path.local?.port, 5_000, "the server to follow the rebinding");
  } finally {
    socket.close();
    server.stop(true);
  }
});

test("socket.migrate() rejects with ERR_QUIC_MIGRATION_DISABLED when the server sent disable_active_migration", { timeout: 30_000 }, async () => {
  const { server } = await echoServer({ transport: { disableActiveMigration: true } });
  const { socket, echo } = await echoClient(server.port);
  try {
    await until(() => socket.connection.isHandshakeConfirmed, 5_000, "handshake confirmation");
    await assert.rejects(socket.migrate(), (e: Error & { code?: string }) => e.code === "ERR_QUIC_MIGRATION_DISABLED");
    const data = new Uint8Array(randomBytes(10_000));
    assert.equal(sha(await echo(data)), sha(data));
  } finally {
    socket.close();
    server.stop(true);
  }
});

test("a server's preferred address: the client moves there after the handshake (policy accept, the default)", { timeout: 30_000 }, async () => {
  const { server, sockets } = await echoServer({ preferredAddress: { ipv4: { address: "127.0.0.1", port: 0 } } });
  const preferred = server.preferredAddress?.ipv4;
  assert.ok(preferred && preferred.port !== 0 && preferred.port !== server.port, "no preferred address was bound");
  const { socket, echo } = await echoClient(server.port);
  try {
    await until(() => socket.address.port === preferred.port, 5_000, "the client to move to the preferred address");
    await until(() => sockets[0]?.localAddress.port === preferred.port, 5_000, "the server to answer from its preferred address");
    const data = new Uint8Array(randomBytes(500_000));
    assert.equal(sha(await echo(data)), sha(data));
  } finally {
    socket.close();
    server.stop(true);
  }
});

test("a server's preferred address with preferredAddressPolicy reject: the client stays", { timeout: 30_000 }, async () => {
  const { server } = await echoServer({ preferredAddress: { ipv4: { address: "127.0.0.1", port: 0 } } });
  const { socket, echo } = await echoClient(server.port, { preferredAddressPolicy: "reject" });
  try {
    const data = new Uint8Array(randomBytes(100_000));
    assert.equal(sha(await echo(data)), sha(data));
    assert.equal(socket.address.port, server.port);
  } finally {
    socket.close();
    server.stop(true);
  }
});
