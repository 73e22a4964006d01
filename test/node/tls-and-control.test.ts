import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, createPrivateKey, randomBytes } from "node:crypto";
import { createCertificate } from "../../src/pki/generate.js";
import { createQuicSocket, createSecureContext, type CertificateObject, type NodeQuicStream, type QuicServerSession } from "../../src/index.js";
import { certs, clientSocket, closeAll, collect, nextSession, startServer } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

test("certificates, cipher, ALPN and servername as node:tls reports them; keylog lines; ping and updateKey", async () => {
  const { server, port } = await startServer({ ciphers: "TLS_AES_256_GCM_SHA384" });
  const srvP = nextSession(server);
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port });
  const keylog: string[] = [];
  session.on("keylog", (line: Buffer) => keylog.push(line.toString()));
  await once(session, "secure");
  const srv = await srvP;
  const peer = session.getPeerCertificate(true) as import("../../src/index.js").CertificateObject;
  assert.equal(peer.subject.CN, "localhost");
  assert.equal(peer.issuer.CN, "tsquic development CA");
  assert.match(peer.subjectaltname!, /DNS:localhost/);
  assert.ok(peer.valid_from && peer.valid_to && /^[0-9A-F:]{95}$/.test(peer.fingerprint256));
  assert.deepEqual(peer.raw, Buffer.from(certs.leaf.der));
  assert.deepEqual(session.getCertificate(), {}, "the client sent no certificate");
  assert.equal((srv.getCertificate() as { fingerprint256: string }).fingerprint256, peer.fingerprint256);
  assert.deepEqual(srv.getPeerCertificate(), {});
  assert.deepEqual(session.cipher, { name: "TLS_AES_256_GCM_SHA384", standardName: "TLS_AES_256_GCM_SHA384", version: "TLSv1.3" });
  assert.equal(session.alpnProtocol, "test");
  assert.equal(session.servername, "localhost");
  assert.equal(srv.servername, "localhost");
  assert.ok(session.authenticated && session.authenticationError === undefined);
  assert.equal(session.ephemeralKeyInfo.type, "ECDH");
  assert.ok(keylog.some((l) => l.startsWith("CLIENT_HANDSHAKE_TRAFFIC_SECRET ")) && keylog.some((l) => l.startsWith("SERVER_TRAFFIC_SECRET_0 ")), keylog.join(""));
  assert.ok(keylog.every((l) => l.endsWith("\n")));

  // Key update: our next packets use the new keys and the peer follows (RFC 9001 section 6).
  await until(() => session.handshakeConfirmed);
  const s = await session.openStream();
  srv.on("stream", (st: NodeQuicStream) => st.pipe(st));
  s.write("before");
  await once(s, "data");
  assert.equal(session.updateKey(), true);
  session.ping();
  s.end("after the key update");
  assert.equal((await collect(s)).toString(), "after the key update");
  assert.ok(session.keyUpdateCount >= 1 && srv.keyUpdateCount >= 1, `${session.keyUpdateCount} / ${srv.keyUpdateCount}`);
  await closeAll(client, server);
});

test("a passphrase-protected key; requestCert with a client certificate; rejectUnauthorized false reports authenticationError", async () => {
  const encrypted = createPrivateKey(certs.leaf.keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }) as string;
  assert.throws(() => createSecureContext({ cert: certs.leaf.pem, key: encrypted, passphrase: "wrong" }), { code: "ERR_INVALID_ARG_VALUE" });
  const clientCert = createCertificate({ subject: { commonName: "client one" }, issuer: certs.ca, extendedKeyUsage: ["clientAuth"] });
  const { server, port } = await startServer({ key: encrypted, passphrase: "s3cret", requestCert: true, ca: certs.ca.pem });
  const srvP = nextSession(server);
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port, cert: clientCert.pem, key: clientCert.keyPem });
  await once(session, "secure");
  const srv = await srvP;
  if (!srv.handshakeComplete) await once(srv, "secure");
  assert.equal((srv.getPeerCertificate() as CertificateObject).subject.CN, "client one");
  assert.ok(srv.authenticated);
  assert.equal((session.getCertificate() as CertificateObject).subject.CN, "client one");

  // A client that does not check the server: the handshake completes, authenticationError says why it would fail.
  const other = createDevelopmentCa();
  const lax = await client.connect({ address: "127.0.0.1", port, ca: other, rejectUnauthorized: false, cert: clientCert.pem, key: clientCert.keyPem });
  await once(lax, "secure");
  assert.equal(lax.authenticated, false);
  assert.ok(lax.authenticationError instanceof Error);
  await closeAll(client, server);
});

test("clientHelloHandler picks the certificate by SNI; ocspHandler staples a response the client receives", async () => {
  const other = createCertificate({ subject: { commonName: "other.test" }, issuer: certs.ca, subjectAltNames: { dns: ["other.test"] } });
  const seen: Array<[string | undefined, string | undefined, string[]]> = [];
  const ocspRequests: Array<string | undefined> = [];
  const { server, port } = await startServer({
    async clientHelloHandler(alpn, servername, ciphers) {
      seen.push([alpn, servername, ciphers]);
      await new Promise((r) => setTimeout(r, 5));
      return servername === "other.test" ? createSecureContext({ cert: other.pem, key: other.keyPem }) : undefined;
    },
    async ocspHandler(_type, { servername }) {
      ocspRequests.push(servername);
      return { data: Buffer.from(`ocsp for ${servername}`) };
    },
  });
  const client = clientSocket();
  const a = await client.connect({ address: "127.0.0.1", port, servername: "other.test" });
  await once(a, "secure");
  assert.equal((a.getPeerCertificate() as CertificateObject).subject.CN, "other.test");
  const responses: string[] = [];
  const b = await client.connect({
    address: "127.0.0.1",
    port,
    ocspHandler: async (type, { data }) => {
      assert.equal(type, "response");
      responses.push(data.toString());
    },
  });
  await once(b, "secure");
  await until(() => responses.length === 1);
  assert.equal((b.getPeerCertificate() as CertificateObject).subject.CN, "localhost");
  assert.deepEqual(responses, ["ocsp for localhost"]);
  assert.deepEqual(ocspRequests, ["localhost"], "only a client asking for OCSP gets the handler called");
  assert.deepEqual(seen.map((s) => s.slice(0, 2)), [["test", "other.test"], ["test", "localhost"]]);
  assert.ok(seen[0]![2].includes("TLS_AES_128_GCM_SHA256"));
  await closeAll(client, server);
});

test("blockList: datagrams from a blocked address are ignored and counted; connecting to a blocked address is refused", async () => {
  const { server, port } = await startServer({}, { endpoint: { address: "127.0.0.1" } });
  server.blockList.addAddress("127.0.0.1");
  const client = clientSocket();
  const session = await client.connect({ address: "127.0.0.1", port, idleTimeout: 300 });
  session.on("error", () => {});
  await once(session, "close");
  assert.equal(session.handshakeComplete, false);
  assert.ok(server.packetsIgnored >= 1, `ignored ${server.packetsIgnored}`);
  assert.equal(server.serverSessions, 0);
  client.blockList.addSubnet("10.0.0.0", 8);
  await assert.rejects(client.connect({ address: "10.1.2.3", port }), { code: "ERR_QUIC_ADDRESS_BLOCKED" });
  await closeAll(client, server);
});

test("serverBusy refuses with CONNECTION_REFUSED; maxConnectionsPerHost refuses the next connection from the same host", async () => {
  const { server, port } = await startServer({}, { maxConnectionsPerHost: 1 });
  const busy: boolean[] = [];
  server.on("busy", (on: boolean) => busy.push(on));
  server.serverBusy = true;
  const client = clientSocket();
  const refused = await client.connect({ address: "127.0.0.1", port });
  const [err] = await once(refused, "error");
  assert.equal(err.errorCode, 0x2, "CONNECTION_REFUSED (RFC 9000 section 20.1)");
  assert.equal(server.serverBusyCount, 1);
  server.serverBusy = false;
  assert.deepEqual(busy, [true, false]);

  const first = await client.connect({ address: "127.0.0.1", port });
  await once(first, "secure");
  const second = await client.connect({ address: "127.0.0.1", port });
  const [err2] = await once(second, "error");
  assert.equal(err2.errorCode, 0x2);
  assert.equal(server.serverBusyCount, 1, "the per-host refusal is not a busy refusal");
  await closeAll(client, server);
});

test("setDiagnosticPacketLoss: a 1 MB transfer completes with 10% loss each way, and losses are retransmitted", async () => {
  const { server, port } = await startServer();
  server.on("session", (s: QuicServerSession) => s.on("stream", (st: NodeQuicStream) => st.pipe(st)));
  const client = clientSocket();
  client.setDiagnosticPacketLoss({ rx: 0.1, tx: 0.1 });
  assert.throws(() => client.setDiagnosticPacketLoss({ rx: 2 }), { code: "ERR_INVALID_ARG_VALUE" });
  const session = await client.connect({ address: "127.0.0.1", port });
  const stream = await session.openStream();
  const data = randomBytes(1024 * 1024);
  const echoed = collect(stream);
  stream.end(data);
  assert.equal(sha256(await echoed), sha256(data));
  assert.ok(session.lossRetransmitCount > 0, "losses were detected and retransmitted");
  await closeAll(client, server);
});

test("unsupported, unknown and invalid options throw errors naming the option", async () => {
  const s = createQuicSocket();
  await assert.rejects(s.listen({ alpn: "x", cert: certs.leaf.pem, key: certs.leaf.keyPem, secureOptions: 4 } as never), { code: "ERR_QUIC_OPTION_UNSUPPORTED", option: "listen.secureOptions" });
  await assert.rejects(s.listen({ alpn: "x", cert: certs.leaf.pem, key: certs.leaf.keyPem, pfx: "x" } as never), { code: "ERR_QUIC_OPTION_UNSUPPORTED", option: "listen.pfx" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, clientCertEngine: "e" } as never), { code: "ERR_QUIC_OPTION_UNSUPPORTED" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, maxStreamsBidy: 3 } as never), { code: "ERR_QUIC_OPTION_UNKNOWN", option: "connect.maxStreamsBidy" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, remoteTransportParams: Buffer.alloc(4) }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.remoteTransportParams" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, congestionAlgorithm: "bbr" as "reno" }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.congestionAlgorithm" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, ciphers: "ECDHE-RSA-AES128-GCM-SHA256" }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.ciphers" });
  await assert.rejects(s.connect({ port: 1 }), { option: "connect.alpn" });
  assert.throws(() => createQuicSocket({ qlog: 1 as never }), { code: "ERR_INVALID_ARG_VALUE", option: "socket.qlog" });
  assert.throws(() => createQuicSocket({ endpoint: { type: "udp5" as "udp4" } }), { code: "ERR_INVALID_ARG_VALUE" });
  assert.equal(s.bound, false, "nothing was bound by the failed calls");
  s.destroy();
});

test("ref/unref, QuicEndpoint setters, addEndpoint, close waits for sessions while destroy does not", async () => {
  const { server, port } = await startServer();
  const ep = server.endpoints[0]!;
  assert.ok(ep.bound && !ep.pending && typeof ep.fd === "number");
  ep.setTTL(64);
  ep.setBroadcast(false);
  ep.setMulticastTTL(2);
  ep.setMulticastLoopback(true);
  assert.throws(() => server.addEndpoint({ port: 0 }), { code: "ERR_INVALID_STATE" });
  server.unref();
  server.ref();
  const client = clientSocket();
  const extra = client.addEndpoint({ address: "127.0.0.1", type: "udp4" });
  const session = await client.connect({ address: "127.0.0.1", port });
  await once(session, "secure");
  assert.ok(extra.bound, "every endpoint binds");
  const srv = [...[server]][0]!;
  let closed = false;
  const closing = client.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closed, false, "close() waits for the live session");
  await assert.rejects(client.connect({ address: "127.0.0.1", port }), { code: "ERR_INVALID_STATE" });
  await session.close();
  await closing;
  assert.ok(client.destroyed && ep.bound);
  void srv;
  const other = clientSocket();
  const s2 = await other.connect({ address: "127.0.0.1", port });
  await once(s2, "secure");
  const s2closed = once(s2, "close");
  other.destroy();
  await s2closed;
  await once(other, "close").catch(() => {});
  assert.ok(other.destroyed);
  await closeAll(server);
});

function createDevelopmentCa(): string {
  return createCertificate({ subject: { commonName: "unrelated CA" }, isCA: true }).pem;
}

async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
