import { test } from "node:test";
import assert from "node:assert/strict";
import { quic, TsquicError, type QuicSocket } from "../../src/index.js";
import { clientTls, startServer, until } from "./helpers.js";

test("datagrams over UDP: the server's datagram(socket, buf) callback echoes what socket.sendDatagram sent", async () => {
  const server = await startServer({
    datagrams: true,
    datagram(socket, buf) {
      socket.sendDatagram(Buffer.concat([Buffer.from("echo:"), buf]));
    },
  });
  const got: string[] = [];
  let socket: QuicSocket | undefined;
  try {
    socket = await quic(`127.0.0.1:${server.port}`, {
      tls: clientTls,
      datagrams: true,
      datagram(_s, buf) {
        got.push(buf.toString());
      },
    });
    assert.ok(socket.maxDatagramSize > 1000, `maximum datagram ${socket.maxDatagramSize}`);
    for (let i = 0; i < 10; i++) assert.equal(socket.sendDatagram(`d${i}`), true);
    // Loopback loses nothing here, but datagrams may be reordered or lost in principle: compare as a set.
    await until(() => got.length === 10, 10_000, "10 echoed datagrams");
    assert.deepEqual(got.sort(), Array.from({ length: 10 }, (_, i) => `echo:d${i}`).sort());
    assert.throws(() => socket!.sendDatagram(new Uint8Array(socket!.maxDatagramSize + 1)), (e: unknown) => e instanceof TsquicError && e.code === "ERR_QUIC_DATAGRAM_TOO_LARGE");
  } finally {
    socket?.close();
    server.stop(true);
  }
});

test("sendDatagram to a server that does not accept datagrams throws ERR_QUIC_DATAGRAM_UNSUPPORTED", async () => {
  const server = await startServer({});
  let socket: QuicSocket | undefined;
  try {
    socket = await quic(`127.0.0.1:${server.port}`, { tls: clientTls, datagrams: true });
    assert.equal(socket.maxDatagramSize, 0);
    assert.throws(() => socket!.sendDatagram("x"), (e: unknown) => e instanceof TsquicError && e.code === "ERR_QUIC_DATAGRAM_UNSUPPORTED");
  } finally {
    socket?.close();
    server.stop(true);
  }
});
