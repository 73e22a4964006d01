import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import type { NodeQuicStream, QuicServerSession } from "../../src/index.js";
import { clientSocket, closeAll, collect, nextSession, startServer } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("4 MB echo on a bidirectional stream and unidirectional streams both ways, SHA-256 compared; secure before stream data; counters agree", async () => {
  const { server, port } = await startServer();
  const order: string[] = [];
  const serverSession = nextSession(server);
  const clientUniAtServer = new Promise<Buffer>((resolve) => {
    server.on("session", (session: QuicServerSession) => {
      session.on("secure", () => order.push("server secure"));
      session.on("stream", (stream: NodeQuicStream) => {
        order.push(`server stream ${stream.id}`);
        if (stream.bidirectional) stream.pipe(stream);
        else void collect(stream).then(resolve);
      });
    });
  });
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port });
  const [servername, alpn, cipher] = await once(session, "secure");
  assert.equal(servername, "localhost");
  assert.equal(alpn, "test");
  assert.equal(cipher.version, "TLSv1.3");

  const stream = await session.openStream();
  assert.equal(stream.id, 0);
  assert.ok(stream.bidirectional && stream.clientInitiated && !stream.serverInitiated);
  const payload = randomBytes(4 * 1024 * 1024);
  const echoed = collect(stream);
  stream.end(payload);
  assert.equal(sha256(await echoed), sha256(payload));
  assert.equal(stream.bytesSent, payload.length);
  assert.equal(stream.bytesReceived, payload.length);
  assert.equal(stream.finalSize, payload.length);

  const uni = await session.openStream({ halfOpen: true });
  assert.ok(uni.unidirectional && !uni.readable && uni.writable);
  assert.equal(uni.id, 2);
  const uniData = randomBytes(200_000);
  uni.end(uniData);
  assert.equal(sha256(await clientUniAtServer), sha256(uniData));

  const srv = await serverSession;
  const fromServer = new Promise<{ s: NodeQuicStream; data: Buffer }>((resolve) =>
    session.once("stream", (s: NodeQuicStream) => void collect(s).then((data) => resolve({ s, data }))),
  );
  const out = await srv.openStream({ halfOpen: true });
  assert.equal(out.id, 3);
  const serverData = randomBytes(300_000);
  out.end(serverData);
  const got = await fromServer;
  assert.equal(sha256(got.data), sha256(serverData));
  assert.ok(got.s.serverInitiated && got.s.unidirectional && !got.s.writable);

  assert.ok(order.indexOf("server secure") >= 0 && order.indexOf("server secure") < order.indexOf("server stream 0"), order.join(", "));
  // Statistics: non-zero and consistent across the two sides.
  assert.ok(session.smoothedRTT > 0 && session.minRTT > 0 && session.latestRTT > 0);
  assert.ok(session.handshakeDuration! > 0);
  assert.ok(session.maxInFlightBytes > 0);
  assert.equal(session.bidiStreamCount, 1);
  assert.equal(session.uniStreamCount, 2);
  assert.equal(session.selfInitiatedStreamCount, 2);
  assert.equal(session.peerInitiatedStreamCount, 1);
  assert.equal(srv.peerInitiatedStreamCount, 2);
  assert.ok(session.bytesSent > payload.length && srv.bytesReceived > payload.length);
  // Both sides counted the same traffic: what one received is what the other sent, less what was lost or is still in flight.
  for (const [from, to] of [
    [session, srv],
    [srv, session],
  ] as const) {
    const st = from.connection.stats();
    const slack = st.bytesLost + st.bytesInFlight + 4 * 1500;
    assert.ok(to.bytesReceived <= from.bytesSent + 1500 && to.bytesReceived >= from.bytesSent - slack, `sent ${from.bytesSent}, received ${to.bytesReceived}, lost ${st.bytesLost}`);
  }
  assert.ok(client.bytesSent >= session.bytesSent && client.packetsSent > 0 && client.packetsReceived > 0);
  assert.equal(client.clientSessions, 1);
  assert.equal(server.serverSessions, 1);
  assert.ok(server.boundDuration > 0 && server.listenDuration > 0 && server.listening);

  // A graceful close with code 0 reaches the server's session.
  const serverClosed = once(srv, "close");
  await session.close();
  await serverClosed;
  assert.deepEqual(srv.closeCode && { code: srv.closeCode.code, remote: srv.closeCode.remote }, { code: 0, remote: true });
  assert.ok(session.destroyed && srv.destroyed);
  await closeAll(client, server);
});

test("Duplex backpressure: a slow reader holds back a fast writer through pipeline(), and every byte arrives", async () => {
  const { server, port } = await startServer({ highWaterMark: 1024 });
  const received = new Promise<Buffer>((resolve, reject) => {
    server.on("session", (session: QuicServerSession) => {
      session.on("stream", (stream: NodeQuicStream) => {
        const chunks: Buffer[] = [];
        const slow = new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _e, cb) {
            chunks.push(chunk);
            setTimeout(cb, 1);
          },
        });
        pipeline(stream, slow).then(() => resolve(Buffer.concat(chunks)), reject);
      });
    });
  });
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port, maxStreamDataBidiRemote: 64 * 1024, maxData: 128 * 1024 });
  const stream = await session.openStream({ highWaterMark: 4096 });
  const data = randomBytes(2 * 1024 * 1024);
  let falseWrites = 0;
  const source = Readable.from(
    (function* () {
      for (let o = 0; o < data.length; o += 16384) yield data.subarray(o, o + 16384);
    })(),
  );
  const origWrite = stream.write.bind(stream);
  (stream as unknown as { write: typeof stream.write }).write = ((chunk: Buffer, ...rest: unknown[]) => {
    const ok = (origWrite as (c: Buffer, ...r: unknown[]) => boolean)(chunk, ...rest);
    if (!ok) falseWrites++;
    return ok;
  }) as typeof stream.write;
  await pipeline(source, stream);
  assert.equal(sha256(await received), sha256(data));
  assert.ok(falseWrites > 0, "write() reported backpressure");
  await closeAll(client, server);
});
