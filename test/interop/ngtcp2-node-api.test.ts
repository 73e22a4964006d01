/**
 * The Node-style API's client (createQuicSocket().connect, ALPN h3) against
 * ngtcp2's gtlsserver: two GET requests on one session, bodies checked with
 * SHA-256, response headers seen through 'initialHeaders'.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createQuicSocket, type NodeQuicStream } from "../../src/index.js";
import { NGTCP2_SERVER, requirePeer, tempCertificates } from "./peers.js";
import { createFileSet, startNgtcp2Server, tail } from "./harness-files.js";

test("Node-style client downloads files over HTTP/3 from ngtcp2's gtlsserver", async () => {
  requirePeer(NGTCP2_SERVER);
  const certs = await tempCertificates();
  const files = createFileSet({ "small.bin": 2048, "big.bin": 3_000_000 });
  const server = await startNgtcp2Server({ root: files.dir, cert: certs.cert, key: certs.key });
  const socket = createQuicSocket({ client: { alpn: "h3", ca: readFileSync(certs.ca), servername: "localhost" } });
  try {
    const session = await socket.connect({ address: "127.0.0.1", port: server.port });
    await once(session, "secure");
    assert.equal(session.alpnProtocol, "h3");
    const results = await Promise.all(
      files.files.map(async (f) => {
        const stream: NodeQuicStream = await session.openStream();
        const headers = once(stream, "initialHeaders");
        stream.submitInitialHeaders({ ":method": "GET", ":scheme": "https", ":authority": "localhost", ":path": `/${f.name}` });
        stream.end();
        const hash = createHash("sha256");
        let size = 0;
        stream.on("data", (c: Buffer) => {
          hash.update(c);
          size += c.length;
        });
        await once(stream, "end");
        const [h] = await headers;
        return { f, status: h[":status"], size, sha256: hash.digest("hex") };
      }),
    );
    for (const r of results) {
      assert.equal(r.status, "200", r.f.name);
      assert.equal(r.size, r.f.size, `${r.f.name} size`);
      assert.equal(r.sha256, r.f.sha256, `${r.f.name} SHA-256`);
    }
    await session.close();
    assert.equal(session.closeCode?.code, 0x100, "closed with H3_NO_ERROR");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- gtlsserver output ---\n${tail(server.output())}`, { cause: e });
  } finally {
    socket.destroy();
    await server.stop();
    files.remove();
  }
});
