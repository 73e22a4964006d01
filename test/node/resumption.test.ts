// Node-style API: session tickets, resumption and 0-RTT (RFC 9001 section 4.6), for raw streams and HTTP/3.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import type { ListenOptions, NodeQuicSocket, NodeQuicStream, QuicClientSession, QuicServerSession } from "../../src/index.js";
import { clientSocket, closeAll, collect, startServer } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Ends `stream` with `data` and checks the echo. */
async function assertEchoes(stream: NodeQuicStream, data: Uint8Array): Promise<void> {
  const echoed = collect(stream);
  stream.end(data);
  assert.equal(sha256(await echoed), sha256(data));
}

/** What a server session saw, in order: 'stream', the stream's first 'data', 'secure'; and whether each stream came in 0-RTT. */
interface ServerLog {
  session: QuicServerSession;
  order: string[];
  early: boolean[];
}

/** An echo server (raw streams) logging the order of its sessions' events. */
async function echoServer(listen: ListenOptions): Promise<{ server: NodeQuicSocket; port: number; logs: ServerLog[] }> {
  const { server, port } = await startServer(listen);
  const logs: ServerLog[] = [];
  server.on("session", (session: QuicServerSession) => {
    const log: ServerLog = { session, order: [], early: [] };
    logs.push(log);
    session.on("secure", () => log.order.push("secure"));
    session.on("stream", (stream: NodeQuicStream) => {
      log.order.push("stream");
      stream.once("data", () => {
        log.order.push("data");
        log.early.push(stream.earlyData);
      });
      stream.pipe(stream);
    });
  });
  return { server, port, logs };
}

/** A first session on `client`: one echo, then the latest session ticket it received, closed. */
async function firstSession(client: NodeQuicSocket, port: number, alpn = "test"): Promise<{ ticket: Buffer; params: Buffer }> {
  const session = await client.connect({ address: "127.0.0.1", port, alpn });
  let latest: { ticket: Buffer; params: Buffer } | undefined;
  session.on("sessionTicket", (ticket: Buffer, params: Buffer) => (latest = { ticket, params }));
  await once(session, "sessionTicket");
  if (alpn === "test") {
    const stream = await session.openStream();
    const echoed = collect(stream);
    stream.end("first");
    assert.equal((await echoed).toString(), "first");
  }
  assert.equal(session.connection.tls.resumed, false);
  await session.close();
  return latest!;
}

test("resumption with earlyData: the second session skips the Certificate, its stream goes in 0-RTT and reaches the server before 'secure'", async () => {
  const { server, port, logs } = await echoServer({ earlyData: true });
  const client = clientSocket();
  try {
    const { ticket, params } = await firstSession(client, port);
    assert.ok(Buffer.isBuffer(ticket) && ticket.length > 0 && Buffer.isBuffer(params) && params.length > 0);

    const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, sessionTicket: ticket, remoteTransportParams: params });
    const verdict = once(session, "earlyData");
    const secure = once(session, "secure");
    // Opened and written before the handshake completed: only 0-RTT can carry it now.
    const stream = await session.openStream();
    assert.equal(session.handshakeComplete, false, "the stream was opened before 'secure'");
    await assertEchoes(stream, randomBytes(3000));
    await secure;
    assert.deepEqual(await verdict, [true]);
    assert.equal(session.usingEarlyData, true);
    // resumed: the server took our PSK, so its flight had no Certificate (a resumed client refuses one, src/tls/client.ts).
    assert.equal(session.connection.tls.resumed, true);
    assert.equal((session.getPeerCertificate() as { subjectaltname?: string }).subjectaltname?.includes("localhost"), true, "the server's certificate is remembered from the ticket");

    const second = logs[1]!;
    // The echo can complete in 0.5-RTT before the client's Finished reaches the server.
    if (!second.session.handshakeComplete) await once(second.session, "secure");
    assert.equal(second.session.connection.tls.resumed, true);
    assert.equal(second.session.usingEarlyData, true);
    assert.deepEqual(second.early, [true], "the server sees the stream as early data");
    assert.deepEqual(logs[0]!.early, [false]);
    assert.ok(second.order.indexOf("data") >= 0 && second.order.indexOf("data") < second.order.indexOf("secure"), `early data before 'secure' on the server: ${second.order.join(", ")}`);
  } finally {
    await closeAll(client, server);
  }
});

test("earlyData off on the server: its tickets allow no 0-RTT, so a stream opened before 'secure' waits for the handshake", async () => {
  const { server, port, logs } = await echoServer({});
  const client = clientSocket();
  try {
    // Without remoteTransportParams: the session carries the server's parameters itself.
    const { ticket } = await firstSession(client, port);
    const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, sessionTicket: ticket });
    let verdicts = 0;
    session.on("earlyData", () => verdicts++);
    assert.equal(session.connection.earlyDataStatus, "none");
    const opening = session.openStream();
    assert.equal(session.handshakeComplete, false, "openStream() was called before 'secure'");
    const stream = await opening;
    assert.equal(session.handshakeComplete, true, "the stream waited for the handshake");
    await assertEchoes(stream, randomBytes(3000));
    assert.equal(verdicts, 0);
    assert.equal(session.usingEarlyData, false);
    assert.equal(session.connection.tls.resumed, true);
    assert.deepEqual(logs[1]!.order, ["secure", "stream", "data"]);
  } finally {
    await closeAll(client, server);
  }
});

test("a ticket used for 0-RTT once is refused early data the second time (replay protection): the stream is sent again in 1-RTT and arrives intact after 'secure'", async () => {
  const { server, port, logs } = await echoServer({ earlyData: true });
  const client = clientSocket();
  try {
    const { ticket } = await firstSession(client, port);
    const echoOnce = async (): Promise<{ session: QuicClientSession; verdict: boolean }> => {
      const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, sessionTicket: ticket });
      const verdict = once(session, "earlyData");
      const stream = await session.openStream();
      assert.equal(session.connection.earlyDataStatus, "attempted", "the stream is written before the server answered");
      await assertEchoes(stream, randomBytes(3000));
      return { session, verdict: (await verdict)[0] as boolean };
    };
    const accepted = await echoOnce();
    assert.equal(accepted.verdict, true);
    await accepted.session.close();
    const replayed = await echoOnce();
    assert.equal(replayed.verdict, false);
    assert.equal(replayed.session.usingEarlyData, false);
    assert.equal(replayed.session.connection.tls.resumed, true, "the PSK is still accepted; only its early data is refused");
    const third = logs[2]!;
    assert.equal(third.session.usingEarlyData, false);
    assert.deepEqual(third.early, [false]);
    assert.deepEqual(third.order, ["secure", "stream", "data"]);
  } finally {
    await closeAll(client, server);
  }
});

test("resumption with earlyData: false on connect resumes without 0-RTT; a malformed sessionTicket or remoteTransportParams is refused", async () => {
  const { server, port, logs } = await echoServer({ earlyData: true });
  const client = clientSocket();
  try {
    const { ticket } = await firstSession(client, port);
    await assert.rejects(client.connect({ address: "127.0.0.1", port, sessionTicket: Buffer.from("not a ticket") }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.sessionTicket" });
    await assert.rejects(client.connect({ address: "127.0.0.1", port, sessionTicket: ticket, remoteTransportParams: Buffer.from([0x01, 0x09]) }), {
      code: "ERR_INVALID_ARG_VALUE",
      option: "connect.remoteTransportParams",
    });
    const session = await client.connect({ address: "127.0.0.1", port, sessionTicket: ticket, earlyData: false });
    await once(session, "secure");
    assert.equal(session.connection.tls.resumed, true);
    assert.equal(session.connection.earlyDataStatus, "none");
    const stream = await session.openStream();
    const echoed = collect(stream);
    stream.end("late");
    assert.equal((await echoed).toString(), "late");
    assert.equal(logs[1]!.session.usingEarlyData, false);
  } finally {
    await closeAll(client, server);
  }
});

test("HTTP/3: sessionTicket reaches h3 sessions; a resumed request goes in 0-RTT and the server sees its headers before 'secure'", async () => {
  const { server, port } = await startServer({ alpn: "h3", earlyData: true });
  const order: string[][] = [];
  const sessions: QuicServerSession[] = [];
  server.on("session", (session: QuicServerSession) => {
    const log: string[] = [];
    order.push(log);
    sessions.push(session);
    session.on("secure", () => log.push("secure"));
    session.on("stream", (stream: NodeQuicStream) => {
      stream.on("initialHeaders", (headers: Record<string, string>) => {
        log.push("headers");
        stream.resume();
        stream.once("end", () => {
          stream.submitInitialHeaders({ ":status": 200 });
          stream.end(`hello ${headers[":path"]}`);
        });
      });
    });
  });
  const client = clientSocket();
  const get = async (session: QuicClientSession, path: string): Promise<string> => {
    const stream = await session.openStream();
    stream.submitInitialHeaders({ ":method": "GET", ":scheme": "https", ":authority": "localhost", ":path": path });
    stream.end();
    return (await collect(stream)).toString();
  };
  try {
    const first: QuicClientSession = await client.connect({ address: "127.0.0.1", port, alpn: "h3" });
    const tickets: Buffer[] = [];
    first.on("sessionTicket", (t: Buffer) => tickets.push(t));
    assert.equal(await get(first, "/one"), "hello /one");
    if (tickets.length === 0) await once(first, "sessionTicket");
    await first.close();

    const second: QuicClientSession = await client.connect({ address: "127.0.0.1", port, alpn: "h3", sessionTicket: tickets.at(-1)! });
    const verdict = once(second, "earlyData");
    const response = get(second, "/two");
    assert.equal(second.handshakeComplete, false);
    assert.equal(await response, "hello /two");
    assert.deepEqual(await verdict, [true]);
    assert.equal(second.usingEarlyData, true);
    assert.equal(second.connection.tls.resumed, true);
    if (!sessions[1]!.handshakeComplete) await once(sessions[1]!, "secure");
    assert.equal(sessions[1]!.usingEarlyData, true);
    assert.deepEqual(order[1], ["headers", "secure"]);
  } finally {
    await closeAll(client, server);
  }
});
