// Node-style API: connection migration with setSocket() and the server's preferred address (RFC 9000 section 9).
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { createQuicSocket, type AddressInfo, type NodeQuicSocket, type NodeQuicStream, type QuicClientSession, type QuicServerSession } from "../../src/index.js";
import { certs, clientSocket, closeAll, collect, nextSession, startServer } from "./helpers.js";

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Echoes every stream of every session. */
function echo(session: QuicServerSession): void {
  session.on("stream", (stream: NodeQuicStream) => stream.pipe(stream));
}

/** An echo server and a client session to it, both past 'secure'. */
async function connected(): Promise<{ server: NodeQuicSocket; port: number; client: NodeQuicSocket; session: QuicClientSession; srv: QuicServerSession }> {
  const { server, port } = await startServer();
  server.on("session", echo);
  const serverSession = nextSession(server);
  const client = clientSocket();
  const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port });
  await once(session, "secure");
  return { server, port, client, session, srv: await serverSession };
}

/** Sends `data` on a new stream and resolves with its echo. */
async function echoOf(session: QuicClientSession, data: Uint8Array | string): Promise<Buffer> {
  const stream = await session.openStream();
  const echoed = collect(stream);
  stream.end(data);
  return echoed;
}

test("setSocket() moves a client to a new local port in the middle of a 4 MB transfer: pathValidation 'success' on both sides, every byte intact", { timeout: 60_000 }, async () => {
  const { server, port, client, session, srv } = await connected();
  try {
    const serverResults: string[] = [];
    srv.on("pathValidation", (result: string) => serverResults.push(result));
    const validations: Array<[string, AddressInfo, AddressInfo]> = [];
    session.on("pathValidation", (result: string, local: AddressInfo, remote: AddressInfo) => validations.push([result, local, remote]));
    const before = session.address;

    const stream = await session.openStream();
    const data = randomBytes(4 * 1024 * 1024);
    const echoed = collect(stream);
    stream.write(data.subarray(0, 1024 * 1024));
    await session.setSocket(client);
    stream.end(data.subarray(1024 * 1024));
    assert.equal(sha256(await echoed), sha256(data));

    const after = session.address;
    assert.notEqual(after.port, before.port);
    assert.equal(after.address, "127.0.0.1");
    assert.deepEqual(validations, [["success", after, { address: "127.0.0.1", family: "IPv4", port }]]);
    // The server validates the client's new address once its packets come from there (RFC 9000 section 9.3).
    while (!serverResults.includes("success")) await once(srv, "pathValidation");
    assert.equal(srv.remoteAddress.port, after.port);

    await assert.rejects(session.setSocket(createQuicSocket()), { code: "ERR_QUIC_MIGRATION_UNSUPPORTED" });
  } finally {
    await closeAll(client, server);
  }
});

test("setSocket(socket, true) rebinds like a NAT: the port changes at once and the server follows", { timeout: 60_000 }, async () => {
  const { server, client, session, srv } = await connected();
  try {
    // A move asked for before confirmation waits for it (RFC 9000 section 9); a rebinding is immediate only after.
    while (!session.handshakeConfirmed) await new Promise((r) => setTimeout(r, 5));
    const before = session.address.port;
    await session.setSocket(client, true);
    assert.notEqual(session.address.port, before);
    const data = randomBytes(200_000);
    assert.equal(sha256(await echoOf(session, data)), sha256(data));
    assert.equal(srv.remoteAddress.port, session.address.port);
  } finally {
    await closeAll(client, server);
  }
});

test("listen preferredAddress with connect preferredAddressPolicy 'accept': the client moves there and emits usePreferredAddress once; 'reject' stays", { timeout: 60_000 }, async () => {
  const { server, port } = await startServer({ preferredAddress: { address: "127.0.0.1", port: 0, type: "udp4" } });
  server.on("session", echo);
  const client = clientSocket();
  try {
    const session: QuicClientSession = await client.connect({ address: "127.0.0.1", port, preferredAddressPolicy: "accept" });
    const used: AddressInfo[] = [];
    session.on("usePreferredAddress", (a: AddressInfo) => used.push(a));
    const [preferred] = (await once(session, "usePreferredAddress")) as [AddressInfo];
    assert.equal(preferred.address, "127.0.0.1");
    assert.notEqual(preferred.port, port);
    assert.deepEqual(session.remoteAddress, preferred);
    const data = randomBytes(500_000);
    assert.equal(sha256(await echoOf(session, data)), sha256(data));
    assert.deepEqual(used, [preferred]);

    const stay: QuicClientSession = await client.connect({ address: "127.0.0.1", port });
    let moved = false;
    stay.on("usePreferredAddress", () => (moved = true));
    await once(stay, "secure");
    assert.equal((await echoOf(stay, "stay")).toString(), "stay");
    assert.equal(moved, false);
    assert.equal(stay.remoteAddress.port, port, "the default policy is 'reject'");
  } finally {
    await closeAll(client, server);
  }
});

test("preferredAddress and preferredAddressPolicy values are checked", async () => {
  const s = createQuicSocket();
  const listen = { alpn: "x", cert: certs.leaf.pem, key: certs.leaf.keyPem };
  await assert.rejects(s.listen({ ...listen, preferredAddress: { address: "0.0.0.0", port: 0 } }), { code: "ERR_INVALID_ARG_VALUE", option: "listen.preferredAddress.address" });
  await assert.rejects(s.listen({ ...listen, preferredAddress: { address: "localhost", port: 1 } }), { code: "ERR_INVALID_ARG_VALUE", option: "listen.preferredAddress.address" });
  await assert.rejects(s.listen({ ...listen, preferredAddress: { ipv6: { address: "127.0.0.1", port: 1 } } }), { code: "ERR_INVALID_ARG_VALUE", option: "listen.preferredAddress.ipv6.address" });
  await assert.rejects(s.connect({ alpn: "x", port: 1, preferredAddressPolicy: "maybe" as "accept" }), { code: "ERR_INVALID_ARG_VALUE", option: "connect.preferredAddressPolicy" });
  assert.equal(s.bound, false);
  s.destroy();
});
