import { test } from "node:test";
import assert from "node:assert/strict";
import { QuicConnectionError, type CloseInfo, type Connection } from "../../src/quic/connection.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { FrameType, type Frame } from "../../src/quic/frames/index.js";
import { TlsAlertError } from "../../src/tls/alerts.js";
import { drain, establish, firstPacketOnly, forgeClientPacket, makePair } from "./harness.js";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";

/** The info of the connection_closed event `c` queued, if any. */
function closedEvent(c: Connection): CloseInfo | undefined {
  for (const e of drain(c)) if (e.type === "connection_closed") return e.info;
  return undefined;
}

test("an application close delivers its code and reason to the peer's connection_closed event", () => {
  const p = makePair();
  const server = establish(p);
  drain(server);
  p.conn.close(0x42, "going away", p.link.now);
  p.link.run(() => server.isClosing, 1_000);
  const info = closedEvent(server);
  assert.ok(info, "server saw no connection_closed event");
  assert.equal(info.errorCode, 0x42);
  assert.equal(info.application, true);
  assert.equal(info.reason, "going away");
  assert.equal(info.remote, true);
  assert.ok(info.error instanceof QuicConnectionError);
  assert.equal(info.error.code, "ERR_QUIC_APPLICATION_CLOSE");
  assert.equal(p.conn.closeInfo?.remote, false);
  assert.equal(p.conn.closeInfo?.errorCode, 0x42);
});

test("a clean close with code 0 reaches the peer without an error", () => {
  const p = makePair();
  const server = establish(p);
  drain(server);
  server.close(0, "", p.link.now);
  p.link.run(() => p.conn.isClosing, 1_000);
  const info = closedEvent(p.conn);
  assert.ok(info);
  assert.equal(info.errorCode, 0);
  assert.equal(info.application, true);
  assert.equal(info.error, undefined);
});

const violations: Array<{ name: string; frames: (p: ReturnType<typeof makePair>) => Frame[] | Uint8Array; code: number; frameType?: number }> = [
  { name: "HANDSHAKE_DONE from a client", frames: () => [{ type: "handshake_done" }], code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.HANDSHAKE_DONE },
  { name: "NEW_TOKEN from a client", frames: () => [{ type: "new_token", token: new Uint8Array([1, 2, 3]) }], code: TransportErrorCode.PROTOCOL_VIOLATION, frameType: FrameType.NEW_TOKEN },
  {
    name: "STREAM on a server stream the server never opened",
    frames: () => [{ type: "stream", streamId: 3, offset: 0, data: new Uint8Array(10), fin: false }],
    code: TransportErrorCode.STREAM_STATE_ERROR,
  },
  {
    name: "STREAM beyond the server's MAX_STREAMS",
    frames: () => [{ type: "stream", streamId: 4 * 100, offset: 0, data: new Uint8Array(10), fin: false }],
    code: TransportErrorCode.STREAM_LIMIT_ERROR,
  },
  {
    name: "STREAM data beyond the stream's flow-control limit",
    frames: () => [{ type: "stream", streamId: 0, offset: 256 * 1024, data: new Uint8Array(10), fin: false }],
    code: TransportErrorCode.FLOW_CONTROL_ERROR,
  },
  {
    name: "RESET_STREAM with a final size below the data received",
    frames: () => [
      { type: "stream", streamId: 0, offset: 0, data: new Uint8Array(100), fin: false },
      { type: "reset_stream", streamId: 0, errorCode: 1, finalSize: 50 },
    ],
    code: TransportErrorCode.FINAL_SIZE_ERROR,
  },
  {
    name: "an ACK of a packet the server never sent",
    frames: () => [{ type: "ack", largest: 1_000_000, ackDelay: 0, ranges: [1_000_000, 1_000_000], ecn: null }],
    code: TransportErrorCode.PROTOCOL_VIOLATION,
    frameType: FrameType.ACK,
  },
  {
    name: "RETIRE_CONNECTION_ID of a sequence number never issued",
    frames: () => [{ type: "retire_connection_id", sequence: 1000 }],
    code: TransportErrorCode.PROTOCOL_VIOLATION,
    frameType: FrameType.RETIRE_CONNECTION_ID,
  },
  { name: "an unknown frame type", frames: () => new Uint8Array([0x40, 0x40, 0, 0]), code: TransportErrorCode.FRAME_ENCODING_ERROR },
  { name: "a packet with no frames (RFC 9000 section 12.4)", frames: () => new Uint8Array(0), code: TransportErrorCode.PROTOCOL_VIOLATION },
  {
    name: "a STREAM frame whose length runs past the packet",
    frames: () => new Uint8Array([0x0a, 0x00, 0x40, 0xff, 1, 2, 3]),
    code: TransportErrorCode.FRAME_ENCODING_ERROR,
  },
  {
    name: "MAX_STREAMS above 2^60 (RFC 9000 section 19.11)",
    frames: () => new Uint8Array([0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1]),
    code: TransportErrorCode.FRAME_ENCODING_ERROR,
  },
];

for (const v of violations) {
  test(`a crafted frame closes the connection with its transport error, seen by both sides: ${v.name}`, () => {
    const p = makePair();
    const server = establish(p);
    drain(p.conn);
    drain(server);
    p.link.inject(0, forgeClientPacket(p, v.frames(p)));
    p.link.run(() => p.conn.isClosing, 1_000);
    const local = server.closeInfo;
    assert.ok(local, "server did not close");
    assert.equal(local.errorCode, v.code, `server closed with ${local.errorCode}: ${local.reason}`);
    assert.equal(local.application, false);
    assert.equal(local.remote, false);
    const info = closedEvent(p.conn);
    assert.ok(info, "client saw no connection_closed event");
    assert.equal(info.errorCode, v.code);
    assert.equal(info.application, false);
    assert.equal(info.remote, true);
    assert.ok(info.reason.length > 0, "the reason phrase was lost");
    assert.ok(info.error instanceof QuicConnectionError);
    assert.equal(info.error.errorCode, v.code);
    if (v.frameType !== undefined) assert.equal((server as unknown as { closeFrame: { frameType: number } }).closeFrame.frameType, v.frameType);
  });
}

test("a 1-RTT packet with reserved header bits set closes the connection with PROTOCOL_VIOLATION (RFC 9000 section 17.3.1)", () => {
  const p = makePair();
  const server = establish(p);
  p.link.inject(0, forgeClientPacket(p, [{ type: "ping" }], { reservedBits: true }));
  p.link.run(() => p.conn.isClosing, 1_000);
  assert.equal(server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
  assert.equal(p.conn.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
  assert.equal(p.conn.closeInfo?.remote, true);
});

test("a frame not allowed in its packet type (STREAM in a Handshake packet) closes with PROTOCOL_VIOLATION during the handshake (RFC 9000 section 12.4)", () => {
  // The client's Finished never arrives, so the server still reads Handshake packets.
  const p = makePair({ aToB: { delay: 10, drop: (i) => i > 1 } });
  p.link.run(() => p.conn.isEstablished, 1_000);
  const server = p.serverConn()!;
  assert.equal(server.isEstablished, false);
  p.link.setConditions(0, { delay: 10 });
  p.link.inject(0, forgeClientPacket(p, [{ type: "stream", streamId: 0, offset: 0, data: new Uint8Array(4), fin: false }], { level: "handshake" }), 0);
  p.link.run(() => server.isClosing, 100);
  assert.equal(server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
  p.link.run(() => p.conn.isClosing, 1_000);
  assert.equal(p.conn.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
  assert.equal(p.conn.closeInfo?.remote, true);
});

test("an ALPN mismatch fails the handshake with CRYPTO_ERROR 0x178 on both sides (RFC 9001 section 8.1)", () => {
  const p = makePair({ clientConfig: { alpn: ["test"] }, serverConfig: { alpn: ["h3"] } });
  p.link.run(() => p.conn.isClosing, 2_000);
  const info = closedEvent(p.conn);
  assert.ok(info, "client saw no connection_closed event");
  assert.equal(info.errorCode, 0x178);
  assert.equal(info.application, false);
  assert.equal(info.remote, true);
  assert.ok(info.error instanceof TlsAlertError);
  assert.equal(info.error.alert, 120);
  assert.equal(p.conn.isEstablished, false);
  const server = p.serverConn()!;
  assert.equal(server.closeInfo?.errorCode, 0x178);
  assert.equal(server.closeInfo?.remote, false);
});

test("a certificate from an unknown CA fails the handshake with CRYPTO_ERROR and the server learns the alert", () => {
  const other = createDevelopmentCertificates();
  const p = makePair({ clientConfig: { clientTls: { ca: other.ca.pem } } });
  p.link.run(() => p.conn.isClosing && (p.serverConn()?.isClosing ?? false), 2_000);
  const code = p.conn.closeInfo?.errorCode ?? 0;
  assert.ok(code >= 0x100 && code <= 0x1ff, `client closed with 0x${code.toString(16)}`);
  assert.equal(p.conn.closeInfo?.remote, false);
  assert.equal(p.serverConn()!.closeInfo?.errorCode, code);
  assert.equal(p.serverConn()!.closeInfo?.remote, true);
});

test("an application close during the handshake reaches the server as APPLICATION_ERROR without its reason (RFC 9000 section 10.2.3)", () => {
  // Only the server's Initial packet gets through: the client has Handshake keys but cannot finish.
  const p = makePair({ bToA: { delay: 10, tamper: (d, i) => (i === 1 ? firstPacketOnly(d) : null) } });
  p.link.run(() => p.conn.hasKeys("handshake"), 1_000);
  assert.equal(p.conn.isEstablished, false);
  p.conn.close(7, "secret reason", p.link.now);
  p.link.run(() => p.serverConn()?.isClosing ?? false, 1_000);
  const info = p.serverConn()!.closeInfo;
  assert.ok(info);
  assert.equal(info.errorCode, TransportErrorCode.APPLICATION_ERROR);
  assert.equal(info.application, false);
  assert.equal(info.reason, "");
  assert.equal(info.remote, true);
});

test("the closing endpoint lasts three PTOs, the draining one three PTOs, and a draining endpoint sends nothing (RFC 9000 section 10.2)", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => false, 500);
  const t0 = p.link.now;
  const clientPto = p.conn.recovery.ptoPeriod();
  p.conn.close(1, "done", t0);
  assert.equal(p.conn.state, "closing");
  let drainingAt = 0;
  let serverPto = 0;
  let sentByServerWhenDraining = -1;
  let clientClosedAt = 0;
  let serverClosedAt = 0;
  p.link.run(() => {
    if (!drainingAt && server.state === "draining") {
      drainingAt = p.link.now;
      serverPto = server.recovery.ptoPeriod();
      sentByServerWhenDraining = p.link.stats[1].sent;
    }
    if (!clientClosedAt && p.conn.isClosed) clientClosedAt = p.link.now;
    if (!serverClosedAt && server.isClosed) serverClosedAt = p.link.now;
    return server.isClosed && p.conn.isClosed;
  }, 5_000);
  assert.ok(drainingAt > 0, "the server never drained");
  assert.equal(drainingAt - t0, 10, "the server drained when the close arrived, one delay later");
  assert.ok(Math.abs(clientClosedAt - t0 - 3 * clientPto) < 1e-6, `client closed ${clientClosedAt - t0} ms after closing, PTO ${clientPto}`);
  assert.ok(Math.abs(serverClosedAt - drainingAt - 3 * serverPto) < 1e-6, `server closed ${serverClosedAt - drainingAt} ms after draining, PTO ${serverPto}`);
  assert.equal(p.link.stats[1].sent, sentByServerWhenDraining, "the draining server sent packets");
  // Closed connections leave the endpoints.
  p.link.run(() => false, 100);
  assert.equal(p.server.connectionCount, 0);
  assert.equal(p.client.connectionCount, 0);
});

test("a closing endpoint answers late packets with CONNECTION_CLOSE, so a lost close is repeated", () => {
  const p = makePair();
  const server = establish(p);
  p.link.run(() => false, 1_000);
  // The client's first CONNECTION_CLOSE is lost.
  let dropNext = true;
  p.link.setConditions(0, { delay: 10, drop: () => (dropNext ? ((dropNext = false), true) : false) });
  p.conn.close(9, "once more", p.link.now);
  p.link.run(() => false, 50);
  assert.equal(server.isClosing, false, "the server heard the close that was dropped");
  // The server keeps talking; the closing client answers with its close.
  const s = server.openStream(true)!;
  server.streamWrite(s.id, new Uint8Array(100), true);
  p.link.run(() => server.isClosing, 1_000);
  assert.equal(server.closeInfo?.errorCode, 9);
  assert.equal(server.closeInfo?.remote, true);
  assert.equal(server.state, "draining");
});

test("an API call on a closed connection throws the error that closed it", () => {
  const p = makePair();
  establish(p);
  p.conn.close(5, "bye", p.link.now);
  assert.throws(() => p.conn.openStream(true), (e: unknown) => e instanceof QuicConnectionError && e.errorCode === 5);
});
