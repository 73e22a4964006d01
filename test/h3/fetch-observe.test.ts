import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { H3Agent, serve } from "../../src/h3/http.js";
import { flushQlogFiles } from "../../src/driver/qlog-files.js";
import { parseQlog } from "../quic/qlog-schema.js";

const certs = createDevelopmentCertificates();
const tls = { ca: certs.ca.pem, serverName: "localhost" };

test("fetch with per-request qlog and keylog: the request gets its own traced connection, pooled apart from untraced requests; serve({ qlog }) traces the server side", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-fetch-observe-"));
  const server = serve({ hostname: "127.0.0.1", port: 0, cert: certs.leaf.pem, key: certs.leaf.keyPem, qlog: join(dir, "server"), fetch: () => new Response("ok") });
  await server.ready;
  const agent = new H3Agent({ tls });
  try {
    const url = `https://127.0.0.1:${server.port}/`;
    const lines: string[] = [];
    const traced = await agent.fetch(url, { qlog: { dir: join(dir, "client") }, keylog: (l) => lines.push(l) });
    assert.equal(await traced.text(), "ok");
    const plain = await agent.fetch(url);
    assert.equal(await plain.text(), "ok");
    assert.equal(agent.connections, 2, "the traced request shared a connection with an untraced one");
    assert.ok(lines.some((l) => l.startsWith("CLIENT_TRAFFIC_SECRET_0 ")), `key log: ${lines}`);
    await agent.closeAll();
    flushQlogFiles();
    const clientFiles = readdirSync(join(dir, "client"));
    const serverFiles = readdirSync(join(dir, "server"));
    assert.equal(clientFiles.length, 1, `client traces: ${clientFiles}`);
    assert.equal(serverFiles.length, 2, `server traces: ${serverFiles}`);
    const odcid = clientFiles[0]!.split("_")[0];
    assert.ok(serverFiles.includes(`${odcid}_server.sqlog`), "the server's trace of the traced connection has another name");
    for (const f of [join(dir, "client", clientFiles[0]!), ...serverFiles.map((s) => join(dir, "server", s))]) parseQlog(readFileSync(f, "utf8"));
  } finally {
    await agent.closeAll();
    await server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});
