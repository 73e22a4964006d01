// Session tickets, 0-RTT and cipher selection through quic() and listen().
import { test } from "node:test";
import assert from "node:assert/strict";
import { getCiphers } from "node:crypto";
import { quic, type QuicSocket } from "../../src/index.js";
import { cipherSuitesOption } from "../../src/api/quic.js";
import { decodeResumptionState } from "../../src/quic/resumption.js";
import { certs, clientTls, startServer, until } from "./helpers.js";

/** A first connection to `port`, closed once the server's ticket arrived through the `sessionTicket` callback. */
async function ticketFrom(port: number): Promise<Uint8Array> {
  const tickets: Uint8Array[] = [];
  const first = await quic(`127.0.0.1:${port}`, { tls: clientTls, socket: { sessionTicket: (_s, t) => tickets.push(t) }, stream: {} });
  await until(() => tickets.length > 0, 5000, "the sessionTicket callback");
  assert.equal(first.sessionTicket, tickets[tickets.length - 1]);
  first.close();
  return tickets[tickets.length - 1]!;
}

test("a resumed quic() with an early-data session resolves at once, sends its stream in 0-RTT, and learns it was accepted", async () => {
  const earlyFlags: boolean[] = [];
  const server = await startServer({
    quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem, earlyData: true },
    stream: {
      data(stream, buf) {
        earlyFlags.push(stream.earlyData);
        stream.end(buf);
      },
    },
  });
  const ticket = await ticketFrom(server.port);
  const state = decodeResumptionState(ticket);
  assert.ok(state.ticket.peerTransportParameters, "the session does not carry the server's transport parameters");
  assert.ok(state.token, "the session does not carry the server's NEW_TOKEN token");
  const verdicts: boolean[] = [];
  let opened = false;
  let echoed = "";
  const socket: QuicSocket = await quic(`127.0.0.1:${server.port}`, {
    tls: { ...clientTls, session: ticket },
    socket: { earlyData: (_s, accepted) => verdicts.push(accepted), open: () => (opened = true) },
    stream: { data: (_s, b) => (echoed += b) },
  });
  // Resolved before the handshake: the stream's bytes ride in 0-RTT.
  assert.equal(opened, false);
  assert.equal(socket.earlyData, "attempted");
  socket.stream().end("early hello");
  await until(() => echoed === "early hello", 5000, "the echo");
  assert.deepEqual(verdicts, [true]);
  assert.equal(socket.earlyData, "accepted");
  assert.deepEqual(earlyFlags, [true], "the server did not see the stream as early data");
  assert.ok(socket.connection.tls.resumed);
  socket.close();
  server.stop(true);
});

test("a server with early data off rejects 0-RTT: the client is told, and its stream data still arrives (in 1-RTT)", async () => {
  const earlyFlags: boolean[] = [];
  const server = await startServer({
    stream: {
      data(stream, buf) {
        earlyFlags.push(stream.earlyData);
        stream.end(buf);
      },
    },
  });
  const ticket = await ticketFrom(server.port);
  assert.equal(decodeResumptionState(ticket).ticket.maxEarlyDataSize, 0, "a server without earlyData issued an early-data ticket");
  let echoed = "";
  const verdicts: boolean[] = [];
  // The ticket allows no 0-RTT, so the client waits for the handshake as usual.
  const socket = await quic(`127.0.0.1:${server.port}`, { tls: { ...clientTls, session: ticket }, socket: { earlyData: (_s, a) => verdicts.push(a) }, stream: { data: (_s, b) => (echoed += b) } });
  assert.equal(socket.earlyData, "none");
  socket.stream().end("late hello");
  await until(() => echoed === "late hello", 5000, "the echo");
  assert.deepEqual(verdicts, []);
  assert.deepEqual(earlyFlags, [false]);
  socket.close();
  server.stop(true);
});

test("tls.earlyData: false resumes without 0-RTT", async () => {
  const server = await startServer({ quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem, earlyData: true }, stream: { data: (s, b) => s.end(b) } });
  const ticket = await ticketFrom(server.port);
  const socket = await quic(`127.0.0.1:${server.port}`, { tls: { ...clientTls, session: ticket, earlyData: false }, stream: {} });
  assert.equal(socket.earlyData, "none");
  assert.ok(socket.connection.isEstablished, "quic() resolved before the handshake without 0-RTT");
  assert.ok(socket.connection.tls.resumed);
  socket.close();
  server.stop(true);
});

test("cipher lists: the server's choice is honoured, a list with nothing in common fails the handshake with handshake_failure", async () => {
  // AES-256-GCM: not the client's first preference, and available on every runtime (Bun has no ChaCha20).
  const server = await startServer({ quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem, ciphers: "TLS_AES_256_GCM_SHA384" }, stream: { data: (s, b) => s.end(b) } });
  const socket = await quic(`127.0.0.1:${server.port}`, { tls: clientTls, stream: {} });
  assert.equal(socket.connection.tls.cipherSuite!.name, "TLS_AES_256_GCM_SHA384");
  socket.close();
  const other = quic(`127.0.0.1:${server.port}`, { tls: { ...clientTls, ciphers: ["TLS_AES_128_GCM_SHA256"] }, stream: {} });
  await assert.rejects(other, (e: Error & { errorCode?: number }) => /no cipher suite in common|handshake_failure/.test(e.message));
  server.stop(true);
});

test("cipherSuitesOption takes arrays and ':' lists, and names the supported suites when given an unknown one", () => {
  assert.deepEqual(cipherSuitesOption("TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"), ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"]);
  assert.deepEqual(cipherSuitesOption(["TLS_AES_256_GCM_SHA384"]), ["TLS_AES_256_GCM_SHA384"]);
  // ChaCha20-Poly1305 where the runtime has it (Node), a clear refusal where it does not (Bun).
  if (getCiphers().includes("chacha20-poly1305")) assert.deepEqual(cipherSuitesOption("TLS_CHACHA20_POLY1305_SHA256"), ["TLS_CHACHA20_POLY1305_SHA256"]);
  else assert.throws(() => cipherSuitesOption("TLS_CHACHA20_POLY1305_SHA256"), /not available: this runtime's node:crypto has no chacha20-poly1305/);
  assert.throws(() => cipherSuitesOption("ECDHE-RSA-AES128-GCM-SHA256"), /unsupported cipher suite "ECDHE-RSA-AES128-GCM-SHA256" \(supported: TLS_AES_128_GCM_SHA256/);
  assert.throws(() => cipherSuitesOption(""), /empty/);
});
