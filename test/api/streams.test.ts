import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { quic, type QuicStream } from "../../src/index.js";
import { clientTls, startServer, until } from "./helpers.js";

test("1,000 streams in sequence, each echoed and closed on both sides", async () => {
  let serverClosed = 0;
  const server = await startServer({
    transport: { initialMaxStreamsBidi: 100 },
    stream: {
      data(stream, buf) {
        stream.end(buf);
      },
      close() {
        serverClosed++;
      },
    },
  });
  let echoed = "";
  let clientClosed = 0;
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    data(_s, buf) {
      echoed = buf.toString();
    },
    close() {
      clientClosed++;
    },
  });
  const ids: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const s = socket.stream();
    ids.push(s.id);
    s.end(`msg ${i}`);
    await until(() => clientClosed === i + 1, 10_000, `stream ${i} to close`);
    assert.equal(echoed, `msg ${i}`);
  }
  assert.deepEqual(ids.slice(0, 3), [0, 4, 8]);
  assert.equal(ids[999], 3996);
  await until(() => serverClosed === 1000, 5000, "server-side closes");
  socket.close();
  server.stop(true);
});

test("streams opened from both sides; open fires on both; stream.data stays local", async () => {
  const serverSeen: Array<{ id: number; data: unknown }> = [];
  const clientSeen: Array<{ id: number; data: unknown }> = [];
  const server = await startServer<{ kind: string }>({
    stream: {
      open(stream) {
        serverSeen.push({ id: stream.id, data: stream.data });
      },
      data(stream, buf) {
        if (buf.toString() === "please push") {
          const push = stream.socket.stream({ kind: "notification" });
          assert.equal(push.data?.kind, "notification");
          push.end("pushed");
        }
      },
    },
  });
  const got: string[] = [];
  const socket = await quic<{ kind: string }>(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    open(stream) {
      clientSeen.push({ id: stream.id, data: stream.data });
    },
    data(stream, buf) {
      got.push(`${stream.id}:${buf}`);
    },
  });
  const s = socket.stream({ kind: "chat" });
  s.write("please push");
  await until(() => got.length === 1, 5000, "server-initiated stream data");
  // Client-initiated IDs 0, 4, ...; server-initiated 1, 5, ... (RFC 9000 section 2.1).
  assert.deepEqual(clientSeen, [
    { id: 0, data: { kind: "chat" } },
    { id: 1, data: undefined },
  ]);
  assert.deepEqual(serverSeen, [
    { id: 0, data: undefined },
    { id: 1, data: { kind: "notification" } },
  ]);
  assert.deepEqual(got, ["1:pushed"]);
  socket.close();
  server.stop(true);
});

test("FIN closes a stream gracefully on both sides; RESET reaches the peer's error callback", async () => {
  const events: string[] = [];
  const server = await startServer({
    stream: {
      data(stream, buf) {
        if (buf.toString() === "finish") stream.end("done");
      },
      close(stream) {
        events.push(`server close ${stream.id}`);
      },
      error(stream, err) {
        events.push(`server error ${stream.id} ${(err as { code?: string }).code} ${(err as { errorCode?: number }).errorCode}`);
      },
    },
  });
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    close(stream) {
      events.push(`client close ${stream.id}`);
    },
  });
  const a = socket.stream();
  a.end("finish");
  await until(() => events.includes("client close 0") && events.includes("server close 0"), 5000, "graceful close");
  const b = socket.stream();
  b.write("x");
  await until(() => events.some((e) => e.startsWith("server") && e.includes(" 4")) || false, 50).catch(() => {});
  b.close(42);
  await until(() => events.includes("server close 4"), 5000, "reset to reach the server");
  assert.ok(events.includes("server error 4 ERR_QUIC_STREAM_RESET 42"), events.join("\n"));
  assert.ok(events.includes("client close 4"));
  socket.close();
  server.stop(true);
});

test("backpressure: write returns false above the high-water mark, drain fires, nothing is lost", async () => {
  let received = 0;
  const server = await startServer({
    transport: { initialMaxStreamDataBidiRemote: 64 * 1024, initialMaxData: 128 * 1024 },
    stream: {
      data(_s, buf) {
        received += buf.length;
      },
    },
  });
  let drains = 0;
  let waiter: (() => void) | undefined;
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    highWaterMark: 64 * 1024,
    drain() {
      drains++;
      waiter?.();
    },
  });
  const s: QuicStream = socket.stream();
  const total = 4 * 1024 * 1024;
  const chunk = randomBytes(16 * 1024);
  let written = 0;
  let sawFalse = 0;
  while (written < total) {
    const ok = s.write(chunk);
    written += chunk.length;
    if (!ok) {
      sawFalse++;
      await new Promise<void>((r) => (waiter = r));
      waiter = undefined;
    }
  }
  s.end();
  await until(() => received === total, 20_000, "all bytes at the server");
  assert.ok(sawFalse > 0, "write never signalled backpressure");
  assert.equal(drains, sawFalse, "each false write is followed by exactly one drain");
  socket.close();
  server.stop(true);
});

test("server.reload swaps handlers for live connections", async () => {
  const server = await startServer({
    stream: {
      data(stream) {
        stream.write("v1");
      },
    },
  });
  const got: string[] = [];
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: clientTls,
    data(_s, buf) {
      got.push(buf.toString());
    },
  });
  const s = socket.stream();
  s.write("a");
  await until(() => got.length === 1, 5000, "v1 reply");
  server.reload({
    stream: {
      data(stream) {
        stream.write("v2");
      },
    },
  });
  s.write("b");
  await until(() => got.length === 2, 5000, "v2 reply");
  assert.deepEqual(got, ["v1", "v2"]);
  socket.close();
  server.stop(true);
});

test("end(stream) fires when the peer's FIN arrives, before close", async () => {
  const order: string[] = [];
  const server = await startServer({
    stream: {
      data(_s, buf) {
        order.push(`data ${buf}`);
      },
      end(stream) {
        order.push("end");
        stream.end("bye");
      },
      close() {
        order.push("close");
      },
    },
  });
  let closed = false;
  const socket = await quic(`127.0.0.1:${server.port}`, { tls: clientTls, close: () => (closed = true) });
  socket.stream().end("hi");
  await until(() => closed && order.includes("close"), 5000, "stream close");
  assert.deepEqual(order, ["data hi", "end", "close"]);
  socket.close();
  server.stop(true);
});

test("a session ticket from one connection resumes the next (PSK handshake)", async () => {
  const server = await startServer({ stream: { data: (s, b) => s.end(b) } });
  const first = await quic(`127.0.0.1:${server.port}`, { tls: clientTls });
  await until(() => first.sessionTicket !== undefined, 5000, "a NewSessionTicket");
  assert.equal(first.connection.tls.resumed, false);
  const ticket = first.sessionTicket!;
  first.close();
  let got = "";
  const second = await quic(`127.0.0.1:${server.port}`, { tls: { ...clientTls, session: ticket }, data: (_s, b) => (got += b) });
  // resumed means the server accepted the PSK; a resumed client refuses any Certificate message (test/tls/resumption.test.ts).
  assert.equal(second.connection.tls.resumed, true);
  second.stream().end("resumed");
  await until(() => got === "resumed", 5000, "echo on the resumed connection");
  second.close();
  server.stop(true);
});
