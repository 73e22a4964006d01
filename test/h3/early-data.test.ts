/**
 * Resumption and 0-RTT for HTTP/3: fetch() keeps a session per origin and
 * sends GET in 0-RTT; serve() takes early requests for safe methods only
 * (others get 425 Too Early, RFC 8470) and says which requests were early;
 * a resumed 0-RTT GET's first byte arrives one round trip sooner than on a
 * fresh connection (logical time on the simulated link).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { H3Agent, serve, type H3Server, type ServeOptions } from "../../src/h3/http.js";
import { H3Connection, type H3Event } from "../../src/h3/connection.js";
import { resumeOptions } from "../../src/api/quic.js";
import { UdpEndpoint } from "../../src/driver/udp-endpoint.js";
import { toResumptionState } from "../../src/quic/resumption.js";
import type { Connection } from "../../src/quic/connection.js";
import { Endpoint } from "../../src/quic/endpoint.js";
import type { SessionTicket } from "../../src/tls/ticket.js";
import { SimulatedLink } from "../../src/testing/link.js";
import { lastAccepted, testConfigs } from "../quic/harness.js";

const certs = createDevelopmentCertificates();
const tls = { ca: certs.ca.pem, serverName: "localhost" };

const servers: H3Server[] = [];
const agents: H3Agent[] = [];
after(async () => {
  await Promise.all(agents.map((a) => a.closeAll()));
  await Promise.all(servers.map((s) => s.stop(true)));
});

async function until(pred: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Seen {
  method: string;
  early: boolean;
}

async function start(options: Partial<ServeOptions> = {}): Promise<{ server: H3Server; agent: H3Agent; base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: H3Server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.leaf.pem,
    key: certs.leaf.keyPem,
    earlyData: true,
    fetch: async (req) => {
      seen.push({ method: req.method, early: server.isEarlyRequest(req) });
      return new Response(`${req.method} ${new URL(req.url).pathname}`);
    },
    ...options,
  });
  servers.push(server);
  await server.ready;
  const agent = new H3Agent({ tls });
  agents.push(agent);
  return { server, agent, base: `https://127.0.0.1:${server.port}`, seen };
}

/** Fetches once so the agent holds a session for the origin, then closes the connection. */
async function primeSession(agent: H3Agent, base: string): Promise<void> {
  assert.equal(await (await agent.fetch(`${base}/first`)).text(), "GET /first");
  await until(() => agent.getSession(base) !== undefined, 5000, "a session ticket");
  await agent.closeAll();
}

test("fetch() keeps a session per origin and sends its next GET in 0-RTT; serve() marks it early", async () => {
  const { agent, base, seen } = await start();
  await primeSession(agent, base);
  const res = await agent.fetch(`${base}/again`);
  assert.equal(await res.text(), "GET /again");
  assert.deepEqual(seen, [
    { method: "GET", early: false },
    { method: "GET", early: true },
  ]);
  const h3 = agent.connectionFor(base)!;
  assert.ok(h3.transport.tls.resumed, "the second connection did not resume");
  assert.equal(h3.transport.earlyDataStatus, "accepted");
  // A POST on a resumed connection waits for the handshake: it is never early.
  const post = await agent.fetch(`${base}/post`, { method: "POST", body: "data" });
  assert.equal(post.status, 200);
  await post.text();
  assert.deepEqual(seen[2], { method: "POST", early: false });
});

test("serve() answers a POST received in 0-RTT with 425 Too Early, without calling fetch (RFC 8470 section 5.2)", async () => {
  const { agent, base, seen, server } = await start();
  await primeSession(agent, base);
  const session = toResumptionState(agent.getSession(base)!)!;
  // A raw HTTP/3 client that does what fetch() refuses to: a POST with a body in 0-RTT.
  const events: H3Event[] = [];
  let h3: H3Connection | undefined;
  const udp = await UdpEndpoint.bind({ config: { alpn: ["h3"], clientTls: { ca: certs.ca.pem } }, address: "127.0.0.1", port: 0, server: false }, () => {
    for (let e = h3?.poll(); e; e = h3!.poll()) events.push(e);
  });
  try {
    const conn = udp.connect({ serverName: "localhost", remote: { address: "127.0.0.1", port: server.port }, ...resumeOptions(session, undefined, true) });
    assert.equal(conn.earlyDataStatus, "attempted");
    h3 = new H3Connection(conn);
    const id = h3.sendRequest([
      [":method", "POST"],
      [":scheme", "https"],
      [":authority", `127.0.0.1:${server.port}`],
      [":path", "/submit"],
    ])!;
    h3.sendData(id, new TextEncoder().encode("transfer 100"), true);
    udp.touch(conn);
    await until(() => events.some((e) => e.type === "headers" && e.streamId === id), 5000, "the response");
    const headers = events.find((e): e is Extract<H3Event, { type: "headers" }> => e.type === "headers" && e.streamId === id)!;
    assert.deepEqual(headers.headers.find(([n]) => n === ":status"), [":status", "425"]);
    assert.equal(conn.earlyDataStatus, "accepted");
    assert.deepEqual(seen, [{ method: "GET", early: false }], "the handler saw the early POST");
    conn.close(0, "");
    udp.touch(conn);
    udp.flushNow();
  } finally {
    await new Promise((r) => setImmediate(r));
    await udp.close();
  }
});

test("a 425 to a GET sent in 0-RTT makes fetch() send it again after the handshake", async () => {
  const { agent, base, seen } = await start({ acceptEarlyRequest: () => false });
  await primeSession(agent, base);
  const res = await agent.fetch(`${base}/late`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "GET /late");
  assert.deepEqual(seen, [
    { method: "GET", early: false },
    { method: "GET", early: false },
  ]);
});

test("a server with earlyData off: fetch() resumes without 0-RTT and nothing is early", async () => {
  const { agent, base, seen } = await start({ earlyData: false });
  await primeSession(agent, base);
  assert.equal(await (await agent.fetch(`${base}/b`)).text(), "GET /b");
  const h3 = agent.connectionFor(base)!;
  assert.ok(h3.transport.tls.resumed);
  assert.equal(h3.transport.earlyDataStatus, "none");
  assert.deepEqual(seen.map((s) => s.early), [false, false]);
});

// ---------------------------------------------------------------------------
// Logical time on the simulated link.

const RTT = 50;

/**
 * One GET from a client endpoint over the simulated link (25 ms each way);
 * returns the virtual time from the client's first packet to the first
 * response byte, and the session the connection left.
 */
function timedGet(link: SimulatedLink, client: Endpoint, server: Endpoint, ticket?: { ticket: SessionTicket; token?: Uint8Array }): { ttfb: number; session: { ticket: SessionTicket; token?: Uint8Array } | undefined; early: string } {
  const start = link.now;
  const conn = client.connect({ serverName: "localhost", remote: link.address(1), now: link.now, ...resumeOptions(ticket, undefined, true) });
  const h3 = new H3Connection(conn);
  let requestId = -1;
  let firstByte = -1;
  let session: { ticket: SessionTicket; token?: Uint8Array } | undefined;
  let serverH3: H3Connection | undefined;
  let serverConn: Connection | undefined;
  const before = server.stats.serverConnections;
  const send = (): void => {
    if (requestId < 0 && (conn.canSendApplicationData || conn.isEstablished) && h3.canSendRequest) {
      requestId = h3.sendRequest([[":method", "GET"], [":scheme", "https"], [":authority", "localhost"], [":path", "/"]], true)!;
    }
  };
  send();
  const ok = link.run(() => {
    for (let e = h3.poll(); e; e = h3.poll()) {
      if (e.type === "data" && firstByte < 0) firstByte = link.now;
      if (e.type === "session_ticket") session = { ticket: e.ticket, ...(e.token ? { token: e.token } : {}) };
    }
    send();
    if (!serverH3 && server.stats.serverConnections > before) {
      serverConn = lastAccepted(server)!;
      serverH3 = new H3Connection(serverConn);
    }
    for (let e = serverH3?.poll(); e; e = serverH3!.poll()) {
      if (e.type === "headers") {
        serverH3!.sendResponse(e.streamId, [[":status", "200"]]);
        serverH3!.sendData(e.streamId, new TextEncoder().encode("hello"), true);
      }
    }
    return firstByte >= 0 && (session !== undefined || ticket !== undefined);
  }, 5000);
  assert.ok(ok, "the GET did not complete");
  const early = serverConn!.earlyDataStatus;
  conn.close(0, "", link.now);
  link.run(() => conn.isClosed, 2000);
  return { ttfb: firstByte - start, session, early };
}

test("a resumed 0-RTT GET's first byte arrives one round trip sooner than on a fresh connection (50 ms RTT, logical time)", () => {
  const cfg = testConfigs({ alpn: ["h3"] });
  const client = new Endpoint({ config: cfg.client });
  const server = new Endpoint({ config: { ...cfg.server, serverTls: { ...cfg.server.serverTls!, earlyData: true } } });
  const link = new SimulatedLink(client, server, { aToB: { delay: RTT / 2 }, bToA: { delay: RTT / 2 }, seed: 1 });
  const fresh = timedGet(link, client, server);
  assert.ok(fresh.session, "no session ticket on the fresh connection");
  // A fresh connection needs the handshake round trip before the request: two round trips to the first byte.
  assert.ok(fresh.ttfb >= 2 * RTT, `fresh first byte after ${fresh.ttfb} ms`);
  const resumed = timedGet(link, client, server, fresh.session);
  assert.equal(resumed.early, "accepted");
  // 0-RTT request, 0.5-RTT response: one round trip.
  assert.ok(resumed.ttfb >= RTT && resumed.ttfb < 2 * RTT, `resumed first byte after ${resumed.ttfb} ms`);
  assert.ok(fresh.ttfb - resumed.ttfb >= RTT, `0-RTT saved ${fresh.ttfb - resumed.ttfb} ms, less than one ${RTT} ms round trip`);
});
