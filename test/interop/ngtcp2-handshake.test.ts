import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { listen, quic } from "../../src/index.js";
import { NGTCP2_CLIENT, requirePeer, startNgtcp2Server, startPeer, tempCertificates, waitFor } from "./peers.js";

// H3_NO_ERROR (RFC 9114 section 8.1): the code an h3 peer expects in a clean close.
const H3_NO_ERROR = 0x100;

test("tsquic client completes a handshake with ngtcp2's server and closes cleanly", async () => {
  const { peer, port, certs } = await startNgtcp2Server();
  try {
    const socket = await quic(`127.0.0.1:${port}`, { alpn: "h3", tls: { ca: readFileSync(certs.ca), serverName: "localhost" } });
    assert.equal(socket.alpnProtocol, "h3");
    socket.close(H3_NO_ERROR);
    // ngtcp2 logs the CONNECTION_CLOSE it received and enters draining: a clean close, not a timeout.
    await waitFor(() => /rx \d+ 1RTT CONNECTION_CLOSE\(0x1d\) error_code=\(unknown\)\(0x100\)/.test(peer.output()), 5000, "ngtcp2 to receive our CONNECTION_CLOSE");
    assert.match(peer.output(), /QUIC handshake has completed/);
  } finally {
    await peer.stop();
  }
});

test("ngtcp2's client completes a handshake with a tsquic server", async () => {
  const client = requirePeer(NGTCP2_CLIENT);
  const certs = await tempCertificates();
  let opened = 0;
  let closeCode: number | undefined;
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    alpn: "h3",
    quic: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
    open(socket) {
      opened++;
      // No HTTP/3 yet: end the connection cleanly once the handshake is done.
      setTimeout(() => socket.close(H3_NO_ERROR, "bye"), 20);
    },
    close(socket) {
      closeCode = socket.connection.closeInfo?.errorCode;
    },
  });
  await server.ready;
  const peer = startPeer(client, ["127.0.0.1", String(server.port), `https://localhost:${server.port}/`, "--timeout=5s"], certs.dir);
  try {
    const code = await peer.exited;
    assert.equal(code, 0, `gtlsclient exited with ${code}:\n${peer.output().slice(-2000)}`);
    assert.match(peer.output(), /QUIC handshake has completed/);
    assert.match(peer.output(), /QUIC handshake has been confirmed/);
    assert.match(peer.output(), /CONNECTION_CLOSE\(0x1d\) error_code=\(unknown\)\(0x100\)/);
    assert.equal(opened, 1);
    assert.equal(closeCode, H3_NO_ERROR);
  } finally {
    await peer.stop();
    server.stop(true);
  }
});
