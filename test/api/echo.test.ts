import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { listen, quic, type QuicStream } from "../../src/index.js";

const certs = createDevelopmentCertificates();

test("echo over real UDP: 8 concurrent streams, 10 MB, SHA-256 compared", async () => {
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem },
    stream: {
      data(stream, buf) {
        stream.write(buf);
      },
      close() {},
    },
  });
  await server.ready;
  // FIN from the client ends the echo: the server ends its side when the client's FIN arrives.
  const done = new Map<number, Buffer[]>();
  const finished: Array<() => void> = [];
  const socket = await quic(`127.0.0.1:${server.port}`, {
    tls: { ca: certs.ca.pem, serverName: "localhost" },
    data(stream, buf) {
      done.get(stream.id)!.push(Buffer.from(buf));
    },
  });
  const per = (10 * 1024 * 1024) / 8;
  const sent = new Map<number, Buffer>();
  const streams: QuicStream[] = [];
  for (let i = 0; i < 8; i++) {
    const s = socket.stream();
    streams.push(s);
    done.set(s.id, []);
    const data = randomBytes(per);
    sent.set(s.id, data);
    s.write(data);
  }
  assert.deepEqual(streams.map((s) => s.id), [0, 4, 8, 12, 16, 20, 24, 28]);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("echo timed out")), 60_000);
    const check = setInterval(() => {
      let all = true;
      for (const [id, chunks] of done) if (chunks.reduce((n, c) => n + c.length, 0) < sent.get(id)!.length) all = false;
      if (all) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 20);
    finished.push(() => clearInterval(check));
  });
  for (const [id, data] of sent) {
    const got = Buffer.concat(done.get(id)!);
    assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(data).digest("hex"), `stream ${id}`);
  }
  const stats = socket.stats();
  assert.ok(stats.smoothedRtt > 0 && stats.bytesSent >= 10 * 1024 * 1024);
  socket.close();
  server.stop(true);
});
