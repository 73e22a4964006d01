import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flushQlogFiles, quic, type QuicSocket } from "../../src/index.js";
import { countedSent, named, parseQlog } from "../quic/qlog-schema.js";
import { clientTls, startServer, until } from "./helpers.js";

test("qlog: {dir} and key logs over UDP: one .sqlog per connection and role named by the original DCID, counts equal to the statistics; keylog(socket, line) and keylog: path get the same secrets", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsquic-observe-"));
  const qlogDir = join(dir, "qlog");
  const keylogPath = join(dir, "client.keys");
  const serverLines: Array<{ socket: QuicSocket; line: string }> = [];
  const server = await startServer({
    qlog: qlogDir,
    keylog(socket, line) {
      serverLines.push({ socket, line });
    },
    stream: {
      data(stream, buf) {
        stream.write(buf);
      },
      end(stream) {
        stream.end();
      },
    },
  });
  let socket: QuicSocket | undefined;
  try {
    const echoed: Buffer[] = [];
    let ended = false;
    socket = await quic(`127.0.0.1:${server.port}`, {
      tls: clientTls,
      qlog: { dir: qlogDir },
      keylog: keylogPath,
      data(_s, buf) {
        echoed.push(Buffer.from(buf));
      },
      end() {
        ended = true;
      },
    });
    socket.stream().end("hello qlog");
    await until(() => ended, 10_000, "the echo");
    assert.equal(Buffer.concat(echoed).toString(), "hello qlog");
    socket.close(0, "bye");
    await until(() => server.connections === 0, 10_000, "the server to see the close");
    await new Promise((r) => setImmediate(r));
    flushQlogFiles();

    const files = readdirSync(qlogDir).sort();
    assert.equal(files.length, 2, `files: ${files}`);
    const odcid = files[0]!.split("_")[0]!;
    assert.match(odcid, /^[0-9a-f]{16,40}$/);
    assert.deepEqual(files, [`${odcid}_client.sqlog`, `${odcid}_server.sqlog`]);

    const client = parseQlog(readFileSync(join(qlogDir, files[0]!), "utf8"));
    const clientStats = socket.stats();
    assert.equal(countedSent(client.events), clientStats.packetsSent, "client packet_sent vs packetsSent");
    assert.equal(named(client.events, "transport:packet_received").length, clientStats.packetsReceived, "client packet_received vs packetsReceived");
    assert.equal(client.header.trace.common_fields.ODCID, odcid);

    const serverSocket = serverLines[0]!.socket;
    const server_ = parseQlog(readFileSync(join(qlogDir, files[1]!), "utf8"));
    const serverStats = serverSocket.stats();
    assert.equal(countedSent(server_.events), serverStats.packetsSent, "server packet_sent vs packetsSent");
    assert.equal(named(server_.events, "transport:packet_received").length, serverStats.packetsReceived, "server packet_received vs packetsReceived");
    const closed = named(server_.events, "connectivity:connection_closed")[0];
    assert.deepEqual(closed?.data, { owner: "remote", reason: "bye", trigger: "clean", application_code: 0 });

    // Key logs: the server's callback saw its one connection's socket; the client's file holds the same secrets.
    assert.ok(serverLines.every((l) => l.socket === serverSocket), "key log lines of one connection came with different sockets");
    assert.equal(serverSocket.address.port, socket.localAddress.port);
    const labels = serverLines.map((l) => l.line.split(" ")[0]).sort();
    for (const label of ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"]) {
      assert.ok(labels.includes(label), `server key log lacks ${label}`);
    }
    const fileLines = readFileSync(keylogPath, "utf8").trim().split("\n").sort();
    assert.deepEqual(fileLines, serverLines.map((l) => l.line).sort());
    for (const l of fileLines) assert.match(l, /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}$/);
  } finally {
    socket?.close();
    server.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("qlog must name a directory: a wrong option fails at once with a TypeError", async () => {
  await assert.rejects(quic("127.0.0.1:9", { qlog: { dir: "" } }), TypeError);
});
