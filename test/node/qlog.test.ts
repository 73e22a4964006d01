// Node-style API: qlog traces as a stream.Readable per session (`qlog: true`) or as files (`qlog: { dir }`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createQuicSocket, type NodeQuicStream, type QuicClientSession, type QuicServerSession } from "../../src/index.js";
import { flushQlogFiles } from "../../src/driver/qlog-files.js";
import { countedSent, named, parseQlog } from "../quic/qlog-schema.js";
import { clientSocket, closeAll, collect, startServer } from "./helpers.js";

test("qlog: true gives each session a Readable of JSON-SEQ records: the client's through the 'qlog' event, the server's on session.qlog; packet_sent matches the statistics", async () => {
  const { server, port } = await startServer({}, { qlog: true });
  const serverTraces: Array<{ session: QuicServerSession; text: Promise<Buffer> }> = [];
  server.on("session", (session: QuicServerSession) => {
    assert.ok(session.qlog instanceof Readable, "a server session's qlog is there from the start");
    serverTraces.push({ session, text: collect(session.qlog) });
    session.on("stream", (stream: NodeQuicStream) => stream.pipe(stream));
  });
  const client = clientSocket();
  try {
    const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, qlog: true });
    assert.equal(session.qlog, undefined, "a client session's qlog waits for the 'qlog' event");
    const [readable] = (await once(session, "qlog")) as [Readable];
    assert.equal(session.qlog, readable);
    const clientText = collect(readable);
    const stream = await session.openStream();
    const echoed = collect(stream);
    stream.end("hello qlog");
    assert.equal((await echoed).toString(), "hello qlog");
    await session.close();
    const serverSession = serverTraces[0]!.session;
    if (!serverSession.destroyed) await once(serverSession, "close");
    // Draining connections are abandoned with their sockets: the socket ends their traces.
    await closeAll(client, server);

    const clientLog = parseQlog((await clientText).toString());
    assert.equal(clientLog.header.trace.vantage_point.type, "client");
    assert.ok(named(clientLog.events, "transport:packet_sent").length > 0);
    assert.equal(countedSent(clientLog.events), session.connection.stats().packetsSent, "client packet_sent vs packetsSent");
    const serverLog = parseQlog((await serverTraces[0]!.text).toString());
    assert.equal(serverLog.header.trace.vantage_point.type, "server");
    assert.equal(countedSent(serverLog.events), serverSession.connection.stats().packetsSent, "server packet_sent vs packetsSent");
    assert.equal(named(serverLog.events, "transport:packet_received").length, serverSession.connection.stats().packetsReceived);
    assert.equal(serverLog.header.trace.common_fields.ODCID, clientLog.header.trace.common_fields.ODCID);
  } finally {
    await closeAll(client, server);
  }
});

test("qlog: { dir } writes a .sqlog file per connection; other qlog values are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-node-qlog-"));
  const { server, port } = await startServer();
  server.on("session", (session: QuicServerSession) => session.on("stream", (stream: NodeQuicStream) => stream.pipe(stream)));
  const client = clientSocket();
  try {
    const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, qlog: { dir } });
    let announced = false;
    session.on("qlog", () => (announced = true));
    const stream = await session.openStream();
    const echoed = collect(stream);
    stream.end("to a file");
    assert.equal((await echoed).toString(), "to a file");
    await session.close();
    flushQlogFiles();
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^[0-9a-f]+_client\.sqlog$/);
    assert.ok(named(parseQlog(readFileSync(join(dir, files[0]!), "utf8")).events, "transport:packet_sent").length > 0);
    assert.equal(announced, false, "no Readable, no 'qlog' event");
    assert.equal(session.qlog, undefined);

    assert.throws(() => createQuicSocket({ qlog: "yes" as never }), { code: "ERR_INVALID_ARG_VALUE", option: "socket.qlog" });
    await assert.rejects(client.connect({ address: "127.0.0.1", port, qlog: { dir: "" } }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.qlog" });
  } finally {
    await closeAll(client, server);
    rmSync(dir, { recursive: true, force: true });
  }
});
