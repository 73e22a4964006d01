/**
 * Version negotiation against ngtcp2 0.12.1, which speaks QUIC v1 and the v2
 * draft (not RFC 9369's v2), and carries version information under the
 * draft's transport parameter codepoint, not RFC 9368's 0x11: neither side
 * reads the other's, so these tests show that offering v2 and sending
 * version_information costs nothing against it, in both roles and after an
 * incompatible Version Negotiation. Our own checks are exercised
 * tsquic-to-tsquic (test/quic/compatible-version-negotiation.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { listen, quic } from "../../src/index.js";
import { QUIC_V1, QUIC_V2 } from "../../src/quic/packet/index.js";
import { NGTCP2_CLIENT, requirePeer, startNgtcp2Server, startPeer, tempCertificates, waitFor } from "./peers.js";

const H3_NO_ERROR = 0x100;

test("a tsquic client offering v1 and v2 connects to ngtcp2's v1 server", async () => {
  const { peer, port, certs } = await startNgtcp2Server();
  try {
    const socket = await quic(`127.0.0.1:${port}`, { alpn: "h3", versions: [QUIC_V1.number, QUIC_V2.number], tls: { ca: readFileSync(certs.ca), serverName: "localhost" } });
    assert.equal(socket.connection.version.number, QUIC_V1.number);
    // No RFC 9368 version_information from ngtcp2 0.12 (draft codepoint), which a v1 client that stayed in v1 accepts.
    assert.equal(socket.connection.peerParams?.versionInformation, undefined);
    socket.close(H3_NO_ERROR);
    await waitFor(() => /rx \d+ 1RTT CONNECTION_CLOSE/.test(peer.output()), 5000, "ngtcp2 to receive our CONNECTION_CLOSE");
    assert.match(peer.output(), /QUIC handshake has completed/);
  } finally {
    await peer.stop();
  }
});

/** Runs gtlsclient with `args` against a tsquic server of `versions`; returns its output and the version the server connection used. */
async function ngtcp2ClientAgainst(versions: number[], args: string[]): Promise<{ code: number | null; output: string; version: number | undefined; clientVi: number | undefined }> {
  const client = requirePeer(NGTCP2_CLIENT);
  const certs = await tempCertificates();
  let version: number | undefined;
  let clientVi: number | undefined;
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    alpn: "h3",
    versions,
    quic: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
    open(socket) {
      version = socket.connection.version.number;
      clientVi = socket.connection.peerParams?.versionInformation?.chosenVersion;
      setTimeout(() => socket.close(H3_NO_ERROR, "bye"), 20);
    },
  });
  await server.ready;
  const peer = startPeer(client, ["127.0.0.1", String(server.port), `https://localhost:${server.port}/`, "--timeout=5s", ...args], certs.dir);
  try {
    const code = await peer.exited;
    return { code, output: peer.output(), version, clientVi };
  } finally {
    await peer.stop();
    server.stop(true);
  }
}

test("ngtcp2's client offering v1 and the v2 draft connects to a tsquic server preferring v2, which stays in v1", async () => {
  const r = await ngtcp2ClientAgainst([QUIC_V2.number, QUIC_V1.number], ["--other-versions=v1,v2draft"]);
  assert.equal(r.code, 0, r.output.slice(-2000));
  assert.match(r.output, /QUIC handshake has been confirmed/);
  // The client offers only the v2 draft, not RFC 9369 v2: the server stays in v1.
  assert.equal(r.version, QUIC_V1.number);
  assert.equal(r.clientVi, undefined);
});

test("ngtcp2's client starting in the v2 draft gets Version Negotiation from tsquic and completes in v1", async () => {
  const r = await ngtcp2ClientAgainst([QUIC_V1.number], ["--version=v2draft", "--preferred-versions=v2draft,v1"]);
  assert.equal(r.code, 0, r.output.slice(-2000));
  assert.match(r.output, /QUIC handshake has been confirmed/);
  assert.equal(r.version, QUIC_V1.number);
  // Version Negotiation happened: the first attempt (v2 draft) was refused.
  assert.match(r.output, /type=VN/);
  assert.match(r.output, /Client selected version 0x1\b/);
});
