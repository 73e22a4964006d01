import { test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { createCertificate } from "../../src/pki/generate.js";
import { quic } from "../../src/index.js";
import { clientTls, startServer, until } from "./helpers.js";

interface CodedError extends Error {
  code?: string;
  alert?: number;
  errorCode?: number;
  remote?: boolean;
  fromPeer?: boolean;
}

test("a failed TLS handshake rejects quic() with the TLS alert, and the server's error callback sees it", async () => {
  const serverErrors: CodedError[] = [];
  const server = await startServer({
    error(_socket, err) {
      serverErrors.push(err);
    },
  });
  // A CA with another name that did not sign the server's certificate.
  const stranger = createCertificate({ subject: { commonName: "some other CA" }, isCA: true }).pem;
  await assert.rejects(quic(`127.0.0.1:${server.port}`, { tls: { ca: stranger, serverName: "localhost" } }), (err: CodedError) => {
    assert.equal(err.code, "ERR_TLS_CERT_UNKNOWN_ISSUER");
    assert.equal(err.alert, 48); // unknown_ca (RFC 8446 section 6.2)
    assert.match(err.message, /unknown_ca/);
    return true;
  });
  await until(() => serverErrors.length === 1, 5000, "the server to learn of the alert");
  assert.equal(serverErrors[0]!.alert, 48);
  assert.equal(serverErrors[0]!.fromPeer, true);
  server.stop(true);
});

test("no common ALPN ends the handshake with no_application_protocol", async () => {
  const server = await startServer({ alpn: "one" });
  await assert.rejects(quic(`127.0.0.1:${server.port}`, { tls: clientTls, alpn: "two" }), (err: CodedError) => {
    assert.equal(err.alert, 120);
    return true;
  });
  server.stop(true);
});

test("a peer that does not answer: quic() rejects with a handshake timeout", async () => {
  const silent = dgram.createSocket("udp4");
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
  const port = silent.address().port;
  const started = Date.now();
  await assert.rejects(quic(`127.0.0.1:${port}`, { tls: clientTls, handshakeTimeout: 600 }), (err: CodedError) => {
    assert.equal(err.code, "ERR_QUIC_HANDSHAKE_TIMEOUT");
    assert.match(err.message, /handshake/);
    return true;
  });
  assert.ok(Date.now() - started >= 500);
  silent.close();
});

test("idle timeout reaches error(socket) with ERR_QUIC_IDLE_TIMEOUT on both sides", async () => {
  const serverErrors: CodedError[] = [];
  const server = await startServer({
    transport: { maxIdleTimeout: 400 },
    error(_s, err) {
      serverErrors.push(err);
    },
  });
  const clientErrors: CodedError[] = [];
  let closed = false;
  await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    transport: { maxIdleTimeout: 400 },
    socket: {
      error(_s, err) {
        clientErrors.push(err);
      },
      close() {
        closed = true;
      },
    },
  });
  await until(() => closed && serverErrors.length === 1, 5000, "idle timeouts");
  assert.equal(clientErrors.length, 1);
  assert.equal(clientErrors[0]!.code, "ERR_QUIC_IDLE_TIMEOUT");
  assert.equal(serverErrors[0]!.code, "ERR_QUIC_IDLE_TIMEOUT");
  server.stop(true);
});

test("a flow-control violation closes the connection with FLOW_CONTROL_ERROR, reported to streams and sockets on both sides", async () => {
  const serverErrors: CodedError[] = [];
  const serverStreamErrors: CodedError[] = [];
  const server = await startServer({
    transport: { initialMaxStreamDataBidiRemote: 4096, initialMaxData: 8192 },
    error(_s, err) {
      serverErrors.push(err);
    },
    stream: {
      error(_s, err) {
        serverStreamErrors.push(err);
      },
    },
  });
  const clientErrors: CodedError[] = [];
  const clientStreamErrors: CodedError[] = [];
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    stream: {
      error(_s, err) {
        clientStreamErrors.push(err);
      },
    },
    error(_s, err) {
      clientErrors.push(err);
    },
  });
  // Misbehave: pretend the server granted far more credit than it did.
  socket.connection.streams.setPeerLimits({
    initialMaxData: 1 << 20,
    initialMaxStreamDataBidiLocal: 1 << 20,
    initialMaxStreamDataBidiRemote: 1 << 20,
    initialMaxStreamDataUni: 1 << 20,
    initialMaxStreamsBidi: 100,
    initialMaxStreamsUni: 100,
  });
  const s = socket.stream();
  s.write(new Uint8Array(64 * 1024));
  await until(() => serverErrors.length === 1 && clientErrors.length === 1, 5000, "the violation to be reported");
  assert.equal(serverErrors[0]!.code, "ERR_QUIC_TRANSPORT");
  assert.equal(serverErrors[0]!.errorCode, 0x03); // FLOW_CONTROL_ERROR (RFC 9000 section 20.1)
  assert.equal(serverStreamErrors[0]?.errorCode, 0x03);
  assert.equal(clientErrors[0]!.errorCode, 0x03);
  assert.equal(clientErrors[0]!.remote, true);
  assert.match(clientErrors[0]!.message, /FLOW_CONTROL_ERROR/);
  assert.equal(clientStreamErrors[0]?.errorCode, 0x03);
  server.stop(true);
});
