/**
 * tsquic `fetch` against tsquic `serve()` over real UDP on 127.0.0.1:
 * bodies both ways (hashed), streaming in both directions, concurrency on
 * one connection, header round trips through the QPACK dynamic tables,
 * handler failures, aborts, graceful stop with GOAWAY, the pool, and a
 * misbehaving raw client answered with the right HTTP/3 codes.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { H3Agent, serve, type H3Server, type ServeOptions } from "../../src/h3/http.js";
import { H3ErrorCode } from "../../src/h3/errors.js";
import { encodeFrame, encodeHeadersFrame, encodeSettingsFrame, encodeStreamHeader, StreamType } from "../../src/h3/frames.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import { UdpEndpoint } from "../../src/driver/udp-endpoint.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { cat } from "./helpers.js";

const certs = createDevelopmentCertificates();
const tls = { ca: certs.ca.pem, serverName: "localhost" };

const servers: H3Server[] = [];
const agents: H3Agent[] = [];
after(async () => {
  await Promise.all(agents.map((a) => a.closeAll()));
  await Promise.all(servers.map((s) => s.stop(true)));
});

async function start(options: Omit<ServeOptions, "cert" | "key" | "hostname" | "port">): Promise<{ server: H3Server; agent: H3Agent; base: string }> {
  const server = serve({ hostname: "127.0.0.1", port: 0, cert: certs.leaf.pem, key: certs.leaf.keyPem, ...options });
  servers.push(server);
  await server.ready;
  const agent = new H3Agent({ tls });
  agents.push(agent);
  return { server, agent, base: `https://127.0.0.1:${server.port}` };
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

async function hashStream(body: ReadableStream<Uint8Array>): Promise<{ size: number; sha256: string }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const c of body as unknown as AsyncIterable<Uint8Array>) {
    h.update(c);
    size += c.length;
  }
  return { size, sha256: h.digest("hex") };
}

async function until(pred: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A handler that echoes the request: method, body hash and size in headers, body back. */
const echo: ServeOptions["fetch"] = async (req) => {
  const body = new Uint8Array(await req.arrayBuffer());
  return new Response(body, { headers: { "x-method": req.method, "x-sha256": sha256(body), "x-size": String(body.length), "x-path": new URL(req.url).pathname + new URL(req.url).search } });
};

test("GET and POST with 1 KB and multi-megabyte bodies arrive intact both ways (SHA-256)", async () => {
  const big = randomBytes(3 * 1024 * 1024 + 17);
  const small = randomBytes(1024);
  const { agent, base } = await start({
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname === "/big") return new Response(big);
      if (req.method === "GET" && url.pathname === "/small") return new Response(small, { headers: { "content-type": "application/octet-stream" } });
      return echo(req, undefined as never);
    },
  });
  const g1 = await agent.fetch(`${base}/small`);
  assert.equal(g1.status, 200);
  assert.equal(g1.headers.get("content-length"), "1024");
  assert.equal(sha256(new Uint8Array(await g1.arrayBuffer())), sha256(small));
  assert.equal(g1.url, `${base}/small`);

  const g2 = await agent.fetch(`${base}/big`);
  assert.equal(g2.headers.get("content-length"), String(big.length));
  assert.deepEqual(await hashStream(g2.body!), { size: big.length, sha256: sha256(big) });

  for (const body of [small, big]) {
    const r = await agent.fetch(`${base}/echo?x=1`, { method: "POST", body });
    assert.equal(r.headers.get("x-method"), "POST");
    assert.equal(r.headers.get("x-path"), "/echo?x=1");
    assert.equal(r.headers.get("x-size"), String(body.length));
    assert.equal(r.headers.get("x-sha256"), sha256(body), "the server saw the request body intact");
    assert.equal(sha256(new Uint8Array(await r.arrayBuffer())), sha256(body), "the echoed body is intact");
  }
  // String, Blob and URLSearchParams bodies are encoded as web fetch does.
  const s = await agent.fetch(`${base}/echo`, { method: "PUT", body: "héllo" });
  assert.equal(await s.text(), "héllo");
  const b = await agent.fetch(`${base}/echo`, { method: "POST", body: new Blob([small, small]) });
  assert.equal(b.headers.get("x-size"), "2048");
  await b.arrayBuffer();
  const u = await agent.fetch(`${base}/echo`, { method: "POST", body: new URLSearchParams({ a: "1", b: "x y" }) });
  assert.equal(await u.text(), "a=1&b=x+y");
  assert.equal(agent.connections, 1, "every request used the one pooled connection");
});

test("streaming bodies both ways: the server echoes each request chunk before the client sends the next", async () => {
  const { agent, base } = await start({
    fetch(req) {
      // Echo the request body as it arrives: a full-duplex exchange on one stream.
      return new Response(req.body, { headers: { "content-type": "application/octet-stream" } });
    },
  });
  let next!: (v: string | null) => void;
  const queue: Array<string | null> = [];
  let wake: (() => void) | undefined;
  next = (v) => {
    queue.push(v);
    wake?.();
  };
  const requestBody = new ReadableStream<Uint8Array>({
    async pull(c) {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      const v = queue.shift()!;
      if (v === null) c.close();
      else c.enqueue(new TextEncoder().encode(v));
    },
  });
  next("ping-1;");
  const res = await agent.fetch(`${base}/duplex`, { method: "POST", body: requestBody, duplex: "half" } as RequestInit);
  assert.equal(res.headers.get("content-length"), null, "a streamed body of unknown length has no content-length");
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let got = "";
  for (let i = 1; i <= 5; i++) {
    while (!got.includes(`ping-${i};`)) {
      const r = await reader.read();
      assert.equal(r.done, false);
      got += dec.decode(r.value, { stream: true });
    }
    // Only now is the next chunk produced: the response streams while the request is still open.
    next(i < 5 ? `ping-${i + 1};` : null);
  }
  const end = await reader.read();
  assert.equal(end.done, true);
  assert.equal(got, "ping-1;ping-2;ping-3;ping-4;ping-5;");
});

test("a streaming response reaches the client chunk by chunk while the handler is still producing it", async () => {
  let clientSaw: (() => void) | undefined;
  const { agent, base } = await start({
    fetch() {
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            if (i === 3) return c.close();
            c.enqueue(new TextEncoder().encode(`part${i++}\n`));
            // The next part is produced only after the client has read this one.
            await new Promise<void>((r) => (clientSaw = r));
          },
        }),
      );
    },
  });
  const res = await agent.fetch(`${base}/stream`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  for (let i = 0; i < 3; i++) {
    const r = await reader.read();
    assert.equal(dec.decode(r.value), `part${i}\n`);
    await until(() => clientSaw !== undefined);
    const f = clientSaw!;
    clientSaw = undefined;
    f();
  }
  assert.equal((await reader.read()).done, true);
});

test("50 concurrent requests share one connection", async () => {
  const { agent, base, server } = await start({
    async fetch(req) {
      await new Promise((r) => setTimeout(r, 5));
      return new Response(`you asked for ${new URL(req.url).pathname}`);
    },
  });
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => agent.fetch(`${base}/item/${i}`).then((r) => r.text())));
  responses.forEach((t, i) => assert.equal(t, `you asked for /item/${i}`));
  assert.equal(agent.connections, 1);
  assert.equal(server.connections, 1);
});

test("many and large headers round-trip, with the QPACK dynamic table used on both sides", async () => {
  const { agent, base, server } = await start({
    fetch(req) {
      // Echo every x- header back, plus indexable response fields.
      const h = new Headers({ "content-type": "application/x-tsquic-echo", vary: "accept-encoding", server: "tsquic-test" });
      for (const [k, v] of req.headers) if (k.startsWith("x-")) h.set(k, v);
      h.set("x-cookie", req.headers.get("cookie") ?? "");
      return new Response("ok", { headers: h });
    },
  });
  const headers = new Headers({ "user-agent": "tsquic-test-agent/1.0", accept: "application/x-tsquic-echo", "accept-language": "en" });
  for (let i = 0; i < 60; i++) headers.set(`x-field-${i}`, `value-${i}-${"v".repeat(i)}`);
  headers.set("x-large", "L".repeat(16 * 1024));
  headers.append("cookie", "a=1");
  for (let round = 0; round < 4; round++) {
    const res = await agent.fetch(`${base}/headers`, { headers });
    assert.equal(res.status, 200);
    for (const [k, v] of headers) if (k.startsWith("x-")) assert.equal(res.headers.get(k), v, k);
    assert.equal(res.headers.get("x-cookie"), "a=1");
    assert.equal(res.headers.get("server"), "tsquic-test");
    await res.text();
  }
  const client = agent.connectionFor(base)!.qpackStats();
  const srv = server.h3Connections[0]!.qpackStats();
  assert.ok(client.encoderInsertCount > 0, `the client inserted into the server's table (${client.encoderInsertCount})`);
  assert.equal(srv.decoderInsertCount, client.encoderInsertCount, "the server's decoder followed");
  assert.ok(srv.encoderInsertCount > 0, `the server inserted into the client's table (${srv.encoderInsertCount})`);
  assert.equal(client.decoderInsertCount, srv.encoderInsertCount, "the client's decoder followed");
});

test("request headers above the server's SETTINGS_MAX_FIELD_SECTION_SIZE are refused before sending", async () => {
  const { agent, base } = await start({ maxFieldSectionSize: 2048, fetch: () => new Response("ok") });
  assert.equal(await (await agent.fetch(`${base}/`)).text(), "ok"); // SETTINGS known from here on
  await assert.rejects(agent.fetch(`${base}/`, { headers: { "x-big": "b".repeat(4096) } }), (e: Error & { code?: string }) => e.code === "ERR_H3_HEADERS_TOO_LARGE");
  assert.equal(await (await agent.fetch(`${base}/`)).text(), "ok", "the connection is still fine");
});

test("a handler that throws or rejects becomes a 500; the error option can shape it", async () => {
  const { agent, base } = await start({
    fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/throw") throw new Error("boom");
      if (p === "/reject") return Promise.reject(new Error("async boom"));
      if (p === "/not-a-response") return "nope" as unknown as Response;
      return new Response("fine");
    },
  });
  for (const p of ["/throw", "/reject", "/not-a-response"]) {
    const r = await agent.fetch(base + p);
    assert.equal(r.status, 500, p);
    assert.equal(await r.text(), "");
  }
  assert.equal(await (await agent.fetch(base + "/ok")).text(), "fine");

  const custom = await start({
    fetch() {
      throw new TypeError("bad input");
    },
    error(err) {
      return new Response(`handled: ${(err as Error).message}`, { status: 503 });
    },
  });
  const r = await custom.agent.fetch(custom.base + "/");
  assert.equal(r.status, 503);
  assert.equal(await r.text(), "handled: bad input");
});

test("HEAD responses have no body but keep content-length; 204 has none; known sizes get content-length", async () => {
  const { agent, base } = await start({
    fetch(req) {
      const p = new URL(req.url).pathname;
      if (p === "/empty") return new Response(null, { status: 204 });
      if (p === "/blob") return new Response(new Blob(["abc", "def"]));
      if (p === "/buffer") return new Response(new Uint8Array(10).buffer);
      return new Response("0123456789", { headers: { "content-length": "10" } });
    },
  });
  const head = await agent.fetch(`${base}/doc`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "10");
  assert.equal(head.body, null);
  const empty = await agent.fetch(`${base}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
  const blob = await agent.fetch(`${base}/blob`);
  assert.equal(blob.headers.get("content-length"), "6");
  assert.equal(await blob.text(), "abcdef");
  const buf = await agent.fetch(`${base}/buffer`);
  assert.equal(buf.headers.get("content-length"), "10");
  assert.equal((await buf.arrayBuffer()).byteLength, 10);
});

test("aborting mid-response cancels the stream with H3_REQUEST_CANCELLED; the server's body is cancelled", async () => {
  let cancelled: unknown;
  let requestAborted = false;
  let abortReason = "";
  const { agent, base } = await start({
    fetch(req) {
      req.signal.addEventListener("abort", () => {
        requestAborted = true;
        abortReason = String((req.signal.reason as Error)?.message);
      });
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            c.enqueue(new Uint8Array(1000));
            await new Promise((r) => setTimeout(r, 10));
          },
          cancel(reason) {
            cancelled = reason ?? "cancelled";
          },
        }),
      );
    },
  });
  const ac = new AbortController();
  const res = await agent.fetch(`${base}/endless`, { signal: ac.signal });
  const reader = res.body!.getReader();
  await reader.read();
  ac.abort();
  await assert.rejects(
    (async () => {
      for (;;) if ((await reader.read()).done) return;
    })(),
    (e: Error) => e.name === "AbortError",
  );
  await until(() => cancelled !== undefined && requestAborted, 5000, "the server to see the cancellation");
  assert.match(abortReason, /H3_REQUEST_CANCELLED/);
  // Aborting before the response arrives rejects the fetch itself.
  const ac2 = new AbortController();
  const p = agent.fetch(`${base}/endless`, { signal: ac2.signal });
  ac2.abort(new Error("changed my mind"));
  await assert.rejects(p, /changed my mind/);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(agent.fetch(`${base}/`, { signal: pre.signal }), (e: Error) => e.name === "AbortError");
});

test("server.stop() sends GOAWAY: the in-flight request completes, then the connection closes with H3_NO_ERROR", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let arrived = false;
  const { agent, base, server } = await start({
    async fetch(req) {
      if (new URL(req.url).pathname === "/slow") {
        arrived = true;
        await gate;
      }
      return new Response("done");
    },
  });
  assert.equal(await (await agent.fetch(`${base}/fast`)).text(), "done");
  const h3 = agent.connectionFor(base)!;
  const slow = agent.fetch(`${base}/slow`);
  await until(() => arrived);
  const stopped = server.stop();
  await until(() => h3.goawayReceived !== undefined, 5000, "GOAWAY");
  // Stream 0 was /fast, stream 4 is /slow: the GOAWAY names stream 8, the first one not processed.
  assert.equal(h3.goawayReceived, 8);
  assert.equal(agent.connectionFor(base), undefined, "the pool no longer offers the connection");
  release();
  const res = await slow;
  assert.equal(await res.text(), "done");
  await stopped;
  await until(() => h3.isClosed);
  // Whichever side closes first once the last request is done, it is a clean H3_NO_ERROR close.
  assert.equal(h3.transport.closeInfo?.errorCode, H3ErrorCode.H3_NO_ERROR);
  assert.equal(server.connections, 0);
});

test("the pool reuses one connection per origin and closes it when idle; closeAll closes the rest", async () => {
  const { base, server } = await start({ fetch: () => new Response("x") });
  const agent = new H3Agent({ tls, idleTimeout: 100 });
  agents.push(agent);
  await (await agent.fetch(`${base}/a`)).text();
  const first = agent.connectionFor(base);
  await (await agent.fetch(`${base}/b`)).text();
  assert.equal(agent.connectionFor(base), first, "reused");
  assert.equal(server.connections, 1);
  await until(() => agent.connections === 0, 5000, "the idle connection to close");
  assert.equal(first!.transport.closeInfo?.errorCode, H3ErrorCode.H3_NO_ERROR);
  await (await agent.fetch(`${base}/c`)).text();
  assert.notEqual(agent.connectionFor(base), first, "a new connection after the idle close");
  await agent.closeAll();
  assert.equal(agent.connections, 0);
});

test("redirects are followed as web fetch does: 303/302 POST becomes GET, 307 keeps method and body; manual and error modes", async () => {
  const { agent, base } = await start({
    async fetch(req) {
      const url = new URL(req.url);
      const to = url.searchParams.get("to");
      if (to) return new Response(null, { status: Number(url.searchParams.get("status")), headers: { location: to } });
      return new Response(`${req.method} ${url.pathname} ${await req.text()}`);
    },
  });
  const r303 = await agent.fetch(`${base}/r?status=303&to=/final`, { method: "POST", body: "data" });
  assert.equal(await r303.text(), "GET /final ");
  assert.equal(r303.redirected, true);
  assert.equal(r303.url, `${base}/final`);
  const r307 = await agent.fetch(`${base}/r?status=307&to=/kept`, { method: "POST", body: "data" });
  assert.equal(await r307.text(), "POST /kept data");
  const manual = await agent.fetch(`${base}/r?status=302&to=/x`, { redirect: "manual" });
  assert.equal(manual.status, 302);
  assert.equal(manual.headers.get("location"), "/x");
  await assert.rejects(agent.fetch(`${base}/r?status=301&to=/x`, { redirect: "error" }), TypeError);
  await assert.rejects(agent.fetch(`${base}/r?status=301&to=${encodeURIComponent("http://127.0.0.1/")}`), /http:/);
});

test("fetch errors carry their codes: untrusted certificate, http: URLs, GET with a body", async () => {
  const { base } = await start({ fetch: () => new Response("x") });
  const stranger = new H3Agent({ tls: { ca: createDevelopmentCertificates().ca.pem, serverName: "localhost" } });
  agents.push(stranger);
  await assert.rejects(stranger.fetch(`${base}/`), (e: Error & { code?: string }) => typeof e.code === "string" && /CERT|TLS/.test(e.code));
  const agent = new H3Agent({ tls });
  agents.push(agent);
  await assert.rejects(agent.fetch(`http://127.0.0.1:1/`), TypeError);
  await assert.rejects(agent.fetch(`${base}/`, { method: "GET", body: "x" }), TypeError);
});

// ------------------------------------------------------ misbehaving client

/** A raw QUIC client (ALPN h3) on 127.0.0.1 that writes crafted frames. */
async function rawClient(port: number): Promise<{ conn: Connection; events: ConnectionEvent[]; udp: UdpEndpoint; flush(): void }> {
  const events: ConnectionEvent[] = [];
  let conn!: Connection;
  const udp = await UdpEndpoint.bind({ config: { alpn: ["h3"], clientTls: { ca: certs.ca.pem } }, address: "127.0.0.1", port: 0, server: false }, (c) => {
    for (let e = c.poll(); e; e = c.poll()) events.push(e);
  });
  conn = udp.connect({ serverName: "localhost", remote: { address: "127.0.0.1", port } });
  await until(() => events.some((e) => e.type === "handshake_done"), 5000, "the raw handshake");
  return { conn, events, udp, flush: () => udp.touch(conn) };
}

test("a misbehaving raw client gets the right HTTP/3 codes, and the server keeps serving others", async () => {
  const { agent, base, server } = await start({ fetch: () => new Response("still here") });
  const GET: Array<[string, string]> = [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "localhost"],
  ];
  const frame = (h: Array<[string, string]>): Uint8Array => encodeHeadersFrame(new QpackEncoder().encodeFieldSection(0, h));

  // A malformed request (no :path) is a stream error: RESET_STREAM(H3_MESSAGE_ERROR).
  const a = await rawClient(server.port);
  const ctl = a.conn.openStream(false)!;
  a.conn.streamWrite(ctl.id, cat(encodeStreamHeader(StreamType.CONTROL), encodeSettingsFrame({})));
  const bad = a.conn.openStream(true)!;
  a.conn.streamWrite(bad.id, frame(GET), true);
  a.flush();
  await until(() => a.events.some((e) => e.type === "reset" && e.streamId === bad.id), 5000, "RESET_STREAM");
  assert.equal((a.events.find((e) => e.type === "reset") as { errorCode: number }).errorCode, H3ErrorCode.H3_MESSAGE_ERROR);
  // DATA before HEADERS is a connection error: CONNECTION_CLOSE(H3_FRAME_UNEXPECTED).
  const s2 = a.conn.openStream(true)!;
  a.conn.streamWrite(s2.id, encodeFrame({ type: "data", data: new Uint8Array(4) }), true);
  a.flush();
  await until(() => a.events.some((e) => e.type === "connection_closed"), 5000, "CONNECTION_CLOSE");
  const closed = a.events.find((e) => e.type === "connection_closed") as Extract<ConnectionEvent, { type: "connection_closed" }>;
  assert.deepEqual([closed.info.application, closed.info.errorCode, closed.info.remote], [true, H3ErrorCode.H3_FRAME_UNEXPECTED, true]);

  // A second control stream: H3_STREAM_CREATION_ERROR.
  const b = await rawClient(server.port);
  for (let i = 0; i < 2; i++) {
    const s = b.conn.openStream(false)!;
    b.conn.streamWrite(s.id, cat(encodeStreamHeader(StreamType.CONTROL), encodeSettingsFrame({})));
  }
  b.flush();
  await until(() => b.events.some((e) => e.type === "connection_closed"), 5000, "CONNECTION_CLOSE");
  assert.equal((b.events.find((e) => e.type === "connection_closed") as Extract<ConnectionEvent, { type: "connection_closed" }>).info.errorCode, H3ErrorCode.H3_STREAM_CREATION_ERROR);

  for (const c of [a, b]) {
    await new Promise((r) => setTimeout(r, 20));
    await c.udp.close();
  }
  assert.equal(await (await agent.fetch(`${base}/`)).text(), "still here");
});
