import { test } from "node:test";
import assert from "node:assert/strict";
import { QlogTracer } from "../../src/quic/qlog/qlog.js";
import type { TracerFactory } from "../../src/quic/qlog/tracer.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { TsquicError } from "../../src/util/errors.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { drain, establish, forgeClientPacket, makePair } from "./harness.js";
import { named, parseQlog } from "./qlog-schema.js";

/** Datagrams received by `c` among `events`. */
function datagramsOf(events: ConnectionEvent[]): Uint8Array[] {
  return events.flatMap((e) => (e.type === "datagram" ? [e.data] : []));
}

/** A recognizable datagram: its index in the first two bytes, then a pattern derived from it. */
function numbered(i: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  d[0] = i >> 8;
  d[1] = i & 0xff;
  for (let j = 2; j < size; j++) d[j] = (i * 31 + j) & 0xff;
  return d;
}

function intact(d: Uint8Array): boolean {
  return numbered((d[0]! << 8) | d[1]!, d.length).every((b, j) => b === d[j]);
}

const ENABLED = { transport: { maxDatagramFrameSize: 1200 } };

test("datagrams over a lossy link: those lost are not sent again, those received are intact and each arrives once (RFC 9221 section 5.2)", () => {
  let clientTrace = "";
  const tracer: TracerFactory = (start) => (start.connection.role === "client" ? new QlogTracer(start, { write: (r) => (clientTrace += r), finish() {} }) : undefined);
  const lossy = { delay: 10, loss: 0.2 };
  const p = makePair({ config: ENABLED, clientConfig: { tracer, maxQueuedDatagrams: 256 }, aToB: lossy, bToA: { delay: 10 }, seed: 5 });
  const server = establish(p, 10_000);
  drain(server);
  const count = 200;
  // A few at a time, as an application producing them over time would.
  const received: Uint8Array[] = [];
  for (let i = 0; i < count; i += 10) {
    for (let j = i; j < i + 10; j++) assert.equal(p.conn.sendDatagram(numbered(j, 300)), true);
    p.link.run(() => false, 20);
    received.push(...datagramsOf(drain(server)));
  }
  // Until every datagram is sent and every packet acknowledged or declared lost.
  p.link.run(() => p.conn.datagrams.length === 0 && p.conn.stats().bytesInFlight === 0, 5_000);
  p.link.run(() => false, 100);
  received.push(...datagramsOf(drain(server)));

  const stats = p.conn.datagrams.stats;
  assert.equal(stats.sent, count, "every datagram went into a packet");
  assert.equal(stats.dropped, 0);
  assert.ok(stats.lost > 0, "20% loss lost no datagram packet");
  assert.ok(received.length < count, "all datagrams arrived over a lossy link: something was retransmitted");
  assert.ok(received.length > count / 2, `only ${received.length} of ${count} arrived`);
  const ids = received.map((d) => (d[0]! << 8) | d[1]!);
  assert.equal(new Set(ids).size, ids.length, "a datagram arrived twice");
  assert.ok(received.every((d) => d.length === 300 && intact(d)), "a datagram was damaged");
  assert.equal(server.datagrams.stats.received, received.length);

  // The client's trace shows each datagram in exactly one packet: none was sent again.
  const q = parseQlog(clientTrace);
  let frames = 0;
  for (const e of named(q.events, "transport:packet_sent")) frames += e.data.frames.filter((f: { frame_type: string }) => f.frame_type === "datagram").length;
  assert.equal(frames, count);
  // DATAGRAM-only packets are ack-eliciting: the server acknowledged them.
  assert.ok(stats.acked > 0);
  assert.equal(stats.acked + stats.lost, named(q.events, "transport:packet_sent").filter((e) => e.data.frames.some((f: { frame_type: string }) => f.frame_type === "datagram")).length);
});

test("datagrams are congestion controlled: queued datagrams wait for the window instead of bursting past it (RFC 9221 section 5.4)", () => {
  const p = makePair({ config: ENABLED, clientConfig: { maxQueuedDatagrams: 1000 } });
  establish(p);
  p.link.run(() => false, 100);
  for (let i = 0; i < 500; i++) p.conn.sendDatagram(numbered(i, 1000));
  const window = p.conn.stats().congestionWindow;
  // One send pass: the connection stops at the congestion window.
  let bytes = 0;
  for (let d = p.conn.send(p.link.now); d; d = p.conn.send(p.link.now)) bytes += d.data.length;
  assert.ok(bytes <= window + 1200, `sent ${bytes} bytes with a window of ${window}`);
  assert.ok(p.conn.datagrams.length > 0, "every datagram left at once");
  assert.ok(p.conn.stats().bytesInFlight > 0, "datagrams do not count in flight");
});

test("sendDatagram refuses locally, with a clear error, a datagram larger than fits, and drops datagrams past the queue bound", () => {
  const p = makePair({ config: ENABLED, clientConfig: { maxQueuedDatagrams: 4 } });
  const server = establish(p);
  const max = p.conn.maxDatagramSize;
  assert.ok(max > 1000 && max < 1200, `maximum datagram ${max}`);
  assert.throws(
    () => p.conn.sendDatagram(new Uint8Array(max + 1)),
    (e: unknown) => e instanceof TsquicError && e.code === "ERR_QUIC_DATAGRAM_TOO_LARGE" && e.message.includes(`${max + 1} bytes`) && e.message.includes(`${max} bytes`),
  );
  assert.equal(p.conn.sendDatagram(new Uint8Array(max)), true, "the largest datagram was refused");
  for (let i = 0; i < 3; i++) assert.equal(p.conn.sendDatagram(new Uint8Array(10)), true);
  assert.equal(p.conn.sendDatagram(new Uint8Array(10)), false, "a fifth datagram was queued past the bound of 4");
  assert.equal(p.conn.datagrams.stats.dropped, 1);
  p.link.run(() => false, 100);
  const got = datagramsOf(drain(server));
  assert.deepEqual(got.map((d) => d.length), [max, 10, 10, 10]);
});

test("the peer's max_datagram_frame_size limits what we send: it counts the frame type and length (RFC 9221 section 3)", () => {
  const p = makePair({ clientConfig: ENABLED, serverConfig: { transport: { maxDatagramFrameSize: 100 } } });
  const server = establish(p);
  // 1 byte of type and 2 of length (97 is above 63: a 2-byte varint) leave 97 bytes of payload.
  assert.equal(p.conn.maxDatagramSize, 97);
  assert.throws(() => p.conn.sendDatagram(new Uint8Array(98)), /does not fit/);
  p.conn.sendDatagram(new Uint8Array(97).fill(7));
  p.link.run(() => false, 100);
  assert.deepEqual(datagramsOf(drain(server)).map((d) => d.length), [97]);
  assert.equal(server.isClosing, false);
});

test("sendDatagram throws when the peer did not advertise max_datagram_frame_size", () => {
  const p = makePair({ clientConfig: ENABLED });
  establish(p);
  assert.equal(p.conn.maxDatagramSize, 0);
  assert.throws(
    () => p.conn.sendDatagram(new Uint8Array(10)),
    (e: unknown) => e instanceof TsquicError && e.code === "ERR_QUIC_DATAGRAM_UNSUPPORTED" && /max_datagram_frame_size/.test(e.message),
  );
});

function closedBy(p: ReturnType<typeof makePair>, server: Connection, datagram: Uint8Array): void {
  p.link.inject(0, forgeClientPacket(p, [{ type: "datagram", data: datagram }]));
  p.link.run(() => p.conn.isClosing, 1_000);
  assert.equal(server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION, `server closed with ${server.closeInfo?.errorCode}: ${server.closeInfo?.reason}`);
  const info = drain(p.conn).find((e) => e.type === "connection_closed");
  assert.ok(info && info.type === "connection_closed" && info.info.errorCode === TransportErrorCode.PROTOCOL_VIOLATION && info.info.remote);
}

test("a DATAGRAM frame from a peer we never allowed to send one closes the connection with PROTOCOL_VIOLATION (RFC 9221 section 3)", () => {
  const p = makePair();
  const server = establish(p);
  closedBy(p, server, new Uint8Array(20));
  assert.match(server.closeInfo!.reason, /max_datagram_frame_size/);
});

test("a DATAGRAM frame larger than the max_datagram_frame_size we advertised closes the connection with PROTOCOL_VIOLATION (RFC 9221 section 3)", () => {
  const p = makePair({ serverConfig: { transport: { maxDatagramFrameSize: 50 } } });
  const server = establish(p);
  closedBy(p, server, new Uint8Array(60));
});

test("received datagrams the application has not polled are bounded: further ones are dropped on receipt, not buffered", () => {
  const p = makePair({ config: ENABLED, serverConfig: { maxQueuedDatagrams: 5 } });
  const server = establish(p);
  drain(server);
  for (let i = 0; i < 20; i++) p.conn.sendDatagram(numbered(i, 100));
  p.link.run(() => p.conn.datagrams.length === 0 && p.conn.stats().bytesInFlight === 0, 2_000);
  assert.equal(server.datagrams.stats.received, 5);
  assert.equal(server.datagrams.stats.droppedOnReceipt, 15);
  assert.deepEqual(datagramsOf(drain(server)).map((d) => d[1]), [0, 1, 2, 3, 4]);
  // Once taken, there is room again.
  p.conn.sendDatagram(numbered(20, 100));
  p.link.run(() => false, 100);
  assert.deepEqual(datagramsOf(drain(server)).map((d) => d[1]), [20]);
});
