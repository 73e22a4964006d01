import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeQuicStream, QuicServerSession } from "../../src/index.js";
import { clientSocket, closeAll, collect, nextSession, startServer } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("HTTP/3: request and response headers, informational headers, body and trailers round trip; push is refused", async () => {
  const { server, port } = await startServer({ alpn: "h3" });
  server.on("session", (session: QuicServerSession) => {
    session.on("stream", (stream: NodeQuicStream) => {
      stream.on("initialHeaders", async (headers: Record<string, string>) => {
        // Not collect(): a finished for-await destroys the stream, and its response is still to be sent.
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        await once(stream, "end");
        const body = Buffer.concat(chunks);
        stream.submitInformationalHeaders({ ":status": 103, link: "</style.css>; rel=preload" });
        stream.submitInitialHeaders({ ":status": 200, "content-type": "text/plain", "x-request-path": headers[":path"]! });
        assert.throws(() => stream.submitPushPromise({ ":method": "GET" }), { code: "ERR_QUIC_H3_PUSH_UNSUPPORTED", errorCode: 0x108 });
        stream.submitTrailingHeaders({ "x-body-sha256": sha256(body) });
        stream.end(`you sent ${body.length} bytes`);
      });
    });
  });
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port, alpn: "h3" });
  await assert.rejects(session.openStream({ halfOpen: true }), { code: "ERR_INVALID_STATE" });
  const stream = await session.openStream();
  assert.ok(stream.pending);
  const events: string[] = [];
  const got: Record<string, unknown> = {};
  stream.on("informationalHeaders", (h) => (events.push("informational"), (got.info = h)));
  stream.on("initialHeaders", (h) => (events.push("initial"), (got.initial = h)));
  stream.on("trailingHeaders", (h) => (events.push("trailing"), (got.trailers = h)));
  const body = randomBytes(100_000);
  stream.write(body.subarray(0, 50_000));
  stream.submitInitialHeaders({ ":method": "POST", ":scheme": "https", ":authority": "localhost", ":path": "/upload", "content-type": "application/octet-stream" });
  stream.end(body.subarray(50_000));
  const response = (await collect(stream)).toString();
  assert.equal(stream.id, 0);
  assert.equal(response, "you sent 100000 bytes");
  assert.deepEqual(events, ["informational", "initial", "trailing"]);
  assert.equal((got.info as Record<string, string>)[":status"], "103");
  assert.equal((got.initial as Record<string, string>)[":status"], "200");
  assert.equal((got.initial as Record<string, string>)["x-request-path"], "/upload");
  assert.equal((got.trailers as Record<string, string>)["x-body-sha256"], sha256(body));
  assert.equal(session.alpnProtocol, "h3");
  await closeAll(client, server);
});

test("sendFile and sendFD with offset and length; halfOpen streams; stream.close(code) reaches the peer as a reset with that code", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-node-"));
  const file = join(dir, "data.bin");
  const content = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(file, content);
  const { server, port } = await startServer();
  const srvP = nextSession(server);
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port });
  await once(session, "secure");
  const srv = await srvP;
  const incoming: NodeQuicStream[] = [];
  let waiting: ((s: NodeQuicStream) => void) | undefined;
  srv.on("stream", (s: NodeQuicStream) => {
    // Resets are asserted where expected; an unhandled 'error' would throw.
    s.on("error", () => {});
    if (waiting) {
      waiting(s);
      waiting = undefined;
    } else incoming.push(s);
  });
  const nextIncoming = (): Promise<NodeQuicStream> =>
    incoming.length ? Promise.resolve(incoming.shift()!) : new Promise((resolve) => (waiting = resolve));

  const whole = await session.openStream({ halfOpen: true });
  whole.sendFile(file);
  assert.equal(sha256(await collect(await nextIncoming())), sha256(content));

  const part = await session.openStream({ halfOpen: true });
  part.sendFile(file, { offset: 1000, length: 5000 });
  assert.deepEqual(await collect(await nextIncoming()), content.subarray(1000, 6000));

  const fh = await open(file, "r");
  const viaFd = await session.openStream({ halfOpen: true });
  viaFd.sendFD(fh, { offset: 10, length: 100 });
  assert.deepEqual(await collect(await nextIncoming()), content.subarray(10, 110));
  await fh.close();

  const missing: Error[] = [];
  const broken = await session.openStream({ halfOpen: true });
  broken.sendFile(join(dir, "nope.bin"), { onError: (e) => missing.push(e) });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((missing[0] as NodeJS.ErrnoException | undefined)?.code, "ENOENT");
  broken.destroy();
  // The peer learns of the stream only through its RESET_STREAM (code 0).
  const brokenAtPeer = await nextIncoming();
  if (!brokenAtPeer.destroyed) await once(brokenAtPeer, "close");
  assert.equal(brokenAtPeer.id, broken.id);

  // close(code): RESET_STREAM with the code; the peer's stream errors with it.
  const doomed = await session.openStream();
  doomed.write("some data");
  const peerSide = await nextIncoming();
  const peerError = once(peerSide, "error");
  await doomed.close(42);
  const [err] = await peerError;
  assert.equal(err.code, "ERR_QUIC_STREAM_RESET");
  assert.equal(err.errorCode, 42);

  // destroy(err, code) of the session: the peer sees the application code.
  const peerClosed = once(srv, "close");
  session.on("error", () => {});
  session.destroy(new Error("giving up"), 7);
  await peerClosed;
  assert.deepEqual({ code: srv.closeCode!.code, family: srv.closeCode!.family, remote: srv.closeCode!.remote }, { code: 7, family: "application", remote: true });
  await closeAll(client, server);
  rmSync(dir, { recursive: true, force: true });
});
