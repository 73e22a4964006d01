/**
 * Our engines against a real TLS 1.3 peer: node:tls (OpenSSL) over TCP
 * loopback, through the test record layer. Covers both directions with ALPN
 * and application data, client certificates each way, resumption each way,
 * and a certificate failure. Servers listen on 127.0.0.1 only and are closed
 * by every test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { once } from "node:events";
import { CertificateError } from "../../src/pki/errors.js";
import { TlsClient, type TlsClientConfig } from "../../src/tls/client.js";
import { TlsServer, type TlsServerConfig } from "../../src/tls/server.js";
import type { SessionTicket } from "../../src/tls/ticket.js";
import { RecordConnection } from "./record-layer.js";
import { testPki } from "./helpers.js";

const TIMEOUT = 10_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), TIMEOUT))),
  ]);
}

/** A node:tls echo server on 127.0.0.1 that uppercases what it receives. */
async function nodeServer(options: tls.TlsOptions): Promise<{ server: tls.Server; port: number; sockets: tls.TLSSocket[] }> {
  const sockets: tls.TLSSocket[] = [];
  const server = tls.createServer({ minVersion: "TLSv1.3", ...options }, (sock) => {
    sockets.push(sock);
    sock.on("data", (d: Buffer) => sock.write(d.toString().toUpperCase()));
    sock.on("error", () => {});
  });
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

async function connectOurClient(port: number, config: TlsClientConfig): Promise<RecordConnection> {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  const conn = new RecordConnection(new TlsClient({ mode: "tls", ...config }), socket);
  conn.start();
  return conn;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

test("our client → node:tls server: handshake, ALPN, data both ways", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem, ALPNProtocols: ["echo/1", "other"] });
  try {
    const conn = await connectOurClient(port, { serverName: "localhost", alpnProtocols: ["echo/1"], ca: pki.ca.pem });
    await withTimeout(conn.handshake, "handshake");
    const client = conn.engine as TlsClient;
    assert.equal(client.alpnProtocol, "echo/1");
    assert.equal(client.signatureScheme, "ecdsa_secp256r1_sha256");
    conn.send("hello from tsquic");
    const reply = await withTimeout(conn.receiveBytes(17), "echo");
    assert.equal(new TextDecoder().decode(reply), "HELLO FROM TSQUIC");
    assert.equal(sockets[0]!.alpnProtocol, "echo/1");
    conn.close();
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

test("our client → node:tls server with every suite and group, RSA-PSS certificate", async () => {
  const pki = testPki();
  const leaf = pki.leaf["rsa-2048"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem, ecdhCurve: "X25519:P-256:P-384" });
  try {
    const cases: Array<Partial<TlsClientConfig>> = [
      { cipherSuites: ["TLS_AES_256_GCM_SHA384"] },
      { cipherSuites: ["TLS_CHACHA20_POLY1305_SHA256"], groups: ["secp256r1"] },
      { groups: ["secp384r1"] },
    ];
    for (const extra of cases) {
      const conn = await connectOurClient(port, { serverName: "localhost", ca: pki.ca.pem, ...extra });
      await withTimeout(conn.handshake, "handshake");
      conn.send("x");
      assert.equal(new TextDecoder().decode(await withTimeout(conn.receiveBytes(1), "echo")), "X");
      const c = conn.engine as TlsClient;
      if (extra.cipherSuites) assert.equal(c.cipherSuite!.name, extra.cipherSuites[0]);
      if (extra.groups) assert.equal(c.group, extra.groups[0]);
      assert.match(c.signatureScheme!, /^rsa_pss_rsae_/);
      conn.close();
    }
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

test("our client → node:tls server: HelloRetryRequest when OpenSSL wants another group", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem, ecdhCurve: "P-384" });
  try {
    const conn = await connectOurClient(port, { serverName: "localhost", ca: pki.ca.pem, groups: ["x25519", "secp384r1"] });
    await withTimeout(conn.handshake, "handshake");
    assert.equal((conn.engine as TlsClient).group, "secp384r1");
    conn.send("hrr");
    assert.equal(new TextDecoder().decode(await withTimeout(conn.receiveBytes(3), "echo")), "HRR");
    conn.close();
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

test("our client → node:tls server rejects an untrusted certificate with CertificateError", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem });
  try {
    const conn = await connectOurClient(port, { serverName: "localhost" }); // platform roots only
    await assert.rejects(withTimeout(conn.handshake, "handshake"), (e: unknown) => e instanceof CertificateError && e.reason === "unknown_issuer");
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

test("our client → node:tls server requiring a client certificate", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem, requestCert: true, rejectUnauthorized: true, ca: pki.ca.pem });
  try {
    const conn = await connectOurClient(port, { serverName: "localhost", ca: pki.ca.pem, cert: pki.client.pem, key: pki.client.keyPem });
    await withTimeout(conn.handshake, "handshake");
    conn.send("auth");
    assert.equal(new TextDecoder().decode(await withTimeout(conn.receiveBytes(4), "echo")), "AUTH");
    const sock = sockets[0]!;
    assert.equal(sock.authorized, true);
    assert.equal(sock.getPeerCertificate().subject.CN, "tsquic client");
    conn.close();
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

test("our client resumes with a node:tls ticket", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, sockets } = await nodeServer({ key: leaf.keyPem, cert: leaf.pem });
  try {
    const base = { serverName: "localhost", ca: pki.ca.pem };
    const first = await connectOurClient(port, base);
    await withTimeout(first.handshake, "handshake 1");
    first.send("one");
    await withTimeout(first.receiveBytes(3), "echo 1");
    await withTimeout(first.waitFor(() => first.events.some((e) => e.type === "sessionTicket")), "ticket");
    const ticket = first.events.find((e): e is { type: "sessionTicket"; ticket: SessionTicket } => e.type === "sessionTicket")!.ticket;
    first.close();
    const second = await connectOurClient(port, { ...base, sessionTicket: ticket });
    await withTimeout(second.handshake, "handshake 2");
    assert.equal((second.engine as TlsClient).resumed, true);
    second.send("two");
    assert.equal(new TextDecoder().decode(await withTimeout(second.receiveBytes(3), "echo 2")), "TWO");
    assert.equal(sockets[1]!.isSessionReused(), true);
    second.close();
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
  }
});

/** A TCP server on 127.0.0.1 running our TLS server engine per connection, echoing uppercased data. */
async function ourServer(config: TlsServerConfig, onConnection?: (c: RecordConnection) => void): Promise<{ server: net.Server; port: number; conns: RecordConnection[] }> {
  const conns: RecordConnection[] = [];
  const server = net.createServer((socket) => {
    const conn = new RecordConnection(new TlsServer({ mode: "tls", ...config }), socket, {
      onHandshakeComplete: (c) => {
        onConnection?.(c);
      },
    });
    conns.push(conn);
    socket.on("data", () => {
      // Echo any application data that arrived (after the record layer processed it).
      setImmediate(() => {
        while (conn.received.length) conn.send(new TextDecoder().decode(conn.received.shift()!).toUpperCase());
      });
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as net.AddressInfo).port, conns };
}

async function nodeClient(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const sock = tls.connect({ port, host: "127.0.0.1", servername: "localhost", minVersion: "TLSv1.3", ...options });
  sock.on("error", () => {});
  await withTimeout(once(sock, "secureConnect"), "node client handshake");
  return sock;
}

async function roundTrip(sock: tls.TLSSocket, text: string): Promise<string> {
  sock.write(text);
  const [data] = await withTimeout(once(sock, "data"), "reply");
  return (data as Buffer).toString();
}

test("node:tls client → our server: handshake, ALPN, data both ways", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, conns } = await ourServer({ cert: leaf.pem, key: leaf.keyPem, alpnProtocols: ["echo/1"] });
  let sock: tls.TLSSocket | undefined;
  try {
    sock = await nodeClient(port, { ca: pki.ca.pem, ALPNProtocols: ["other", "echo/1"] });
    assert.equal(sock.authorized, true);
    assert.equal(sock.alpnProtocol, "echo/1");
    assert.equal(await roundTrip(sock, "ping"), "PING");
    const engine = conns[0]!.engine as TlsServer;
    assert.equal(engine.handshakeComplete, true);
    assert.equal(engine.alpnProtocol, "echo/1");
    assert.equal(engine.serverName, "localhost");
  } finally {
    sock?.destroy();
    for (const c of conns) c.socket.destroy();
    await close(server);
  }
});

test("node:tls client → our server with RSA and Ed25519 certificates", async () => {
  const pki = testPki();
  for (const keyType of ["rsa-2048", "ed25519", "ecdsa-p384"] as const) {
    const leaf = pki.leaf[keyType];
    const { server, port, conns } = await ourServer({ cert: leaf.pem, key: leaf.keyPem });
    let sock: tls.TLSSocket | undefined;
    try {
      sock = await nodeClient(port, { ca: pki.ca.pem });
      assert.equal(await roundTrip(sock, keyType), keyType.toUpperCase());
    } finally {
      sock?.destroy();
      for (const c of conns) c.socket.destroy();
      await close(server);
    }
  }
});

test("node:tls client → our server requesting a client certificate", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, conns } = await ourServer({ cert: leaf.pem, key: leaf.keyPem, requestClientCertificate: true, ca: pki.ca.pem });
  let sock: tls.TLSSocket | undefined;
  try {
    sock = await nodeClient(port, { ca: pki.ca.pem, cert: pki.client.pem, key: pki.client.keyPem });
    assert.equal(await roundTrip(sock, "cert"), "CERT");
    const engine = conns[0]!.engine as TlsServer;
    assert.deepEqual(engine.peerCertificates[0], pki.client.der); // OpenSSL may append the CA
    assert.ok(engine.clientSignatureScheme);
  } finally {
    sock?.destroy();
    for (const c of conns) c.socket.destroy();
    await close(server);
  }
});

test("node:tls client resumes with our server's ticket", async () => {
  const pki = testPki();
  const leaf = pki.leaf["ecdsa-p256"];
  const { server, port, conns } = await ourServer({ cert: leaf.pem, key: leaf.keyPem, ticketKeys: new Uint8Array(32).fill(1) }, (c) => {
    // The record layer's event loop writes the NewSessionTicket this queues.
    (c.engine as TlsServer).sendSessionTicket(Date.now());
  });
  const sockets: tls.TLSSocket[] = [];
  try {
    const first = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: pki.ca.pem, minVersion: "TLSv1.3" });
    first.on("error", () => {});
    sockets.push(first);
    const sessionPromise = once(first, "session");
    await withTimeout(once(first, "secureConnect"), "first handshake");
    // Our NewSessionTicket precedes the echo. (Writing from inside Node's 'session' callback stalls the socket.)
    assert.equal(await roundTrip(first, "a"), "A");
    const [session] = await withTimeout(sessionPromise, "session ticket");
    const second = await nodeClient(port, { ca: pki.ca.pem, session: session as Buffer });
    sockets.push(second);
    assert.equal(second.isSessionReused(), true);
    assert.equal((conns[1]!.engine as TlsServer).resumed, true);
    assert.equal(await roundTrip(second, "b"), "B");
  } finally {
    for (const s of sockets) s.destroy();
    for (const c of conns) c.socket.destroy();
    await close(server);
  }
});
