import { test } from "node:test";
import assert from "node:assert/strict";
import { listen, quic } from "../../src/index.js";
import { UdpEndpoint } from "../../src/driver/udp-endpoint.js";
import type { Connection } from "../../src/quic/connection.js";
import { certs, clientTls, startServer, until } from "./helpers.js";

test("IPv6: a server on ::1 and a client connecting to [::1]:port", async () => {
  const server = listen({
    hostname: "::1",
    port: 0,
    quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem },
    stream: { data: (s, b) => s.end(b) },
  });
  await server.ready;
  assert.equal(server.hostname, "::1");
  let got = "";
  const socket = await quic(`[::1]:${server.port}`, { tls: clientTls, data: (_s, b) => (got += b.toString()) });
  assert.equal(socket.address.address, "::1");
  socket.stream().end("over v6");
  await until(() => got === "over v6", 5000, "echo over IPv6");
  socket.close();
  server.stop(true);
});

test("hostnames go through the lookup function, and the name is used for SNI and verification", async () => {
  const server = await startServer({ stream: { data: (s, b) => s.end(b) } });
  const looked: string[] = [];
  let got = "";
  const socket = await quic(`quic.example.test:${server.port}`, {
    tls: { ca: certs.ca.pem, serverName: "localhost" },
    lookup: async (host) => {
      looked.push(host);
      return { address: "127.0.0.1", family: 4 };
    },
    data: (_s, b) => (got += b.toString()),
  });
  assert.deepEqual(looked, ["quic.example.test"]);
  socket.stream().end("resolved");
  await until(() => got === "resolved", 5000, "echo");
  socket.close();
  server.stop(true);
  // Without serverName the looked-up host name is verified against the certificate (which only names localhost).
  const server2 = await startServer({});
  await assert.rejects(
    quic(`quic.example.test:${server2.port}`, { tls: { ca: certs.ca.pem }, lookup: async () => ({ address: "127.0.0.1", family: 4 }) }),
    (err: Error & { code?: string }) => err.code === "ERR_TLS_CERT_HOSTNAME_MISMATCH",
  );
  server2.stop(true);
});

test("one UDP socket is a server and a client at once, routing by connection ID", async () => {
  const serverTls = { cert: certs.leaf.pem, key: certs.leaf.keyPem };
  const seen = new Map<string, Connection[]>();
  const onActivity = (name: string) => (c: Connection) => {
    const list = seen.get(name) ?? [];
    if (!list.includes(c)) list.push(c);
    seen.set(name, list);
    for (let e = c.poll(); e; e = c.poll()) {
      if (e.type === "readable") {
        for (let r = c.streamRead(e.streamId); r; r = c.streamRead(e.streamId)) {
          if (c.role === "server") c.streamWrite(e.streamId, new Uint8Array(r.data), r.fin);
          else echoes.push(Buffer.from(r.data).toString());
        }
      }
    }
  };
  const echoes: string[] = [];
  const config = { alpn: ["dual"], serverTls, clientTls: { ca: certs.ca.pem } };
  const a = await UdpEndpoint.bind({ config, address: "127.0.0.1", port: 0 }, onActivity("a"));
  const b = await UdpEndpoint.bind({ config, address: "127.0.0.1", port: 0 }, onActivity("b"));
  // a connects to b and b connects to a, each over its single socket.
  const ab = a.connect({ serverName: "localhost", remote: b.address });
  const ba = b.connect({ serverName: "localhost", remote: a.address });
  await until(() => ab.isEstablished && ba.isEstablished, 5000, "both handshakes");
  for (const [c, ep, text] of [[ab, a, "a->b"], [ba, b, "b->a"]] as const) {
    const s = c.openStream(true)!;
    c.streamWrite(s.id, new TextEncoder().encode(text), true);
    ep.touch(c);
  }
  await until(() => echoes.length === 2, 5000, "echoes");
  assert.deepEqual(echoes.sort(), ["a->b", "b->a"]);
  // Each endpoint carries one client and one server connection.
  assert.deepEqual(a.endpoint.allConnections().map((c) => c.role).sort(), ["client", "server"]);
  assert.deepEqual(b.endpoint.allConnections().map((c) => c.role).sort(), ["client", "server"]);
  await a.close();
  await b.close();
});
